"""Bad input reaching sync and the store cannot stop the pipeline (issue 9: 2, 3, 4, 8).

Like ``test_hostile_ll2``: the real ``tminus watch`` pipeline (console sink, JSON lines), a
real SQLite file or PostgreSQL schema, the real httpx client against :class:`HostileLL2` on
loopback. After each bad input a normal change is made and must still be alerted, with the
watermark where it belongs.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine

from bot.core.items import Event
from bot.core.timeutil import utcnow
from bot.devtools.factories import make_event
from bot.devtools.hostile_ll2 import HostileLL2
from bot.pipeline.sync import CLOCK_SKEW, SyncReport
from storage import queries
from storage.db import make_engine, refused_by_store, session_scope, upgrade
from tests.faults.test_hostile_ll2 import DOCKING, EVA, PRESS, alerts, ll2_events, seeded, watching

FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


def watermark(engine: Engine) -> datetime | None:
    """Return the events feed's stored watermark."""
    with session_scope(engine) as session:
        return queries.sync_state(session=session).watermark


# --------------------------------------------------------------------------------------
# 2. one item the store refuses


async def test_an_item_the_store_refuses_is_set_aside_and_the_page_committed(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A NUL (PostgreSQL) or lone surrogate (SQLite) past parse-time cleaning: that event is
    set aside with a logged reason; the page's other change is stored, alerted, and the
    watermark moves; a later change is alerted too."""
    poison_char = "\u0000" if engine.dialect.name == "postgresql" else "\ud800"
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        await seeded(pipeline)
        # Parse-time cleaning would remove the poison, so the page is handed to the apply step
        # as a parser that missed it would: validated, not cleaned.
        eva = copy.deepcopy(ll2.edit(EVA))
        eva["updates"] = [
            {"id": 991001, "comment": f"poison{poison_char}", "created_on": eva["last_updated"]},
            *eva["updates"],
        ]
        docking = ll2.edit(DOCKING, webcast_live=True)
        page = [Event.model_validate(eva), Event.model_validate(docking)]
        stamp = max(e.last_updated for e in page)
        report = SyncReport()
        await asyncio.to_thread(
            pipeline.syncer.apply_events, page, seeding=False, watermark=stamp, report=report
        )
        await pipeline.deliver()
        assert report.rejected == 1
        assert watermark(engine) == stamp
        with session_scope(engine) as session:
            updates = queries.event_updates(session=session, event_id=EVA)
            assert 991001 not in [u.id for u in updates]
            stored = queries.get_event(session=session, event_id=DOCKING)
            assert stored is not None and stored.webcast_live
        said = [r for r in caplog.records if "setting event" in r.getMessage()]
        assert len(said) == 1 and f"event {EVA} aside" in said[0].getMessage()
        edited = ll2.edit(PRESS, webcast_live=True)
        report_after = await pipeline.cycle()
        assert report_after.error is None
        assert watermark(engine) == datetime.fromisoformat(edited["last_updated"])
    assert alerts(out) == [("webcast_live", DOCKING), ("webcast_live", PRESS)]


async def test_a_store_that_refuses_every_item_fails_the_page(engine: Engine) -> None:
    """When every event of a page is refused, the store is at fault: nothing is set aside and
    the watermark stays (the page is read again next poll)."""
    poison_char = "\u0000" if engine.dialect.name == "postgresql" else "\ud800"
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, _):
        await seeded(pipeline)
        before = watermark(engine)
        page = [
            Event.model_validate(ll2.edit(i, name=f"Bad{poison_char} {i}"))
            for i in (DOCKING, PRESS)
        ]
        with pytest.raises(Exception) as failed:
            await asyncio.to_thread(
                pipeline.syncer.apply_events,
                page,
                seeding=False,
                watermark=max(e.last_updated for e in page),
            )
        assert refused_by_store(failed.value)
        assert watermark(engine) == before


# --------------------------------------------------------------------------------------
# 3. a last_updated in the future


async def test_a_future_last_updated_does_not_poison_the_watermark(engine: Engine) -> None:
    """An event dated 2099 is stored; the watermark stays near now; a later flip alerts."""
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        await seeded(pipeline)
        before = watermark(engine)
        ll2.events[7050] = make_event(
            7050, "Time Traveller", date=utcnow() + timedelta(days=8), last_updated=FUTURE
        )
        report = await pipeline.cycle()
        assert report.error is None
        with session_scope(engine) as session:
            assert queries.get_event(session=session, event_id=7050) is not None
        mark = watermark(engine)
        assert mark is not None and mark == before and mark <= utcnow() + CLOCK_SKEW
        edited = ll2.edit(DOCKING, webcast_live=True)
        report = await pipeline.cycle()
        assert report.error is None
        assert watermark(engine) == datetime.fromisoformat(edited["last_updated"])
    assert alerts(out) == [("new_event", 7050), ("webcast_live", DOCKING)]


async def test_a_future_last_updated_before_the_seed_does_not_poison_its_mark(
    engine: Engine,
) -> None:
    """The seed's start mark skips a 2099 date; a flip after the seed is alerted."""
    events = ll2_events(utcnow())
    events.append(
        make_event(7051, "Time Traveller", date=utcnow() + timedelta(days=8), last_updated=FUTURE)
    )
    async with HostileLL2(events) as ll2, watching(ll2, engine) as (pipeline, out):
        await seeded(pipeline)
        mark = watermark(engine)
        assert mark is not None and mark <= utcnow() + CLOCK_SKEW
        ll2.edit(DOCKING, webcast_live=True)
        report = await pipeline.cycle()
        assert report.error is None
    assert alerts(out) == [("webcast_live", DOCKING)]


# --------------------------------------------------------------------------------------
# 4. a page longer than limit inside a tie group


async def test_a_tie_group_on_pages_padded_past_limit_is_stored_whole(engine: Engine) -> None:
    """250 events share one last_updated, each page repeats rows past ``limit``: all stored."""
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        await seeded(pipeline)
        ll2.bad.repeat_rows = 60
        stamp = utcnow().replace(microsecond=0)
        ids = range(8000, 8250)
        for i in ids:
            ll2.events[i] = make_event(
                i, f"Tie {i}", date=utcnow() + timedelta(days=9), last_updated=stamp
            )
        asked = len(ll2.requests)
        report = await pipeline.cycle()
        assert report.error is None
        with session_scope(engine) as session:
            missing = [i for i in ids if queries.get_event(session=session, event_id=i) is None]
        assert missing == []
        assert watermark(engine) == stamp
        # The three older events and 97 of the tie, then the tie by offset: each page padded
        # with 60 repeats stood for 100 positions, never 160 (which would skip 60 events).
        offsets = [
            parse_qs(urlsplit(r).query).get("offset", [None])[0]
            for r in ll2.requests[asked:]
            if "last_updated__gte" in r
        ]
        assert offsets == [None, "97", "197", "297"]
        edited = ll2.edit(DOCKING, webcast_live=True)
        report = await pipeline.cycle()
        assert report.error is None
        assert watermark(engine) == datetime.fromisoformat(edited["last_updated"])
    printed = alerts(out)
    assert sorted(i for k, i in printed if k == "new_event") == list(ids)
    assert printed[-1] == ("webcast_live", DOCKING)


# --------------------------------------------------------------------------------------
# a SQLite store deleted while the pipeline runs


async def test_a_sqlite_store_deleted_while_running_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The next poll notices the missing file: one error line, ``last_error`` for /status;
    alerts still go out from the copy SQLite has open (SQLite only: a file to delete)."""
    db = tmp_path / "tminus.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    try:
        async with (
            HostileLL2(ll2_events(utcnow())) as ll2,
            watching(ll2, engine) as (pipeline, out),
        ):
            await seeded(pipeline)
            db.unlink()
            ll2.edit(DOCKING, webcast_live=True)
            report = await pipeline.cycle()
            assert report.error is None
            ll2.edit(PRESS, webcast_live=True)
            report = await pipeline.cycle()
            assert report.error is None
            with session_scope(engine) as session:
                error = queries.sync_state(session=session).last_error
        said = [r for r in caplog.records if "was deleted while tminus ran" in r.getMessage()]
        assert len(said) == 1 and said[0].levelno == logging.ERROR
        assert error is not None and error.startswith(f"the SQLite store {db} was deleted")
        assert "/proc/" in error  # where the open copy can still be saved from
        assert alerts(out) == [("webcast_live", DOCKING), ("webcast_live", PRESS)]
    finally:
        engine.dispose()
