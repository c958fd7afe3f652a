"""``update``: a new entry in an item's ``updates`` list, keyed by the update's id."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.alerts import Alert, Item
from bot.core.items import EventUpdate
from bot.core.kinds._base import DetectContext, Kind, Look, Markup

EMOJI = "📰"
# More new updates than this to one item in one poll become one alert listing them (a burst
# of 300 must not post 300 messages, each pinging the role: issue 9.8).
COALESCE_AFTER = 3
# How many of a burst's updates the message shows, newest first (Discord allows 25 fields
# and 6000 characters per embed; the renderer fits what is shown).
SHOWN = 8


def update_alert(event: Item, update: EventUpdate) -> Alert:
    """Build the alert for a new entry in ``event.updates``."""
    return Alert(KIND, event, str(update.id), update=update)


def burst_alert(event: Item, fresh: Sequence[EventUpdate]) -> Alert:
    """Build one alert for several new updates (``fresh`` oldest first).

    The discriminator is the newest update's id and how many came with it: the same poll
    re-run after a crash finds the same new updates, so the same key (docs/architecture.md,
    invariant 3).
    """
    newest_first = tuple(reversed(fresh))
    newest = newest_first[0]
    return Alert(KIND, event, f"{newest.id}+{len(fresh) - 1}", update=newest, updates=newest_first)


def detect(stored: Item | None, new: Item, context: DetectContext) -> list[Alert]:
    """Alert on every update the store has not seen, oldest first; a burst as one alert.

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
    if len(fresh) > COALESCE_AFTER:
        return [burst_alert(new, fresh)]
    return [update_alert(new, u) for u in fresh]


def content(alert: Alert, markup: Markup) -> str:
    """Return the content line: "📰 New update · **name**" (or "📰 12 new updates · …")."""
    if len(alert.updates) > 1:
        return f"{EMOJI} {len(alert.updates)} new updates · {markup.name(alert.event)}"
    return f"{EMOJI} New update · {markup.name(alert.event)}"


def _burst_look(alert: Alert, markup: Markup) -> Look:
    """List a burst's newest updates, one field each, and say how many more there were."""
    shown = alert.updates[:SHOWN]
    fields = []
    for update in shown:
        who = markup.text(update.created_by)
        fields.append(
            (f"{EMOJI} Update by {who}" if who else f"{EMOJI} Update", markup.update(update))
        )
    more = len(alert.updates) - len(shown)
    if more:
        fields.append((f"{EMOJI} And {more} earlier", f"{more} earlier update(s) not shown here"))
    return Look(banner=f"{EMOJI} {len(alert.updates)} new updates", fields=fields)


def look(alert: Alert, markup: Markup) -> Look:
    """Show who wrote the update, with their picture, and the update itself first."""
    if len(alert.updates) > 1:
        return _burst_look(alert, markup)
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
