"""Scenario tests: the launch feed through the real pipeline, LL2 emulator to console sink.

Every test runs on LL2 2.2.0 and 2.3.0, on SQLite and PostgreSQL. The launches are real
recorded ones (``bot/data/ll2``), moved to the scenario's day: the emulator changes them the
way LL2's editors do (status, NET slips, webcast flips) and the pipeline must alert exactly
as DESIGN.md says.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.config import load_config
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock, LL2Emulator, format_ll2_datetime
from bot.devtools.ll2_emulator.launches import load_recorded_launches
from bot.ll2.client import LL2Client
from bot.pipeline.runner import Pipeline, console_pipeline
from storage import queries, subscriptions
from storage.db import session_scope
from tests.conftest import T0

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
OLD = T0 - timedelta(days=2)

# Recorded launches (ids as LL2 has them).
DRAGON = "e60aa241-1f2c-4459-ba94-2f576c3e5632"  # Falcon 9 | Dragon CRS-2 SpX-34, SpaceX
STARLINK = "6f2868b8-1000-48e5-893b-700c1371b4fb"  # Falcon 9 | Starlink Group 10-48, SpaceX
ELECTRON = "9281afa8-140d-425b-a560-2fa59feef814"  # Electron | Kakushin Rising, Rocket Lab
SPACEX = 121


def recorded(launch_id: str) -> dict[str, Any]:
    """Return a deep copy of one recorded launch."""
    for launch in load_recorded_launches():
        if launch["id"] == launch_id:
            return copy.deepcopy(launch)
    raise KeyError(launch_id)


def on_the_day(launch_id: str, net: datetime, *, status: int = 2, **fields: Any) -> dict[str, Any]:
    """Return a recorded launch moved to ``net`` (to the minute), ``status``, edited long ago."""
    launch = recorded(launch_id)
    stamp = format_ll2_datetime(net)
    launch.update(
        net=stamp,
        window_start=stamp,
        window_end=stamp,
        net_precision={"id": 1, "name": "Minute", "abbrev": "MIN"},
        status={"id": status},
        webcast_live=False,
        last_updated=format_ll2_datetime(OLD),
        holdreason="",
        failreason="",
    )
    for video in launch.get("vid_urls") or []:
        video["live"] = False
        video["start_time"] = None
    launch.update(fields)
    return launch


def day_launches() -> list[dict[str, Any]]:
    """Return the scenario's launches: a Dragon, a Starlink and an Electron, all ahead."""
    return [
        on_the_day(DRAGON, T0 + 3 * HOUR),
        on_the_day(STARLINK, T0 + 6 * HOUR, status=1),
        on_the_day(ELECTRON, T0 + 30 * HOUR),
    ]


def day_events() -> list[dict[str, Any]]:
    """Return one event, so every test also sees the other feed."""
    return [make_event(5001, "Crew-13 Docking", date=T0 + 4 * HOUR, last_updated=OLD)]


@dataclass
class World:
    """An LL2 emulator (one version), a store and a ``watch`` pipeline between them."""

    emulator: LL2Emulator
    engine: Engine
    clock: FakeClock
    pipeline: Pipeline
    out: io.StringIO

    async def run(self) -> list[dict[str, Any]]:
        """Run one ``watch --once`` cycle and return the JSON alerts it printed."""
        start = self.out.tell()
        await self.pipeline.cycle()
        self.out.seek(start)
        lines = [json.loads(line) for line in self.out.read().splitlines() if line.strip()]
        self.out.seek(0, io.SEEK_END)
        return lines

    async def later(self, minutes: int = 1) -> list[dict[str, Any]]:
        """Let ``minutes`` pass, then run a cycle."""
        self.clock.advance(minutes=minutes)
        return await self.run()


@pytest.fixture(params=["2.2.0", "2.3.0"])
def version(request: pytest.FixtureRequest) -> str:
    """Return the LL2 version the emulator serves and the client asks."""
    return str(request.param)


@pytest.fixture
async def emulator(clock: FakeClock) -> AsyncIterator[LL2Emulator]:
    """Yield a started emulator with the day's launches and one event (no budget limit)."""
    async with LL2Emulator(
        day_events(), launches=day_launches(), clock=clock, requests_per_hour=None
    ) as running:
        yield running


async def make_world(
    engine: Engine,
    clock: FakeClock,
    emulator: LL2Emulator,
    version: str,
    client: LL2Client,
    *,
    kinds: Sequence[str] = (),
    feed: str = "all",
) -> World:
    """Build the ``watch`` pipeline of one subscription over the emulator."""
    config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url(version)})
    out = io.StringIO()
    pipeline = console_pipeline(
        config=config,
        engine=engine,
        client=client,
        kinds=kinds,
        feed=feed,
        fmt="json",
        stream=out,
        clock=clock,
    )
    return World(emulator, engine, clock, pipeline, out)


@pytest.fixture
async def client(emulator: LL2Emulator, version: str, clock: FakeClock) -> AsyncIterator[LL2Client]:
    """Yield an LL2 client of the version under test."""
    config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url(version)})
    async with LL2Client(config.ll2, clock=clock) as running:
        yield running


@pytest.fixture
async def world(
    engine: Engine, clock: FakeClock, emulator: LL2Emulator, version: str, client: LL2Client
) -> World:
    """Return a world whose subscription takes every kind of every feed."""
    return await make_world(engine, clock, emulator, version, client)


def launch_alerts(alerts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Return (kind, launch id) of the launch alerts, in order."""
    return [(a["kind"], a["launch"]["id"]) for a in alerts if a["feed"] == "launches"]


# --- seeding ---------------------------------------------------------------------------------


async def test_first_sync_seeds_launches_quietly(world: World) -> None:
    """A fresh store takes in every upcoming launch and says nothing about them."""
    assert await world.run() == []
    with session_scope(world.engine) as session:
        assert queries.count_launches(session=session) == 3
        assert queries.sync_state(session=session, feed="launches").seeded
        # Launch history LL2 hides from the upcoming list is not stored as coming.
        assert {r.id for r in queries.live_launches(session=session)} == set()
    upcoming = [r for r in world.emulator.requests if "upcoming" in r.path and "aunch" in r.path]
    assert upcoming and all(r.query.get("hide_recent_previous") == "true" for r in upcoming)


async def test_a_launch_added_after_seeding_is_a_new_event(world: World) -> None:
    """A launch LL2 adds after the seed gives one ``new_event`` alert, once."""
    await world.run()
    world.clock.advance(minutes=1)
    added = on_the_day(
        "a556b963-0f36-4660-95a8-fdffdba653e2",
        T0 + 10 * HOUR,
        last_updated=format_ll2_datetime(world.clock()),
    )
    world.emulator.add_launch(added)
    assert launch_alerts(await world.run()) == [("new_event", added["id"])]
    assert launch_alerts(await world.later()) == []


# --- status ----------------------------------------------------------------------------------


async def test_tbd_go_in_flight_success_gives_exactly_the_status_alerts(
    engine: Engine, clock: FakeClock, emulator: LL2Emulator, version: str, client: LL2Client
) -> None:
    """A ``kinds: status`` subscription gets Go, In Flight, Success — one each, nothing else."""
    world = await make_world(engine, clock, emulator, version, client, kinds=["status"])
    await world.run()
    seen: list[str] = []
    for status in ("Go", "In Flight", "Success"):
        world.clock.advance(minutes=1)
        world.emulator.set_launch_status(DRAGON, status)
        world.emulator.add_launch_update(DRAGON, f"Now {status}")  # not asked for: no alert
        alerts = await world.run()
        assert launch_alerts(alerts) == [("status", DRAGON)]
        assert alerts[0]["launch"]["status"]["abbrev"] == status
        assert status in alerts[0]["message"]["content"]
        seen.append(alerts[0]["key"])
    assert len(set(seen)) == 3
    assert await world.later() == []


async def test_a_failure_carries_its_failreason(world: World) -> None:
    """A launch that fails alerts with LL2's ``failreason`` in the message."""
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.set_launch_status(DRAGON, "In Flight")
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.set_launch_status(DRAGON, "Failure", failreason="Second stage shut down early")
    alerts = await world.run()
    assert launch_alerts(alerts) == [("status", DRAGON)]
    assert "Second stage shut down early" in json.dumps(alerts[0]["message"])


# --- rescheduled -----------------------------------------------------------------------------


async def test_a_launch_slipping_two_minutes_at_a_time_is_announced_once(world: World) -> None:
    """Slips of 2, 4 and 6 minutes in all (threshold 5) give one ``rescheduled``, at 6."""
    await world.run()
    per_step = []
    for _ in range(3):
        world.clock.advance(minutes=1)
        world.emulator.slip_launch(DRAGON, by=2 * MINUTE)
        per_step.append(launch_alerts(await world.run()))
    assert per_step == [[], [], [("rescheduled", DRAGON)]]
    # Measured from the date announced: two more minutes (8 in all, 2 since) stay quiet.
    world.clock.advance(minutes=1)
    world.emulator.slip_launch(DRAGON, by=2 * MINUTE)
    assert launch_alerts(await world.run()) == []


async def test_a_move_within_a_coarse_net_is_no_news(world: World) -> None:
    """ "NET December" moved to another December day is not a reschedule."""
    await world.run()
    month = {"id": 7, "name": "Month", "abbrev": "M"}
    world.clock.advance(minutes=1)
    world.emulator.slip_launch(ELECTRON, "2026-12-01T00:00:00Z", net_precision=month)
    first = launch_alerts(await world.run())
    assert first == [("rescheduled", ELECTRON)]  # from a day's NET to "NET December"
    world.clock.advance(minutes=1)
    world.emulator.slip_launch(ELECTRON, "2026-12-19T00:00:00Z", net_precision=month)
    assert launch_alerts(await world.run()) == []


async def test_a_slip_rearms_the_one_hour_reminder(world: World) -> None:
    """A 2 h slip alerts once, and the 1h reminder follows the new NET."""
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.slip_launch(DRAGON, T0 + 5 * HOUR)
    assert launch_alerts(await world.run()) == [("rescheduled", DRAGON)]
    world.clock.set(T0 + 2 * HOUR + MINUTE)  # the old 1h reminder time
    assert [a for a in launch_alerts(await world.run()) if a[1] == DRAGON] == []
    world.clock.set(T0 + 4 * HOUR + MINUTE)  # the new one
    alerts = [a for a in await world.run() if a.get("launch", {}).get("id") == DRAGON]
    assert launch_alerts(alerts) == [("reminder", DRAGON)]
    assert alerts[0]["key"].endswith("1h@2026-11-27T17:00:00Z")


# --- webcast ---------------------------------------------------------------------------------


async def test_a_webcast_flip_gives_one_webcast_live(world: World) -> None:
    """``webcast_live`` false→true on a launch alerts once, with watch buttons."""
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.set_launch_webcast(STARLINK, True)
    alerts = await world.run()
    assert launch_alerts(alerts) == [("webcast_live", STARLINK)]
    assert alerts[0]["message"]["components"], "a live alert carries watch buttons"
    assert launch_alerts(await world.later()) == []


# --- subscriptions ---------------------------------------------------------------------------


async def test_spacex_without_starlink_hears_the_dragon_only(
    engine: Engine, clock: FakeClock, emulator: LL2Emulator, version: str, client: LL2Client
) -> None:
    """``feed:launches provider:SpaceX exclude:Starlink``: the Dragon yes; Starlink, events no."""
    world = await make_world(engine, clock, emulator, version, client, feed="launches")
    with session_scope(engine) as session:
        (sub,) = [s for s in subscriptions.active_subscriptions(session=session)]
        sub.provider_ids = [SPACEX]
        sub.exclude = ["starlink"]
        session.add(sub)
    await world.run()
    world.clock.advance(minutes=1)
    for launch_id in (DRAGON, STARLINK):
        world.emulator.set_launch_status(launch_id, "Hold", holdreason="Weather")
        world.emulator.set_launch_webcast(launch_id, True)
    world.emulator.set_webcast_live(5001, True)
    world.emulator.add_update(5001, "Docking moved to the zenith port")
    alerts = await world.run()
    assert sorted(launch_alerts(alerts)) == [("status", DRAGON), ("webcast_live", DRAGON)]
    assert [a for a in alerts if a["feed"] != "launches"] == []
    (status,) = [a for a in alerts if a["kind"] == "status"]
    assert status["launch"]["status"]["abbrev"] == "Hold"
    if version == "2.2.0":  # 2.3.0 has no ``holdreason`` (its OpenAPI document lists none)
        assert "Weather" in json.dumps(status["message"])


async def test_a_subscription_of_events_only_hears_no_launch(
    engine: Engine, clock: FakeClock, emulator: LL2Emulator, version: str, client: LL2Client
) -> None:
    """``feed:events`` (what older subscriptions became) ignores every launch change."""
    world = await make_world(engine, clock, emulator, version, client, feed="events")
    await world.run()
    world.clock.advance(minutes=1)
    world.emulator.set_launch_status(DRAGON, "Go")
    world.emulator.set_webcast_live(5001, True)
    alerts = await world.run()
    assert [(a["kind"], a["feed"]) for a in alerts] == [("webcast_live", "events")]


async def test_a_feed_switched_on_in_a_running_store_seeds_quietly(
    engine: Engine, clock: FakeClock, emulator: LL2Emulator, version: str, client: LL2Client
) -> None:
    """A store that only polled events seeds launches quietly once the feed is switched on."""
    config = load_config(
        None,
        env={},
        overrides={("ll2", "url"): emulator.url(version), ("ll2", "feeds"): ["events"]},
    )
    out = io.StringIO()
    events_only = console_pipeline(
        config=config, engine=engine, client=client, fmt="json", stream=out, clock=clock
    )
    await events_only.cycle()
    with session_scope(engine) as session:
        assert queries.count_launches(session=session) == 0
    clock.advance(minutes=1)
    emulator.set_launch_status(DRAGON, "Go")  # history, to a store that never saw it
    world = await make_world(engine, clock, emulator, version, client)
    assert launch_alerts(await world.run()) == []
    with session_scope(engine) as session:
        assert queries.count_launches(session=session) == 3
    world.clock.advance(minutes=1)
    emulator.set_launch_status(DRAGON, "Hold", holdreason="Range")
    assert launch_alerts(await world.run()) == [("status", DRAGON)]
