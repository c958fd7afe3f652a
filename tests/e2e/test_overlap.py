"""Acceptance (issue 8, DESIGN.md invariant 9): overlapping subscriptions of one channel get
one message per alert, through the real `tminus run` code path and the Discord emulator."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.timeutil import utcnow
from bot.devtools.discord_emulator import DiscordEmulator
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from storage import outbox, queries
from storage.db import make_engine, session_scope
from storage.models import DeliveryState
from tests.faults.bot import bot_config, eventually, running_bot

pytestmark = pytest.mark.slow

DOCKING = 7101


async def test_a_docking_going_live_posts_once_in_space_mentioning_both_roles(
    tmp_path: Path,
) -> None:
    """#space has `type:Docking` (role A) and `kinds:webcast_live` (role B); a docking going
    live gives exactly one message in #space, mentioning A and B, allowed_mentions = both."""
    now = utcnow().replace(microsecond=0)
    docking = make_event(
        DOCKING,
        "Soyuz MS-29 Docking",
        date=now + timedelta(hours=5),
        last_updated=now - timedelta(days=3),
    )
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with (
        LL2Emulator([docking], requests_per_hour=None) as ll2,
        DiscordEmulator() as discord,
    ):
        guild = discord.add_guild("Space Club", channels=("general", "space"))
        space = guild.channel_named("space").id
        moderator = discord.add_moderator(guild.id)
        dockings = discord.add_role(guild.id, "docking-fans", mentionable=True)
        webcasts = discord.add_role(guild.id, "webcast-fans", mentionable=True)
        engine = make_engine(db_url)
        async with running_bot(bot_config(ll2, discord, db_url), discord):

            def seeded() -> bool:
                with session_scope(engine) as session:
                    return queries.count_events(session=session) == 1

            await eventually(seeded)

            async def subscribe(**options: object) -> None:
                result = await discord.invoke_command(
                    guild.id, space, moderator.user.id, "alerts", options, subcommand="add"
                )
                reply = await result.response(timeout=5)
                assert "Subscribed" in (reply.content or ""), reply.content

            await subscribe(type="Docking", mention=dockings)
            await subscribe(kinds="webcast_live", mention=webcasts)
            ll2.set_webcast_live(DOCKING, True)

            def posted() -> list[dict[str, object]]:
                return [
                    r.json
                    for r in discord.requests_to("POST", "/channels/{channel_id}/messages")
                    if r.path.rstrip("/").endswith(f"/channels/{space}/messages")
                ]

            await eventually(lambda: len(posted()) >= 1)

            def settled() -> bool:
                with session_scope(engine) as session:
                    pending = outbox.count_deliveries(session=session, state=DeliveryState.PENDING)
                    sent = outbox.count_deliveries(session=session, state=DeliveryState.SENT)
                return pending == 0 and sent >= 1

            # The outbox is empty: a second delivery for #space would have been posted by now.
            await eventually(settled)
            with session_scope(engine) as session:
                assert outbox.count_deliveries(session=session, state=DeliveryState.SENT) == 1
            (sent,) = posted()
            (message,) = [
                m
                for m in discord.messages(space)
                if m.get("interaction") is None and m.get("interaction_metadata") is None
            ]
            content = str(sent["content"])
            assert f"<@&{dockings.id}>" in content and f"<@&{webcasts.id}>" in content
            allowed = sent["allowed_mentions"]
            assert isinstance(allowed, dict)
            assert allowed["parse"] == []
            # discord.py sends role ids as integers; Discord accepts either.
            assert sorted(str(r) for r in allowed["roles"]) == sorted(
                [str(dockings.id), str(webcasts.id)]
            )
            assert message["content"] == content
        engine.dispose()
        assert [f.messages() for f in discord.validation_errors] == []
