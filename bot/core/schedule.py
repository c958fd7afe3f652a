"""Adaptive polling: when to spend the next LL2 request (DESIGN.md invariant 8).

The strategy, in short (the README says the same):

* **Idle**: poll every ``3600 / (requests_per_hour / 2)`` seconds (8 min on the free tier),
  spending at most half the hourly budget, so the other half is there for moments that
  matter.
* **Hot moments** are the times LL2 tells us something will happen: each webcast's
  ``start_time`` and each event's ``date``. From ``HOT_BEFORE`` ahead of such a moment to
  ``HOT_AFTER`` after it, poll every ``HOT_SPACING`` (60 s, never below ``min_interval``);
  the first poll of a window lands exactly on its opening, not whenever an idle timer fires.
  An event whose webcast has its own start time gets only a brief window at its date
  (``BRIEF_AFTER``): the stream's flip is watched at the stream's start.
* **Reserve for what is coming**: the polls each hot window will need are planned ahead.
  Windows within an hour of each other share one spacing, the smallest (60 s, 90 s, 2 min,
  …) at which all their polls fit the budget, and an idle poll that would leave a planned
  hot poll without budget is skipped.
* **Never over budget**: no poll before ``min_interval`` after the last one, nor before the
  rolling-hour budget (and any 429 wait) allows one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HOT_BEFORE = timedelta(minutes=1)
HOT_AFTER = timedelta(minutes=6)
HOT_SPACING = timedelta(seconds=60)
BRIEF_AFTER = timedelta(minutes=2)
# Wider spacings tried, in order, when a window's 60 s polls do not fit the hour's budget.
THINNER_SPACINGS = tuple(timedelta(seconds=s) for s in (90, 120, 180, 240, 300, 450, 600))
HOUR = timedelta(hours=1)

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class PollPlan:
    """When to poll next, and why (for logs and ``/status``)."""

    at: datetime
    reason: str


def idle_interval(requests_per_hour: int, min_interval: timedelta) -> timedelta:
    """Return the gap between polls when nothing is about to happen."""
    spend = max(1.0, requests_per_hour / 2)
    return max(min_interval, timedelta(seconds=3600 / spend))


def hot_windows(moments: Iterable[datetime], brief: Iterable[datetime] = ()) -> list[Window]:
    """Merge the windows around each hot moment into sorted, non-overlapping ones.

    ``brief`` moments (the date of an event whose webcast has its own start time) get a
    shorter window: the stream's flip is watched at its start; the date itself only
    brings updates ("docking confirmed") worth a few quick polls.
    """
    windows = sorted(
        [(m - HOT_BEFORE, m + HOT_AFTER) for m in moments]
        + [(m - HOT_BEFORE, m + BRIEF_AFTER) for m in brief]
    )
    merged: list[Window] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _fits(times: Sequence[datetime], per_hour: int) -> bool:
    """Return whether no rolling hour ``(t - 1h, t]`` holds more than ``per_hour`` of ``times``."""
    ordered = sorted(times)
    low = 0
    for high, t in enumerate(ordered):
        while ordered[low] <= t - HOUR:
            low += 1
        if high - low + 1 > per_hour:
            return False
    return True


def _grid(start: datetime, end: datetime, spacing: timedelta) -> list[datetime]:
    points = []
    t = start
    while t < end:
        points.append(t)
        t += spacing
    return points


def _first_hot_poll(
    start: datetime, now: datetime, last_poll: datetime | None, spacing: timedelta
) -> datetime:
    """Return when a window's next hot poll falls: its opening, or a spacing after the last."""
    if last_poll is not None and last_poll >= start:
        return max(now, last_poll + spacing)
    return max(start, now)


def _clusters(windows: Sequence[Window]) -> list[list[Window]]:
    """Group windows that compete for one rolling hour of budget."""
    groups: list[list[Window]] = []
    for window in windows:
        if groups and window[0] - groups[-1][-1][1] < HOUR:
            groups[-1].append(window)
        else:
            groups.append([window])
    return groups


def plan_hot_polls(
    windows: Sequence[Window],
    *,
    now: datetime,
    recent: Sequence[datetime],
    per_hour: int,
    min_interval: timedelta,
    last_poll: datetime | None = None,
) -> dict[Window, timedelta]:
    """Choose each window's spacing: 60 s where the budget allows, thinner where it does not.

    Windows that share an hour share one spacing — the smallest at which all of their polls,
    with the requests already sent (``recent``), fit the budget — so three webcasts in an
    hour each get a poll every two minutes rather than two getting every minute and the
    third nothing.
    """
    planned: list[datetime] = [t for t in recent if t > now - HOUR]
    spacings: dict[Window, timedelta] = {}
    near = [w for w in windows if w[0] <= now + 2 * HOUR]  # far ones get planned later
    for cluster in _clusters(near):

        def polls(spacing: timedelta, cluster: list[Window] = cluster) -> list[datetime]:
            return [
                t
                for start, end in cluster
                for t in _grid(_first_hot_poll(start, now, last_poll, spacing), end, spacing)
            ]

        candidates = [max(s, min_interval) for s in (HOT_SPACING, *THINNER_SPACINGS)]
        chosen = next((s for s in candidates if _fits(planned + polls(s), per_hour)), None)
        spacing = chosen or candidates[-1]
        for window in cluster:
            spacings[window] = spacing
        planned += polls(spacing)
    return spacings


def plan_next_poll(
    now: datetime,
    *,
    last_poll: datetime | None,
    moments: Iterable[datetime],
    brief_moments: Iterable[datetime] = (),
    requests_per_hour: int,
    min_interval: timedelta,
    budget_available_at: datetime,
    recent: Sequence[datetime] = (),
) -> PollPlan:
    """Return when to poll next given the hot moments, the requests sent and the budget.

    ``recent`` are the times of the requests sent in the last hour (the budget's own record);
    without them the plan cannot reserve budget for windows to come and only the budget's
    ``available_at`` keeps it honest.
    """
    earliest = now if last_poll is None else max(now, last_poll + min_interval)
    windows = [w for w in hot_windows(moments, brief_moments) if w[1] > now]
    spacings = plan_hot_polls(
        windows,
        now=now,
        recent=recent,
        per_hour=requests_per_hour,
        min_interval=min_interval,
        last_poll=last_poll,
    )
    base = now if last_poll is None else last_poll

    current = next((w for w in windows if w[0] <= now < w[1]), None)
    upcoming = next((w for w in windows if w[0] > now), None)
    if current is not None:
        spacing = spacings.get(current, max(HOT_SPACING, min_interval))
        at, reason = base + spacing, "hot window"
        if spacing > HOT_SPACING and spacing > min_interval:
            reason = f"hot window, thinned to {int(spacing.total_seconds())}s for the budget"
        if at >= current[1]:
            current = None  # the window closes before the next hot poll: plan as idle
    if current is None:
        at, reason = base + idle_interval(requests_per_hour, min_interval), "idle"
        if upcoming is not None:
            if upcoming[0] <= at:
                at, reason = upcoming[0], "hot window opens"
            elif not _idle_poll_affordable(
                at, windows, spacings, recent, requests_per_hour, min_interval
            ):
                at, reason = upcoming[0], "hot window opens (saving budget for it)"
    if at < earliest:
        at = earliest
    if budget_available_at > at:
        at, reason = budget_available_at, f"{reason} (waiting for budget)"
    return PollPlan(at=at, reason=reason)


def _idle_poll_affordable(
    at: datetime,
    windows: Sequence[Window],
    spacings: dict[Window, timedelta],
    recent: Sequence[datetime],
    per_hour: int,
    min_interval: timedelta,
) -> bool:
    """Return whether an idle poll at ``at`` leaves every planned hot window its spacing."""
    if not spacings:
        return True
    with_idle = plan_hot_polls(
        windows,
        now=at,
        recent=[*recent, at],
        per_hour=per_hour,
        min_interval=min_interval,
        last_poll=at,
    )
    return all(with_idle.get(w, spacing) <= spacing for w, spacing in spacings.items())
