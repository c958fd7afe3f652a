"""The bot sets start-up's objects aside from the garbage collector while it runs.

A full collection walks every tracked object; with start-up's objects in the walk, one held
the event loop (and the pacer) for up to 180 ms in the middle of a fan-out. ``run_bot``
freezes what start-up built once connected, and hands it back when it stops, so a process
that runs the bot several times (as this one does) keeps no stopped bot's cycles.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from bot.app.client import settle_heap, unsettle_heap
from bot.devtools.discord_emulator import DiscordEmulator
from bot.devtools.ll2_emulator import LL2Emulator
from tests.e2e.test_bot import e2e_events
from tests.faults.bot import bot_config, eventually, running_bot


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_settle_heap_collects_garbage_first_and_freezes_what_lives() -> None:
    gc.unfreeze()
    garbage = _Node()
    gone = weakref.ref(garbage)
    del garbage
    kept = _Node()
    try:
        settle_heap()
        assert gone() is None  # start-up's garbage is collected, not frozen for good
        assert gc.get_freeze_count() > 0
        unsettle_heap()
        assert gc.get_freeze_count() == 0
        still = weakref.ref(kept)
        del kept
        gc.collect()
        assert still() is None  # handed back: the collector frees its cycles again
    finally:
        gc.unfreeze()


async def test_the_running_bot_freezes_start_up_and_unfreezes_when_stopped(
    tmp_path: Path,
) -> None:
    gc.unfreeze()
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with (
        LL2Emulator(e2e_events(), requests_per_hour=None) as ll2,
        DiscordEmulator() as discord,
    ):
        discord.add_guild("Space Club", channels=("launches",))
        assert gc.get_freeze_count() == 0
        async with running_bot(bot_config(ll2, discord, db_url), discord):
            await eventually(lambda: gc.get_freeze_count() > 0)
        assert gc.get_freeze_count() == 0
