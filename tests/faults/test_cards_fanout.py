"""Living cards in a 200-channel fan-out: one card each, every card final, Discord's 50/s kept.

The real bot (``run_bot``) keeps a card in each of 200 channels while one launch goes live,
slips and succeeds. Card creations, pings and card edits all count against Discord's global
limit (invariant 10: "Edits count against the same 50 requests/s as posts"); the Discord
emulator enforces that limit and Discord's per-channel buckets for posts and edits.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.timeutil import isoformat_z, utcnow
from bot.devtools.discord_emulator import DiscordEmulator, RateLimitModel
from bot.devtools.ll2_emulator import LL2Emulator
from bot.devtools.ll2_emulator.launches import load_recorded_launches
from storage import queries, subscriptions
from storage.db import make_engine, session_scope, upgrade
from storage.models import Subscription
from tests.faults.bot import bot_config, delivery_states, eventually, running_bot
from tests.faults.test_global_limit import GLOBAL_PER_SECOND, busiest_second

pytestmark = pytest.mark.slow

LAUNCH_ID = "e60aa241-1f2c-4459-ba94-2f576c3e5632"  # Falcon 9 | Dragon CRS-2 SpX-34 (recorded)
GUILDS, CHANNELS_PER_GUILD = 4, 50  # 200 channels
MESSAGES = "/channels/{channel_id}/messages"
EDIT = "/channels/{channel_id}/messages/{message_id}"


def launch_at(net_hours: float) -> dict[str, Any]:
    """Return the recorded Dragon launch, Go, off air, its NET ``net_hours`` from now."""
    recorded = load_recorded_launches()
    launch = copy.deepcopy(next(x for x in recorded if x["id"] == LAUNCH_ID))
    now = utcnow().replace(microsecond=0)
    stamp = isoformat_z(now + timedelta(hours=net_hours))
    launch.update(
        net=stamp,
        window_start=stamp,
        window_end=stamp,
        net_precision={"id": 1, "name": "Minute", "abbrev": "MIN"},
        status={"id": 1, "name": "Go for Launch", "abbrev": "Go"},
        webcast_live=False,
        holdreason="",
        failreason="",
        last_updated=isoformat_z(now - timedelta(days=2)),
    )
    return launch


def add_card_subscriptions(db_url: str, guild_id: int, channel_ids: list[int]) -> None:
    """Store one card-style subscription per channel, following launches."""
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            for channel_id in channel_ids:
                subscriptions.add_subscription(
                    session=session,
                    subscription=Subscription(
                        guild_id=guild_id,
                        channel_id=channel_id,
                        feed="launches",
                        style="card",
                        reminder_leads=[],
                        created_at=utcnow(),
                    ),
                )
    finally:
        engine.dispose()


def stored_launches(db_url: str) -> int:
    """Return how many launches the bot's store holds."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return queries.count_launches(session=session)
    finally:
        engine.dispose()


def cards_and_pings(
    discord: DiscordEmulator, channel_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split a channel's messages into cards (not replies) and pings (replies to a card)."""
    messages = discord.messages(channel_id)
    cards = [m for m in messages if not m.get("message_reference")]
    pings = [m for m in messages if m.get("message_reference")]
    return cards, pings


def card_shows(discord: DiscordEmulator, channel_id: int, text: str) -> bool:
    """Return whether the channel's one card currently shows ``text``."""
    cards, _ = cards_and_pings(discord, channel_id)
    return len(cards) == 1 and text in str(discord.message(int(cards[0]["id"])))


@pytest.mark.timeout(240)
async def test_200_card_channels_live_slip_success_stay_under_the_global_limit(
    tmp_path: Path,
) -> None:
    """Live, slip, success over 200 card channels: one card each, each final, no 429,
    and no one-second window holding more than 50 accepted requests."""
    db_url = f"sqlite:///{tmp_path / 'tminus.db'}"
    limits = RateLimitModel(global_per_second=GLOBAL_PER_SECOND)
    limits.set_bucket("POST", MESSAGES, 5, 5.0)  # Discord's per-channel buckets
    limits.set_bucket("PATCH", EDIT, 5, 5.0)
    async with (
        LL2Emulator([], launches=[launch_at(5)], requests_per_hour=None) as ll2,
        DiscordEmulator(rate_limits=limits) as discord,
    ):
        channel_ids: list[int] = []
        for g in range(GUILDS):
            guild = discord.add_guild(
                f"Card Club {g}", channels=[f"cards-{c:02d}" for c in range(CHANNELS_PER_GUILD)]
            )
            ids = [c.id for c in guild.channel_list()]
            add_card_subscriptions(db_url, guild.id, ids)
            channel_ids += ids
        assert len(channel_ids) == GUILDS * CHANNELS_PER_GUILD
        async with running_bot(bot_config(ll2, discord, db_url), discord):
            await eventually(lambda: stored_launches(db_url) == 1, within=20)  # seeded, quietly
            ll2.set_launch_webcast(LAUNCH_ID, True)
            await eventually(
                lambda: all(card_shows(discord, c, "LIVE") for c in channel_ids), within=60
            )
            ll2.slip_launch(LAUNCH_ID, by=timedelta(hours=1))
            await eventually(
                lambda: all(card_shows(discord, c, "~~") for c in channel_ids), within=60
            )
            ll2.set_launch_webcast(LAUNCH_ID, False)
            ll2.set_launch_status(LAUNCH_ID, "Success")
            await eventually(
                lambda: all(card_shows(discord, c, "Launch success") for c in channel_ids),
                within=60,
            )
            await eventually(lambda: delivery_states(db_url)["pending"] == 0, within=30)
            await eventually(
                lambda: all(len(cards_and_pings(discord, c)[1]) == 2 for c in channel_ids),
                within=30,
            )

    for channel_id in channel_ids:
        cards, pings = cards_and_pings(discord, channel_id)
        assert len(cards) == 1, channel_id
        card = discord.message(int(cards[0]["id"]))
        assert card is not None
        assert "✅ Launch success" in card["content"]
        assert "~~" in str(card["embeds"]), "the old NET struck through"
        assert not card.get("components"), "watch buttons go once it is over"
        # The live ping and the result ping, each replying to the card.
        assert len(pings) == 2
        assert {str(p["message_reference"]["message_id"]) for p in pings} == {cards[0]["id"]}
    assert discord.counters.total_429 == 0
    assert [r for r in discord.requests if r.status == 429] == []
    edits = [r for r in discord.requests if r.method == "PATCH" and r.template == EDIT]
    # Coalesced: at most one edit per card per change (slip, then success/off-air).
    assert len(channel_ids) <= len(edits) <= 3 * len(channel_ids)
    accepted = [r.time for r in discord.requests if r.status is not None and r.status != 429]
    assert busiest_second(accepted) <= GLOBAL_PER_SECOND
