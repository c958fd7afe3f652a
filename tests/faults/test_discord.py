"""Discord faults in a 30-channel fan-out: transient ones retried to success, permanent ones pause.

The real bot (``run_bot``) runs against the LL2 and Discord emulators. One alert goes to 30
channels while Discord answers some of them with 429 bursts (route, global, and one longer
than discord.py's own five tries), 500/502/503/504, 403 Missing Permissions, 403 Missing
Access and 404 Unknown Channel (invariant 3).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.core.timeutil import utcnow
from bot.devtools.discord_emulator import DiscordEmulator, Guild, RateLimitModel
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from storage import outbox
from storage import subscriptions as sub_queries
from storage.db import make_engine, session_scope
from storage.models import Delivery, DeliveryState
from tests.faults.bot import add_channel_subscriptions, bot_config, eventually, running_bot

pytestmark = pytest.mark.slow

DOCKING = 7101
CHANNELS = 30
ROUTE = "POST /channels/{channel_id}/messages"
# channel index → how Discord answers its first posts
ROUTE_429_BURST = (0, 1)  # three 429s: discord.py waits each out
LONG_429_BURST = 2  # seven 429s: discord.py gives up after five, the worker retries later
GLOBAL_429 = 3
SERVER_ERRORS = {4: 500, 5: 502, 6: 503, 7: 504}
MISSING_PERMISSIONS, MISSING_ACCESS, UNKNOWN_CHANNEL = 8, 9, 10
PERMANENT = {
    MISSING_PERMISSIONS: (403, 50013, "Missing Permissions"),
    MISSING_ACCESS: (403, 50001, "Missing Access"),
    UNKNOWN_CHANNEL: (404, 10003, "no longer exists"),
}


@dataclass
class FanOut:
    """The running bot, its guild's 30 channels, and the subscriptions per channel."""

    ll2: LL2Emulator
    discord: DiscordEmulator
    guild: Guild
    channel_ids: list[int]
    subscriptions: dict[int, list[int]]  # channel id → subscription ids
    db_url: str

    def alerts(self, index: int) -> list[dict[str, object]]:
        """Return the alert messages in the index-th channel."""
        return self.discord.messages(self.channel_ids[index])

    def deliveries(self) -> list[Delivery]:
        """Return every delivery row."""
        engine = make_engine(self.db_url)
        try:
            with session_scope(engine) as session:
                return list(session.exec(select(Delivery).order_by(col(Delivery.id))))
        finally:
            engine.dispose()

    def served(self) -> dict[int, list[int]]:
        """Return delivery id → the subscriptions it serves (one delivery per channel)."""
        engine = make_engine(self.db_url)
        try:
            with session_scope(engine) as session:
                ids = [d.id for d in session.exec(select(Delivery)) if d.id is not None]
                return outbox.delivery_subscription_ids(session=session, delivery_ids=ids)
        finally:
            engine.dispose()

    def paused(self) -> dict[int, str]:
        """Return subscription id → pause reason for every paused subscription."""
        engine = make_engine(self.db_url)
        try:
            with session_scope(engine) as session:
                return {
                    s.id: s.paused_reason or ""
                    for s in sub_queries.paused_subscriptions(session=session)
                    if s.id is not None
                }
        finally:
            engine.dispose()


@pytest.fixture
async def fan_out(tmp_path: Path) -> AsyncIterator[FanOut]:
    """Yield the bot running with 30 docking subscriptions (two on one faulty channel)."""
    now = utcnow().replace(microsecond=0)
    docking = make_event(
        DOCKING,
        "Crew-14 Docking",
        date=now + timedelta(hours=5),
        last_updated=now - timedelta(days=2),
    )
    db_url = f"sqlite:///{tmp_path / 'tminus.db'}"
    async with (
        LL2Emulator([docking], requests_per_hour=None) as ll2,
        # Discord's global limit (50/s) is on, as in production.
        DiscordEmulator(rate_limits=RateLimitModel(global_per_second=50)) as discord,
    ):
        guild = discord.add_guild("Fault Club", channels=[f"ch-{i:02d}" for i in range(CHANNELS)])
        channel_ids = [c.id for c in guild.channel_list()]
        first = add_channel_subscriptions(db_url, guild.id, channel_ids, type_ids=[2])
        second = add_channel_subscriptions(
            db_url, guild.id, [channel_ids[MISSING_PERMISSIONS]], kinds=["webcast_live"]
        )
        subscriptions = {c: [first[c]] for c in channel_ids}
        subscriptions[channel_ids[MISSING_PERMISSIONS]].append(
            second[channel_ids[MISSING_PERMISSIONS]]
        )
        config = bot_config(ll2, discord, db_url)
        async with running_bot(config, discord):
            world = FanOut(ll2, discord, guild, channel_ids, subscriptions, db_url)
            yield world


def inject_faults(world: FanOut) -> None:
    """Arm every channel's fault before the alert goes out."""
    ids = world.channel_ids
    for index in ROUTE_429_BURST:
        world.discord.rate_limit_next(ROUTE, times=3, retry_after=0.3, channel_id=ids[index])
    world.discord.rate_limit_next(ROUTE, times=7, retry_after=0.05, channel_id=ids[LONG_429_BURST])
    world.discord.rate_limit_next(
        ROUTE, times=2, retry_after=0.2, is_global=True, channel_id=ids[GLOBAL_429]
    )
    for index, status in SERVER_ERRORS.items():
        world.discord.fail_next(ROUTE, status, times=1, channel_id=ids[index])
    for index, (status, code, _) in PERMANENT.items():
        world.discord.set_channel_fault(ids[index], status, code)


@pytest.mark.timeout(90)
async def test_transient_faults_retry_to_one_message_and_permanent_ones_pause_only_their_channel(
    fan_out: FanOut,
) -> None:
    """429s and 5xx end in exactly one message each; 403/404 pause just those subscriptions."""
    inject_faults(fan_out)
    fan_out.ll2.set_webcast_live(DOCKING, True)

    def settled() -> bool:
        rows = fan_out.deliveries()
        # One delivery per channel: the faulty channel's two subscriptions share one.
        return len(rows) == CHANNELS and all(r.state != DeliveryState.PENDING for r in rows)

    await eventually(settled, within=45)
    permanent = {fan_out.channel_ids[i] for i in PERMANENT}
    for index, channel_id in enumerate(fan_out.channel_ids):
        expected = 0 if channel_id in permanent else 1
        assert len(fan_out.alerts(index)) == expected, (index, fan_out.alerts(index))
    paused = fan_out.paused()
    assert set(paused) == {s for c in permanent for s in fan_out.subscriptions[c]}
    for index, (_, _, reason) in PERMANENT.items():
        for sub_id in fan_out.subscriptions[fan_out.channel_ids[index]]:
            assert reason in paused[sub_id], (index, paused[sub_id])
    states: dict[str, set[int]] = {}
    served = fan_out.served()
    for row in fan_out.deliveries():
        assert row.id is not None
        states.setdefault(row.state, set()).update(served[row.id])
    assert states[DeliveryState.FAILED] == set(paused)
    assert len(states[DeliveryState.SENT]) == CHANNELS - len(PERMANENT)
    # Every fault was really served, and every request the bot made was a valid one.
    assert fan_out.discord.counters.rate_limited["injected"] == 2 * 3 + 7 + 2
    assert all(f.hits == f.times for f in fan_out.discord.faults if f.times is not None)
    assert fan_out.discord.validation_errors == []


@pytest.mark.timeout(90)
async def test_paused_subscriptions_get_nothing_more_and_the_rest_keep_getting_alerts(
    fan_out: FanOut,
) -> None:
    """After the pauses, the next alert reaches the 27 working channels only, once each."""
    inject_faults(fan_out)
    fan_out.ll2.set_webcast_live(DOCKING, True)
    await eventually(lambda: len(fan_out.paused()) == 4, within=30)
    before = len(fan_out.deliveries())
    fan_out.ll2.add_update(DOCKING, "Hard capture confirmed")

    def update_landed() -> bool:
        return all(
            any("Hard capture confirmed" in str(m["embeds"]) for m in fan_out.alerts(i))
            for i in range(CHANNELS)
            if i not in PERMANENT
        )

    await eventually(update_landed, within=45)
    rows = fan_out.deliveries()[before:]
    paused = set(fan_out.paused())
    assert len(rows) == CHANNELS - len(PERMANENT)  # none enqueued for a paused subscription
    served = fan_out.served()
    assert not {s for r in rows if r.id is not None for s in served[r.id]} & paused
    for index in range(CHANNELS):
        updates = [m for m in fan_out.alerts(index) if "Hard capture" in str(m["embeds"])]
        assert len(updates) == (0 if index in PERMANENT else 1), index
    listed = await fan_out.discord.invoke_command(
        fan_out.guild.id,
        fan_out.channel_ids[-1],
        fan_out.discord.add_moderator(fan_out.guild.id).user.id,
        "alerts",
        {},
        subcommand="list",
    )
    reply = await listed.response(timeout=5)
    assert reply.ephemeral
    text = reply.content or ""
    assert text.count("paused:") == 4
    assert "Missing Permissions" in text and "Missing Access" in text
    assert "no longer exists" in text
