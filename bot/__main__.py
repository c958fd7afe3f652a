"""The ``tminus`` command line: parse, resolve settings, dispatch to ``bot/cli/<command>.py``."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Sequence

from bot.cli import alerts, db, demo, emulator, events, launches, run, watch
from bot.cli.exits import EXIT_USAGE, Handler, fail
from bot.cli.parser import build_parser, configure_logging, load
from bot.config import ConfigError

log = logging.getLogger(__name__)

HANDLERS: dict[str, Handler] = {
    "run": run.main,
    "watch": watch.main,
    "demo": demo.main,
    "alerts": alerts.main,
    "events": events.main,
    "launches": launches.main,
    "emulator": emulator.main,
    "db": db.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tminus`` command line."""
    args = build_parser().parse_args(argv)
    try:
        config = load(args)
    except ConfigError as exc:
        return fail(str(exc), EXIT_USAGE)
    configure_logging(config.log.level)
    try:
        return asyncio.run(_until_stopped(HANDLERS[args.command](config, args)))
    except KeyboardInterrupt:
        return 130


async def _until_stopped(command: Awaitable[int]) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop() -> None:
        # Cancel until it takes: Python 3.11's asyncio.wait_for (which discord.py awaits
        # through) can swallow a cancellation that lands as its inner await completes.
        if not task.done():
            task.cancel()
            loop.call_later(10.0, stop)  # a clean close takes well under that

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    try:
        return await command
    except asyncio.CancelledError:
        log.info("stopped")
        return 0


if __name__ == "__main__":
    sys.exit(main())
