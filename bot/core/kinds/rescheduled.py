"""``rescheduled``: the date moved by at least the threshold and is still ahead."""

from __future__ import annotations

from datetime import datetime

from bot.core.alerts import Alert
from bot.core.items import Event
from bot.core.kinds._base import DetectContext, Kind, Look, Markup
from bot.core.timeutil import isoformat_z

EMOJI = "🗓️"


def rescheduled_alert(event: Event, previous_date: datetime | None) -> Alert:
    """Build the alert for a date that moved, keyed by the new date."""
    assert event.date is not None
    return Alert(KIND, event, isoformat_z(event.date), previous_date=previous_date)


def detect(stored: Event | None, new: Event, context: DetectContext) -> list[Alert]:
    """Alert when a known date moved by ``reschedule_threshold`` or more into the future.

    A date that moved into the past is not worth a slip alert (the item happened or was
    back-filled); a first sight has no earlier date to compare with.
    """
    if stored is None or stored.date is None or new.date is None:
        return []
    if abs(new.date - stored.date) < context.reschedule_threshold or new.date <= context.now:
        return []
    return [rescheduled_alert(new, stored.date)]


def content(alert: Alert, markup: Markup) -> str:
    """Return the content line: "🗓️ Rescheduled · **name** → new date"."""
    event = alert.event
    new = markup.date(event.date, event.date_precision)
    return f"{EMOJI} Rescheduled · {markup.name(event)} → {new}"


def look(alert: Alert, markup: Markup) -> Look:
    """Show the old date struck through and the new one; the item's date field would repeat it."""
    event = alert.event
    old = markup.date(alert.previous_date, event.date_precision)
    new = markup.date(event.date, event.date_precision)
    return Look(
        banner=f"{EMOJI} Rescheduled",
        fields=[(f"{EMOJI} Rescheduled", f"~~{old}~~\n→ **{new}**")],
        show_date=False,
    )


KIND = Kind(
    name="rescheduled",
    label="Rescheduled",
    when="the date moved by at least the threshold and is still ahead",
    discriminator="new date",
    colour=0xE67E22,
    emoji=EMOJI,
    rank=40,
    detect=detect,
    content=content,
    look=look,
)
