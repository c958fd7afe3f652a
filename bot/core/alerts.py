"""Alert kinds and the alert value passed from change detection to rendering and delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.items import Event, EventUpdate
from bot.core.timeutil import format_duration, isoformat_z


class AlertKind(StrEnum):
    """What happened to an event (DESIGN.md, "Alert kinds")."""

    UPDATE = "update"
    WEBCAST_LIVE = "webcast_live"
    RESCHEDULED = "rescheduled"
    NEW_EVENT = "new_event"
    REMINDER = "reminder"


ALL_KINDS: tuple[AlertKind, ...] = tuple(AlertKind)


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing worth telling a channel about one event."""

    kind: AlertKind
    event: Event
    discriminator: str
    update: EventUpdate | None = None  # for UPDATE
    previous_date: datetime | None = None  # for RESCHEDULED
    lead: timedelta | None = None  # for REMINDER

    @property
    def feed(self) -> str:
        """Return the feed of the item this alert is about (``events``, later ``launches``)."""
        return self.event.feed

    @property
    def item_id(self) -> str:
        """Return the id of the item this alert is about, as a string."""
        return self.event.item_id

    def key(self, destination: str | None = None) -> str:
        """Return the dedupe key: destination, feed, item id, kind and discriminator.

        ``destination`` is ``channel:<channel id>`` (one message per channel per alert, however
        many of its subscriptions match) or ``console:<subscription id>``; None is the console.
        """
        owner = destination or "console"
        return f"{owner}:{self.feed}:{self.item_id}:{self.kind.value}:{self.discriminator}"


def update_alert(event: Event, update: EventUpdate) -> Alert:
    """Build the alert for a new entry in ``event.updates``."""
    return Alert(AlertKind.UPDATE, event, str(update.id), update=update)


def webcast_live_alert(event: Event) -> Alert:
    """Build the alert for a webcast going live (one per live episode)."""
    return Alert(AlertKind.WEBCAST_LIVE, event, isoformat_z(event.last_updated))


def rescheduled_alert(event: Event, previous_date: datetime | None) -> Alert:
    """Build the alert for a date that moved."""
    assert event.date is not None
    return Alert(AlertKind.RESCHEDULED, event, isoformat_z(event.date), previous_date=previous_date)


def new_event_alert(event: Event) -> Alert:
    """Build the alert for an event first seen after seeding."""
    return Alert(AlertKind.NEW_EVENT, event, str(event.id))


def reminder_alert(event: Event, lead: timedelta) -> Alert:
    """Build the reminder ``lead`` before the event's current date."""
    assert event.date is not None
    return Alert(
        AlertKind.REMINDER, event, f"{format_duration(lead)}@{isoformat_z(event.date)}", lead=lead
    )
