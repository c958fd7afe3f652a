"""Guild scheduled events in the Discord emulator follow Discord's rules (real discord.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from bot.devtools.discord_emulator import DiscordEmulator, Guild, permissions, pointed_at, running

EXTERNAL = discord.EntityType.external


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    """Serve a Discord emulator and point discord.py at it for the test."""
    async with DiscordEmulator() as emulator:
        with pointed_at(emulator):
            yield emulator


@pytest.fixture
def guild(emu: DiscordEmulator) -> Guild:
    """Build a guild where the bot holds Manage Events."""
    return emu.add_guild(
        "Space Club", bot_permissions=permissions.DEFAULT_BOT | permissions.MANAGE_EVENTS
    )


def make_client() -> discord.Client:
    """Build a plain client (default intents include scheduled events)."""
    return discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)


def soon(hours: float = 1) -> datetime:
    """Return a UTC time some hours from now."""
    return datetime.now(UTC) + timedelta(hours=hours)


async def create(
    client: discord.Client, guild: Guild, name: str = "Crew-12 docking", **kwargs: Any
) -> discord.ScheduledEvent:
    """Create an external event through discord.py, as the bot would."""
    kwargs.setdefault("start_time", soon(1))
    kwargs.setdefault("end_time", soon(2))
    kwargs.setdefault("location", "https://example.com/live")
    # The document (and so the emulator) requires privacy_level; discord.py omits it unless given.
    kwargs.setdefault("privacy_level", discord.PrivacyLevel.guild_only)
    cached = client.get_guild(guild.id)
    assert cached is not None
    return await cached.create_scheduled_event(name=name, entity_type=EXTERNAL, **kwargs)


def raw_create(client: discord.Client, guild: Guild, **payload: Any) -> Any:
    """Send a create body as given (discord.py's helpers refuse some bad bodies locally)."""
    return client.http.create_guild_scheduled_event(guild.id, **payload)


async def test_create_slip_and_delete_reach_the_gateway(emu: DiscordEmulator, guild: Guild) -> None:
    """Create, edit and delete are stored, dispatched, and seen in discord.py's cache."""
    seen: list[str] = []
    async with running(make_client(), emu) as client:

        async def on_scheduled_event_create(event: discord.ScheduledEvent) -> None:
            seen.append(f"create {event.name}")

        async def on_scheduled_event_update(
            before: discord.ScheduledEvent, after: discord.ScheduledEvent
        ) -> None:
            seen.append(f"update {after.start_time:%H:%M}")

        async def on_scheduled_event_delete(event: discord.ScheduledEvent) -> None:
            seen.append("delete")

        for listener in (
            on_scheduled_event_create,
            on_scheduled_event_update,
            on_scheduled_event_delete,
        ):
            client.event(listener)
        event = await create(client, guild, description="Dragon docks to the ISS")
        slipped = soon(3)
        event = await event.edit(start_time=slipped, end_time=soon(4))
        fetched = await client.get_guild(guild.id).fetch_scheduled_events()
        await emu.flush()
        await asyncio.sleep(0.05)
        cached = client.get_guild(guild.id).get_scheduled_event(event.id)
        assert cached is not None and cached.start_time == slipped.replace(
            microsecond=slipped.microsecond
        )
        await event.delete()
        await emu.flush()
        await asyncio.sleep(0.05)
        assert client.get_guild(guild.id).get_scheduled_event(event.id) is None
    assert [e.id for e in fetched] == [event.id] and fetched[
        0
    ].location == "https://example.com/live"
    assert seen == ["create Crew-12 docking", f"update {slipped:%H:%M}", "delete"]
    assert emu.scheduled_events(guild.id) == []
    assert [(c.actor, c.action) for c in emu.scheduled_event_changes(event.id)] == [
        ("bot", "create"),
        ("bot", "update"),
        ("bot", "delete"),
    ]
    assert not emu.validation_errors


async def test_events_in_the_guild_arrive_with_guild_create(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """An event made before the bot connects is in the cache after READY."""
    made = emu.add_scheduled_event(guild.id, "Starship flight", start=soon(5), end=soon(6))
    async with running(make_client(), emu) as client:
        [cached] = client.get_guild(guild.id).scheduled_events
    assert cached.id == int(made["id"]) and cached.status is discord.EventStatus.scheduled
    assert cached.creator_id == guild.owner_id


async def test_limits_and_required_fields_are_enforced(emu: DiscordEmulator, guild: Guild) -> None:
    """Name 100, description 1000, location 100; location and end time required; future start."""
    base = {
        "name": "Crew-12 docking",
        "privacy_level": 2,
        "entity_type": 3,
        "scheduled_start_time": soon(1).isoformat(),
        "scheduled_end_time": soon(2).isoformat(),
        "entity_metadata": {"location": "ISS"},
    }
    bad = [
        {"name": "n" * 101},
        {"description": "d" * 1001},
        {"entity_metadata": {"location": "l" * 101}},
        {"entity_metadata": {}},
        {"scheduled_end_time": None},
        {"scheduled_start_time": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        {"scheduled_end_time": soon(0.5).isoformat()},
    ]
    refused: list[str] = []
    async with running(make_client(), emu) as client:
        for change in bad:
            with pytest.raises(discord.HTTPException) as caught:
                await raw_create(client, guild, **{**base, **change})
            assert caught.value.status == 400 and caught.value.code == 50035
            refused.append(next(iter(change)))
        made = await raw_create(
            client, guild, **{**base, "name": "n" * 100, "description": "d" * 1000}
        )
    assert len(refused) == len(bad)
    assert [tuple(f.messages()) for f in emu.validation_errors] == [
        ("name: Must be 100 or fewer in length.",),
        ("description: Must be 1000 or fewer in length.",),
        ("entity_metadata.location: Must be 100 or fewer in length.",),
        ("entity_metadata.location: This field is required",),
    ]
    assert [e["id"] for e in emu.scheduled_events(guild.id)] == [made["id"]]


async def test_status_rules_and_finished_events(emu: DiscordEmulator, guild: Guild) -> None:
    """1 -> 2 -> 3 and 1 -> 4 work; 1 -> 3 does not; finished events refuse edits (180000)."""
    async with running(make_client(), emu) as client:
        live = await create(client, guild, "Crew-12 docking")
        with pytest.raises(discord.HTTPException) as skipped:
            # Scheduled -> Completed is not a transition Discord allows (discord.py's end()
            # would refuse it locally, so send the body as is).
            await client.http.edit_scheduled_event(guild.id, live.id, status=3)
        live = await live.start()
        with pytest.raises(discord.HTTPException) as moved:
            await live.edit(start_time=soon(2))
        live = await live.edit(name="Crew-12 docking (live)")
        live = await live.end()
        with pytest.raises(discord.HTTPException) as finished:
            await live.edit(name="again")
        scrubbed = await create(client, guild, "Starship flight")
        scrubbed = await scrubbed.cancel()
        with pytest.raises(discord.HTTPException) as canceled:
            await scrubbed.edit(name="again")
        with pytest.raises(discord.HTTPException) as restarted:
            await client.http.edit_scheduled_event(guild.id, scrubbed.id, status=2)
    assert (skipped.value.code, moved.value.code) == (50035, 50035)
    assert "status" in skipped.value.text and "scheduled_start_time" in moved.value.text
    assert live.status is discord.EventStatus.completed and live.name == "Crew-12 docking (live)"
    assert scrubbed.status is discord.EventStatus.cancelled
    assert [e.value.code for e in (finished, canceled, restarted)] == [180000] * 3


async def test_discord_starts_events_and_people_edit_them(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """start_scheduled_event and a person's edit reach the bot as updates, with the actor kept."""
    updates: list[tuple[str, str]] = []
    async with running(make_client(), emu) as client:

        async def on_scheduled_event_update(
            before: discord.ScheduledEvent, after: discord.ScheduledEvent
        ) -> None:
            updates.append((after.name, after.status.name))

        client.event(on_scheduled_event_update)
        event = await create(client, guild)
        emu.edit_scheduled_event_as_person(
            guild.id, event.id, name="Docking watch party", location="Discord stage"
        )
        # discord.py updates the cached event in place: let the first update be handled.
        await emu.flush()
        await asyncio.sleep(0.05)
        emu.start_scheduled_event(guild.id, event.id)
        with pytest.raises(discord.HTTPException) as active:
            await event.edit(start_time=soon(3))
        await emu.flush()
        await asyncio.sleep(0.05)
    assert updates == [("Docking watch party", "scheduled"), ("Docking watch party", "active")]
    assert active.value.code == 50035
    changes = emu.scheduled_event_changes(event.id)
    assert [(c.actor, c.action) for c in changes] == [
        ("bot", "create"),
        ("person", "update"),
        ("discord", "update"),
    ]
    assert changes[1].fields == {
        "name": "Docking watch party",
        "entity_metadata": {"location": "Discord stage"},
    }
    assert emu.scheduled_event(guild.id, event.id)["status"] == 2


async def test_the_101st_uncompleted_event_is_refused(emu: DiscordEmulator, guild: Guild) -> None:
    """100 Scheduled/Active events fill a guild (30038); a completed one frees a place."""
    made = [
        emu.add_scheduled_event(guild.id, f"Event {n}", start=soon(1 + n), end=soon(2 + n))
        for n in range(100)
    ]
    async with running(make_client(), emu) as client:
        with pytest.raises(discord.HTTPException) as full:
            await create(client, guild, "one too many")
        emu.start_scheduled_event(guild.id, int(made[0]["id"]))
        emu.end_scheduled_event(guild.id, int(made[0]["id"]))
        fits = await create(client, guild, "fits now")
    assert full.value.status == 400 and full.value.code == 30038
    assert fits.name == "fits now" and len(emu.scheduled_events(guild.id)) == 101


async def test_manage_events_is_required(emu: DiscordEmulator) -> None:
    """Without Manage Events: 403 50013; with Create Events only the bot's own events."""
    bare = emu.add_guild("No events")
    creator = emu.add_guild(
        "Create only", bot_permissions=permissions.DEFAULT_BOT | permissions.CREATE_EVENTS
    )
    theirs = emu.add_scheduled_event(creator.id, "Moderator's event", start=soon(1), end=soon(2))
    async with running(make_client(), emu) as client:
        with pytest.raises(discord.Forbidden) as denied:
            await create(client, bare)
        own = await create(client, creator)
        own = await own.edit(name="renamed")
        other = await client.get_guild(creator.id).fetch_scheduled_event(int(theirs["id"]))
        with pytest.raises(discord.Forbidden) as not_ours:
            await other.edit(name="hijacked")
        with pytest.raises(discord.NotFound) as unknown:
            await client.http.get_scheduled_event(creator.id, 1234, False)
    assert denied.value.code == 50013 and not_ours.value.code == 50013
    assert unknown.value.code == 10070
    assert own.name == "renamed" and emu.scheduled_events(bare.id) == []
