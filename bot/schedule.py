"""Adaptive polling: when to spend the next LL2 request (DESIGN.md invariant 8).

The strategy, in short (the README says the same):

* **Idle**: poll every ``3600 / (requests_per_hour / 2)`` seconds (8 min on the free tier),
  spending at most half the hourly budget, so the other half is saved for moments that
  matter.
* **Hot moments** are the times LL2 tells us something will happen: each webcast's
  ``start_time`` and each event's ``date``. From ``HOT_BEFORE`` ahead of such a moment to
  ``HOT_AFTER`` after it, poll every ``max(min_interval, HOT_SPACING)``; the first poll of a
  window lands exactly on the window's start, not whenever an idle timer fires.
* **Never over budget**: no poll before ``min_interval`` after the last one, nor before the
  rolling-hour budget (and any 429 wait) allows one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

HOT_BEFORE = timedelta(minutes=2)
HOT_AFTER = timedelta(minutes=12)
HOT_SPACING = timedelta(seconds=60)


@dataclass(frozen=True)
class PollPlan:
    """When to poll next, and why (for logs and ``/status``)."""

    at: datetime
    reason: str


def idle_interval(requests_per_hour: int, min_interval: timedelta) -> timedelta:
    """Return the gap between polls when nothing is about to happen."""
    spend = max(1.0, requests_per_hour / 2)
    return max(min_interval, timedelta(seconds=3600 / spend))


def hot_windows(moments: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Merge the windows around each hot moment into sorted, non-overlapping ones."""
    windows = sorted((m - HOT_BEFORE, m + HOT_AFTER) for m in moments)
    merged: list[tuple[datetime, datetime]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def plan_next_poll(
    now: datetime,
    *,
    last_poll: datetime | None,
    moments: Iterable[datetime],
    requests_per_hour: int,
    min_interval: timedelta,
    budget_available_at: datetime,
) -> PollPlan:
    """Return when to poll next given the hot moments and the budget."""
    earliest = now if last_poll is None else max(now, last_poll + min_interval)
    windows = [w for w in hot_windows(moments) if w[1] > now]
    idle = idle_interval(requests_per_hour, min_interval)
    base = now if last_poll is None else last_poll

    current = next((w for w in windows if w[0] <= now < w[1]), None)
    if current is not None:
        at, reason = base + max(min_interval, HOT_SPACING), "hot window"
    else:
        at, reason = base + idle, "idle"
        upcoming = next((w for w in windows if w[0] > now), None)
        if upcoming is not None and upcoming[0] < at:
            at, reason = upcoming[0], "hot window opens"
    if at < earliest:
        at = earliest
    if budget_available_at > at:
        at, reason = budget_available_at, f"{reason} (waiting for budget)"
    return PollPlan(at=at, reason=reason)
