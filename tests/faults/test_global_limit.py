"""Discord's global limit in a 200-channel fan-out: the delivery worker paces itself.

discord.py waits out per-route buckets but not Discord's global 50 requests/s per bot
(DESIGN.md invariant 3): without the worker's own pacing, 200 concurrent posts draw 429s.
The real bot (``run_bot``: delivery worker + Discord sink) posts one alert to 200 channels
while the Discord emulator enforces both the global limit and a per-channel bucket.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.timeutil import utcnow
from bot.devtools.cluster import busiest_second
from bot.devtools.discord_emulator import DiscordEmulator, RateLimitModel
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from storage import queries
from storage.db import make_engine, session_scope
from tests.faults.bot import (
    add_channel_subscriptions,
    bot_config,
    delivery_states,
    eventually,
    running_bot,
)

pytestmark = pytest.mark.slow

DOCKING = 7301
GUILDS, CHANNELS_PER_GUILD = 4, 50  # 200 channels, within the default subscription cap
GLOBAL_PER_SECOND = 50
MESSAGES = "/channels/{channel_id}/messages"


def stored_events(db_url: str) -> int:
    """Return how many events the bot's store holds."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return queries.count_events(session=session)
    finally:
        engine.dispose()


def test_busiest_second_slides_rather_than_bucketing() -> None:
    """Requests straddling a whole-second boundary still count together."""
    assert busiest_second([0.6, 0.7, 1.1, 1.5]) == 4
    assert busiest_second([0.0, 1.0, 2.0]) == 1
    assert busiest_second([]) == 0


@pytest.mark.timeout(120)
async def test_a_200_channel_fan_out_stays_under_the_global_limit(tmp_path: Path) -> None:
    """One alert to 200 channels: every channel gets one message, Discord answers no 429,
    and no one-second window holds more than 50 accepted requests."""
    now = utcnow().replace(microsecond=0)
    docking = make_event(
        DOCKING,
        "Crew-14 Docking",
        date=now + timedelta(hours=5),
        last_updated=now - timedelta(days=2),
    )
    db_url = f"sqlite:///{tmp_path / 'tminus.db'}"
    limits = RateLimitModel(global_per_second=GLOBAL_PER_SECOND)
    limits.set_bucket("POST", MESSAGES, 5, 5.0)  # Discord's per-channel message bucket
    async with (
        LL2Emulator([docking], requests_per_hour=None) as ll2,
        DiscordEmulator(rate_limits=limits) as discord,
    ):
        channel_ids: list[int] = []
        for g in range(GUILDS):
            guild = discord.add_guild(
                f"Fan-out Club {g}", channels=[f"alerts-{c:02d}" for c in range(CHANNELS_PER_GUILD)]
            )
            ids = [c.id for c in guild.channel_list()]
            add_channel_subscriptions(db_url, guild.id, ids, kinds=["webcast_live"])
            channel_ids += ids
        assert len(channel_ids) == GUILDS * CHANNELS_PER_GUILD
        async with running_bot(bot_config(ll2, discord, db_url), discord):
            await eventually(lambda: stored_events(db_url) == 1, within=15)  # seeded
            ll2.set_webcast_live(DOCKING, True)
            await eventually(lambda: all(discord.messages(c) for c in channel_ids), within=60)
            # the worker has nothing left to send: a doubled post would have shown by now
            await eventually(lambda: delivery_states(db_url)["pending"] == 0, within=15)

    counts = [len(discord.messages(c)) for c in channel_ids]
    assert counts == [1] * len(channel_ids)
    assert discord.counters.total_429 == 0
    assert [r for r in discord.requests if r.status == 429] == []
    posts = [r for r in discord.requests if r.method == "POST" and r.template == MESSAGES]
    assert len([r for r in posts if r.status == 200]) == len(channel_ids)
    accepted = [r.time for r in discord.requests if r.status is not None and r.status != 429]
    assert busiest_second(accepted) <= GLOBAL_PER_SECOND
