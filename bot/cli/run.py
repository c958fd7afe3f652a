"""``tminus run``: the Discord bot."""

from __future__ import annotations

import argparse

from bot.config import Config


async def main(config: Config, args: argparse.Namespace) -> int:
    """Run the bot until stopped."""
    # discord.py is slow to import; the other subcommands never need it.
    from bot.app.client import run_bot

    return await run_bot(config)
