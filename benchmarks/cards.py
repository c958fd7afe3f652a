"""Card fan-out: N channels keep one living card of a docking through `tminus run`.

The bot runs as a child process against the loopback LL2 emulator and the Discord emulator
configured like Discord (global 50 requests/s, 5 per 5 s per channel for posts and for
edits, 50 ms latency). N channels hold a card-style subscription. The docking's webcast goes
live (each channel: its card is created, then the live ping replies to it), then the docking
slips (each card is edited once). Posts and edits share one budget, so both are measured
against the 50 requests/s ceiling; "flip -> last card edited" is from the slip in LL2 to the
last card showing it, including the bot's poll interval.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from benchmarks.common import Figure, add_subscriptions, settle_emulators, tminus_run, wait_for
from bot.core.timeutil import utcnow
from bot.devtools.cluster import busiest_second
from bot.devtools.discord_emulator import DiscordEmulator, RateLimitModel, RecordedRequest
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from storage import queries
from storage.db import make_engine, session_scope, upgrade
from storage.models import Subscription

GLOBAL_PER_SECOND = 50
BUCKET = (5, 5.0)  # per channel, for posts and (separately) for edits
LATENCY = 0.05
CEILING = float(GLOBAL_PER_SECOND)
TARGET = 0.8
CHANNELS_PER_GUILD = 50  # tminus allows 50 subscriptions per guild
DOCKING = 8801
MESSAGES = "/channels/{channel_id}/messages"
EDIT = "/channels/{channel_id}/messages/{message_id}"


def _rate(requests: list[RecordedRequest]) -> tuple[float, float]:
    """Return (requests/s, window seconds) from the first accepted request to the last."""
    ok = [r.time for r in requests if r.status == 200]
    if not ok:
        return 0.0, float("inf")
    window = max(ok) - min(ok) + LATENCY
    return len(ok) / window, window


async def run(*, quick: bool, workdir: Path) -> list[Figure]:
    """Run one card fan-out (500 channels; 100 with ``quick``)."""
    size = 100 if quick else 500
    db_url = f"sqlite:///{workdir / 'cards.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    now = utcnow().replace(microsecond=0)
    date = now + timedelta(hours=5)
    docking = make_event(DOCKING, "Card Docking", date=date, last_updated=now - timedelta(days=2))
    limits = RateLimitModel(global_per_second=GLOBAL_PER_SECOND)
    limits.set_bucket("POST", MESSAGES, *BUCKET)
    limits.set_bucket("PATCH", EDIT, *BUCKET)
    async with (
        LL2Emulator([docking], requests_per_hour=None) as ll2,
        DiscordEmulator(rate_limits=limits, latency=LATENCY) as discord,
    ):
        channels: list[tuple[int, int]] = []
        for g in range((size + CHANNELS_PER_GUILD - 1) // CHANNELS_PER_GUILD):
            names = [f"cards-{g}-{c}" for c in range(CHANNELS_PER_GUILD)]
            guild = discord.add_guild(f"Card Club {g}", channels=names)
            channels += [(guild.id, guild.channel_named(n).id) for n in names]
        channels = channels[:size]
        add_subscriptions(
            engine,
            (
                Subscription(
                    guild_id=gid,
                    channel_id=cid,
                    feed="events",
                    style="card",
                    reminder_leads=[],
                    created_at=now,
                )
                for gid, cid in channels
            ),
        )
        ids = [cid for _, cid in channels]
        async with tminus_run(
            discord=discord, ll2_url=ll2.url("2.2.0"), db_url=db_url, workdir=workdir
        ):

            def seeded() -> bool:
                with session_scope(engine) as session:
                    return queries.count_events(session=session) >= 1

            if not await wait_for(seeded, 30, 0.1):
                raise RuntimeError("tminus run did not seed the store")

            # Phase 1: live. Each channel gets its card and a live ping replying to it.
            before = len(discord.requests)
            settle_emulators()
            ll2.set_webcast_live(DOCKING, True)
            created = await wait_for(
                lambda: all(len(discord.messages(c)) >= 2 for c in ids), size / 10 + 60, 0.01
            )
            posts = [r for r in discord.requests[before:] if r.template == MESSAGES]

            # Phase 2: a slip. Each card is edited once.
            slipped = date + timedelta(hours=2)
            # Live outranks a slip in the card's status line; the date field shows the move.
            mark = f"<t:{int(slipped.timestamp())}:F>"
            cards = {c: int(discord.messages(c)[0]["id"]) for c in ids if discord.messages(c)}
            before = len(discord.requests)
            flipped = time.time()
            settle_emulators()
            ll2.move_date(DOCKING, slipped)

            def edited() -> bool:
                return len(cards) == size and all(
                    mark in str((discord.message(m) or {}).get("embeds")) for m in cards.values()
                )

            finished = await wait_for(edited, size / 10 + 60, 0.005)
            done_at = time.time()
            await wait_for(lambda: False, 1.5)  # a doubled post or edit would show up now
            edits = [r for r in discord.requests[before:] if r.template == EDIT]
    engine.dispose()

    post_rate, post_window = _rate(posts)
    edit_rate, edit_window = _rate(edits)
    accepted = [r.time for r in discord.requests if r.status is not None and r.status != 429]
    busiest = busiest_second(accepted)
    limited = discord.counters.total_429
    one_card = sum(
        1
        for c in ids
        if len([m for m in discord.messages(c) if not m.get("message_reference")]) == 1
    )
    label = f"{size:,} channels"
    edit_note = (
        f"{len([r for r in edits if r.status == 200])} edits in {edit_window:.2f} s "
        f"(ideal {size / CEILING:.2f} s)"
    )
    if not finished:
        edit_note += "; TIMED OUT"
    return [
        Figure(
            "cards",
            f"{label}: card + ping posts rate",
            post_rate,
            "msg/s",
            CEILING,
            "50 req/s (global limit)",
            goal="min",
            target=TARGET,
            note=(
                f"{len([r for r in posts if r.status == 200])} posts in {post_window:.2f} s"
                + ("" if created else "; TIMED OUT")
            ),
            ok_override=None if created else False,
        ),
        Figure(
            "cards",
            f"{label}: card edits rate",
            edit_rate,
            "edits/s",
            CEILING,
            "50 req/s (global limit)",
            goal="min",
            target=TARGET,
            note=edit_note,
            ok_override=None if finished else False,
        ),
        Figure(
            "cards",
            f"{label}: LL2 slip -> last card edited",
            done_at - flipped,
            "s",
            note="includes the bot's poll interval (about 2 s) and the pacing of every edit",
        ),
        Figure(
            "cards",
            f"{label}: busiest second (all requests)",
            busiest,
            "req",
            CEILING,
            "50 req in any second",
            goal="max",
            target=1.0,
        ),
        Figure(
            "cards",
            f"{label}: 429s from the emulator",
            limited,
            "",
            ceiling_label="0 allowed",
            ok_override=limited == 0,
        ),
        Figure(
            "cards",
            f"{label}: channels with exactly one card",
            one_card,
            "channels",
            float(size),
            f"{size:,} channels",
            ok_override=one_card == size,
        ),
    ]
