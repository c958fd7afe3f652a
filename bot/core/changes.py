"""Change detection: a pure function from (stored snapshot, new snapshot) to alerts.

Each alert kind brings its own detector (:mod:`bot.core.kinds`); this module runs them in
the registry's order and matches alerts against subscription filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core.alerts import Alert
from bot.core.items import Event
from bot.core.kinds import CHANGE_KINDS, AlertKind, DetectContext, lead_allowed, reminder_due_times

DEFAULT_RESCHEDULE_THRESHOLD = timedelta(minutes=5)


def detect_changes(
    stored: Event | None,
    new: Event,
    *,
    seeding: bool,
    now: datetime,
    reschedule_threshold: timedelta = DEFAULT_RESCHEDULE_THRESHOLD,
) -> list[Alert]:
    """Return the alerts that the step from ``stored`` to ``new`` deserves, in registry order.

    ``seeding`` is true while the store is filled for the first time: existing updates and
    dates are history then, but a webcast that is live right now is news
    (docs/architecture.md, invariant 4). Time-driven kinds (reminders) have no detector.
    """
    context = DetectContext(seeding=seeding, now=now, reschedule_threshold=reschedule_threshold)
    alerts: list[Alert] = []
    for kind in CHANGE_KINDS:
        assert kind.detect is not None
        alerts.extend(kind.detect(stored, new, context))
    return alerts


def subscription_matches(
    *,
    kinds: Sequence[str],
    type_ids: Sequence[int],
    agency_ids: Sequence[int],
    program_ids: Sequence[int],
    alert: Alert,
) -> bool:
    """Return whether a subscription with these filters wants ``alert``."""
    if kinds and alert.kind.name not in kinds:
        return False
    event = alert.event
    if type_ids and (event.type is None or event.type.id not in type_ids):
        return False
    if agency_ids and not {a.id for a in event.agencies} & set(agency_ids):
        return False
    return not (program_ids and not {p.id for p in event.programs} & set(program_ids))


__all__ = [
    "DEFAULT_RESCHEDULE_THRESHOLD",
    "AlertKind",
    "detect_changes",
    "lead_allowed",
    "reminder_due_times",
    "subscription_matches",
]
