"""The e2e fixture most tests share: a running bot in one guild, seeded from the LL2 emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.devtools.discord_emulator import DiscordEmulator
from bot.devtools.ll2_emulator import LL2Emulator
from storage import queries
from storage.db import make_engine, session_scope
from tests.e2e.test_bot import Stack, e2e_events
from tests.faults.bot import bot_config, eventually, running_bot


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """Yield a running bot in one guild, seeded from the LL2 emulator."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with (
        LL2Emulator(e2e_events(), requests_per_hour=None) as ll2,
        DiscordEmulator() as discord,
    ):
        guild = discord.add_guild("Space Club", channels=("general", "launches"))
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
        # Whatever the test did, every request the bot sent matched Discord's OpenAPI document.
        assert [f.messages() for f in discord.validation_errors] == []
