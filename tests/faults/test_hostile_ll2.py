"""A hostile LL2 cannot stop the pipeline: after each bad answer, a normal change is alerted.

Every test runs the real ``tminus watch`` pipeline (console sink, JSON lines, a real SQLite
file or PostgreSQL schema) with the real httpx client against :class:`HostileLL2` on
loopback. The trickle and watchdog tests use real time with short settings (a 1.5 s
deadline); the others a fake clock where an hour must pass.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.cli import watch
from bot.cli.parser import build_parser, load
from bot.config import Config, load_config
from bot.core.timeutil import Clock, utcnow
from bot.devtools.factories import make_event
from bot.devtools.hostile_ll2 import HostileLL2
from bot.devtools.ll2_emulator import FakeClock
from bot.ll2 import client as client_module
from bot.ll2.client import LL2Client
from bot.ll2.errors import MAX_WAIT_SECONDS, LL2DeadlineExceeded
from bot.pipeline.runner import JobBounds, Pipeline, console_pipeline, describe_wait, run_scheduled
from storage import queries
from storage.db import session_scope

DOCKING, PRESS, EVA = 7001, 7002, 7003
DEADLINE = 1.5  # the whole-request deadline in these tests (real seconds)
FRESH_IDS = itertools.count(7100)


def ll2_events(now: datetime) -> list[dict[str, Any]]:
    """Return three events days away (no hot window: polls follow min_interval)."""
    old = now - timedelta(hours=6)
    return [
        make_event(DOCKING, "Crew Docking", date=now + timedelta(days=3), last_updated=old),
        make_event(
            PRESS, "Press Conference", date=now + timedelta(days=4), last_updated=old,
            type_name="Press Event",
        ),
        make_event(EVA, "US Spacewalk", date=now + timedelta(days=5), last_updated=old,
                   type_name="EVA"),
    ]  # fmt: skip


def fast_config(url: str) -> Config:
    """Return settings for a fast test: a big budget and a one-second minimum interval."""
    return load_config(
        None,
        env={},
        overrides={
            ("ll2", "url"): url,
            ("ll2", "requests_per_hour"): "3600",
            ("ll2", "min_interval"): "1s",
            # The hostile server's faults are written for the events feed's requests.
            ("ll2", "feeds"): "events",
        },
    )


@asynccontextmanager
async def watching(
    ll2: HostileLL2,
    engine: Engine,
    *,
    clock: Clock = utcnow,
    bounds: JobBounds | None = None,
    **client_options: Any,
) -> AsyncIterator[tuple[Pipeline, io.StringIO]]:
    """Yield the `watch` pipeline on ``ll2`` (short timeouts) and the stream it prints to."""
    client_options.setdefault("timeout", 0.5)
    client_options.setdefault("deadline", DEADLINE)
    client_options.setdefault("backoff", 0.05)
    config = fast_config(ll2.url())
    async with LL2Client(config.ll2, clock=clock, **client_options) as client:
        out = io.StringIO()
        pipeline = console_pipeline(
            config=config, engine=engine, client=client, fmt="json", stream=out, clock=clock
        )
        if bounds is not None:
            pipeline.bounds = bounds
        yield pipeline, out


def alerts(out: io.StringIO) -> list[tuple[str, int]]:
    """Return ``(kind, event id)`` of every alert printed so far."""
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return [(a["kind"], a["event"]["id"]) for a in lines]


async def seeded(pipeline: Pipeline) -> None:
    """Run the first cycle (a quiet seed) and check it went through."""
    report = await pipeline.cycle()
    assert report.error is None and report.sync is not None and report.sync.seeded


async def until(condition: Callable[[], bool], within: float) -> float:
    """Wait (real time) until ``condition()`` holds; return the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            raise AssertionError(f"not within {within}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


# --------------------------------------------------------------------------------------
# 1. a trickling answer


async def test_a_trickled_answer_fails_the_cycle_at_its_deadline(engine: Engine) -> None:
    """Two trickled answers (one byte per 0.2 s): the cycle ends in ~2 deadlines, then alerts."""
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        await seeded(pipeline)
        ll2.trickle(0.2, times=2, path="/event/")
        ll2.edit(PRESS, webcast_live=True)
        start = time.monotonic()
        report = await pipeline.cycle()
        took = time.monotonic() - start
        assert isinstance(report.error, LL2DeadlineExceeded)
        assert f"no complete answer within {DEADLINE:g}s" in str(report.error)
        assert 2 * DEADLINE <= took < 2 * DEADLINE + 2
        assert alerts(out) == []
        report = await pipeline.cycle()  # LL2 answers normally again
        assert report.error is None
    assert alerts(out) == [("webcast_live", PRESS)]


async def test_watch_once_ends_with_one_clear_line_instead_of_hanging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`watch --once` against a trickling LL2 exits 1 with one line naming the deadline."""
    # The only knob between the CLI and the deadline is the client's default timeout.
    monkeypatch.setattr(client_module, "DEFAULT_TIMEOUT", 0.5)
    db = tmp_path / "watch.db"
    async with HostileLL2(ll2_events(utcnow())) as ll2:
        argv = ["watch", "--once", "--format", "json", "--db", f"sqlite:///{db}"]
        args = build_parser().parse_args([*argv, "--ll2-url", ll2.url()])
        config = load(args)
        out = io.StringIO()
        assert await watch.main(config, args, out=out) == 0
        capsys.readouterr()
        ll2.trickle(0.2, times=5, path="/event/")
        start = time.monotonic()
        code = await asyncio.wait_for(watch.main(config, args, out=out), 30)
        took = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 1
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert (
        lines[0].startswith("tminus: LL2 unavailable at ")
        and "no complete answer within 1s" in lines[0]
    )
    assert "Traceback" not in err
    assert took < 10


async def test_scheduled_polling_goes_on_while_a_request_trickles(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Under the scheduler, a trickled poll ends at its deadline and the flip is announced."""
    stop = asyncio.Event()
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        task = asyncio.create_task(run_scheduled(pipeline, stop))
        try:
            await until(lambda: pipeline.last_poll is not None, within=10)
            # This trickle would last minutes: each answer is ~12 kB at five bytes a second.
            ll2.trickle(0.2, times=2, path="/event/")
            ll2.edit(PRESS, webcast_live=True)
            flipped = time.monotonic()
            await until(lambda: ("webcast_live", PRESS) in alerts(out), within=15)
            delay = time.monotonic() - flipped
            # Two deadlines lost to the trickle, then the usual 1 s poll interval.
            assert delay < 2 * DEADLINE + 4
            # And the schedule goes on: more normal polls follow.
            answered = len(ll2.answers)
            await until(lambda: len(ll2.answers) >= answered + 2, within=10)
            assert not pipeline.poll_health().overdue
        finally:
            stop.set()
            await task
    assert any("overran its 1.5s deadline" in r.getMessage() for r in caplog.records)
    assert alerts(out) == [("webcast_live", PRESS)]


async def test_a_job_that_overruns_its_watchdog_is_cancelled_and_the_schedule_goes_on(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """With no useful request deadline, the poll job's 1 s watchdog cuts the trickle short."""
    stop = asyncio.Event()
    bounds = JobBounds(poll=timedelta(seconds=1))
    async with (
        HostileLL2(ll2_events(utcnow())) as ll2,
        watching(ll2, engine, deadline=600, bounds=bounds) as (pipeline, out),
    ):
        task = asyncio.create_task(run_scheduled(pipeline, stop))
        try:
            await until(lambda: pipeline.last_poll is not None, within=10)
            ll2.trickle(0.2, times=1, path="/event/")
            ll2.edit(EVA, webcast_live=True)
            took = await until(lambda: ("webcast_live", EVA) in alerts(out), within=10)
            assert took < 5
        finally:
            stop.set()
            await task
    overran = [r for r in caplog.records if "overran its 1s watchdog" in r.getMessage()]
    assert len(overran) == 1 and overran[0].levelno == logging.ERROR


# --------------------------------------------------------------------------------------
# 2. poison strings


async def test_nul_and_lone_surrogates_are_cleaned_and_other_changes_still_alert(
    engine: Engine,
) -> None:
    """NUL and lone surrogates in a new event's strings are stored cleaned; a flip still alerts."""
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        await seeded(pipeline)
        poison = make_event(
            7009, "Poison\u0000 \ud800Docking", date=utcnow() + timedelta(days=6),
            last_updated=utcnow(),
        )  # fmt: skip
        poison["updates"][0]["comment"] = "bad\u0000comment \udfff"
        poison["info_urls"] = [{"url": "https://example.com/\u0000x"}]
        ll2.events[7009] = poison
        ll2.edit(DOCKING, webcast_live=True)
        report = await pipeline.cycle()
        assert report.error is None
    with session_scope(engine) as session:
        row = queries.get_event(session=session, event_id=7009)
        assert row is not None
        text = json.dumps(row.snapshot, ensure_ascii=False)
    assert "\u0000" not in text and "\ud800" not in text and "\udfff" not in text
    assert "Poison \ufffdDocking" in text and "badcomment \ufffd" in text
    assert ("webcast_live", DOCKING) in alerts(out)


# --------------------------------------------------------------------------------------
# 4. a page longer than limit


async def test_a_page_padded_with_repeated_rows_reads_each_event_once(engine: Engine) -> None:
    """Pages repeat their rows past ``limit``: each event is read once, a flip is alerted once."""
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        ll2.bad.repeat_rows = 7
        await seeded(pipeline)
        ll2.edit(DOCKING, webcast_live=True)
        report = await pipeline.cycle()
        assert report.error is None and report.sync is not None
        # Three distinct events (the overlap re-reads the two older ones), not ten rows.
        assert report.sync.events == 3
    assert alerts(out) == [("webcast_live", DOCKING)]


# --------------------------------------------------------------------------------------
# 5. a self-referencing next


@pytest.mark.parametrize("loop", ["self", "first"])
async def test_a_looping_next_on_the_upcoming_list_stops_the_fill(
    engine: Engine, loop: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``next`` pointing at the same page (or back to page 1): the seed stops and says so."""
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        ll2.bad.next_loop = loop
        await seeded(pipeline)
        upcoming = [r for r in ll2.requests if "/upcoming/" in r]
        assert len(upcoming) <= 2
        said = [r for r in caplog.records if "LL2's next link" in r.getMessage()]
        assert len(said) == 1
        ll2.edit(EVA, webcast_live=True)
        assert (await pipeline.cycle()).error is None
    with session_scope(engine) as session:
        assert {e.id for e in queries.events_between(
            session=session, start=utcnow(), end=utcnow() + timedelta(days=10)
        )} == {DOCKING, PRESS, EVA}  # fmt: skip
    assert alerts(out) == [("webcast_live", EVA)]


# --------------------------------------------------------------------------------------
# 6 and 7. throttle alignment, absurd waits and throttle bodies


T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("retry_after", "detail_seconds"),
    [
        ("inf", None),
        ("1e12", None),
        ("1e300", None),
        ("99999999999", None),
        ("nan", None),
        ("-40", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", None),
        (None, "99999999999"),
        (None, "1e400"),
    ],
)
async def test_an_absurd_wait_is_clamped_to_an_hour_and_polling_resumes(
    engine: Engine, retry_after: str | None, detail_seconds: str | None
) -> None:
    """An absurd Retry-After (or detail) waits at most an hour; then a flip is alerted."""
    clock = FakeClock(T0)
    async with (
        HostileLL2(ll2_events(T0), clock=clock) as ll2,
        watching(ll2, engine, clock=clock) as (pipeline, out),
    ):
        await seeded(pipeline)
        clock.advance(minutes=1)
        ll2.throttle_next(retry_after=retry_after, detail_seconds=detail_seconds)
        report = await pipeline.cycle()
        assert report.throttled is not None
        assert 0 <= report.throttled.retry_after <= MAX_WAIT_SECONDS
        line = describe_wait(report.throttled, clock)
        assert "(in 1h00m)" in line or "(in 0s)" in line or "(in 1m00s)" in line, line
        assert pipeline.client.budget.available_at() <= clock() + timedelta(hours=1)
        clock.advance(hours=1, seconds=1)
        ll2.edit(PRESS, webcast_live=True)
        report = await pipeline.cycle()
        assert report.error is None and report.throttled is None
    assert alerts(out) == [("webcast_live", PRESS)]


async def test_an_absurd_throttle_body_is_clamped_without_allocating_per_unit(
    engine: Engine,
) -> None:
    """``your_request_limit: 1e400``, ``current_use: 30000000``: clamped; memory stays small."""
    clock = FakeClock(T0)
    async with (
        HostileLL2(ll2_events(T0), clock=clock) as ll2,
        watching(ll2, engine, clock=clock) as (pipeline, out),
    ):
        await seeded(pipeline)
        ll2.bad.throttle_body = (
            b'{"your_request_limit": 1e400, "limit_frequency_secs": 1e300,'
            b' "current_use": 30000000, "next_use_secs": 1e300}'
        )
        clock.advance(minutes=1)
        tracemalloc.start()
        try:
            report = await pipeline.cycle()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 20_000_000  # 30 million datetimes would be over a gigabyte
        # LL2 says the hour is spent: wait (at most an hour), not crash.
        assert report.throttled is not None and report.error is None
        assert pipeline.client.budget.used() <= pipeline.client.budget.limit
        ll2.bad.throttle_body = None
        clock.advance(hours=1, seconds=1)
        ll2.edit(DOCKING, webcast_live=True)
        report = await pipeline.cycle()
        assert report.error is None and report.throttled is None
    assert alerts(out) == [("webcast_live", DOCKING)]


async def test_a_long_running_watch_aligns_at_start_up_and_after_a_429(engine: Engine) -> None:
    """Scheduled polling asks /api-throttle/ first, and again after LL2 answers 429."""
    stop = asyncio.Event()
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        task = asyncio.create_task(run_scheduled(pipeline, stop))
        try:
            await until(lambda: pipeline.last_poll is not None, within=10)
            assert ll2.requests[0].endswith("/api-throttle/")
            throttles = sum(r.endswith("/api-throttle/") for r in ll2.requests)
            ll2.throttle_next(retry_after="1")
            await until(lambda: any(s == 429 for _, s in ll2.answers), within=10)
            after = len(ll2.requests)
            ll2.edit(DOCKING, webcast_live=True)
            await until(lambda: ("webcast_live", DOCKING) in alerts(out), within=10)
            following = ll2.requests[after:]
            assert following[0].endswith("/api-throttle/")
            assert sum(r.endswith("/api-throttle/") for r in ll2.requests) == throttles + 1
        finally:
            stop.set()
            await task


# --------------------------------------------------------------------------------------
# 10. malformed nested items


async def test_a_malformed_nested_item_drops_only_itself(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A null webcast URL, a garbage update date, a nameless agency: the event stays and alerts."""
    # A drop is logged once per process: each backend's run gets an event id of its own.
    eva = next(FRESH_IDS)
    events = [dict(e, id=eva) if e["id"] == EVA else e for e in ll2_events(utcnow())]
    async with HostileLL2(events) as ll2, watching(ll2, engine) as (pipeline, out):
        await seeded(pipeline)
        event = ll2.events[eva]
        event["vid_urls"] = [{"url": None, "priority": 1}, *event["vid_urls"]]
        event["updates"] = [
            {"id": 990001, "comment": "when?", "created_on": "not a date"},
            *event["updates"],
        ]
        event["agencies"] = [{"id": 1, "name": None}, *event.get("agencies", [])]
        ll2.edit(eva, webcast_live=True)
        report = await pipeline.cycle()
        assert report.error is None and report.sync is not None
        assert report.sync.rejected == 0
    assert alerts(out) == [("webcast_live", eva)]
    dropped = {r.getMessage() for r in caplog.records if "dropping" in r.getMessage()}
    assert any("vid_urls[0]" in m for m in dropped)
    assert any("updates[0]" in m for m in dropped)
    assert any("agencies[0]" in m for m in dropped)
