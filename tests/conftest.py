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
# PostgreSQL variants run only where a server is configured (.ci/run sets the variable when
# 127.0.0.1:5432 answers); they are not skipped, they are simply not generated elsewhere.
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]

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
        with postgres_schema(POSTGRES_URL) as url:
            yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Yield an engine on an empty, fully migrated database."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()
