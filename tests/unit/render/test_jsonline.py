"""Tests for bot.render.jsonline: the alert JSON line."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.core.kinds import (
    new_event_alert,
    reminder_alert,
)
from bot.render import (
    alert_json,
    render_alert,
)
from tests.unit.render._helpers import (
    make_event,
)


def test_alert_json_has_exactly_the_design_keys() -> None:
    """alert_json emits the alert line: kind, key, feed, event{…}, subscription, message."""
    alert = reminder_alert(make_event(), timedelta(hours=1))
    message = render_alert(alert, mention_role_ids=[7])
    line = alert_json(alert, key=alert.key("console:3"), subscription_id=3, message=message)
    assert set(line) == {"kind", "key", "feed", "event", "subscription", "message"}
    assert line["feed"] == "events"
    assert set(line["event"]) == {"id", "name", "slug", "type", "date"}
    assert set(line["message"]) == {"content", "embeds", "components", "allowed_mentions"}
    assert line["kind"] == "reminder"
    assert line["key"] == "console:3:events:1300:reminder:1h@2026-11-27T12:38:29Z"
    assert line["event"] == {
        "id": 1300,
        "name": "Soyuz MS-28 Docking",
        "slug": "soyuz-ms-28-docking",
        "type": {"id": 2, "name": "Docking"},
        "date": "2026-11-27T12:38:29Z",
    }
    assert line["subscription"] == 3
    assert line["message"] == message
    assert json.loads(json.dumps(line)) == line


def test_alert_json_uses_null_for_a_missing_type_and_date() -> None:
    """An event without type or date serialises them as null."""
    alert = new_event_alert(make_event(type=None, date=None))
    line = alert_json(alert, key="k", subscription_id=None, message=render_alert(alert))
    assert line["event"]["type"] is None
    assert line["event"]["date"] is None
    assert line["subscription"] is None
