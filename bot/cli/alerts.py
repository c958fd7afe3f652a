"""``tminus alerts why``: the terminal's ``/alerts why``, from the local store."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from bot.app.why import explain_item, explain_text, find_item
from bot.cli.exits import EXIT_OK, EXIT_USAGE, fail
from bot.config import Config
from bot.core.options import UsageError
from bot.core.timeutil import utcnow
from bot.pipeline.runner import open_store
from storage.db import StorageError


async def main(config: Config, args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Explain one item for one guild's subscriptions (no LL2 request, no Discord)."""
    stream = out or sys.stdout
    try:
        engine = open_store(config.storage.url)
    except StorageError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        item = find_item(engine, args.item, now=utcnow())
        stream.write(explain_text(explain_item(engine, args.guild, item)) + "\n")
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    finally:
        engine.dispose()
    return EXIT_OK
