"""The LL2 budget's hour record survives restarts (issue 9.6): 16 × `watch --once`, no 429.

The real CLI entry (``watch.main``), a real SQLite file or PostgreSQL schema, and the LL2
emulator with its 15 requests/hour per IP. ``/api-throttle/`` answers 503 throughout, so
LL2's own count cannot save a process that forgot its hour: only the stored record can.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from bot.cli import watch
from bot.cli.exits import EXIT_OK, EXIT_TEMPFAIL
from bot.cli.parser import build_parser, load
from bot.core.timeutil import utcnow
from bot.devtools.ll2_emulator import LL2Emulator
from bot.ll2.client import LL2Client
from bot.pipeline.budget_store import StoredBudget
from tests.faults.test_hostile_ll2 import ll2_events

RESTARTS = 16


async def test_sixteen_restarts_of_watch_once_never_draw_a_429(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run spends from the hour the runs before it recorded; the ones past 15 requests
    wait (exit 75) instead of asking LL2, and the emulator never answers 429."""
    # Quick retries: the failing /api-throttle/ is retried with the client's backoff.
    defaults = LL2Client.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "backoff", 0.01)
    async with LL2Emulator(ll2_events(utcnow()), requests_per_hour=15) as emu:
        emu.inject_fault("error", count=None, path="/api-throttle/", status=503)
        argv = ["watch", "--once", "--format", "json", "--db", db_url]
        args = build_parser().parse_args([*argv, "--ll2-url", emu.url("2.2.0")])
        config = load(args)
        codes = []
        for _ in range(RESTARTS):
            codes.append(await watch.main(config, args, out=io.StringIO()))
        statuses = [r.status for r in emu.requests if "/api-throttle/" not in r.path]
        counted = sum(r.counted for r in emu.requests)
    assert 429 not in statuses
    assert counted == 15  # the whole hour was used, not wasted
    assert codes[0] == EXIT_OK and codes[-1] == EXIT_TEMPFAIL
    # The record a next process starts from: the hour's 15 requests.
    record = StoredBudget(engine).load_budget()
    assert record is not None and len(record.sent) == 15
    assert all(utcnow() - t < timedelta(minutes=5) for t in record.sent)
