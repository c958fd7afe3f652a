"""The alert JSON line (``tminus watch --format json``, and what the outbox stores)."""

from __future__ import annotations

from typing import Any

from bot.core.alerts import Alert
from bot.core.items import Event
from bot.core.launches import Launch
from bot.core.timeutil import isoformat_z
from bot.render.payload import MessagePayload


def event_json(event: Event) -> dict[str, Any]:
    """Return the ``event`` object of an alert line: id, name, slug, type and date."""
    return {
        "id": event.id,
        "name": event.name,
        "slug": event.slug,
        "type": {"id": event.type.id, "name": event.type.name} if event.type else None,
        "date": isoformat_z(event.date) if event.date is not None else None,
    }


def launch_json(launch: Launch) -> dict[str, Any]:
    """Return the ``launch`` object of an alert line: id, name, slug, status, NET, provider."""
    status = launch.status
    provider = launch.launch_service_provider
    return {
        "id": launch.id,
        "name": launch.name,
        "slug": launch.slug,
        "status": (
            {"id": status.id, "name": status.name, "abbrev": status.abbrev} if status else None
        ),
        "net": isoformat_z(launch.net) if launch.net is not None else None,
        "provider": {"id": provider.id, "name": provider.name} if provider else None,
    }


def alert_json(
    alert: Alert, *, key: str, subscription_id: int | None, message: MessagePayload
) -> dict[str, Any]:
    """Return the alert JSON line object for one rendered alert (README, "Alert JSON").

    An event's alert carries ``"event": {…}``, a launch's ``"launch": {…}`` (README,
    "Command line").
    """
    item: Event | Launch = alert.event
    line: dict[str, Any] = {"kind": alert.kind.name, "key": key, "feed": alert.feed}
    if isinstance(item, Launch):
        line["launch"] = launch_json(item)
    else:
        line["event"] = event_json(item)
    line["subscription"] = subscription_id
    line["message"] = message
    return line
