"""``reminder``: a lead before the item's date (docs/architecture.md, invariant 5).

Reminders are time-driven, not changes: change detection never raises them (``KIND.detect``
is None). The reminder job asks :func:`reminder_due_times` when each lead falls due and
builds :func:`reminder_alert` then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.core.alerts import Alert, Item
from bot.core.items import DAY_PRECISIONS, FINE_PRECISIONS
from bot.core.kinds._base import Kind, Look, Markup
from bot.core.timeutil import format_duration, isoformat_z

EMOJI = "⏰"


def reminder_alert(event: Item, lead: timedelta) -> Alert:
    """Build the reminder ``lead`` before the item's current date, keyed by lead and date.

    The date is in the key so that a slip re-arms every reminder
    (docs/architecture.md, invariant 5).
    """
    assert event.date is not None
    return Alert(KIND, event, f"{format_duration(lead)}@{isoformat_z(event.date)}", lead=lead)


def lead_allowed(lead: timedelta, precision: str | None) -> bool:
    """Return whether a reminder ``lead`` makes sense for a date of this precision."""
    if precision is None or precision in FINE_PRECISIONS:
        return True
    if precision in DAY_PRECISIONS:
        return lead >= timedelta(hours=24)
    return False


def reminder_due_times(event: Item, leads: Iterable[timedelta]) -> list[tuple[timedelta, datetime]]:
    """Return ``(lead, due time)`` for each lead this item's date precision allows."""
    if event.date is None:
        return []
    precision = event.precision_name
    return [(lead, event.date - lead) for lead in leads if lead_allowed(lead, precision)]


def content(alert: Alert, markup: Markup) -> str:
    """Return the content line: "⏰ In 1h · **name**"."""
    return f"{EMOJI} {markup.lead(alert.lead).capitalize()} · {markup.name(alert.event)}"


def look(alert: Alert, markup: Markup) -> Look:
    """Say how long until it starts in the banner; the item's fields (date first) follow."""
    return Look(banner=f"{EMOJI} Reminder · {markup.lead(alert.lead)}")


KIND = Kind(
    name="reminder",
    label="Reminder",
    when="a reminder lead before the date (24h, 1h, 10m by default)",
    discriminator="lead and target date",
    colour=0xF1C40F,
    emoji=EMOJI,
    rank=50,
    detect=None,
    content=content,
    look=look,
)
