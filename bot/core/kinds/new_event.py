"""``new_event``: an item first seen after its feed's seeding sync, and not yet over."""

from __future__ import annotations

from bot.core.alerts import Alert, Item
from bot.core.kinds._base import DetectContext, Kind, Look, Markup

EMOJI = "✨"


def new_event_alert(event: Item) -> Alert:
    """Build the alert for an item first seen after seeding, keyed by its id."""
    return Alert(KIND, event, event.item_id)


def detect(stored: Item | None, new: Item, context: DetectContext) -> list[Alert]:
    """Alert on a first sight outside seeding, unless its date is already past.

    Seeding stays quiet (docs/architecture.md, invariant 4).
    """
    if stored is not None or context.seeding:
        return []
    if new.date is not None and new.date <= context.now:
        return []
    return [new_event_alert(new)]


def content(alert: Alert, markup: Markup) -> str:
    """Return the content line: "✨ New event · **name**"."""
    return f"{EMOJI} New event · {markup.name(alert.event)}"


def look(alert: Alert, markup: Markup) -> Look:
    """Only a banner: the item's own fields are the news."""
    return Look(banner=f"{EMOJI} New event")


KIND = Kind(
    name="new_event",
    label="New event",
    when="an item first seen after its feed's seeding sync",
    discriminator="item id",
    colour=0x2ECC71,
    emoji=EMOJI,
    # First among one change's alerts: "new" reads before "live" about the same item.
    rank=10,
    detect=detect,
    content=content,
    look=look,
)
