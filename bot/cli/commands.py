"""What each ``tminus`` subcommand does (the CLI in ``__main__`` only parses and dispatches)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.config import Config
from bot.core.options import UsageError, parse_kinds, resolve_named_ids
from bot.core.timeutil import utcnow
from bot.ll2.client import LL2Client
from bot.ll2.errors import LL2Error
from bot.pipeline.runner import (
    console_pipeline,
    describe_wait,
    known_types,
    open_store,
    run_scheduled,
)
from bot.pipeline.sync import Syncer, event_from_snapshot
from bot.render.message import format_event_date_plain
from storage import queries
from storage.db import StorageError, session_scope

log = logging.getLogger(__name__)

Handler = Callable[[Config, argparse.Namespace], Awaitable[int]]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75


def _fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"tminus: {message}", file=sys.stderr)  # noqa: T201
    return code


async def watch(config: Config, args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run the pipeline with a console sink (``tminus watch``)."""
    try:
        engine = open_store(config.storage.url)
        kinds = parse_kinds(args.kinds)
    except (StorageError, UsageError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    async with LL2Client(config.ll2) as client:
        pipeline_types: list[int] = []
        if args.types:
            named = known_types(engine)
            if not named and not all(t.strip().isdigit() for t in args.types):
                # Names need LL2's type list once; ids work offline.
                try:
                    await Syncer(
                        client=client, engine=engine, alerts=config.alerts
                    ).refresh_event_types()
                except LL2Error as exc:
                    return _fail(f"cannot resolve --type names without LL2's type list: {exc}")
                named = known_types(engine)
            try:
                pipeline_types = resolve_named_ids(args.types, named, "event type")
            except UsageError as exc:
                return _fail(str(exc), EXIT_USAGE)
        pipeline = console_pipeline(
            config=config,
            engine=engine,
            client=client,
            type_ids=pipeline_types,
            kinds=kinds,
            fmt=args.format,
            stream=out,
        )
        if args.once:
            report = await pipeline.cycle()
            if report.throttled is not None:
                print(describe_wait(report.throttled), file=sys.stderr)  # noqa: T201
                return EXIT_TEMPFAIL
            if report.error is not None:
                return _fail(str(report.error))
            return EXIT_OK
        stop = asyncio.Event()
        try:
            await run_scheduled(pipeline, stop)
        finally:
            engine.dispose()
    return EXIT_OK


async def events(config: Config, args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Look events up in the store (``tminus events upcoming|search|show``)."""
    stream = out or sys.stdout
    try:
        engine = open_store(config.storage.url)
    except StorageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    with session_scope(engine) as session:
        if args.events_command == "upcoming":
            if not 1 <= args.count <= 25:
                return _fail("--count must be between 1 and 25", EXIT_USAGE)
            try:
                type_ids = resolve_named_ids(args.types, known_types(engine), "event type")
            except UsageError as exc:
                return _fail(str(exc), EXIT_USAGE)
            rows = queries.upcoming_events(
                session=session, after=utcnow(), type_ids=type_ids, limit=args.count
            )
        elif args.events_command == "search":
            rows = queries.search_events(
                session=session, query=args.query, limit=25, upcoming_from=utcnow()
            )
        else:
            row = queries.get_event(session=session, event_id=args.event_id)
            if row is None:
                return _fail(f"no event #{args.event_id} in the store (run tminus watch --once)")
            stream.write(_event_detail(row.snapshot) + "\n")
            return EXIT_OK
    if not rows:
        stream.write("no matching events in the store\n")
        return EXIT_OK
    for row in rows:
        event = event_from_snapshot(row.snapshot)
        kind = event.type.name if event.type else "?"
        stream.write(
            f"#{event.id:<6} {format_event_date_plain(event):<24} {kind:<16} {event.name}\n"
        )
    return EXIT_OK


def _event_detail(snapshot: dict[str, object]) -> str:
    event = event_from_snapshot(snapshot)
    lines = [
        f"{event.name} (#{event.id})",
        f"  type:      {event.type.name if event.type else '?'}",
        f"  date:      {format_event_date_plain(event)}",
        f"  location:  {event.location or '?'}",
        f"  webcast:   {'LIVE' if event.webcast_live else 'not live'}",
    ]
    if event.agencies:
        lines.append("  agencies:  " + ", ".join(a.name for a in event.agencies))
    if event.programs:
        lines.append("  programs:  " + ", ".join(p.name for p in event.programs))
    if event.description:
        lines.append(f"  {event.description}")
    for video in event.videos_by_priority()[:5]:
        lang = f" ({video.language_name})" if video.language_name else ""
        lines.append(f"  ▶ {video.publisher or video.source or 'webcast'}{lang}: {video.url}")
    for update in sorted(event.updates, key=lambda u: u.id, reverse=True)[:5]:
        lines.append(f"  • {update.comment or ''} — {update.created_by or 'LL2'}")
    return "\n".join(lines)


async def db(config: Config, args: argparse.Namespace) -> int:
    """Apply migrations (``tminus db upgrade``)."""
    from storage.db import make_engine, upgrade

    try:
        engine = make_engine(config.storage.url)
        before, after = upgrade(engine)
    except StorageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    if before == after:
        print(f"database already at schema {after}")  # noqa: T201
    else:
        print(f"database upgraded from {before or 'empty'} to schema {after}")  # noqa: T201
    return EXIT_OK


async def emulator(config: Config, args: argparse.Namespace) -> int:
    """Serve the LL2 emulator (``tminus emulator --port N``)."""
    from bot.devtools.ll2_emulator import serve

    limit = args.requests_per_hour or None
    print(  # noqa: T201
        f"LL2 emulator on http://127.0.0.1:{args.port}/2.2.0 and /2.3.0 "
        f"(limit {limit or 'none'}/h); Ctrl-C stops",
        flush=True,
    )
    await serve(args.port, requests_per_hour=limit)
    return EXIT_OK


async def demo(config: Config, args: argparse.Namespace) -> int:
    """Play the offline demo (``tminus demo``)."""
    from bot.devtools.demo import run_demo

    return await run_demo(config)


async def run(config: Config, args: argparse.Namespace) -> int:
    """Run the Discord bot (``tminus run``)."""
    from bot.app.client import run_bot

    return await run_bot(config)


HANDLERS: dict[str, Handler] = {
    "watch": watch,
    "events": events,
    "db": db,
    "emulator": emulator,
    "demo": demo,
    "run": run,
}
