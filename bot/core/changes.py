"""Change detection: a pure function from (stored snapshot, new snapshot) to alerts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from bot.core.alerts import (
    Alert,
    AlertKind,
    new_event_alert,
    rescheduled_alert,
    update_alert,
    webcast_live_alert,
)
from bot.core.items import DAY_PRECISIONS, FINE_PRECISIONS, Event

DEFAULT_RESCHEDULE_THRESHOLD = timedelta(minutes=5)


def detect_changes(
    stored: Event | None,
    new: Event,
    *,
    seeding: bool,
    now: datetime,
    reschedule_threshold: timedelta = DEFAULT_RESCHEDULE_THRESHOLD,
) -> list[Alert]:
    """Return the alerts that the step from ``stored`` to ``new`` deserves.

    ``seeding`` is true while the store is filled for the first time: existing updates and
    dates are history then, but a webcast that is live right now is news (invariant 4).
    """
    alerts: list[Alert] = []
    if stored is None:
        if not seeding and (new.date is None or new.date > now):
            alerts.append(new_event_alert(new))
        if new.webcast_live:
            alerts.append(webcast_live_alert(new))
        return alerts

    known = {u.id for u in stored.updates}
    fresh = [u for u in new.updates if u.id not in known]
    fresh.sort(key=lambda u: (u.created_on is None, u.created_on, u.id))
    alerts.extend(update_alert(new, u) for u in fresh)

    if new.webcast_live and not stored.webcast_live:
        alerts.append(webcast_live_alert(new))

    if (
        new.date is not None
        and stored.date is not None
        and abs(new.date - stored.date) >= reschedule_threshold
        and new.date > now
    ):
        alerts.append(rescheduled_alert(new, stored.date))
    return alerts


def lead_allowed(lead: timedelta, precision: str | None) -> bool:
    """Return whether a reminder ``lead`` makes sense for a date of this precision."""
    if precision is None or precision in FINE_PRECISIONS:
        return True
    if precision in DAY_PRECISIONS:
        return lead >= timedelta(hours=24)
    return False


def reminder_due_times(
    event: Event, leads: Iterable[timedelta]
) -> list[tuple[timedelta, datetime]]:
    """Return ``(lead, due time)`` for each lead this event's date precision allows."""
    if event.date is None:
        return []
    precision = event.precision_name
    return [(lead, event.date - lead) for lead in leads if lead_allowed(lead, precision)]


def subscription_matches(
    *,
    kinds: Sequence[str],
    type_ids: Sequence[int],
    agency_ids: Sequence[int],
    program_ids: Sequence[int],
    alert: Alert,
) -> bool:
    """Return whether a subscription with these filters wants ``alert``."""
    if kinds and alert.kind.value not in kinds:
        return False
    event = alert.event
    if type_ids and (event.type is None or event.type.id not in type_ids):
        return False
    if agency_ids and not {a.id for a in event.agencies} & set(agency_ids):
        return False
    return not (program_ids and not {p.id for p in event.programs} & set(program_ids))


__all__ = [
    "AlertKind",
    "detect_changes",
    "lead_allowed",
    "reminder_due_times",
    "subscription_matches",
]
