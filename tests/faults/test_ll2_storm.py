"""An LL2 storm: 30 % of responses spoiled over a scripted day, and the alerts do not change.

The real `tminus watch` pipeline (``console_pipeline``, JSON output) runs a cycle every four
minutes of a fake-clock day against the LL2 emulator, while a fixed script edits LL2 at
known moments: updates, webcasts going live, slips, a nudge below the reschedule threshold
and new events. The same day is played fault-free and under a seeded storm of 429s, 5xx
pages, timeouts, malformed JSON and truncated pages. Client back-off sleeps advance the fake
clock instead of waiting.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.config import load_config
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import (
    FakeClock,
    FaultKind,
    LL2Emulator,
    parse_ll2_datetime,
    synthetic_events,
)
from bot.ll2.client import LL2Client
from bot.ll2.errors import LL2BadResponse
from bot.pipeline.runner import console_pipeline
from storage import queries
from storage.db import make_engine, session_scope, upgrade
from storage.models import Delivery, EventRow, EventUpdateRow
from tests.conftest import T0

pytestmark = pytest.mark.slow

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
CYCLE = 15 * MINUTE
GRACE = "20m"  # longer than a cycle: every reminder is sent on time, in both runs
DAY = timedelta(days=1)
STORM = (
    FaultKind.THROTTLE,
    FaultKind.ERROR,
    FaultKind.SLOW,
    FaultKind.MALFORMED,
    FaultKind.TRUNCATED_PAGE,
)
SLOW_SECONDS = 0.5  # real seconds a SLOW fault holds its answer …
CLIENT_TIMEOUT = 0.2  # … longer than the client waits

CREW = 8001  # docking, slips by ten hours, then a nudge under the threshold
PRESS = 8002  # press conference whose webcast goes live
EVA = 8003  # spacewalk: two updates, a two-hour slip, then live
NEW_DOCKING = 8004  # published mid-morning, updated in the evening
NEW_LATE = 8005  # published late in the day


def h(hours: float, minutes: int = 0, seconds: int = 0) -> datetime:
    """Return T0 plus a duration (mutations land on odd seconds, never on a cycle)."""
    return T0 + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def day_events() -> list[dict[str, Any]]:
    """Return LL2 at T0: four hand-made events and ~130 synthetic upcoming ones (2 pages)."""
    old = T0 - timedelta(days=2)
    made = [
        make_event(CREW, "Crew-14 Docking", date=h(30), last_updated=old),
        make_event(
            PRESS,
            "ISS Press Conference",
            type_name="Press Event",
            date=h(8),
            video_start=h(7, 50),
            last_updated=old + timedelta(seconds=7),
        ),
        make_event(
            EVA, "US Spacewalk 95", type_name="EVA", date=h(14), last_updated=old + 14 * MINUTE
        ),
    ]
    synthetic = [
        e
        for e in synthetic_events(180, start=T0, seed=11)
        if e["date"] is not None and parse_ll2_datetime(e["date"]) >= h(2)
    ]
    return made + synthetic


Mutation = tuple[datetime, Callable[[LL2Emulator], object]]


def day_script(synthetic_ids: list[int]) -> list[Mutation]:
    """Return the day's LL2 edits, in time order, each on its own second."""
    s1, s2, s3 = synthetic_ids[:3]
    script: list[Mutation] = [
        (h(1, 2, 17), lambda e: e.add_update(s1, "Hatch opening moved up")),
        (h(2, 13, 41), lambda e: e.add_update(EVA, "Suit checks complete")),
        (
            h(3, 31, 5),
            lambda e: e.add_event(
                make_event(NEW_DOCKING, "Starliner-1 Docking", date=h(20), last_updated=h(3, 31, 5))
            ),
        ),
        (h(3, 31, 9), lambda e: e.add_update(s2, "Crew sleep shifted")),
        (h(3, 31, 12), lambda e: e.add_update(s3, "Robotics checkout done")),
        (h(5, 7, 3), lambda e: e.move_date(EVA, h(16))),
        (h(7, 52, 13), lambda e: e.set_webcast_live(PRESS, True)),
        (h(10, 0, 29), lambda e: e.move_date(CREW, h(40))),
        (h(11, 41, 37), lambda e: e.add_update(EVA, "Airlock depress under way")),
        (h(12, 12, 11), lambda e: e.move_date(CREW, h(40, 3))),  # a nudge: no alert
        (h(13, 48, 23), lambda e: e.set_webcast_live(EVA, True)),
        (h(15, 17, 47), lambda e: e.add_update(s1, "Docking confirmed")),
        (h(18, 22, 31), lambda e: e.add_update(NEW_DOCKING, "Approach initiated")),
        (
            h(21, 5, 53),
            lambda e: e.add_event(
                make_event(NEW_LATE, "Cygnus NG-25 Docking", date=h(48), last_updated=h(21, 5, 53))
            ),
        ),
        (h(22, 40, 19), lambda e: e.add_update(s2, "Post-EVA debrief scheduled")),
    ]
    assert [t for t, _ in script] == sorted(t for t, _ in script)
    return script


@dataclass
class Day:
    """What one scripted day printed, and how often the watermark checks found a problem."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    cycles: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    requests: int = 0  # API requests answered (/api-throttle/ excluded: never spoiled)
    failed_cycles: int = 0


def assert_watermark_passes_nothing_unprocessed(emulator: LL2Emulator, engine: Engine) -> None:
    """Every event LL2 last changed at or before the watermark is stored as LL2 has it now."""
    with session_scope(engine) as session:
        watermark = queries.sync_state(session=session).watermark
        rows = {row.id: row for row in session.exec(select(EventRow))}
        updates: dict[int, set[int]] = {}
        for update in session.exec(select(EventUpdateRow)):
            updates.setdefault(update.event_id, set()).add(update.id)
    if watermark is None:
        return
    for event_id, raw in emulator.events.items():
        changed = parse_ll2_datetime(raw["last_updated"])
        if changed > watermark:
            continue
        where = f"event {event_id} changed {changed}, watermark {watermark}"
        row = rows.get(event_id)
        assert row is not None, f"{where}: not stored"
        assert row.last_updated == changed, f"{where}: stored as of {row.last_updated}"
        assert row.webcast_live == raw["webcast_live"], where
        assert row.date == (parse_ll2_datetime(raw["date"]) if raw["date"] else None), where
        assert updates.get(event_id, set()) == {u["id"] for u in raw["updates"]}, where


async def play_day(workdir: Path, *, storm: float, seed: int = 0) -> Day:
    """Play the scripted day through `watch`'s pipeline; return what it printed."""
    clock = FakeClock(T0)
    events = day_events()
    synthetic_ids = [e["id"] for e in events[3:]]
    script = day_script(synthetic_ids)
    db_url = f"sqlite:///{workdir / f'storm-{storm}-{seed}.db'}"
    engine = make_engine(db_url)
    upgrade(engine)

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)  # back-off costs fake time, not test time
        await asyncio.sleep(0)

    day = Day()
    async with LL2Emulator(events, clock=clock, requests_per_hour=60) as emulator:
        if storm:
            emulator.fault_storm(
                storm, kinds=STORM, seed=seed, delay=SLOW_SECONDS, statuses=(500, 502, 503, 504)
            )
        config = load_config(
            None,
            env={},
            overrides={
                ("ll2", "url"): emulator.url("2.2.0"),
                ("ll2", "requests_per_hour"): "60",
                ("alerts", "grace"): GRACE,
            },
        )
        async with LL2Client(
            config.ll2, clock=clock, sleep=sleep, timeout=CLIENT_TIMEOUT
        ) as client:
            out = io.StringIO()
            pipeline = console_pipeline(
                config=config, engine=engine, client=client, fmt="json", stream=out, clock=clock
            )
            pending = list(script)
            at = T0
            while at <= T0 + DAY:
                while pending and pending[0][0] <= at:
                    when, mutate = pending.pop(0)
                    assert clock() < when, "a cycle ran into the next scripted edit"
                    clock.set(when)
                    mutate(emulator)
                assert clock() <= at
                clock.set(at)
                report = await pipeline.cycle()
                day.cycles += 1
                day.failed_cycles += report.sync is None
                assert_watermark_passes_nothing_unprocessed(emulator, engine)
                at += CYCLE
            assert not pending
            answered = [r for r in emulator.requests if "api-throttle" not in r.path]
            day.requests = len(answered)
            day.faults = Counter(r.fault for r in answered if r.fault)
        day.alerts = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    engine.dispose()
    return day


def keys(day: Day) -> Counter[str]:
    """Return how many times each alert key was printed."""
    return Counter(a["key"] for a in day.alerts)


@pytest.fixture(scope="module")
def calm_day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    """Return the fault-free day every storm is compared with."""
    return asyncio.run(play_day(tmp_path_factory.mktemp("calm"), storm=0.0))


def test_the_calm_day_alerts_every_scripted_change_once(calm_day: Day) -> None:
    """Fault-free, the script yields its updates, lives, slips, new events and reminders."""
    found = Counter((a["kind"], a["event"]["id"]) for a in calm_day.alerts)
    assert found[("update", EVA)] == 2
    assert found[("update", NEW_DOCKING)] == 1
    assert found[("webcast_live", PRESS)] == 1
    assert found[("webcast_live", EVA)] == 1
    assert found[("rescheduled", EVA)] == 1
    assert found[("rescheduled", CREW)] == 1  # the three-minute nudge is not a reschedule
    assert found[("new_event", NEW_DOCKING)] == 1
    assert found[("new_event", NEW_LATE)] == 1
    assert found[("reminder", PRESS)] == 2  # 1h and 10m
    assert found[("reminder", EVA)] == 2  # 1h and 10m before the new date only
    assert sum(n for (kind, _), n in found.items() if kind == "update") == 8
    assert set(keys(calm_day).values()) == {1}
    assert calm_day.failed_cycles == 0
    assert calm_day.faults == Counter()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", [3, 17])
async def test_a_thirty_percent_storm_changes_no_alert_and_repeats_none(
    calm_day: Day, tmp_path: Path, seed: int
) -> None:
    """Under 30 % spoiled responses: the same alerts as the calm day, none twice."""
    day = await play_day(tmp_path, storm=0.3, seed=seed)
    assert set(day.faults) == {str(k) for k in STORM}, day.faults  # every kind struck
    assert 0.2 < sum(day.faults.values()) / day.requests < 0.4, (day.faults, day.requests)
    assert day.failed_cycles > 0  # some cycles really lost their sync
    assert keys(day) == keys(calm_day)
    assert [k for k, n in keys(day).items() if n > 1] == []


async def test_a_truncated_upcoming_page_is_refused_not_seeded_from(tmp_path: Path) -> None:
    """A seed page cut short (count and next kept) is an error; the next cycle seeds all."""
    clock = FakeClock(T0)
    engine = make_engine(f"sqlite:///{tmp_path / 'seed.db'}")
    upgrade(engine)
    async with LL2Emulator(day_events(), clock=clock, requests_per_hour=None) as emulator:
        emulator.inject_fault(FaultKind.TRUNCATED_PAGE, path="/upcoming/")
        config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url("2.2.0")})
        async with LL2Client(config.ll2, clock=clock) as client:
            pipeline = console_pipeline(
                config=config, engine=engine, client=client, fmt="json", stream=io.StringIO()
            )
            first = await pipeline.cycle()
            assert isinstance(first.error, LL2BadResponse), first
            assert_watermark_passes_nothing_unprocessed(emulator, engine)
            clock.advance(minutes=1)
            second = await pipeline.cycle()
            assert second.sync is not None and second.sync.seeded
            assert_watermark_passes_nothing_unprocessed(emulator, engine)
            with session_scope(engine) as session:
                assert queries.count_events(session=session) == len(emulator.events)
    engine.dispose()


@pytest.mark.parametrize(("grace", "expected"), [("5m", "dropped"), ("20m", "sent")])
async def test_a_late_tick_decides_a_due_reminder_even_after_its_event_began(
    tmp_path: Path, grace: str, expected: str
) -> None:
    """A 10m reminder seen 10½ min late is dropped (grace 5m) or sent (20m), never ignored."""
    clock = FakeClock(T0)
    engine = make_engine(f"sqlite:///{tmp_path / 'late.db'}")
    upgrade(engine)
    docking = make_event(CREW, "Crew-14 Docking", date=h(1), last_updated=T0 - DAY)
    async with LL2Emulator([docking], clock=clock, requests_per_hour=None) as emulator:
        config = load_config(
            None,
            env={},
            overrides={("ll2", "url"): emulator.url("2.2.0"), ("alerts", "grace"): grace},
        )
        async with LL2Client(config.ll2, clock=clock) as client:
            out = io.StringIO()
            pipeline = console_pipeline(
                config=config, engine=engine, client=client, fmt="json", stream=out, clock=clock
            )
            await pipeline.cycle()  # seeds; the 1h reminder falls due right now
            clock.set(h(1, 0, 30))  # the 10m reminder fell due at 12:50; the docking began
            await pipeline.cycle()
    with session_scope(engine) as session:
        ten_minutes = [
            d
            for d in session.exec(select(Delivery))
            if d.dedupe_key.endswith(":reminder:10m@2026-11-27T13:00:00Z")
        ]
    engine.dispose()
    assert [d.state for d in ten_minutes] == [expected]
    printed = [json.loads(line)["key"] for line in out.getvalue().splitlines()]
    assert any(k.endswith("10m@2026-11-27T13:00:00Z") for k in printed) == (expected == "sent")
