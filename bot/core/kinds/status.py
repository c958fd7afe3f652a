"""``status``: a launch's status changed (Go, TBD, TBC, Hold, In Flight, Success, Failure …).

Keyed by the new status id and the transition's ``last_updated``: a launch that goes Hold,
Go, Hold again raises each transition once, and the same transition seen twice is one alert.
The item's own embed fields carry LL2's ``holdreason``/``failreason``; the kind adds the
step from the old status to the new one.
"""

from __future__ import annotations

from bot.core.alerts import Alert, Item
from bot.core.kinds._base import DetectContext, Kind, Look, Markup
from bot.core.launches import Launch, LaunchStatus
from bot.core.timeutil import isoformat_z

EMOJI = "🚦"


def status_alert(launch: Launch, previous: LaunchStatus | None) -> Alert:
    """Build the alert, keyed by the new status id and the transition's ``last_updated``."""
    assert launch.status is not None
    return Alert(
        KIND,
        launch,
        f"{launch.status.id}@{isoformat_z(launch.last_updated)}",
        previous_status=(previous.id, _label(previous)) if previous else None,
    )


def _label(status: LaunchStatus) -> str:
    # "Go", "TBD", "In Flight": the short name reads best; LL2's long one when none.
    return status.abbrev or status.name


def detect(stored: Item | None, new: Item, context: DetectContext) -> list[Alert]:
    """Alert when a stored launch's status id differs from the new one.

    A first sight has no "before" (while seeding it is history; after, ``new_event`` tells
    it); events have no status.
    """
    if not isinstance(new, Launch) or not isinstance(stored, Launch) or new.status is None:
        return []
    if stored.status is not None and stored.status.id == new.status.id:
        return []
    return [status_alert(new, stored.status)]


def _new_label(alert: Alert, markup: Markup) -> str:
    item = alert.event
    status = item.status if isinstance(item, Launch) else None
    return markup.text(_label(status)) if status is not None else "?"


def content(alert: Alert, markup: Markup) -> str:
    """Return the content line: "🚦 Go · **name**"."""
    return f"{EMOJI} {_new_label(alert, markup)} · {markup.name(alert.event)}"


def look(alert: Alert, markup: Markup) -> Look:
    """Show the step from the old status to the new one first."""
    new = _new_label(alert, markup)
    if alert.previous_status is not None:
        step = f"~~{markup.text(alert.previous_status[1])}~~ → **{new}**"
    else:
        step = f"**{new}**"
    return Look(banner=f"{EMOJI} Status · {new}", fields=[(f"{EMOJI} Status", step)])


KIND = Kind(
    name="status",
    label="Status",
    when="a launch's status changed (Go, Hold, In Flight, Success, Failure …)",
    discriminator="new status id and the transition's last_updated",
    colour=0x9B59B6,
    emoji=EMOJI,
    rank=45,
    detect=detect,
    content=content,
    look=look,
)
