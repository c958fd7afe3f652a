"""Crash safety of living cards: `tminus run` killed while creating cards and while editing them.

Twelve trials over 20 card channels and five dockings. Creation trials publish an update on
a docking that has no cards yet (each channel's first alert for it makes its card); edit
trials move a docking's date (every card of it is edited). The bot dies mid-way — at the
``after_card_create`` / ``after_card_edit`` crashpoint (the message exists, the store does
not know yet) or by a real SIGKILL after some of the trial's requests — and is restarted.
Never two cards for one (channel, item) (the creation nonce, invariant 10), and every card
ends showing its item's final date.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.core.timeutil import utcnow
from bot.devtools.cluster import BotProcess, run_env
from bot.devtools.discord_emulator import DiscordEmulator, RateLimitModel
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from storage import queries, subscriptions
from storage.db import make_engine, session_scope, upgrade
from storage.models import Subscription
from tests.faults.bot import delivery_states, eventually

pytestmark = pytest.mark.slow

CHANNELS = 20
DOCKINGS = 5
FIRST_ID = 9100
SEED = 20261203
CRASH_EXIT = 86
SIGKILLED = -9
EDIT = "/channels/{channel_id}/messages/{message_id}"
MESSAGES = "/channels/{channel_id}/messages"
NAME = re.compile(r"^\*\*Test Docking (\d)\*\*")
# (what the trial does, how the bot dies): creations first (each docking gets its cards),
# then edits of dockings that have cards.
PLAN = [
    ("create", "crashpoint"),
    ("create", "sigkill"),
    ("create", "crashpoint"),
    ("create", "sigkill"),
    ("create", "crashpoint"),
    ("edit", "crashpoint"),
    ("edit", "sigkill"),
    ("edit", "crashpoint"),
    ("edit", "sigkill"),
    ("edit", "crashpoint"),
    ("edit", "crashpoint"),
    ("edit", "sigkill"),
]


@dataclass
class Cards:
    """Both emulators, 20 card channels, and the SQLite file every run shares."""

    ll2: LL2Emulator
    discord: DiscordEmulator
    channel_ids: list[int]
    db_url: str
    workdir: Path
    dates: dict[int, datetime]

    async def start_bot(self, crashpoint: str | None = None) -> BotProcess:
        """Start `tminus run` on the shared store (dying at ``crashpoint`` if given)."""
        extra = {"TMINUS_CRASHPOINT": crashpoint} if crashpoint else {}
        env = run_env(
            discord=self.discord, ll2=self.ll2, db_url=self.db_url, home=self.workdir, extra=extra
        )
        return await BotProcess.start(env, cwd=self.workdir, log=self.workdir / "bot.log")

    def cards(self) -> dict[tuple[int, int], list[int]]:
        """Return the card message ids per (channel, docking number)."""
        found: dict[tuple[int, int], list[int]] = {}
        for channel_id in self.channel_ids:
            for message in self.discord.messages(channel_id):
                if message.get("message_reference"):
                    continue  # a ping, not a card
                match = NAME.match(message["content"])
                assert match, message["content"]
                found.setdefault((channel_id, int(match[1])), []).append(int(message["id"]))
        return found

    def doubled(self) -> dict[tuple[int, int], list[int]]:
        """Return the (channel, docking) pairs holding more than one card."""
        return {k: v for k, v in self.cards().items() if len(v) > 1}

    def made(self, docking: int) -> int:
        """Return how many channels have a card for ``docking``."""
        return sum(1 for (_, d) in self.cards() if d == docking)

    def shows_final(self, docking: int) -> int:
        """Return how many of ``docking``'s cards show its current date."""
        mark = f"<t:{int(self.dates[docking].timestamp())}:R>"
        count = 0
        for (_, d), ids in self.cards().items():
            message = self.discord.message(ids[0]) if d == docking else None
            if message is not None and mark in message["content"]:
                count += 1
        return count

    def patches(self) -> int:
        """Return how many card edits Discord accepted."""
        return len([r for r in self.discord.requests_to("PATCH", EDIT) if r.status == 200])

    def settled(self) -> bool:
        """Return whether every docking with cards shows its final date everywhere."""
        if delivery_states(self.db_url)["pending"]:
            return False
        return all(self.shows_final(d) == CHANNELS for d in range(DOCKINGS) if self.made(d))

    def seeded(self) -> bool:
        """Return whether a run has seeded the store."""
        engine = make_engine(self.db_url)
        try:
            with session_scope(engine) as session:
                return queries.sync_state(session=session).seeded
        finally:
            engine.dispose()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Cards]:
    """Yield five dockings in LL2 and 20 channels, each with a card subscription to dockings."""
    now = utcnow().replace(microsecond=0)
    dates = {d: now + timedelta(days=3, hours=d) for d in range(DOCKINGS)}
    events = [
        make_event(
            FIRST_ID + d,
            f"Test Docking {d}",
            date=dates[d],
            last_updated=now - timedelta(days=2),
            videos=False,
        )
        for d in range(DOCKINGS)
    ]
    async with (
        LL2Emulator(events, requests_per_hour=None) as ll2,
        DiscordEmulator(rate_limits=RateLimitModel(rules=[])) as discord,
    ):
        guild = discord.add_guild("Card Club", channels=[f"cards-{i:02d}" for i in range(CHANNELS)])
        channel_ids = [c.id for c in guild.channel_list()]
        db_url = f"sqlite:///{tmp_path / 'tminus.db'}"
        engine = make_engine(db_url)
        upgrade(engine)
        with session_scope(engine) as session:
            for channel_id in channel_ids:
                subscriptions.add_subscription(
                    session=session,
                    subscription=Subscription(
                        guild_id=guild.id,
                        channel_id=channel_id,
                        feed="events",
                        type_ids=[2],  # Docking
                        style="card",
                        reminder_leads=[],
                        created_at=now,
                    ),
                )
        engine.dispose()
        yield Cards(ll2, discord, channel_ids, db_url, tmp_path, dates)


@pytest.mark.timeout(240)
async def test_kill_during_card_creation_and_edits_never_doubles_a_card(world: Cards) -> None:
    """Twelve kills (crashpoints and SIGKILLs) while creating and editing cards, each followed by
    a restart: one card per (channel, docking), each showing its docking's final date."""
    rng = random.Random(SEED)
    bot = await world.start_bot()
    await eventually(world.seeded, within=30)
    assert await bot.stop() == 0
    created = 0
    killed_after: list[int] = []
    for trial, (what, how) in enumerate(PLAN):
        after = rng.randint(1, CHANNELS - 2)
        point = "after_card_create" if what == "create" else "after_card_edit"
        bot = await world.start_bot(f"{point}:{after}" if how == "crashpoint" else None)
        patched = world.patches()
        if what == "create":
            docking = created
            created += 1
            world.ll2.add_update(FIRST_ID + docking, f"Trial {trial}: all stations go")
            progress = lambda: world.made(docking)  # noqa: E731, B023
        else:
            docking = rng.randrange(created)
            world.dates[docking] += timedelta(hours=1 + trial)
            world.ll2.move_date(FIRST_ID + docking, world.dates[docking])
            progress = lambda: world.patches() - patched  # noqa: E731, B023
        if how == "sigkill":
            await eventually(lambda: progress() >= after, within=30)  # noqa: B023
            bot.kill()
            assert await bot.wait() == SIGKILLED
        else:
            assert await bot.wait(timeout=30) == CRASH_EXIT, bot.output()[-3000:]
        killed_after.append(progress())
        assert world.doubled() == {}, f"trial {trial}"
        # The restart finishes the trial: every card made once and showing the final date.
        bot = await world.start_bot()
        await eventually(world.settled, within=30)
        assert await bot.stop() == 0
        assert world.doubled() == {}, f"trial {trial}"
        assert world.made(docking) == CHANNELS

    cards = world.cards()
    assert Counter(d for (_, d) in cards) == Counter({d: CHANNELS for d in range(DOCKINGS)})
    assert all(len(ids) == 1 for ids in cards.values())
    for d in range(DOCKINGS):
        assert world.shows_final(d) == CHANNELS, d
    # The kills landed mid-way: after the first of the trial's writes, before the last.
    assert all(0 < n < CHANNELS for n in killed_after), killed_after
    assert delivery_states(world.db_url) == {
        "pending": 0,
        "sent": delivery_states(world.db_url)["sent"],
        "failed": 0,
        "dropped": 0,
    }
