"""Every REST request the bot's HTTP session makes is paced as aiohttp starts it.

A real discord.py client (the same ``http_trace`` hook ``TMinusBot`` installs) against the
Discord emulator with Discord's global limit: requests of every kind — start-up calls, posts,
and discord.py's own retries — are spaced by the pacer, while interaction answers are not.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import discord
import pytest

from bot.app.sink import GlobalPacer, counts_against_global, paced
from bot.devtools.discord_emulator import DiscordEmulator, RateLimitModel
from bot.devtools.discord_emulator.harness import pointed_at


def test_interaction_answers_and_other_hosts_do_not_count() -> None:
    base = discord.http.Route.BASE
    assert counts_against_global(f"{base}/channels/1/messages")
    assert counts_against_global(f"{base}/users/@me")
    assert not counts_against_global(f"{base}/interactions/1/tok/callback")
    assert not counts_against_global(f"{base}/webhooks/2/tok/messages/@original")
    assert not counts_against_global("wss://gateway.discord.gg/?v=10&encoding=json")


class CountingPacer(GlobalPacer):
    """The real pacer, counting the requests it held."""

    def __init__(self, per_second: float) -> None:
        super().__init__(per_second)
        self.held = 0

    async def wait(self) -> None:
        self.held += 1
        await super().wait()


@pytest.mark.timeout(60)
async def test_a_burst_of_posts_and_start_up_calls_stays_under_the_global_limit() -> None:
    """120 posts at once from one client, plus its log-in: no 429, spaced at the pacer's rate."""
    limits = RateLimitModel(global_per_second=50)
    async with DiscordEmulator(rate_limits=limits) as emulator:
        guild = emulator.add_guild("Pacing", channels=[f"c{i}" for i in range(40)])
        pacer = CountingPacer(47.0)
        client = discord.Client(
            intents=discord.Intents.none(), http_trace=paced(aiohttp.TraceConfig(), pacer)
        )
        with pointed_at(emulator):
            await client.login(emulator.token)  # GET /users/@me: paced too
            try:
                channels = [client.get_partial_messageable(c) for c in guild.channels]
                started = time.monotonic()
                await asyncio.gather(*(channels[i % 40].send(f"m{i}") for i in range(120)))
                took = time.monotonic() - started
            finally:
                await client.close()
    posts = [r for r in emulator.requests if r.method == "POST"]
    assert len(posts) == 120
    assert [r for r in emulator.requests if r.status == 429] == []
    assert pacer.held == len(emulator.requests)  # log-in and every post went through it
    assert took >= 119 / 47.0 - 0.05  # spaced, not a burst
