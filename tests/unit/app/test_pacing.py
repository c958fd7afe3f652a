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


class RecordingPacer(GlobalPacer):
    """The real pacer, keeping every release time it handed out."""

    def __init__(self, per_second: float) -> None:
        super().__init__(per_second)
        self.releases: list[float] = []

    def _due(self, now: float) -> float:
        due = super()._due(now)
        if due <= now:
            self.releases.append(now)  # wait() releases at exactly this instant
        return due


@pytest.mark.timeout(60)
async def test_the_pacer_keeps_its_window_and_gap_through_a_stalled_loop() -> None:
    """140 requests with the loop frozen for 0.3 s part-way: at most 47 releases in any
    one-second window, never two closer than 20 ms, and every request released."""
    pacer = RecordingPacer(47.0)

    async def stall() -> None:
        await asyncio.sleep(0.7)
        time.sleep(0.3)  # noqa: ASYNC251 - the point: a commit holding the GIL, a busy machine

    stalled = asyncio.create_task(stall())
    await asyncio.gather(*(pacer.wait() for _ in range(140)))
    await stalled
    releases = pacer.releases
    assert len(releases) == 140
    gaps = [b - a for a, b in zip(releases, releases[1:], strict=False)]
    assert min(gaps) >= 0.02 - 1e-9
    busiest = max(sum(1 for r in releases if t - 1.0 < r <= t) for t in releases)
    assert busiest <= 47
    # The stall left a hole; the releases after it are made up at the 20 ms gap, not
    # pushed back by the whole stall.
    assert any(gap >= 0.25 for gap in gaps)
    hole = gaps.index(max(gaps))
    assert min(gaps[hole + 1 : hole + 5]) < 1 / 47
