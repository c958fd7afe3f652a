"""Shards in the Discord emulator: routing by (guild_id >> 22) % shard_count, one session each."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from bot.devtools.discord_emulator import DiscordEmulator, Guild, pointed_at, running


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    """Serve a Discord emulator and point discord.py at it for the test."""
    async with DiscordEmulator() as emulator:
        with pointed_at(emulator):
            yield emulator


class QuickShards(discord.AutoShardedClient):
    """An AutoShardedClient that IDENTIFYs its shards without discord.py's 5 s spacing."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Identify at once (the emulator has no IDENTIFY rate limit to respect)."""


def shard_of(guild: Guild, shard_count: int) -> int:
    """Return the shard Discord routes a guild to."""
    return (guild.id >> 22) % shard_count


def guilds_on_every_shard(
    emu: DiscordEmulator, shard_count: int, per_shard: int = 2
) -> list[Guild]:
    """Add guilds until each shard has at least ``per_shard`` (ids follow the clock)."""
    made: list[Guild] = []
    while any(
        sum(shard_of(g, shard_count) == s for g in made) < per_shard for s in range(shard_count)
    ):
        made.append(emu.add_guild(f"Guild {len(made)}"))
        time.sleep(0.001)  # the shard comes from the id's millisecond
    return made


def make_bot(shard_id: int, shard_count: int) -> commands.Bot:
    """Build one process's bot: it answers /whoami with its shard."""
    bot = commands.Bot(
        command_prefix="!",
        intents=discord.Intents.default(),
        guild_ready_timeout=0.1,
        shard_id=shard_id,
        shard_count=shard_count,
    )

    @bot.tree.command(description="Which shard answers")
    async def whoami(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"shard {shard_id}", ephemeral=True)

    return bot


async def test_each_process_gets_only_its_shards_guilds_and_interactions(
    emu: DiscordEmulator,
) -> None:
    """Two clients (shard 0 and 1 of 2): guilds and slash commands go to the guild's shard."""
    guilds = guilds_on_every_shard(emu, 2)
    async with running(make_bot(0, 2), emu) as zero, running(make_bot(1, 2), emu) as one:
        await zero.tree.sync()
        assert emu.connected_shards() == [(0, 2), (1, 2)]
        answers = {}
        for guild in guilds:
            result = await emu.invoke_command(
                guild.id, next(iter(guild.channels)), guild.owner_id, "whoami"
            )
            answers[guild.id] = (await result.response(timeout=5)).content
        late = emu.add_guild("Joined later")
        await emu.flush()
        await asyncio.sleep(0.05)
        cached = {0: {g.id for g in zero.guilds}, 1: {g.id for g in one.guilds}}
    assert answers == {g.id: f"shard {shard_of(g, 2)}" for g in guilds}
    for shard in (0, 1):
        expected = {g.id for g in [*guilds, late] if shard_of(g, 2) == shard}
        assert cached[shard] == expected
    assert [c["d"]["shard"] for c in emu.gateway.received if c.get("op") == 2] == [[0, 2], [1, 2]]
    assert emu.connected_shards() == []


async def test_processes_split_shards_between_them(emu: DiscordEmulator) -> None:
    """An AutoShardedClient with shards 0-1 of 3 and a Client with shard 2 run side by side."""
    guilds = guilds_on_every_shard(emu, 3, per_shard=1)
    first = QuickShards(
        intents=discord.Intents.default(), shard_ids=[0, 1], shard_count=3, guild_ready_timeout=0.1
    )
    second = discord.Client(
        intents=discord.Intents.default(), shard_id=2, shard_count=3, guild_ready_timeout=0.1
    )
    async with running(first, emu), running(second, emu):
        assert emu.connected_shards() == [(0, 3), (1, 3), (2, 3)]
        assert {g.id for g in first.guilds} == {g.id for g in guilds if shard_of(g, 3) < 2}
        assert {g.id for g in second.guilds} == {g.id for g in guilds if shard_of(g, 3) == 2}
    assert not emu.gateway.shard_takeovers


async def test_gateway_bot_recommends_the_emulators_shard_count() -> None:
    """AutoShardedClient without shard_count asks /gateway/bot and opens that many shards."""
    async with DiscordEmulator(shard_count=3) as emu:
        guilds_on_every_shard(emu, 3, per_shard=1)
        with pointed_at(emu):
            client = QuickShards(intents=discord.Intents.default(), guild_ready_timeout=0.1)
            async with running(client, emu):
                assert client.shard_count == 3
                assert emu.connected_shards() == [(0, 3), (1, 3), (2, 3)]
                assert len(client.guilds) == len(emu.world.guilds)


async def test_a_second_identify_for_a_shard_takes_it_over(emu: DiscordEmulator) -> None:
    """One session per shard: the newest IDENTIFY gets the shard's events, the old one none."""
    emu.add_guild("First")
    joined: dict[str, list[int]] = {"old": [], "new": []}

    def client_recording(name: str) -> discord.Client:
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)

        async def on_guild_join(guild: discord.Guild) -> None:
            joined[name].append(guild.id)

        client.event(on_guild_join)
        return client

    async with running(client_recording("old"), emu), running(client_recording("new"), emu):
        later = emu.add_guild("Later")
        await emu.flush()
        await asyncio.sleep(0.05)
        assert emu.connected_shards() == [(0, 1)]
    assert joined == {"old": [], "new": [later.id]}
    [(shard, _, _)] = emu.gateway.shard_takeovers
    assert shard == (0, 1)


async def test_interactions_need_a_session_on_the_guilds_shard(emu: DiscordEmulator) -> None:
    """With only shard 0 connected, a command in a shard-1 guild cannot be delivered."""
    guilds = guilds_on_every_shard(emu, 2, per_shard=1)
    on_one = next(g for g in guilds if shard_of(g, 2) == 1)
    async with running(make_bot(0, 2), emu) as bot:
        await bot.tree.sync()
        with pytest.raises(RuntimeError, match="shard"):
            await emu.invoke_command(
                on_one.id, next(iter(on_one.channels)), on_one.owner_id, "whoami"
            )


async def test_an_invalid_shard_is_closed_with_4010(emu: DiscordEmulator) -> None:
    """IDENTIFY with shard [2, 2] (id not below count) is closed with 4010 Invalid shard."""
    identify: dict[str, Any] = {
        "op": 2,
        "d": {"token": emu.token, "intents": 1, "properties": {}, "shard": [2, 2]},
    }
    async with aiohttp.ClientSession() as http, http.ws_connect(emu.gateway_url) as ws:
        hello = await ws.receive_json(timeout=5)
        await ws.send_json(identify)
        with contextlib.suppress(TypeError):
            while (await ws.receive(timeout=5)).type != aiohttp.WSMsgType.CLOSE:
                pass
        code = ws.close_code
    assert hello["op"] == 10 and code == 4010
    assert emu.connected_shards() == []
