"""``webcast_live``: LL2's ``webcast_live`` went from false to true (or was true at first sight)."""

from __future__ import annotations

from bot.core.alerts import Alert, Item
from bot.core.kinds._base import DetectContext, Kind, Look, Markup
from bot.core.timeutil import isoformat_z

EMOJI = "🔴"


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
    if new.webcast_live and (stored is None or not stored.webcast_live):
        return [webcast_live_alert(new)]
    return []


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
