"""Shared fixtures: real databases (SQLite files, PostgreSQL when configured) and clocks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.devtools.ll2_emulator import FakeClock
from bot.devtools.pgschema import postgres_schema
from storage.db import make_engine, upgrade

POSTGRES_URL = os.environ.get("TMINUS_TEST_POSTGRES_URL")
# Every database test has a PostgreSQL variant. Without a server it shows as skipped, with
# the reason, rather than vanishing (.ci/run sets the URL when 127.0.0.1:5432 answers).
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            POSTGRES_URL is None, reason="PostgreSQL variant: TMINUS_TEST_POSTGRES_URL is not set"
        ),
    ),
]
# .ci/run names a file here and fails if a reachable server ran no PostgreSQL variant.
POSTGRES_COUNT_FILE = os.environ.get("TMINUS_TEST_POSTGRES_COUNT_FILE")
_postgres_variants_run = 0

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    """Return a fake UTC clock starting at a fixed moment."""
    return FakeClock(T0)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield a URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tminus.db'}"
    else:
        assert POSTGRES_URL is not None
        global _postgres_variants_run
        _postgres_variants_run += 1
        with postgres_schema(POSTGRES_URL) as url:
            yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Yield an engine on an empty, fully migrated database."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write how many PostgreSQL variants ran, for .ci/run to check."""
    if POSTGRES_COUNT_FILE:
        Path(POSTGRES_COUNT_FILE).write_text(f"{_postgres_variants_run}\n", "utf-8")
