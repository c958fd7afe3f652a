"""Scenario tests: the real pipeline against the LL2 emulator, on real databases."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.config import Config, load_config
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock, LL2Emulator
from bot.ll2.client import LL2Client
from bot.pipeline.runner import Pipeline, console_pipeline
from storage import outbox, queries
from storage.db import session_scope
from storage.models import DeliveryState
from tests.conftest import T0

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def scenario_events() -> list[dict[str, Any]]:
    """Return the events every scenario starts from."""
    old = T0 - timedelta(days=2)
    return [
        make_event(5001, "Crew-13 Docking", date=T0 + 3 * HOUR, last_updated=old),
        make_event(
            5002,
            "ISS Press Conference",
            type_name="Press Event",
            date=T0 + 20 * MINUTE,
            webcast_live=True,
            last_updated=old,
        ),
        # Its 1h reminder fell due 2 minutes ago: within the 5-minute grace.
        make_event(5003, "Progress MS-36 Docking", date=T0 + HOUR - 2 * MINUTE, last_updated=old),
        # Its 1h reminder fell due 10 minutes ago: missed by more than the grace.
        make_event(5004, "Cygnus NG-24 Docking", date=T0 + 50 * MINUTE, last_updated=old),
        # Month precision: no 1h reminder even though date - 1h is just past.
        make_event(
            5005,
            "US EVA 93",
            type_name="EVA",
            date=T0 + HOUR - MINUTE,
            precision="Month",
            last_updated=old,
        ),
    ]


@dataclass
class World:
    """One LL2 emulator, one store and the `watch` pipeline between them."""

    emulator: LL2Emulator
    client: LL2Client
    engine: Engine
    clock: FakeClock
    config: Config
    pipeline: Pipeline
    out: io.StringIO

    async def run(self) -> list[dict[str, Any]]:
        """Run one `watch --once` cycle and return the JSON alerts it printed."""
        start = self.out.tell()
        await self.pipeline.cycle()
        self.out.seek(start)
        lines = [json.loads(line) for line in self.out.read().splitlines() if line.strip()]
        self.out.seek(0, io.SEEK_END)
        return lines

    def event_requests(self) -> list[Any]:
        """Return the emulator's log of event-list requests (not throttle/config/upcoming)."""
        return [
            r for r in self.emulator.requests if r.path.rstrip("/").endswith(("/event", "/events"))
        ]


@pytest.fixture
async def world(engine: Engine, clock: FakeClock) -> AsyncIterator[World]:
    """Yield a started emulator with the scenario events and a fresh store."""
    async with LL2Emulator(scenario_events(), clock=clock, requests_per_hour=15) as emulator:
        config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url("2.2.0")})
        async with LL2Client(config.ll2, clock=clock) as client:
            out = io.StringIO()
            pipeline = console_pipeline(
                config=config, engine=engine, client=client, fmt="json", stream=out, clock=clock
            )
            yield World(emulator, client, engine, clock, config, pipeline, out)


def kinds_of(alerts: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Return (kind, event id) pairs, sorted."""
    return sorted((a["kind"], a["event"]["id"]) for a in alerts)


async def test_first_sync_seeds_quietly_but_announces_live_webcasts_and_due_reminders(
    world: World,
) -> None:
    """A fresh store posts no old updates, one live webcast, and only in-grace reminders."""
    alerts = await world.run()
    assert kinds_of(alerts) == [("reminder", 5003), ("webcast_live", 5002)]
    reminder = next(a for a in alerts if a["kind"] == "reminder")
    assert reminder["key"].endswith(":reminder:1h@2026-11-27T12:58:00Z")
    with session_scope(world.engine) as session:
        assert queries.count_events(session=session) == 5


async def test_appended_update_gives_exactly_one_update_alert(world: World) -> None:
    """One new entry in `updates` produces one `update` alert, once."""
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.add_update(5001, "Docking moved to the zenith port")
    alerts = await world.run()
    assert kinds_of(alerts) == [("update", 5001)]
    assert "zenith port" in json.dumps(alerts[0]["message"])
    world.clock.advance(minutes=1)
    assert await world.run() == []


async def test_webcast_flip_gives_one_alert_and_an_idle_rerun_one_request(world: World) -> None:
    """`webcast_live` false→true alerts once; a rerun with no change costs one events request."""
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.set_webcast_live(5001, True)
    alerts = await world.run()
    assert kinds_of(alerts) == [("webcast_live", 5001)]
    assert alerts[0]["message"]["components"], "a live alert carries watch buttons"
    world.clock.advance(minutes=1)
    world.emulator.clear_requests()
    assert await world.run() == []
    assert len(world.event_requests()) == 1


async def test_slip_alerts_once_and_rearms_the_one_hour_reminder(world: World) -> None:
    """Moving a date by 2 h gives one `rescheduled`, and the 1h reminder follows the new date."""
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.move_date(5001, T0 + 5 * HOUR)
    alerts = await world.run()
    assert kinds_of(alerts) == [("rescheduled", 5001)]
    world.clock.set(T0 + 2 * HOUR + MINUTE)  # the old 1h reminder time
    assert [a for a in await world.run() if a["event"]["id"] == 5001] == []
    world.clock.set(T0 + 4 * HOUR + MINUTE)  # the new one
    alerts = [a for a in await world.run() if a["event"]["id"] == 5001]
    assert kinds_of(alerts) == [("reminder", 5001)]
    assert alerts[0]["key"].endswith("1h@2026-11-27T17:00:00Z")


async def test_small_date_change_is_not_a_reschedule(world: World) -> None:
    """A date nudged by less than the threshold stays quiet."""
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.move_date(5001, T0 + 3 * HOUR + 2 * MINUTE)
    assert await world.run() == []


async def test_new_event_after_seeding_is_announced(world: World) -> None:
    """An event first seen after the seeding sync gives one `new_event` alert."""
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.add_event(
        make_event(5100, "Starliner-1 Docking", date=T0 + 10 * HOUR, last_updated=world.clock())
    )
    alerts = await world.run()
    assert kinds_of(alerts) == [("new_event", 5100)]


async def test_reminder_missed_in_downtime_is_dropped_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """After a gap longer than the grace, the missed reminder is recorded as dropped, not sent."""
    await world.run()
    world.clock.set(T0 + 2 * HOUR + 30 * MINUTE)  # Crew-13's 1h reminder was due at T0+2h
    alerts = await world.run()
    assert ("reminder", 5001) not in kinds_of(alerts)
    assert any("dropped reminder" in r.getMessage() for r in caplog.records)
    with session_scope(world.engine) as session:
        assert outbox.count_deliveries(session=session, state=DeliveryState.DROPPED) >= 1


async def test_reminder_due_during_a_short_restart_gap_is_still_sent(world: World) -> None:
    """A reminder that fell due while we were down, but within grace, is sent on restart."""
    await world.run()
    world.clock.set(T0 + 2 * HOUR + 3 * MINUTE)  # 3 minutes past Crew-13's 1h reminder
    alerts = await world.run()
    assert ("reminder", 5001) in kinds_of(alerts)


async def test_type_filter_prints_only_that_type(world: World) -> None:
    """A `watch --type Docking` subscription ignores the press event's live webcast."""
    out = io.StringIO()
    docking_only = console_pipeline(
        config=world.config,
        engine=world.engine,
        client=world.client,
        type_ids=[2],
        fmt="json",
        stream=out,
        clock=world.clock,
    )
    await docking_only.cycle()
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(a["kind"], a["event"]["id"]) for a in printed] == [("reminder", 5003)]


async def test_alert_json_lines_match_the_design_format(world: World) -> None:
    """Each JSON line has exactly DESIGN.md's keys and Discord's message fields."""
    alerts = await world.run()
    for alert in alerts:
        assert set(alert) == {"kind", "key", "feed", "event", "subscription", "message"}
        assert alert["feed"] == "events"
        assert set(alert["event"]) == {"id", "name", "slug", "type", "date"}
        assert set(alert["message"]) == {"content", "embeds", "components", "allowed_mentions"}
        assert alert["message"]["allowed_mentions"]["parse"] == []


async def test_budget_spent_stops_the_cycle_with_the_wait(world: World) -> None:
    """With the hourly budget spent, a cycle reports the wait instead of sending a request."""
    await world.run()
    for _ in range(20):
        world.clock.advance(seconds=30)
        report = await world.pipeline.cycle()
        if report.throttled is not None:
            break
    assert report.throttled is not None
    assert 0 < report.throttled.retry_after <= 3600
    sent_in_hour = [
        r for r in world.emulator.requests if "api-throttle" not in r.path and r.status != 429
    ]
    assert len(sent_in_hour) <= 15
