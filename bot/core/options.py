"""Parse what users type (CLI flags, slash-command options) into the core's values."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import timedelta

from bot.core.kinds import kind_names
from bot.core.timeutil import parse_duration

# A reminder under a minute ahead would race the poll that moves the date; over 14 days it
# would outlive the upcoming list it is planned from.
MIN_LEAD = timedelta(minutes=1)
MAX_LEAD = timedelta(days=14)


class UsageError(Exception):
    """A user-supplied value (flag or slash-command option) that cannot be used."""


def parse_kinds(text: str | Sequence[str] | None) -> list[str]:
    """Parse ``kinds``: a comma list of the registry's alert kinds or ``all`` (empty = all)."""
    if text is None:
        return []
    items = [p.strip().lower() for p in (text.split(",") if isinstance(text, str) else text)]
    items = [p for p in items if p]
    if not items or items == ["all"]:
        return []
    if "all" in items:
        raise UsageError("'all' cannot be combined with other kinds — give all, or a list")
    known = kind_names()
    for item in items:
        if item not in known:
            raise UsageError(_unknown("alert kind", item, known, extra=["all"]))
    return sorted(set(items), key=known.index)


def parse_leads(text: str | None, default: Sequence[timedelta]) -> list[int]:
    """Parse ``reminders``: a comma list of leads like ``24h,1h,10m`` or ``none``."""
    if text is None:
        return sorted({int(d.total_seconds()) for d in default}, reverse=True)
    if text.strip().lower() == "none":
        return []
    leads = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            lead = parse_duration(part)
        except ValueError:
            raise UsageError(
                f"'{part}' is not a reminder lead — write leads like 24h,1h,10m or none"
            ) from None
        if lead < MIN_LEAD or lead > MAX_LEAD:
            raise UsageError(f"reminder lead '{part}' must be between 1m and 14d")
        leads.add(int(lead.total_seconds()))
    if len(leads) > 10:
        raise UsageError("at most 10 reminder leads")
    return sorted(leads, reverse=True)


def _unknown(what: str, value: str, choices: Sequence[str], extra: Sequence[str] = ()) -> str:
    by_lower = {c.lower(): c for c in [*choices, *extra]}
    close = difflib.get_close_matches(value.lower(), list(by_lower), n=1, cutoff=0.6)
    hint = f" — did you mean {by_lower[close[0]]}?" if close else ""
    if not close and len(choices) <= 12:
        hint = f" (known: {', '.join([*choices, *extra])})"
    shown = value if len(value) <= 60 else value[:59] + "…"
    return f"no such {what} '{shown}'{hint}"


def is_id(text: str) -> bool:
    """Return whether ``text`` is a plain decimal id (``str.isdigit`` also admits ``²``)."""
    return text.isascii() and text.isdigit()


def resolve_named_ids(
    values: Sequence[str], named: Sequence[tuple[int, str]], what: str
) -> list[int]:
    """Resolve ids or case-insensitive names (``Docking``, ``2``) against ``named``."""
    by_name = {name.lower(): id_ for id_, name in named}
    ids = {id_ for id_, _ in named}
    resolved: list[int] = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        if is_id(text) and (int(text) in ids or not named):
            resolved.append(int(text))
        elif text.lower() in by_name:
            resolved.append(by_name[text.lower()])
        else:
            raise UsageError(_unknown(what, text, [name for _, name in named]))
    return sorted(set(resolved))


# --- subscription options ---------------------------------------------------------------


# Which feeds a subscription follows (README, "Slash commands").
FEEDS = ("events", "launches", "all")
MAX_EXCLUDE_WORDS = 10
MAX_EXCLUDE_WORD = 50


def parse_feed(value: str) -> str:
    """Parse the ``feed`` option (``events``, ``launches`` or ``all``) or raise UsageError."""
    name = value.strip().lower()
    if name not in FEEDS:
        raise UsageError(f"feed must be events, launches or all, not {value[:30]!r}")
    return name


def parse_exclude(value: str | None) -> list[str]:
    """Parse ``exclude`` (a comma list of words, or ``none``) into the words to skip."""
    if value is None or value.strip().lower() in ("", "none"):
        return []
    words: list[str] = []
    for part in value.split(","):
        word = " ".join(part.split())
        if not word or word.lower() in (w.lower() for w in words):
            continue
        if len(word) > MAX_EXCLUDE_WORD:
            raise UsageError(f"an exclude word is at most {MAX_EXCLUDE_WORD} characters")
        words.append(word)
    if len(words) > MAX_EXCLUDE_WORDS:
        raise UsageError(f"exclude takes at most {MAX_EXCLUDE_WORDS} words")
    return words


STYLES = ("feed", "card")


def parse_style(value: str) -> str:
    """Parse the ``style`` option (``feed`` or ``card``) or raise UsageError."""
    name = value.strip().lower()
    if name not in STYLES:
        raise UsageError(f"style must be feed or card, not {value!r}")
    return name


def parse_subscription_id(value: str) -> int:
    """Parse the ``subscription`` option (``12`` or ``#12``) or raise UsageError."""
    text = value.strip().lstrip("#").split(" ", 1)[0]
    if not is_id(text) or len(text) > 12:
        raise UsageError(f"'{value[:50]}' is not a subscription number — see /alerts list")
    return int(text)
