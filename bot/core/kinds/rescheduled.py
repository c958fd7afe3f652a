"""``rescheduled``: the date moved by at least the threshold from the date last announced.

A slip is measured from the date users were last told (``DetectContext.announced_date``,
kept by the store: the date first seen, then each date this kind announced), not from the
previous snapshot. So a count that slips 2 minutes at a time is announced once, when the
steps add up to the threshold, and not at every step; and a move that stays inside a coarse
precision ("NET December" to another December day) is no news.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.core.alerts import Alert, Item
from bot.core.items import DatePrecision
from bot.core.kinds._base import DetectContext, Kind, Look, Markup
from bot.core.timeutil import isoformat_z

EMOJI = "🗓️"


def rescheduled_alert(
    event: Item, previous_date: datetime | None, previous_precision: str | None = None
) -> Alert:
    """Build the alert for a date that moved, keyed by the new date."""
    assert event.date is not None
    return Alert(
        KIND,
        event,
        isoformat_z(event.date),
        previous_date=previous_date,
        previous_precision=previous_precision,
    )


def _bucket(when: datetime, precision: str | None) -> tuple[object, ...] | None:
    """Return the span a coarse precision names ("December 2026"), None for a fine one."""
    name = (precision or "").strip().lower()
    if not name or name in ("second", "minute", "hour"):
        return None
    if "fiscal" in name or "year" in name:
        return ("year", when.year)
    if "decade" in name:
        return ("decade", when.year // 10)
    if "quarter" in name or re.fullmatch(r"q[1-4]", name):
        return ("quarter", when.year, (when.month - 1) // 3)
    if "half" in name or re.fullmatch(r"h[12]", name):
        return ("half", when.year, (when.month - 1) // 6)
    if "month" in name:
        return ("month", when.year, when.month)
    if "week" in name:
        return ("week", *when.isocalendar()[:2])
    # Day, Morning, Afternoon and names LL2 may add: no finer than the day.
    return ("day", when.date())


def same_coarse_span(
    old: datetime, old_precision: str | None, new: datetime, new_precision: str | None
) -> bool:
    """Return whether both dates fall in the span the coarser of the two precisions names."""
    for precision in (old_precision, new_precision):
        old_span, new_span = _bucket(old, precision), _bucket(new, precision)
        if old_span is not None and old_span == new_span:
            return True
    return False


def detect(stored: Item | None, new: Item, context: DetectContext) -> list[Alert]:
    """Alert when the date moved ``reschedule_threshold`` or more from the one last announced.

    A date that moved into the past is not worth a slip alert (the item happened or was
    back-filled); a first sight has no earlier date to compare with.
    """
    if stored is None or new.date is None:
        return []
    told = context.announced_date or stored.date
    if told is None:
        return []
    told_precision = (
        context.announced_precision if context.announced_date is not None else stored.precision_name
    )
    if abs(new.date - told) < context.reschedule_threshold or new.date <= context.now:
        return []
    if same_coarse_span(told, told_precision, new.date, new.precision_name):
        return []
    # The old precision travels with the alert only when it differs from the new one.
    was = told_precision if told_precision != new.precision_name else None
    return [rescheduled_alert(new, told, was)]


def content(alert: Alert, markup: Markup) -> str:
    """Return the content line: "🗓️ Rescheduled · **name** → new date"."""
    event = alert.event
    new = markup.date(event.date, event.date_precision)
    return f"{EMOJI} Rescheduled · {markup.name(event)} → {new}"


def look(alert: Alert, markup: Markup) -> Look:
    """Show the old date struck through and the new one; the item's date field would repeat it."""
    event = alert.event
    was = (
        DatePrecision(name=alert.previous_precision)
        if alert.previous_precision
        else event.date_precision
    )
    old = markup.date(alert.previous_date, was)
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
