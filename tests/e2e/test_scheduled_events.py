"""Discord scheduled events end to end: the real bot against both emulators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import scheduled_events as app_scheduled_events
from bot.core.timeutil import parse_datetime, utcnow
from bot.devtools.discord_emulator import DiscordEmulator
from bot.devtools.discord_emulator import permissions as perms
from bot.devtools.ll2_emulator import LL2Emulator
from storage import queries, scheduled_events, subscriptions
from storage.db import make_engine, session_scope
from tests.e2e.test_bot import DOCKING, EVA, Stack, e2e_events
from tests.faults.bot import bot_config, eventually, running_bot

pytestmark = pytest.mark.slow


@pytest.fixture
async def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    """Yield a running bot in a guild where it holds Manage Events."""
    monkeypatch.setattr(app_scheduled_events, "EVERY", 0.3)
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with (
        LL2Emulator(e2e_events(), requests_per_hour=None) as ll2,
        DiscordEmulator() as discord,
    ):
        guild = discord.add_guild(
            "Space Club",
            channels=("general", "launches"),
            bot_permissions=perms.DEFAULT_BOT | perms.MANAGE_EVENTS,
        )
        channel_id = guild.channel_named("launches").id
        moderator = discord.add_moderator(guild.id)
        member = discord.add_member(guild.id, "viewer")
        config = bot_config(ll2, discord, db_url)
        engine = make_engine(db_url)
        async with running_bot(config, discord):
            stack = Stack(ll2, discord, engine, config, guild, channel_id, moderator, member)

            def seeded() -> bool:
                with session_scope(engine) as session:
                    return queries.count_events(session=session) >= 2

            await eventually(seeded)
            yield stack
        engine.dispose()
        assert [f.messages() for f in discord.validation_errors] == []


def ours(stack: Stack, name: str) -> dict[str, Any] | None:
    """Return the guild's scheduled event whose name starts with ``name``."""
    found = [
        e for e in stack.discord.scheduled_events(stack.guild.id) if e["name"].startswith(name)
    ]
    return found[-1] if found else None


async def test_events_are_created_updated_cancelled_and_left_alone_after_a_person_edit(
    stack: Stack,
) -> None:
    """Created once within the horizon, moved on a slip, cancelled past it, a person's edit wins."""
    for type_name in ("Docking", "4"):  # 4: EVA (by LL2 id)
        reply = await stack.command("alerts", "add", type=type_name, scheduled_events=True)
        assert "Subscribed" in (reply.content or ""), reply.content
    await eventually(
        lambda: ours(stack, "Soyuz") is not None and ours(stack, "US Space") is not None
    )
    docking = ours(stack, "Soyuz")
    assert docking is not None
    assert docking["privacy_level"] == 2 and docking["entity_type"] == 3
    assert docking["entity_metadata"]["location"]
    assert len(docking["name"]) <= 100

    slipped = utcnow().replace(microsecond=0) + timedelta(hours=9)
    stack.ll2.move_date(DOCKING, slipped)
    await eventually(
        lambda: parse_datetime(ours(stack, "Soyuz")["scheduled_start_time"]) == slipped  # type: ignore[index]
    )

    stack.ll2.move_date(EVA, utcnow() + timedelta(days=30))  # past the 14-day horizon
    await eventually(lambda: ours(stack, "US Space")["status"] == 4)  # type: ignore[index]

    event_id = int(docking["id"])
    stack.discord.edit_scheduled_event_as_person(stack.guild.id, event_id, name="Watch party!")
    stack.ll2.move_date(DOCKING, slipped + timedelta(hours=2))
    await eventually(lambda: _stored_state(stack, str(DOCKING)) == "hands_off")
    after = stack.discord.scheduled_event(stack.guild.id, event_id)
    assert after is not None and after["name"] == "Watch party!"
    assert parse_datetime(after["scheduled_start_time"]) == slipped
    # Created once each: no second event for either item.
    assert len(stack.discord.scheduled_events(stack.guild.id)) == 2


def _stored_state(stack: Stack, item_id: str) -> str | None:
    with session_scope(stack.engine) as session:
        rows = scheduled_events.guild_scheduled_events(session=session, guild_id=stack.guild.id)
    return next((r.state for r in rows if r.item_id == item_id), None)


async def test_without_manage_events_add_refuses_and_a_later_403_pauses_only_events(
    stack: Stack,
) -> None:
    """No Manage Events: add refuses, saving nothing; losing it later pauses events only."""
    plain = stack.discord.add_guild("No Events Club", channels=("launches",))
    moderator = stack.discord.add_moderator(plain.id)
    await stack.discord.flush()
    await eventually(lambda: stack.discord.gateway.live_sessions() != [])
    result = await stack.discord.invoke_command(
        plain.id,
        plain.channel_named("launches").id,
        moderator.user.id,
        "alerts",
        {"type": "Docking", "scheduled_events": True},
        subcommand="add",
    )
    reply = await result.response(timeout=5)
    assert "Manage Events" in (reply.content or ""), reply.content
    with session_scope(stack.engine) as session:
        assert subscriptions.guild_subscriptions(session=session, guild_id=plain.id) == []

    # Granted at first; taken away later without the bot hearing of it: Discord answers 403.
    role = stack.guild.roles[stack.guild.bot_role_id]
    await stack.command("alerts", "add", type="Docking", scheduled_events=True)
    await eventually(lambda: ours(stack, "Soyuz") is not None)
    role.permissions = perms.DEFAULT_BOT
    stack.ll2.move_date(DOCKING, utcnow() + timedelta(hours=10))

    def paused() -> bool:
        with session_scope(stack.engine) as session:
            (sub,) = subscriptions.guild_subscriptions(session=session, guild_id=stack.guild.id)
        return sub.scheduled_events_paused_reason is not None and sub.paused_reason is None

    await eventually(paused)
    listing = await stack.command("alerts", "list")
    assert "scheduled events paused" in (listing.content or "")
    assert "Manage Events" in (listing.content or "")
