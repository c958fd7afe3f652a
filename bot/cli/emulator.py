"""``tminus emulator``: serve the LL2 emulator on loopback for bot developers."""

from __future__ import annotations

import argparse

from bot.cli.exits import EXIT_OK
from bot.config import Config


async def main(config: Config, args: argparse.Namespace) -> int:
    """Serve until stopped."""
    # Dev tools stay off the runtime path: only this command and `demo` load them.
    from bot.devtools.ll2_emulator import serve

    limit = args.requests_per_hour or None
    print(  # noqa: T201
        f"LL2 emulator on http://127.0.0.1:{args.port}/2.2.0 and /2.3.0 "
        f"(limit {limit or 'none'}/h); Ctrl-C stops",
        flush=True,
    )
    await serve(args.port, requests_per_hour=limit)
    return EXIT_OK
