"""``tminus launches upcoming|search|show``: launch lookups from the local store, in a terminal."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from bot.app import launches as lookups
from bot.cli.exits import EXIT_OK, EXIT_USAGE, fail
from bot.config import Config
from bot.core.launches import Launch
from bot.core.options import UsageError
from bot.core.timeutil import utcnow
from bot.pipeline.runner import open_store
from bot.render import plain_date
from bot.render.console import plain_text
from bot.render.launches import best_streams, window_text
from storage.db import StorageError


async def main(config: Config, args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Answer one launch lookup from the store (no LL2 request)."""
    stream = out or sys.stdout
    try:
        engine = open_store(config.storage.url)
    except StorageError as exc:
        return fail(str(exc), EXIT_USAGE)
    now = utcnow()
    try:
        if args.launches_command == "upcoming":
            filters = lookups.resolve_launch_filters(
                engine, provider=args.provider, location=args.location, program=args.program
            )
            found = lookups.upcoming_launches(engine, filters, now=now, count=args.count)
        elif args.launches_command == "search":
            found = lookups.search_launches(engine, args.query, now=now, limit=25)
        else:
            stream.write(launch_detail(lookups.find_launch(engine, args.launch, now=now)) + "\n")
            return EXIT_OK
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    finally:
        engine.dispose()
    if not found:
        stream.write("no matching launches in the store\n")
        return EXIT_OK
    for launch in found:
        stream.write(launch_line(launch) + "\n")
    return EXIT_OK


def _status(launch: Launch) -> str:
    if launch.status is None:
        return "?"
    return launch.status.abbrev or launch.status.name


def launch_line(launch: Launch) -> str:
    """Render one launch as a list line: NET, status, provider, name, id."""
    when = plain_date(launch.net, launch.net_precision)
    provider = launch.provider_name or "?"
    live = "  LIVE" if launch.webcast_live else ""
    return (
        f"{when:<24} {_status(launch):<10} {provider[:24]:<24} {launch.name}{live}  [{launch.id}]"
    )


def launch_detail(launch: Launch) -> str:
    """Render one stored launch in full for ``tminus launches show``."""
    status = launch.status.name if launch.status else "?"
    lines = [
        f"{launch.name} [{launch.id}]",
        f"  status:    {status}",
        f"  NET:       {plain_date(launch.net, launch.net_precision)}",
    ]
    window = plain_text(window_text(launch))
    if window:
        lines.append(f"  window:    {window}")
    if launch.probability is not None:
        lines.append(f"  probability: {launch.probability}%")
    if launch.rocket is not None:
        lines.append(f"  rocket:    {launch.rocket.full_name or launch.rocket.name}")
    lines.append(f"  provider:  {launch.provider_name or '?'}")
    if launch.mission is not None:
        orbit = f" → {launch.mission.orbit.name}" if launch.mission.orbit else ""
        lines.append(f"  mission:   {launch.mission.name}{orbit}")
    pad = launch.pad.name if launch.pad and launch.pad.name else None
    lines.append(f"  pad:       {', '.join(p for p in (pad, launch.location) if p) or '?'}")
    lines.append(f"  webcast:   {'LIVE' if launch.webcast_live else 'not live'}")
    if launch.holdreason:
        lines.append(f"  hold:      {launch.holdreason}")
    if launch.failreason:
        lines.append(f"  failure:   {launch.failreason}")
    if launch.programs:
        lines.append("  programs:  " + ", ".join(p.name for p in launch.programs))
    if launch.mission is not None and launch.mission.description:
        lines.append(f"  {launch.mission.description}")
    for video, url in best_streams(launch)[:5]:
        language = f" ({video.language_name})" if video.language_name else ""
        lines.append(f"  ▶ {video.publisher or video.source or 'webcast'}{language}: {url}")
    # LL2 text reaches a terminal: no control characters (escape sequences) get through.
    return "".join(c for c in "\n".join(lines) if c == "\n" or c.isprintable())
