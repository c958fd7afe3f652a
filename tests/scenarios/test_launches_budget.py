"""A simulated 24 h launch day on a virtual clock: both feeds, one free-tier budget.

The real ``Pipeline`` + ``LL2Client`` + ``LL2Emulator`` share one ``FakeClock`` (as in
``benchmarks/budget.py``). The day holds three launches (recorded ones moved to the day, each
with a stream starting 20 minutes before T-0) and two events with streams, plus 40
background events weeks away. LL2 flips each webcast live, then each launch In Flight and
Success. The pipeline polls whenever ``pipeline.plan()`` asks; no rolling hour may hold more
than 15 requests across both feeds, and every flip must reach the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.config import load_config
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock, LL2Emulator, format_ll2_datetime, synthetic_events
from bot.ll2.client import LL2Client
from bot.pipeline.runner import Pipeline
from storage.db import make_engine, session_scope, upgrade
from storage.models import Delivery, Subscription
from tests.conftest import T0
from tests.scenarios.test_launches import DRAGON, ELECTRON, STARLINK, on_the_day

DAY_START = T0.replace(hour=0)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
FREE_TIER = 15

LAUNCHES = {
    DRAGON: DAY_START + 6 * HOUR,
    STARLINK: DAY_START + 13 * HOUR,
    ELECTRON: DAY_START + 20 * HOUR,
}
EVENTS = {7001: DAY_START + 9 * HOUR, 7002: DAY_START + 16 * HOUR}
STREAM_LEAD = 20 * MINUTE


def day_launches() -> list[dict[str, Any]]:
    """Return the three launches, each with one stream that starts before T-0."""
    launches = []
    for launch_id, net in LAUNCHES.items():
        launch = on_the_day(launch_id, net, status=1)
        launch["last_updated"] = format_ll2_datetime(DAY_START - timedelta(days=3))
        launch["vid_urls"] = [
            {
                "priority": 10,
                "title": launch["name"],
                "url": f"https://www.youtube.com/watch?v={launch_id[:8]}",
                "start_time": format_ll2_datetime(net - STREAM_LEAD),
                "live": False,
            }
        ]
        launches.append(launch)
    return launches


def day_events() -> list[dict[str, Any]]:
    """Return the two events with streams and 40 background events a month away."""
    old = DAY_START - timedelta(days=3)
    events = [
        make_event(event_id, f"Day event {event_id}", date=at, last_updated=old, video_start=at)
        for event_id, at in EVENTS.items()
    ]
    background = synthetic_events(40, start=DAY_START + timedelta(days=30), seed=9)
    for i, event in enumerate(background):
        event["last_updated"] = format_ll2_datetime(old - timedelta(minutes=7 * i))
    return events + background


Change = tuple[datetime, Callable[[LL2Emulator], object]]


def day_changes() -> list[Change]:
    """Return what LL2's editors do during the day, in time order."""
    changes: list[Change] = []
    for launch_id, net in LAUNCHES.items():
        changes += [
            (net - STREAM_LEAD + MINUTE, lambda e, i=launch_id: e.set_launch_webcast(i, True)),
            (net + MINUTE, lambda e, i=launch_id: e.set_launch_status(i, "In Flight")),
            (net + 9 * MINUTE, lambda e, i=launch_id: e.set_launch_status(i, "Success")),
            (net + 40 * MINUTE, lambda e, i=launch_id: e.set_launch_webcast(i, False)),
        ]
    for event_id, at in EVENTS.items():
        changes += [
            (at + 2 * MINUTE, lambda e, i=event_id: e.set_webcast_live(i, True)),
            (at + 50 * MINUTE, lambda e, i=event_id: e.set_webcast_live(i, False)),
        ]
    return sorted(changes, key=lambda change: change[0])


def busiest_hour(times: list[datetime]) -> int:
    """Return the most requests in any rolling hour (t - 1h, t]."""
    return max((sum(1 for s in times if t - HOUR < s <= t) for t in times), default=0)


async def test_a_launch_day_keeps_to_fifteen_requests_in_every_rolling_hour(
    tmp_path: Path,
) -> None:
    """Three launches, two events, 40 quiet items: ≤ 15 requests an hour, every flip alerted."""
    clock = FakeClock(DAY_START)
    engine = make_engine(f"sqlite:///{tmp_path / 'day.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        session.add(Subscription(created_at=DAY_START))  # every kind of every feed
    script = day_changes()
    async with LL2Emulator(
        day_events(), launches=day_launches(), clock=clock, requests_per_hour=FREE_TIER
    ) as emulator:
        config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url("2.2.0")})
        async with LL2Client(config.ll2, clock=clock) as client:
            pipeline = Pipeline(config=config, engine=engine, client=client, sink=None, clock=clock)
            previous: datetime | None = None
            for _ in range(2_000):
                when = pipeline.plan().at
                if when >= DAY_START + 24 * HOUR:
                    break
                if previous is not None and when <= previous:
                    when = previous + timedelta(seconds=1)
                previous = when
                while script and script[0][0] <= when:
                    change_at, change = script.pop(0)
                    clock.set(max(clock(), change_at))
                    change(emulator)
                clock.set(max(clock(), when))
                await pipeline.poll()
        requests = [r.time for r in emulator.requests if r.counted]
        refused = [r for r in emulator.requests if r.status == 429]
    with session_scope(engine) as session:
        enqueued = {(d.kind, d.item_id) for d in session.exec(select(Delivery)).all()}
    engine.dispose()
    assert refused == []
    assert busiest_hour(requests) <= FREE_TIER
    for launch_id in LAUNCHES:
        assert ("webcast_live", launch_id) in enqueued
        assert ("status", launch_id) in enqueued
    for event_id in EVENTS:
        assert ("webcast_live", str(event_id)) in enqueued
    # Both feeds were asked, neither was starved.
    paths = [r.path for r in emulator.requests if r.counted]
    assert any("/launch" in p for p in paths) and any("/event" in p for p in paths)
