"""``tminus watch``: the bot's pipeline without Discord, alerts printed to stdout."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from bot.cli.exits import EXIT_OK, EXIT_TEMPFAIL, EXIT_USAGE, fail
from bot.config import Config
from bot.core.options import UsageError, is_id, parse_kinds, resolve_named_ids
from bot.ll2.client import LL2Client
from bot.ll2.errors import LL2Error
from bot.pipeline.budget_store import stored_budget
from bot.pipeline.runner import (
    console_pipeline,
    describe_wait,
    known_types,
    open_store,
    run_scheduled,
)
from bot.pipeline.store_lock import StoreRefused, check_lasting, exclusive_store
from bot.pipeline.sync import Syncer
from storage.db import StorageError


async def main(config: Config, args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run the pipeline with a console sink; with ``--once``, one cycle then exit."""
    try:
        check_lasting(config.storage.url)
        with exclusive_store(config.storage.url):
            return await _watch(config, args, out=out)
    except StoreRefused as exc:
        return fail(str(exc), EXIT_USAGE)


async def _watch(config: Config, args: argparse.Namespace, *, out: TextIO | None) -> int:
    try:
        engine = open_store(config.storage.url)
        kinds = parse_kinds(args.kinds)
    except (StorageError, UsageError) as exc:
        return fail(str(exc), EXIT_USAGE)
    async with LL2Client(config.ll2, budget=stored_budget(engine, config.ll2)) as client:
        pipeline_types: list[int] = []
        if args.types:
            named = known_types(engine)
            if not named and not all(is_id(t.strip()) for t in args.types):
                # Names need LL2's type list once; ids work offline.
                try:
                    await Syncer(
                        client=client, engine=engine, alerts=config.alerts
                    ).refresh_event_types()
                except LL2Error as exc:
                    return fail(f"cannot resolve --type names without LL2's type list: {exc}")
                named = known_types(engine)
            try:
                pipeline_types = resolve_named_ids(args.types, named, "event type")
            except UsageError as exc:
                return fail(str(exc), EXIT_USAGE)
        pipeline = console_pipeline(
            config=config,
            engine=engine,
            client=client,
            type_ids=pipeline_types,
            kinds=kinds,
            feed=getattr(args, "feed", "all"),
            fmt=args.format,
            stream=out,
        )
        if args.once:
            try:
                report = await pipeline.cycle()
            finally:
                engine.dispose()  # a PostgreSQL pool would otherwise outlive the run
            if report.throttled is not None:
                print(describe_wait(report.throttled), file=sys.stderr)  # noqa: T201
                return EXIT_TEMPFAIL
            if report.error is not None:
                return fail(str(report.error))
            return EXIT_OK
        stop = asyncio.Event()
        try:
            await run_scheduled(pipeline, stop)
        finally:
            engine.dispose()
    return EXIT_OK
