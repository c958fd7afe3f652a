"""``tminus demo``: recorded LL2 data and a scripted timeline through the real pipeline."""

from __future__ import annotations

import argparse

from bot.config import Config


async def main(config: Config, args: argparse.Namespace) -> int:
    """Play the offline demo and return its exit code."""
    # Dev tools stay off the runtime path: only this command and `emulator` load them.
    from bot.devtools.demo import run_demo

    return await run_demo(config)
