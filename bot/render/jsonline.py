"""The alert JSON line (``tminus watch --format json``, and what the outbox stores)."""

from __future__ import annotations

from typing import Any

from bot.core.alerts import Alert
from bot.core.timeutil import isoformat_z
from bot.render.payload import MessagePayload


def alert_json(
    alert: Alert, *, key: str, subscription_id: int | None, message: MessagePayload
) -> dict[str, Any]:
    """Return the alert JSON line object for one rendered alert (README, "Alert JSON")."""
    event = alert.event
    return {
        "kind": alert.kind.name,
        "key": key,
        "feed": alert.feed,
        "event": {
            "id": event.id,
            "name": event.name,
            "slug": event.slug,
            "type": {"id": event.type.id, "name": event.type.name} if event.type else None,
            "date": isoformat_z(event.date) if event.date is not None else None,
        },
        "subscription": subscription_id,
        "message": message,
    }
