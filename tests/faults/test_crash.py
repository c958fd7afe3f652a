"""Crash safety of `tminus run`: SIGKILLed mid fan-out, restarted, every channel posted once.

One alert goes to 200 channels; the real `tminus run` subprocess is killed with SIGKILL at a
seeded-random moment between its first post and most posts done (or, in a few trials, dies
at the ``after_send`` crashpoint: Discord has accepted a post that is not yet marked sent),
then restarted. The restart must finish the fan-out without a second message anywhere
(invariant 3: message nonces) and leave no delivery pending. The store is reused across the
20 trials; each trial's alert is a fresh LL2 update, so each trial is a new fan-out.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.timeutil import utcnow
from bot.devtools.cluster import BotProcess, run_env
from bot.devtools.discord_emulator import DiscordEmulator, RateLimitModel
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from storage import queries
from storage.db import make_engine, session_scope
from tests.faults.bot import add_channel_subscriptions, delivery_states, eventually

pytestmark = pytest.mark.slow

CHANNELS = 200
TRIALS = 20
CRASHPOINT_TRIALS = frozenset({4, 9, 14, 19})  # the other 16 are real SIGKILLs
SEED = 20261127
DOCKING = 9001
CRASH_EXIT = 86
SIGKILLED = -9


MARKER = re.compile(r"\[trial-(\d\d)\]")


@dataclass
class FanOut:
    """Both emulators, 200 subscribed channels, and the SQLite file every run shares."""

    ll2: LL2Emulator
    discord: DiscordEmulator
    channel_ids: list[int]
    db_url: str
    workdir: Path
    # Per channel: how many of its messages were read, and the trial markers they carried.
    _read: dict[int, int] = field(default_factory=dict)
    _copies: dict[int, Counter[int]] = field(default_factory=dict)

    def copies(self) -> dict[int, Counter[int]]:
        """Return, per channel, how many messages it holds for each trial."""
        for channel_id in self.channel_ids:
            messages = self.discord.messages(channel_id)
            counter = self._copies.setdefault(channel_id, Counter())
            for message in messages[self._read.get(channel_id, 0) :]:
                found = MARKER.findall(json.dumps(message["embeds"]))
                assert len(set(found)) == 1, f"not one trial's alert: {message}"
                counter[int(found[0])] += 1
            self._read[channel_id] = len(messages)
        return self._copies

    def posted(self, trial: int) -> int:
        """Return how many channels have a message for ``trial``."""
        return sum(1 for counter in self.copies().values() if counter[trial])

    def duplicates(self) -> dict[int, Counter[int]]:
        """Return the channels that hold any trial's alert more than once."""
        return {c: n for c, n in self.copies().items() if any(v > 1 for v in n.values())}

    async def start_bot(self, crashpoint: str | None = None) -> BotProcess:
        """Start `tminus run` on the shared store (dying at ``crashpoint`` if given)."""
        extra = {"TMINUS_CRASHPOINT": crashpoint} if crashpoint else {}
        env = run_env(
            discord=self.discord, ll2=self.ll2, db_url=self.db_url, home=self.workdir, extra=extra
        )
        return await BotProcess.start(env, cwd=self.workdir, log=self.workdir / "bot.log")

    def alert(self, trial: int) -> None:
        """Publish this trial's alert: a new LL2 update on the docking."""
        self.ll2.add_update(DOCKING, f"Countdown check [trial-{trial:02d}]: all stations go")

    def seeded(self) -> bool:
        """Return whether a run has seeded the store."""
        engine = make_engine(self.db_url)
        try:
            with session_scope(engine) as session:
                return queries.sync_state(session=session).seeded
        finally:
            engine.dispose()


@pytest.fixture
async def fan_out(tmp_path: Path) -> AsyncIterator[FanOut]:
    """Yield a docking event in LL2 and 200 channels, each with an `update` subscription."""
    now = utcnow().replace(microsecond=0)
    event = make_event(
        DOCKING,
        "Crew-14 Docking",
        date=now + timedelta(days=3),
        last_updated=now - timedelta(days=2),
    )
    # No per-channel message bucket: the bot's own global pacing (45/s) is the limit here.
    limits = RateLimitModel(rules=[])
    async with (
        LL2Emulator([event], requests_per_hour=None) as ll2,
        DiscordEmulator(rate_limits=limits) as discord,
    ):
        guild = discord.add_guild(
            "Fan-out Club", channels=[f"alerts-{i:03d}" for i in range(CHANNELS)]
        )
        channel_ids = [c.id for c in guild.channel_list()]
        assert len(channel_ids) == CHANNELS
        db_url = f"sqlite:///{tmp_path / 'tminus.db'}"
        add_channel_subscriptions(db_url, guild.id, channel_ids, kinds=["update"])
        yield FanOut(ll2, discord, channel_ids, db_url, tmp_path)


def trial_plan(rng: random.Random) -> list[tuple[str, int]]:
    """Return, per trial, how it dies and after how many of its posts (1 … 85 % of them)."""
    return [
        ("crashpoint" if trial in CRASHPOINT_TRIALS else "sigkill", rng.randint(1, 170))
        for trial in range(TRIALS)
    ]


@pytest.mark.timeout(400)
async def test_sigkill_during_a_200_channel_fan_out_then_restart_posts_each_channel_once(
    fan_out: FanOut,
) -> None:
    """20 kills mid fan-out, each followed by a restart: one message per channel per alert."""
    plan = trial_plan(random.Random(SEED))
    bot = await fan_out.start_bot()
    await eventually(fan_out.seeded, within=30)
    fan_out.alert(0)
    posted_at_kill: list[int] = []
    for trial, (how, after) in enumerate(plan):
        if how == "sigkill":
            await eventually(lambda: fan_out.posted(trial) >= after, within=60)  # noqa: B023
            bot.kill()
            assert await bot.wait() == SIGKILLED
        else:
            assert await bot.wait(timeout=60) == CRASH_EXIT, bot.output()[-3000:]
        posted_at_kill.append(fan_out.posted(trial))
        assert fan_out.duplicates() == {}
        states = delivery_states(fan_out.db_url)
        # Each alert was enqueued for every channel in one commit, before its first post.
        assert states["pending"] + states["sent"] == CHANNELS * (trial + 1), states
        # Restart at once and publish the next trial's alert as it starts, so the restart
        # finishes this fan-out while it begins the next one. A crashpoint counts the sends
        # of one process: the resends of what is pending come first or interleaved, so
        # dying after pending + n sends is dying after at least n posts of the new alert.
        nxt = trial + 1
        crashpoint = None
        if nxt < TRIALS and plan[nxt][0] == "crashpoint":
            crashpoint = f"after_send:{states['pending'] + plan[nxt][1]}"
        bot = await fan_out.start_bot(crashpoint)
        if nxt < TRIALS:
            fan_out.alert(nxt)
    await eventually(
        lambda: (
            all(fan_out.posted(t) == CHANNELS for t in range(TRIALS))
            and delivery_states(fan_out.db_url)["pending"] == 0
        ),
        within=60,
    )
    assert await bot.stop() == 0
    assert delivery_states(fan_out.db_url) == {
        "pending": 0,
        "sent": CHANNELS * TRIALS,
        "failed": 0,
        "dropped": 0,
    }
    one_each = Counter(range(TRIALS))
    assert {c: n for c, n in fan_out.copies().items() if n != one_each} == {}
    # The kills really landed mid fan-out: after the first post, before the last.
    assert all(0 < n < CHANNELS for n in posted_at_kill), posted_at_kill
