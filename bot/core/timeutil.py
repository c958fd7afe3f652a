"""Time helpers: everything inside tminus is timezone-aware UTC."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from dateutil import parser as dateparser

Clock = Callable[[], datetime]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """Parse a duration like ``30s``, ``5m``, ``1h`` or ``24h``; raise ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (write e.g. 30s, 5m, 1h, 24h)")
    amount, unit = match.groups()
    try:
        return timedelta(seconds=float(amount) * _UNIT_SECONDS[unit])
    except OverflowError:
        raise ValueError(f"duration out of range: {text!r}") from None


def format_duration(delta: timedelta) -> str:
    """Render a duration compactly, the inverse of :func:`parse_duration` for whole units."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def human_duration(delta: timedelta) -> str:
    """Render a wait for people: ``45s``, ``12m05s``, ``1h00m``."""
    seconds = max(0, round(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def parse_datetime(value: str | datetime) -> datetime:
    """Parse an ISO-8601 timestamp into an aware UTC datetime (naive means UTC)."""
    parsed = value if isinstance(value, datetime) else dateparser.isoparse(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; naive values (as SQLite returns them) are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat_z(value: datetime) -> str:
    """Format an aware datetime the way LL2 does: ``2025-11-27T12:46:33Z``."""
    value = as_utc(value).replace(tzinfo=None)
    # isoformat, not strftime: glibc's %Y does not zero-pad years before 1000 ("1-01-01").
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds") + "Z"
