"""``tminus db upgrade``: apply the store's migrations."""

from __future__ import annotations

import argparse

from bot.cli.exits import EXIT_OK, EXIT_USAGE, fail
from bot.config import Config
from storage.db import StorageError, make_engine, upgrade


async def main(config: Config, args: argparse.Namespace) -> int:
    """Bring ``storage.url`` to the newest schema (creating it in a new database)."""
    try:
        engine = make_engine(config.storage.url)
    except StorageError as exc:
        return fail(str(exc), EXIT_USAGE)
    try:
        before, after = upgrade(engine)
    except StorageError as exc:
        return fail(str(exc), EXIT_USAGE)
    finally:
        engine.dispose()
    if before == after:
        print(f"database already at schema {after}")  # noqa: T201
    else:
        print(f"database upgraded from {before or 'empty'} to schema {after}")  # noqa: T201
    return EXIT_OK
