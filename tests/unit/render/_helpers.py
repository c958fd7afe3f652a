"""Shared builders for the bot.render tests: a parsed event, one alert of every kind, fixtures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

from hypothesis import HealthCheck, settings

from bot.core.alerts import Alert
from bot.core.items import Event
from bot.core.kinds import (
    new_event_alert,
    reminder_alert,
    rescheduled_alert,
    update_alert,
    webcast_live_alert,
)
from bot.ll2.parse import parse_event, parse_events

DATE = "2026-11-27T12:38:29Z"
UNIX = int(datetime(2026, 11, 27, 12, 38, 29, tzinfo=UTC).timestamp())
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_event(**overrides: Any) -> Event:
    """Build a parsed 2.2.0-shaped event with sensible defaults."""
    raw: dict[str, Any] = {
        "id": 1300,
        "slug": "soyuz-ms-28-docking",
        "name": "Soyuz MS-28 Docking",
        "url": "https://ll.thespacedevs.com/2.2.0/event/1300/",
        "type": {"id": 2, "name": "Docking"},
        "description": "The Soyuz MS-28 spacecraft will dock to the ISS.",
        "location": "International Space Station",
        "date": DATE,
        "date_precision": {"id": 1, "name": "Minute", "abbrev": "MIN"},
        "last_updated": "2025-11-27T12:46:33Z",
        "feature_image": "https://example.com/soyuz.jpg",
        "agencies": [{"id": 63, "name": "Roscosmos", "abbrev": "RFSA"}],
        "program": [{"id": 17, "name": "International Space Station"}],
        "updates": [
            {
                "id": 12946,
                "comment": "Added docking.",
                "info_url": "https://example.com/info",
                "created_by": "Cosmic_Penguin",
                "created_on": "2025-11-19T15:17:00Z",
            }
        ],
        "vid_urls": [
            {
                "priority": 12,
                "publisher": "Роскосмос ТВ",
                "url": "https://www.youtube.com/watch?v=ru",
                "language": {"id": 3, "name": "Russian", "code": "ru"},
            },
            {
                "priority": 10,
                "publisher": "NASA",
                "url": "https://www.youtube.com/watch?v=en",
                "language": {"id": 1, "name": "English", "code": "en"},
            },
        ],
    }
    raw.update(overrides)
    return parse_event(raw)


def all_alerts(event: Event) -> list[Alert]:
    """Return one alert of every kind about ``event``."""
    date = event.date or datetime(2026, 1, 1, tzinfo=UTC)
    dated = event if event.date else event.model_copy(update={"date": date})
    built = [
        webcast_live_alert(event),
        rescheduled_alert(dated, date - timedelta(days=2)),
        new_event_alert(event),
        reminder_alert(dated, timedelta(hours=1)),
    ]
    built += [update_alert(event, update) for update in event.updates[:3]]
    return built


def texts_of(payload: Any) -> list[str]:
    """Collect every string in a JSON-like payload."""
    if isinstance(payload, str):
        return [payload]
    if isinstance(payload, dict):
        return [t for value in payload.values() for t in texts_of(value)]
    if isinstance(payload, list):
        return [t for value in payload for t in texts_of(value)]
    return []


def field(embed: Any, name: str) -> str:
    """Return the value of the embed field whose name contains ``name``."""
    for item in embed.get("fields", []):
        if name in item["name"]:
            return str(item["value"])
    raise AssertionError(f"no field {name!r} in {[f['name'] for f in embed.get('fields', [])]}")


def fixture_events() -> list[Event]:
    """Parse every recorded LL2 event shipped in bot/data/ll2."""
    parsed: list[Event] = []
    for path in sorted(files("bot").joinpath("data", "ll2").iterdir(), key=lambda p: p.name):
        if not path.name.startswith("event"):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        if "results" in data:
            good, rejected = parse_events(data["results"])
            assert not rejected, (path.name, rejected)
            parsed.extend(good)
        else:
            parsed.append(parse_event(data))
    return parsed
