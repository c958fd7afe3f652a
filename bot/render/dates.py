"""Dates as Discord timestamps, never finer than LL2's ``date_precision`` allows.

A coarse precision renders as "NET November 2026", not a fake exact time; exact ones as
``<t:unix:F>`` so each reader sees local time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal

from bot.core.items import DatePrecision, Event
from bot.core.timeutil import as_utc

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

PrecisionClass = Literal[
    "exact", "day", "morning", "afternoon", "week", "month", "quarter", "half", "year",
    "fiscal_year", "decade", "unknown",
]  # fmt: skip


def precision_class(precision: DatePrecision | None) -> tuple[PrecisionClass, int | None]:
    """Classify an LL2 ``date_precision``; the int is the quarter or half number if known."""
    if precision is None:
        return "exact", None
    name, abbrev = precision.name, precision.abbrev
    if type(name) is str and (abbrev is None or type(abbrev) is str):
        # LL2 has a dozen precisions: each (name, abbrev) is classified once.
        return _classify(name, abbrev)
    return _classify.__wrapped__(name, abbrev)


@lru_cache(maxsize=256)
def _classify(raw_name: str, raw_abbrev: str | None) -> tuple[PrecisionClass, int | None]:
    name = raw_name.strip().lower()
    abbrev = (raw_abbrev or "").strip().upper()
    if name in ("second", "minute", "hour") or abbrev in ("SEC", "MIN", "HR"):
        return "exact", None
    if "fiscal" in name or abbrev == "FY":
        return "fiscal_year", None
    if "quarter" in name or re.fullmatch(r"Q[1-4]", abbrev):
        return "quarter", _ordinal(abbrev, name, 4)
    if "half" in name or re.fullmatch(r"H[12]", abbrev):
        return "half", _ordinal(abbrev, name, 2)
    if "decade" in name:
        return "decade", None
    if "year" in name or abbrev == "Y":
        return "year", None
    if "month" in name or abbrev == "M":
        return "month", None
    if "week" in name or abbrev == "W":
        return "week", None
    if name == "morning" or abbrev == "AM":
        return "morning", None
    if name == "afternoon" or abbrev == "PM":
        return "afternoon", None
    if name == "day" or abbrev == "DAY":
        return "day", None
    return "unknown", None


def _ordinal(abbrev: str, name: str, top: int) -> int | None:
    match = re.search(rf"[1-{top}]", abbrev) or re.search(rf"[1-{top}]", name)
    return int(match.group()) if match else None


def _noon(day: date) -> int:
    # A date shown with <t:…:D> is converted to each reader's zone; noon UTC keeps the same
    # calendar day everywhere from UTC-12 to UTC+11, midnight would show the day before in
    # the Americas.
    return int(datetime.combine(day, time(12, tzinfo=UTC)).timestamp())


def _coarse_text(kind: PrecisionClass, number: int | None, when: datetime) -> str | None:
    """Return the "NET …" text for precisions coarser than a week, else None."""
    if kind == "month":
        return f"NET {_MONTHS[when.month - 1]} {when.year}"
    if kind == "quarter":
        return f"NET Q{number or (when.month - 1) // 3 + 1} {when.year}"
    if kind == "half":
        return f"NET H{number or (1 if when.month <= 6 else 2)} {when.year}"
    if kind == "year":
        return f"NET {when.year}"
    if kind == "fiscal_year":
        return f"NET FY{when.year}"
    if kind == "decade":
        return f"NET {when.year // 10 * 10}s"
    return None


def _day_suffix(kind: PrecisionClass) -> str:
    return {"morning": " (morning)", "afternoon": " (afternoon)"}.get(kind, "")


def discord_date(when: datetime | None, precision: DatePrecision | None) -> str:
    """Render a date as Discord timestamp markup, never finer than ``precision`` allows."""
    if when is None:
        return "TBD"
    when = as_utc(when)
    kind, number = precision_class(precision)
    if kind == "exact":
        unix = int(when.timestamp())
        return f"<t:{unix}:F> (<t:{unix}:R>)"
    coarse = _coarse_text(kind, number, when)
    if coarse is not None:
        return coarse
    if kind == "week":
        monday = when.date() - timedelta(days=when.weekday())
        return f"NET week of <t:{_noon(monday)}:D>"
    return f"<t:{_noon(when.date())}:D>{_day_suffix(kind)}"


def plain_date(when: datetime | None, precision: DatePrecision | None) -> str:
    """Render a date as plain UTC text, never finer than ``precision`` allows."""
    if when is None:
        return "TBD"
    when = as_utc(when)
    kind, number = precision_class(precision)
    if kind == "exact":
        if precision is not None and precision.name.strip().lower() == "second":
            return when.strftime("%Y-%m-%d %H:%M:%S UTC")
        return when.strftime("%Y-%m-%d %H:%M UTC")
    coarse = _coarse_text(kind, number, when)
    if coarse is not None:
        return coarse
    if kind == "week":
        monday = when.date() - timedelta(days=when.weekday())
        return f"NET week of {monday.isoformat()}"
    return when.date().isoformat() + _day_suffix(kind)


def format_event_date(event: Event) -> str:
    """Return the event's date as Discord markup: ``<t:…:F> (<t:…:R>)`` or "NET November 2026"."""
    return discord_date(event.date, event.date_precision)


def format_event_date_plain(event: Event) -> str:
    """Return the event's date as terminal text: "2026-11-27 12:38 UTC" or "NET November 2026"."""
    return plain_date(event.date, event.date_precision)


def compact_date(event: Event) -> str:
    """Return a list line's date: ``<t:…:f> (<t:…:R>)`` or "NET November 2026"."""
    if event.date is None:
        return "TBD"
    kind, _ = precision_class(event.date_precision)
    if kind == "exact":
        unix = int(as_utc(event.date).timestamp())
        return f"<t:{unix}:f> (<t:{unix}:R>)"
    return format_event_date(event)


def lead_text(lead: timedelta | None) -> str:
    """Return how long a reminder lead is, as "in 1h", "in 10m" or "in 90s"."""
    if lead is None:
        return "soon"
    seconds = int(lead.total_seconds())
    if seconds > 0 and seconds % 3600 == 0:
        return f"in {seconds // 3600}h"
    if seconds > 0 and seconds % 60 == 0:
        return f"in {seconds // 60}m"
    return f"in {max(seconds, 0)}s"
