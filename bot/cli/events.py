"""``tminus events upcoming|search|show``: lookups from the local store, in the terminal."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from bot.cli.exits import EXIT_OK, EXIT_USAGE, fail
from bot.config import Config
from bot.core.options import UsageError, resolve_named_ids
from bot.core.timeutil import utcnow
from bot.pipeline.records import event_from_snapshot
from bot.pipeline.runner import known_types, open_store
from bot.render import format_event_date_plain
from storage import queries
from storage.db import StorageError, session_scope


async def main(config: Config, args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Answer one lookup from the store (no LL2 request)."""
    stream = out or sys.stdout
    try:
        engine = open_store(config.storage.url)
    except StorageError as exc:
        return fail(str(exc), EXIT_USAGE)
    with session_scope(engine) as session:
        if args.events_command == "upcoming":
            if not 1 <= args.count <= 25:
                return fail("--count must be between 1 and 25", EXIT_USAGE)
            try:
                type_ids = resolve_named_ids(args.types, known_types(engine), "event type")
            except UsageError as exc:
                return fail(str(exc), EXIT_USAGE)
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
                return fail(f"no event #{args.event_id} in the store (run tminus watch --once)")
            stream.write(event_detail(row.snapshot) + "\n")
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


def event_detail(snapshot: dict[str, object]) -> str:
    """Render one stored event for ``tminus events show``."""
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
