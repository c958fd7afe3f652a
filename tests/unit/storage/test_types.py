"""UTCDateTime: what SQLite stores, and what comes back, on the fast path and the slow one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError

from storage.types import UTCDateTime

DIALECT = sqlite.dialect()
zones = st.one_of(
    st.just(UTC),
    st.integers(min_value=-23 * 60, max_value=23 * 60).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    ),
)
aware = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 30), timezones=zones)


def sqlalchemy_text(value: datetime) -> str:
    """SQLAlchemy's own way: the decorator's conversion, then SQLite DATETIME's formatting."""
    naive = UTCDateTime().process_bind_param(value, DIALECT)
    formatted = sqlite.DATETIME().bind_processor(DIALECT)
    assert formatted is not None
    return str(formatted(naive))


def stored_table(tmp_path: Path) -> tuple[Engine, Table]:
    """A SQLite file with one UTCDateTime column."""
    engine = create_engine(f"sqlite:///{tmp_path / 'types.db'}")
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime)
    )
    table.create(engine)
    return engine, table


@given(aware)
def test_the_stored_text_is_sqlalchemys_sqlite_form(value: datetime) -> None:
    process = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    assert process is not None
    assert process(value) == sqlalchemy_text(value)
    assert process(None) is None


@pytest.mark.parametrize("value", [datetime(2026, 12, 3, 21, 0), "2026-12-03 21:00:00", 0])
def test_a_naive_or_non_datetime_value_is_refused(tmp_path: Path, value: object) -> None:
    engine, table = stored_table(tmp_path)
    with engine.begin() as connection, pytest.raises(StatementError, match="naive or non-datetime"):
        connection.execute(insert(table).values(at=value))


def test_values_round_trip_and_order_as_text(tmp_path: Path) -> None:
    engine, table = stored_table(tmp_path)
    plus_two = timezone(timedelta(hours=2))
    values = [
        datetime(2026, 12, 3, 21, 0, tzinfo=UTC),
        datetime(2026, 12, 3, 22, 30, 0, 5, tzinfo=plus_two),  # 20:30:00.000005 UTC
        datetime(2026, 12, 3, 20, 30, tzinfo=UTC),
    ]
    with engine.begin() as connection:
        connection.execute(insert(table), [{"id": i, "at": v} for i, v in enumerate(values)])
        stored = connection.execute(text("SELECT at FROM t ORDER BY at")).scalars().all()
        back = connection.execute(select(table.c.at).order_by(table.c.id)).scalars().all()
    assert stored == [
        "2026-12-03 20:30:00.000000",
        "2026-12-03 20:30:00.000005",
        "2026-12-03 21:00:00.000000",
    ]
    assert back == values
    assert all(v.tzinfo is UTC for v in back)
