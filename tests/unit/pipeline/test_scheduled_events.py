"""ScheduledEventMirror against a real store and the Discord emulator through discord.py.

Created once within the horizon (events and launches), updated on a slip, started at T-0 and
completed when over, cancelled when gone or past the horizon, left alone after a person's
edit, at most ``max_per_guild`` per guild, and a 403 pauses only the scheduled-event part.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import discord
import pytest
from sqlalchemy import Engine

from bot.app.scheduled_events import DiscordScheduledEvents
from bot.core.timeutil import isoformat_z, parse_datetime, utcnow
from bot.devtools.discord_emulator import DiscordEmulator, pointed_at, running
from bot.devtools.discord_emulator import permissions as perms
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock
from bot.ll2.parse import parse_event
from bot.pipeline.records import event_record, launch_record
from bot.pipeline.scheduled_events import (
    ACTIVE,
    CANCELED,
    COMPLETED,
    ScheduledEventMirror,
    edited_by_person,
)
from storage import queries, subscriptions
from storage.db import session_scope
from storage.models import Subscription
from tests.unit.render.test_launches import make_launch

DOCKING, EVA, PRESS = 5101, 5102, 5103


@dataclass
class Mirror:
    """A store, the emulator, a guild asking for scheduled events, and the mirror."""

    engine: Engine
    discord: DiscordEmulator
    guild_id: int
    clock: FakeClock
    mirror: ScheduledEventMirror
    start: datetime

    def store(
        self, event_id: int, name: str, date: datetime, *, minutes: int = 0, **kw: Any
    ) -> None:
        """Store an event as LL2 sent it (``minutes`` after the start: its version)."""
        raw = make_event(
            event_id, name, date=date, last_updated=self.start + timedelta(minutes=minutes), **kw
        )
        with session_scope(self.engine) as session:
            queries.save_events(
                session=session, records=[event_record(parse_event(raw), raw)], now=self.clock()
            )

    def events(self) -> list[dict[str, Any]]:
        """Return the guild's scheduled events."""
        return self.discord.scheduled_events(self.guild_id)

    def named(self, prefix: str) -> dict[str, Any]:
        """Return the one event whose name starts with ``prefix``."""
        (found,) = [e for e in self.events() if e["name"].startswith(prefix)]
        return found

    def subscribe(self, **filters: Any) -> int:
        """Store a subscription asking for scheduled events; return its id."""
        with session_scope(self.engine) as session:
            sub = subscriptions.add_subscription(
                session=session,
                subscription=Subscription(
                    guild_id=self.guild_id,
                    channel_id=1,
                    scheduled_events=True,
                    created_at=self.start,
                    **filters,
                ),
            )
            assert sub.id is not None
            return sub.id


async def _mirror(engine: Engine, bot_permissions: int) -> AsyncIterator[Mirror]:
    start = utcnow().replace(microsecond=0)
    clock = FakeClock(start)
    async with DiscordEmulator() as emu:
        guild = emu.add_guild("Space Club", bot_permissions=bot_permissions)
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)
        with pointed_at(emu):
            async with running(client, emu):
                api = DiscordScheduledEvents(cast(Any, client))
                mirror = ScheduledEventMirror(
                    engine, api, horizon=timedelta(days=14), clock=clock, max_per_guild=3
                )
                yield Mirror(engine, emu, guild.id, clock, mirror, start)
        assert [f.messages() for f in emu.validation_errors] == []


@pytest.fixture
async def world(engine: Engine) -> AsyncIterator[Mirror]:
    """Yield a mirror in a guild where the bot holds Manage Events."""
    async for m in _mirror(engine, perms.DEFAULT_BOT | perms.MANAGE_EVENTS):
        yield m


@pytest.fixture
async def no_manage(engine: Engine) -> AsyncIterator[Mirror]:
    """Yield a mirror in a guild where the bot lacks Manage Events."""
    async for m in _mirror(engine, perms.DEFAULT_BOT):
        yield m


async def test_items_within_the_horizon_are_created_once(world: Mirror) -> None:
    """Matching items within 14 days become external events, once; others do not."""
    world.subscribe(type_ids=[2, 4])  # Docking, EVA
    world.store(DOCKING, "Crew-14 Docking", world.start + timedelta(days=2))
    world.store(EVA, "US Spacewalk 95", world.start + timedelta(days=20), type_name="EVA")
    world.store(PRESS, "Press briefing", world.start + timedelta(days=1), type_name="Press Event")
    report = await world.mirror.sync()
    assert report.created == 1
    (event,) = world.events()
    assert event["name"] == "Crew-14 Docking"
    assert (event["entity_type"], event["privacy_level"], event["status"]) == (3, 2, 1)
    assert parse_datetime(event["scheduled_start_time"]) == world.start + timedelta(days=2)
    assert event["entity_metadata"]["location"]
    assert (await world.mirror.sync()).created == 0
    assert len(world.events()) == 1


async def test_a_slip_moves_the_event(world: Mirror) -> None:
    """A new date is a PATCH of the same event, not a new one."""
    world.subscribe()
    world.store(DOCKING, "Crew-14 Docking", world.start + timedelta(days=2))
    await world.mirror.sync()
    (before,) = world.events()
    length = parse_datetime(before["scheduled_end_time"]) - parse_datetime(
        before["scheduled_start_time"]
    )
    slipped = world.start + timedelta(days=3)
    world.store(DOCKING, "Crew-14 Docking", slipped, minutes=1)
    report = await world.mirror.sync()
    assert (report.created, report.updated) == (0, 1)
    (event,) = world.events()
    assert parse_datetime(event["scheduled_start_time"]) == slipped
    assert parse_datetime(event["scheduled_end_time"]) == slipped + length  # the item's duration
    assert event["id"] == before["id"]


async def test_moving_past_the_horizon_cancels_it(world: Mirror) -> None:
    """An item that slips beyond the horizon gets its event cancelled."""
    world.subscribe()
    world.store(DOCKING, "Crew-14 Docking", world.start + timedelta(days=2))
    await world.mirror.sync()
    world.store(DOCKING, "Crew-14 Docking", world.start + timedelta(days=30), minutes=1)
    assert (await world.mirror.sync()).cancelled == 1
    assert world.named("Crew-14")["status"] == CANCELED
    assert (await world.mirror.sync()).created == 0  # made once: not again


async def test_t0_starts_it_and_the_end_completes_it(world: Mirror) -> None:
    """At T-0 the event goes Active; a slip then leaves its start alone; over: Completed."""
    world.subscribe()
    date = world.start + timedelta(days=2)
    world.store(DOCKING, "Crew-14 Docking", date)
    await world.mirror.sync()
    world.clock.set(date + timedelta(minutes=1))
    await world.mirror.sync()
    assert world.named("Crew-14")["status"] == ACTIVE
    # LL2 moves the date while it runs: Discord refuses a new start for an Active event.
    world.store(DOCKING, "Crew-14 Docking (delayed)", date + timedelta(minutes=20), minutes=1)
    await world.mirror.sync()
    event = world.named("Crew-14")
    assert event["name"] == "Crew-14 Docking (delayed)"
    assert parse_datetime(event["scheduled_start_time"]) == date
    world.clock.set(date + timedelta(hours=3))
    assert (await world.mirror.sync()).ended == 1
    assert world.named("Crew-14")["status"] == COMPLETED


async def test_a_person_edit_is_left_alone(world: Mirror) -> None:
    """Once a person renames it, slips no longer touch it."""
    world.subscribe()
    date = world.start + timedelta(days=2)
    world.store(DOCKING, "Crew-14 Docking", date)
    await world.mirror.sync()
    event_id = int(world.named("Crew-14")["id"])
    world.discord.edit_scheduled_event_as_person(world.guild_id, event_id, name="Watch party!")
    world.store(DOCKING, "Crew-14 Docking", date + timedelta(hours=4), minutes=1)
    assert (await world.mirror.sync()).left_alone == 1
    after = world.discord.scheduled_event(world.guild_id, event_id)
    assert after is not None and after["name"] == "Watch party!"
    assert parse_datetime(after["scheduled_start_time"]) == date
    assert (await world.mirror.sync()).updated == 0


async def test_at_most_max_per_guild_soonest_first(world: Mirror) -> None:
    """Five matching items, a cap of three: the three soonest get events."""
    world.subscribe()
    for i in range(5):
        world.store(DOCKING + i, f"Docking {i}", world.start + timedelta(days=5 - i))
    await world.mirror.sync()
    await world.mirror.sync()
    assert sorted(e["name"] for e in world.events()) == ["Docking 2", "Docking 3", "Docking 4"]


async def test_launches_are_mirrored_too(world: Mirror) -> None:
    """A launch within the horizon gets an event; a provider filter is honoured."""
    net = world.start + timedelta(days=3)
    launch = make_launch(net=isoformat_z(net), window_start=isoformat_z(net), window_end=None)
    assert launch.launch_service_provider is not None
    with session_scope(world.engine) as session:
        queries.save_launches(session=session, records=[launch_record(launch)], now=world.clock())
    world.subscribe(feed="launches", provider_ids=[launch.launch_service_provider.id + 1])
    await world.mirror.sync()
    assert world.events() == []
    world.subscribe(feed="launches", provider_ids=[launch.launch_service_provider.id])
    await world.mirror.sync()
    (event,) = world.events()
    assert event["name"] == launch.name
    assert parse_datetime(event["scheduled_start_time"]) == net


async def test_a_403_pauses_only_the_scheduled_event_part(no_manage: Mirror) -> None:
    """Without Manage Events the guild's scheduled events pause; the subscription stays on."""
    sub_id = no_manage.subscribe()
    no_manage.store(DOCKING, "Crew-14 Docking", no_manage.start + timedelta(days=2))
    assert (await no_manage.mirror.sync()).paused_guilds == 1
    with session_scope(no_manage.engine) as session:
        sub = session.get(Subscription, sub_id)
        assert sub is not None
        assert sub.paused_reason is None
        assert "Manage Events" in (sub.scheduled_events_paused_reason or "")
    # Paused: the next pass asks Discord nothing.
    asked = len(no_manage.discord.requests)
    await no_manage.mirror.sync()
    assert len(no_manage.discord.requests) == asked


def test_a_person_edit_is_any_difference_from_what_we_set() -> None:
    """Name, description, times or location differing from what we sent means a person."""
    sent = {
        "name": "A",
        "description": "d",
        "scheduled_start_time": "2026-12-05T10:00:00Z",
        "scheduled_end_time": "2026-12-05T12:00:00Z",
        "location": "https://example.com",
    }
    same = dict(sent, entity_metadata={"location": "https://example.com"})
    same["scheduled_start_time"] = "2026-12-05T10:00:00+00:00"  # Discord's spelling
    assert not edited_by_person(sent, same)
    for key, value in (("name", "B"), ("description", "x"), ("scheduled_end_time", "2026-12-06")):
        assert edited_by_person(sent, dict(same, **{key: value})), key
    assert edited_by_person(sent, dict(same, entity_metadata={"location": "Pub"}))
