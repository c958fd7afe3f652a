"""Where a feed stands (seeded, watermark): remembered between polls, read again when unsure.

An idle poll asks the store nothing before its request (issue 13: the idle poll's cost);
its page's commit notes the attempt and the success. The syncer reads the store again after
a failed poll and when told another process may have polled (the runner's lease take-over).
Real httpx against the loopback LL2 emulator; real SQLite files and PostgreSQL schemas.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.config import load_config
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock, FaultKind, LL2Emulator
from bot.ll2.client import LL2Client
from bot.ll2.errors import LL2BadResponse
from bot.pipeline.sync import Syncer
from storage import queries
from storage.db import session_scope
from tests.conftest import T0

# When the one event last changed in LL2 (an hour before the tests' clock starts).
CHANGED = T0 - timedelta(hours=1)


@asynccontextmanager
async def docking_syncer(
    engine: Engine, clock: FakeClock, **client: Any
) -> AsyncIterator[tuple[LL2Emulator, Syncer]]:
    """Yield the LL2 emulator holding one docking, and a syncer of its events feed."""
    events = [make_event(1, "Crew-9 Docking", date=T0 + timedelta(days=1), last_updated=CHANGED)]
    async with LL2Emulator(events, clock=clock, requests_per_hour=None) as emulator:
        config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url("2.2.0")})
        async with LL2Client(config.ll2, clock=clock, **client) as ll2:
            yield emulator, Syncer(client=ll2, engine=engine, alerts=config.alerts, clock=clock)


def stored_state(engine: Engine) -> tuple[datetime | None, datetime | None, datetime | None]:
    """Return the events feed's (watermark, last_attempt_at, last_success_at)."""
    with session_scope(engine) as session:
        state = queries.sync_state(session=session, feed="events")
        return state.watermark, state.last_attempt_at, state.last_success_at


def move_watermark(engine: Engine, to: datetime) -> None:
    """Move the stored watermark as another process's poll would."""
    with session_scope(engine) as session:
        state = queries.sync_state(session=session, feed="events")
        state.watermark = to
        session.add(state)


def since_asked(emulator: LL2Emulator) -> str:
    """Return the ``last_updated__gte`` of the emulator's latest request."""
    return emulator.requests[-1].query["last_updated__gte"]


async def test_idle_polls_note_their_attempt_with_the_page_and_keep_the_watermark(
    engine: Engine, clock: FakeClock
) -> None:
    async with docking_syncer(engine, clock) as (emulator, syncer):
        await syncer.sync()  # the seed
        for _ in range(3):
            clock.advance(minutes=8)
            report = await syncer.sync()
            assert report.events == 1  # the overlap brings the newest change back
            assert stored_state(engine) == (CHANGED, clock(), clock())
            with session_scope(engine) as session:
                event = queries.get_event(session=session, event_id=1)
                assert event is not None
                assert event.seen_at == clock()  # seen again, unchanged
        # Another process moved the watermark: not seen while the syncer is sure...
        move_watermark(engine, CHANGED + timedelta(minutes=30))
        clock.advance(minutes=8)
        await syncer.sync()
        assert since_asked(emulator) == _since(CHANGED)
        # ...and used as soon as it is told another process may have polled.
        syncer.forget_position()
        clock.advance(minutes=8)
        await syncer.sync()
        assert since_asked(emulator) == _since(CHANGED + timedelta(minutes=30))


async def test_an_item_changed_after_an_idle_poll_is_diffed_and_alerted(
    engine: Engine, clock: FakeClock
) -> None:
    async with docking_syncer(engine, clock) as (emulator, syncer):
        await syncer.sync()
        clock.advance(minutes=8)
        assert (await syncer.sync()).alerts == []  # idle: seen again
        clock.advance(minutes=8)
        emulator.set_webcast_live(1, True)
        clock.advance(seconds=30)
        report = await syncer.sync()
        assert len(report.alerts) == 1
        assert "webcast_live" in report.alerts[0]
        clock.advance(minutes=8)
        assert (await syncer.sync()).alerts == []  # and idle again: no repeat


async def test_a_failed_poll_notes_its_attempt_and_reads_the_store_again(
    engine: Engine, clock: FakeClock
) -> None:
    async with docking_syncer(engine, clock, max_retries=0) as (emulator, syncer):
        await syncer.sync()
        success = clock()
        emulator.inject_fault(FaultKind.MALFORMED)
        clock.advance(minutes=8)
        with pytest.raises(LL2BadResponse):
            await syncer.sync()
        _, attempt, last_success = stored_state(engine)
        assert (attempt, last_success) == (clock(), success)
        move_watermark(engine, CHANGED + timedelta(minutes=30))
        clock.advance(minutes=8)
        await syncer.sync()
        assert since_asked(emulator) == _since(CHANGED + timedelta(minutes=30))


def _since(watermark: datetime) -> str:
    """Return the ``last_updated__gte`` a poll from ``watermark`` asks (2 minutes' overlap)."""
    return (watermark - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
