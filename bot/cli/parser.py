"""The ``tminus`` command line's parser, and how parsed flags become settings and logging."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot.config import SETTINGS, Config, load_config
from bot.core.kinds import kinds_help

DESCRIPTION = """\
tminus keeps a Discord community on top of spaceflight — launches, dockings, spacewalks,
landings, press events — from the Launch Library 2 API: it polls LL2 within its request
budget, diffs each launch and event against a local store and posts alerts to subscribed
channels.

Settings resolve: command-line flag > TMINUS_<SECTION>_<KEY> env > config file > default.
"""


def _global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="config file (TOML); default ./config.toml if present",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        default=default,
        help="storage URL (storage.url), e.g. sqlite:///tminus.db",
    )
    parser.add_argument(
        "--ll2-url",
        metavar="URL",
        default=default,
        help="LL2 API root with version (ll2.url), e.g. https://ll.thespacedevs.com/2.2.0",
    )
    parser.add_argument(
        "--log-level",
        metavar="LEVEL",
        default=default,
        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (log.level)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tminus",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_flags(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_flags(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser(
        "run",
        parents=[common],
        help="run the Discord bot",
        description="Run the Discord bot: sync LL2, answer slash commands, post alerts. "
        "Needs a bot token in TMINUS_DISCORD_TOKEN (or discord.token).",
    )

    watch = sub.add_parser(
        "watch",
        parents=[common],
        help="run the alert pipeline without Discord, printing alerts",
        description="Run the same pipeline as the bot, printing alerts to stdout instead of "
        "posting them. Exit 75 (with one line saying when) when LL2 throttles "
        "or the request budget is spent during --once.",
    )
    watch.add_argument(
        "--once", action="store_true", help="one sync + reminders + delivery, then exit"
    )
    watch.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people, json for one alert object per line (default text)",
    )
    watch.add_argument(
        "--feed",
        choices=("events", "launches", "all"),
        default="all",
        help="only print alerts of this feed (default all; the store syncs every enabled feed)",
    )
    watch.add_argument(
        "--type",
        dest="types",
        action="append",
        default=[],
        metavar="ID|NAME",
        help="only print alerts for this event type (repeatable; e.g. Docking or 2)",
    )
    watch.add_argument(
        "--kinds",
        metavar="LIST",
        help=f"comma list of {kinds_help()}, or all",
    )

    sub.add_parser(
        "demo",
        parents=[common],
        help="offline demo: recorded events and a launch, a scripted timeline, every alert kind",
        description="Serve bundled recorded LL2 events and a recorded launch from the emulator "
        "on loopback and play a ~30 s timeline (a reminder, an update, a launch going Go, "
        "webcasts going live, a slip, a new event, the launch's success) through the real "
        "pipeline, printing the alerts. Needs no network.",
    )

    events = sub.add_parser(
        "events",
        parents=[common],
        help="look events up in the local store",
        description="Look events up in the local store (no LL2 request).",
    )
    ev_sub = events.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    upcoming = ev_sub.add_parser(
        "upcoming",
        parents=[common],
        help="the next events by date",
        description="List the next events by date from the local store.",
    )
    upcoming.add_argument(
        "--type",
        dest="types",
        action="append",
        default=[],
        metavar="ID|NAME",
        help="only this event type (repeatable; e.g. Docking or 2)",
    )
    upcoming.add_argument("--count", type=int, default=10, help="how many (1-25, default 10)")
    search = ev_sub.add_parser(
        "search",
        parents=[common],
        help="events whose name matches",
        description="List events from the local store whose name matches the query.",
    )
    search.add_argument("query", help="words to find in event names")
    show = ev_sub.add_parser(
        "show",
        parents=[common],
        help="one event in full",
        description="Show one event from the local store in full: date, type, webcasts, "
        "latest updates.",
    )
    show.add_argument("event_id", type=int, metavar="ID", help="the LL2 event id")

    launches = sub.add_parser(
        "launches",
        parents=[common],
        help="look launches up in the local store",
        description="Look launches up in the local store (no LL2 request).",
    )
    la_sub = launches.add_subparsers(dest="launches_command", metavar="ACTION", required=True)
    la_upcoming = la_sub.add_parser(
        "upcoming",
        parents=[common],
        help="the next launches by NET",
        description="List the next launches by NET from the local store.",
    )
    la_upcoming.add_argument(
        "--provider",
        metavar="ID|NAME",
        help="only this launch service provider (e.g. SpaceX or 121)",
    )
    la_upcoming.add_argument(
        "--location",
        metavar="ID|NAME",
        help="only launches from this location (e.g. 'Kennedy Space Center' or 27)",
    )
    la_upcoming.add_argument(
        "--program", metavar="ID|NAME", help="only launches of this program (e.g. Artemis)"
    )
    la_upcoming.add_argument("--count", type=int, default=10, help="how many (1-25, default 10)")
    la_search = la_sub.add_parser(
        "search",
        parents=[common],
        help="launches whose name or mission matches",
        description="List launches from the local store whose name or mission matches "
        "the query, upcoming first.",
    )
    la_search.add_argument("query", help="words to find in launch names, e.g. Starlink")
    la_show = la_sub.add_parser(
        "show",
        parents=[common],
        help="one launch in full",
        description="Show one launch from the local store in full: status, NET, window, "
        "rocket, mission, pad, streams.",
    )
    la_show.add_argument(
        "launch", metavar="LAUNCH", help="the launch's LL2 UUID, its slug or part of its name"
    )

    alerts = sub.add_parser(
        "alerts",
        parents=[common],
        help="explain alerts from the local store",
        description="Explain, from the local store, what the bot's subscriptions do.",
    )
    al_sub = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    why = al_sub.add_parser(
        "why",
        parents=[common],
        help="would each subscription of a server alert on an item, and what came of it",
        description="For each subscription of one server (--guild): whether it matches the "
        "event or launch and why not (feed, type, provider, exclude, …), and what was sent, "
        "merged, pending, retrying, failed or skipped for it.",
    )
    why.add_argument(
        "item", metavar="ITEM", help="an event id or name, a launch UUID, slug or name"
    )
    why.add_argument("--guild", type=int, required=True, help="the server's (guild's) id")

    emulator = sub.add_parser(
        "emulator",
        parents=[common],
        help="serve the LL2 emulator on loopback",
        description="Serve the LL2 emulator (recorded + synthetic events, both API versions, "
        "LL2's hourly limit, a /_control/ API) on 127.0.0.1 for bot developers.",
    )
    emulator.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    emulator.add_argument(
        "--requests-per-hour",
        type=int,
        default=15,
        help="per-IP hourly limit like LL2's free tier (0 = unlimited; default 15)",
    )

    db = sub.add_parser(
        "db",
        parents=[common],
        help="database maintenance",
        description="Maintain the database named by storage.url (--db).",
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser(
        "upgrade",
        parents=[common],
        help="apply pending migrations",
        description="Apply pending database migrations to storage.url, creating the schema "
        "in a new database; running it again changes nothing.",
    )
    return parser


def configure_logging(level: str) -> None:
    """Log to stderr so stdout stays for alerts and answers."""
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def load(args: argparse.Namespace) -> Config:
    """Resolve settings from the flags, environment and config file."""
    path = Path(args.config) if getattr(args, "config", None) else None
    overrides = {
        name: getattr(args, spec.flag.removeprefix("--").replace("-", "_"), None)
        for name, spec in SETTINGS.items()
        if spec.flag
    }
    return load_config(path, overrides=overrides)
