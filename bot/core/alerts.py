"""The alert value passed from change detection to rendering and delivery.

What kinds of alert exist, and how each is detected, keyed and shown, is the registry's
business: :mod:`bot.core.kinds` (docs/architecture.md, "Alert kinds").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.core.items import Event, EventUpdate
from bot.core.launches import Launch

# An item of any feed: what an alert is about and what a detector compares.
Item = Event | Launch

if TYPE_CHECKING:
    # Kinds build alerts, so they import this module; it reaches them only lazily (below).
    from bot.core.kinds import (
        ALL_KINDS,
        AlertKind,
        Kind,
        new_event_alert,
        reminder_alert,
        rescheduled_alert,
        update_alert,
        webcast_live_alert,
    )


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing worth telling a channel about one item (an event or a launch)."""

    kind: Kind
    event: Item  # the item, whatever its feed (named ``event`` since events came first)
    discriminator: str
    update: EventUpdate | None = None  # for ``update``
    # For ``update``: several new updates of one poll told in one alert, newest first.
    updates: tuple[EventUpdate, ...] = ()
    previous_date: datetime | None = None  # for ``rescheduled``
    # For ``rescheduled``: the precision of the date last announced (None: the item's own).
    previous_precision: str | None = None
    # For ``status``: the status before (id, name), None on first sight.
    previous_status: tuple[int, str] | None = None
    lead: timedelta | None = None  # for ``reminder``

    @property
    def feed(self) -> str:
        """Return the feed of the item this alert is about (``events`` or ``launches``)."""
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


# Names that moved to the registry, still importable from here for existing callers.
_MOVED = frozenset(
    {
        "ALL_KINDS",
        "AlertKind",
        "new_event_alert",
        "reminder_alert",
        "rescheduled_alert",
        "update_alert",
        "webcast_live_alert",
    }
)


def __getattr__(name: str) -> Any:
    """Resolve a name that moved to :mod:`bot.core.kinds` (PEP 562)."""
    if name in _MOVED:
        from bot.core import kinds

        return getattr(kinds, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALL_KINDS",
    "Alert",
    "Item",
    "AlertKind",
    "new_event_alert",
    "reminder_alert",
    "rescheduled_alert",
    "update_alert",
    "webcast_live_alert",
]
