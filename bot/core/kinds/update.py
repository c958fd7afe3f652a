"""``update``: a new entry in an item's ``updates`` list, keyed by the update's id."""

from __future__ import annotations

from bot.core.alerts import Alert
from bot.core.items import Event, EventUpdate
from bot.core.kinds._base import DetectContext, Kind, Look, Markup

EMOJI = "📰"


def update_alert(event: Event, update: EventUpdate) -> Alert:
    """Build the alert for a new entry in ``event.updates``."""
    return Alert(KIND, event, str(update.id), update=update)


def detect(stored: Event | None, new: Event, context: DetectContext) -> list[Alert]:
    """Alert on every update the store has not seen, oldest first.

    A first sight has no "before": its updates are history (or the new-item alert's news).
    Seeding does not silence them once an item is stored: they are new to LL2 too.
    """
    if stored is None:
        return []
    known = {u.id for u in stored.updates}
    fresh = sorted(
        (u for u in new.updates if u.id not in known),
        key=lambda u: (u.created_on is None, u.created_on, u.id),
    )
    return [update_alert(new, u) for u in fresh]


def content(alert: Alert, markup: Markup) -> str:
    """Return the content line: "📰 New update · **name**"."""
    return f"{EMOJI} New update · {markup.name(alert.event)}"


def look(alert: Alert, markup: Markup) -> Look:
    """Show who wrote the update, with their picture, and the update itself first."""
    update = alert.update
    if update is None:
        return Look(banner=f"{EMOJI} Update")
    who = markup.text(update.created_by)
    return Look(
        banner=f"{EMOJI} Update by {who}" if who else f"{EMOJI} Update",
        banner_icon=update.profile_image,
        fields=[(f"{EMOJI} Update", markup.update(update))],
    )


KIND = Kind(
    name="update",
    label="New update",
    when="a new entry in an item's updates",
    discriminator="update id",
    colour=0x3498DB,
    emoji=EMOJI,
    rank=20,
    detect=detect,
    content=content,
    look=look,
)
