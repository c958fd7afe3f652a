"""Parse LL2 answers into the core's items: lenient per item, one bad item never a page."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from bot.core.items import Event

log = logging.getLogger(__name__)


def parse_event(raw: Any) -> Event:
    """Parse one LL2 event object; raise ``ValueError`` when it is unusable."""
    try:
        return Event.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(_summarise(exc)) from None


def parse_items(results: Any) -> tuple[list[tuple[Event, dict[str, Any]]], list[tuple[Any, str]]]:
    """Parse a page's ``results``: ``(event, raw item)`` pairs, and ``(id, reason)`` rejects."""
    parsed: list[tuple[Event, dict[str, Any]]] = []
    rejected: list[tuple[Any, str]] = []
    if not isinstance(results, list):
        return parsed, [(None, "results is not a list")]
    for item in results:
        item_id = item.get("id") if isinstance(item, dict) else None
        try:
            parsed.append((parse_event(item), item))
        except ValueError as exc:
            log.warning("skipping malformed LL2 event id=%s: %s", item_id, exc)
            rejected.append((item_id, str(exc)))
    return parsed, rejected


def parse_events(results: Any) -> tuple[list[Event], list[tuple[Any, str]]]:
    """Parse a page's ``results``: return the good events and ``(id, reason)`` for bad items."""
    parsed, rejected = parse_items(results)
    return [event for event, _ in parsed], rejected


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
