"""Change detection: a pure function from (stored snapshot, new snapshot) to alerts.

Each alert kind brings its own detector (:mod:`bot.core.kinds`); this module runs them in
the registry's order and matches alerts against subscription filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core.alerts import Alert, Item
from bot.core.kinds import CHANGE_KINDS, AlertKind, DetectContext, lead_allowed, reminder_due_times
from bot.core.launches import Launch

DEFAULT_RESCHEDULE_THRESHOLD = timedelta(minutes=5)


def detect_changes(
    stored: Item | None,
    new: Item,
    *,
    seeding: bool,
    now: datetime,
    reschedule_threshold: timedelta = DEFAULT_RESCHEDULE_THRESHOLD,
    announced_date: datetime | None = None,
    announced_precision: str | None = None,
) -> list[Alert]:
    """Return the alerts that the step from ``stored`` to ``new`` deserves, in registry order.

    ``seeding`` is true while the store is filled for the first time: existing updates and
    dates are history then, but a webcast that is live right now is news
    (docs/architecture.md, invariant 4). Time-driven kinds (reminders) have no detector.
    ``announced_date``/``announced_precision`` are the date users were last told (the store
    keeps it): a slip is measured from there, not from the previous snapshot.
    """
    context = DetectContext(
        seeding=seeding,
        now=now,
        reschedule_threshold=reschedule_threshold,
        announced_date=announced_date,
        announced_precision=announced_precision,
    )
    alerts: list[Alert] = []
    for kind in CHANGE_KINDS:
        assert kind.detect is not None
        alerts.extend(kind.detect(stored, new, context))
    return alerts


ALL_FEEDS = "all"


def excluded(item: Item, words: Sequence[str]) -> bool:
    """Return whether the item's name (or a launch's mission) contains one of ``words``."""
    if not words:
        return False
    texts = [item.name]
    if isinstance(item, Launch) and item.mission is not None:
        texts.append(item.mission.name)
    haystack = "\n".join(texts).casefold()
    return any(w.strip() and w.strip().casefold() in haystack for w in words)


def subscription_matches(
    *,
    kinds: Sequence[str],
    type_ids: Sequence[int],
    agency_ids: Sequence[int],
    program_ids: Sequence[int],
    alert: Alert,
    feed: str | None = ALL_FEEDS,
    provider_ids: Sequence[int] = (),
    location_ids: Sequence[int] = (),
    exclude: Sequence[str] = (),
) -> bool:
    """Return whether a subscription with these filters wants ``alert``.

    ``feed`` is ``events``, ``launches`` or ``all``. A filter only one feed has limits the
    subscription to that feed (README, "Slash commands"): ``type`` to events, ``provider``
    and ``location`` to launches. ``exclude`` skips items whose name or mission has a word.
    """
    if kinds and alert.kind.name not in kinds:
        return False
    item = alert.event
    if feed and feed != ALL_FEEDS and item.feed != feed:
        return False
    if excluded(item, exclude):
        return False
    if program_ids and not {p.id for p in item.programs} & set(program_ids):
        return False
    if isinstance(item, Launch):
        return _launch_matches(item, type_ids, agency_ids, provider_ids, location_ids)
    if provider_ids or location_ids:
        return False
    if type_ids and (item.type is None or item.type.id not in type_ids):
        return False
    return not (agency_ids and not {a.id for a in item.agencies} & set(agency_ids))


def _launch_matches(
    launch: Launch,
    type_ids: Sequence[int],
    agency_ids: Sequence[int],
    provider_ids: Sequence[int],
    location_ids: Sequence[int],
) -> bool:
    if type_ids:
        return False  # event types are an events-only filter
    provider = launch.launch_service_provider.id if launch.launch_service_provider else None
    # A launch's agency is its launch service provider (LL2 calls both agencies).
    for wanted in (provider_ids, agency_ids):
        if wanted and provider not in wanted:
            return False
    location = launch.pad.location.id if launch.pad and launch.pad.location else None
    return not (location_ids and location not in location_ids)


__all__ = [
    "ALL_FEEDS",
    "DEFAULT_RESCHEDULE_THRESHOLD",
    "AlertKind",
    "detect_changes",
    "excluded",
    "lead_allowed",
    "reminder_due_times",
    "subscription_matches",
]
