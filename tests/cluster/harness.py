"""Three real `tminus run` processes on one PostgreSQL store, against the loopback emulators.

The fleet itself lives in ``bot.devtools.cluster`` (the cluster benchmark runs it too); this
module adds what only the tests need: the PostgreSQL skip and a fresh schema per test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from bot.devtools.pgschema import postgres_schema

POSTGRES = os.environ.get("TMINUS_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES,
    reason="cluster tests need PostgreSQL: set TMINUS_TEST_POSTGRES_URL "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)",
)


@contextlib.contextmanager
def pg_store() -> Iterator[str]:
    """Yield the URL of a fresh PostgreSQL schema (dropped afterwards)."""
    assert POSTGRES is not None
    with postgres_schema(POSTGRES, prefix="cluster") as url:
        yield url
