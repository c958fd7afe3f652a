"""``webcast_live``: LL2's ``webcast_live`` went from false to true (or was true at first sight)."""

from __future__ import annotations

from datetime import timedelta

from bot.core.alerts import Alert, Item
from bot.core.kinds._base import DetectContext, Kind, Look, Markup
from bot.core.timeutil import isoformat_z

EMOJI = "🔴"
# While seeding, an item dated further back than this is not live "right now": the longest
# webcasts (an EVA) run some 8 hours from the date; a flag on long after is a stale edit.
STALE_AFTER = timedelta(hours=12)


def webcast_live_alert(event: Item) -> Alert:
    """Build the alert for a webcast going live, keyed by the transition's ``last_updated``.

    One item can go live more than once (a scrub, then a second attempt): each live episode
    is its own alert, and the same episode seen twice is one.
    """
    return Alert(KIND, event, isoformat_z(event.last_updated))


def detect(stored: Item | None, new: Item, context: DetectContext) -> list[Alert]:
    """Alert when the webcast is live now and was not before, even while seeding.

    A stream live right now is news to a new store too (docs/architecture.md, invariant 4).
    """
    if not new.webcast_live or (stored is not None and stored.webcast_live):
        return []
    if context.seeding and new.date is not None and new.date < context.now - STALE_AFTER:
        # A flag left on by LL2's editors long after the item (a launch "live" since
        # January) is history to a new store, not a stream to watch now.
        return []
    return [webcast_live_alert(new)]


def content(alert: Alert, markup: Markup) -> str:
    """Return the content line: "🔴 LIVE now · **name**"."""
    return f"{EMOJI} LIVE now · {markup.name(alert.event)}"


def look(alert: Alert, markup: Markup) -> Look:
    """List the streams first, and link the title to the best one."""
    return Look(
        banner=f"{EMOJI} LIVE",
        fields=[(f"{EMOJI} Watch live", markup.webcasts(alert.event))],
        link_webcast=True,
    )


KIND = Kind(
    name="webcast_live",
    label="Webcast live",
    when="a webcast went live",
    discriminator="the transition's last_updated",
    colour=0xE74C3C,
    emoji=EMOJI,
    rank=30,
    detect=detect,
    content=content,
    look=look,
)
