"""Golden output of render_alert and alert_json: rendering must stay byte-identical.

``golden_alerts.jsonl`` (one alert JSON line per case) was written by the renderer before
it was made cheaper (issue 13): the benchmark's page of 100 synthetic events, every recorded
event and launch for every kind and several role sets, and hostile LL2 text and URLs. Any
change to a rendered byte fails here; regenerate only for an intended change, with
``TMINUS_REGEN_GOLDEN=1 python3 -m pytest tests/unit/render/test_golden.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.alerts import Alert
from bot.core.kinds import (
    new_event_alert,
    reminder_alert,
    update_alert,
    webcast_live_alert,
)
from bot.core.kinds.status import status_alert
from bot.devtools.ll2_emulator import render_event, synthetic_events
from bot.ll2.parse import parse_events, parse_launch
from bot.render import alert_json, render_alert
from tests.unit.render._helpers import all_alerts, fixture_events, make_event
from tests.unit.render.test_launches import _recorded, make_launch

GOLDEN = Path(__file__).with_name("golden_alerts.jsonl")
START = datetime(2026, 3, 1, 12, tzinfo=UTC)
ROLE_SETS: tuple[tuple[int, ...], ...] = ((), (42,), (7, 3, 7))


def _page_alerts() -> list[Alert]:
    """The sync benchmark's page: 100 synthetic events, each with a fresh update."""
    raw = [
        render_event(e, "2.2.0", base="http://127.0.0.1")
        for e in synthetic_events(100, start=START, seed=3)
    ]
    for item in raw:
        item["updates"] = [
            *(item.get("updates") or []),
            {
                "id": 990_000 + item["id"],
                "profile_image": None,
                "comment": "Round 1: status update",
                "info_url": None,
                "created_by": "LL2",
                "created_on": "2026-03-01T12:00:00Z",
            },
        ]
    good, rejected = parse_events(raw)
    assert not rejected
    return [update_alert(event, event.updates[-1]) for event in good]


def _hostile_alerts() -> list[Alert]:
    long_url = "https://example.com/" + "a" * 600  # too long for a button, fine for an embed
    events = [
        make_event(
            name="**Bold** _x_ @everyone <@123> \x00\x1f ` | [a](b) \r\n second line",
            description="d" * 10_000 + " @here <@&5>",
            location="L" * 5000,
            agencies=[{"id": i, "name": f"Agency {i} " + "x" * 200} for i in range(30)],
            program=[{"id": i, "name": "P" * 300} for i in range(10)],
            updates=[{"id": 1, "comment": "c" * 10_000, "created_by": "b" * 1000}],
        ),
        make_event(
            url="javascript:alert(1)",
            feature_image="https://exa mple.com/x.jpg",
            news_url="  https://news.example.com/a?b=c#d  ",
            info_urls=[{"url": "http://[::1]:80/x"}, {"url": "https://ok.example.com/"}],
            vid_urls=[
                {"priority": 1, "url": "https://a.example.com:99999/x", "publisher": None},
                {"priority": 2, "url": "https://b.example.com/[x]", "publisher": "B"},
                {"priority": 3, "url": "https://c.example.com/%zz", "publisher": "C"},
                {"priority": 4, "url": long_url, "publisher": None, "title": "t" * 300},
                {"priority": 5, "url": "ftp://d.example.com/", "publisher": "D"},
                {"priority": 6, "url": " https://e.example.com/(x) ", "publisher": ""},
                {"priority": 7, "url": "https://e.example.com/(x)", "publisher": "dup"},
                {"priority": 8, "url": "HTTPS://F.example.com/", "source": "src " * 40},
                {"priority": 9, "url": "https://g.example.com/", "publisher": "G"},
                {"priority": 10, "url": "https:///nohost", "publisher": "H"},
            ],
            video_url="https://fallback.example.com/v",
            updates=[
                {"id": 2, "comment": None, "info_url": "https://i.example.com/ok"},
                {"id": 3, "comment": "x", "info_url": "mailto:a@b.c", "created_on": None},
            ],
        ),
        make_event(name="", type=None, agencies=[], program=[], vid_urls=[], updates=[]),
    ]
    return [alert for event in events for alert in all_alerts(event)]


def _launch_alerts() -> list[Alert]:
    launches = [parse_launch(raw) for raw in _recorded()]
    launches.append(make_launch(webcast_live=True))
    built: list[Alert] = []
    for launch in launches:
        built += [
            new_event_alert(launch),
            webcast_live_alert(launch),
            reminder_alert(launch, timedelta(hours=1)),
        ]
        if launch.status is not None:
            built.append(status_alert(launch, None))
        built += [update_alert(launch, update) for update in launch.updates[:2]]
    return built


def _cases() -> Iterator[tuple[str, Alert, tuple[int, ...]]]:
    for alert in _page_alerts():
        yield "page", alert, ()
    for alert in [a for event in fixture_events() for a in all_alerts(event)]:
        for roles in ROLE_SETS:
            yield "fixture", alert, roles
    for alert in _launch_alerts():
        yield "launch", alert, (42,)
    for alert in _hostile_alerts():
        yield "hostile", alert, (9,)


def rendered() -> list[dict[str, Any]]:
    """Render every case as its alert JSON line, the message inside."""
    lines = []
    for group, alert, roles in _cases():
        message = render_alert(alert, mention_role_ids=roles)
        line = alert_json(
            alert, key=alert.key(f"{group}:{roles}"), subscription_id=1, message=message
        )
        lines.append(line)
    return lines


def test_rendering_is_byte_identical_to_the_golden_output() -> None:
    """Every case renders exactly the JSON recorded before rendering was made cheaper."""
    got = [json.dumps(line, ensure_ascii=False) for line in rendered()]
    if os.environ.get("TMINUS_REGEN_GOLDEN") == "1":
        GOLDEN.write_text("\n".join(got) + "\n", encoding="utf-8")
        pytest.skip("golden output regenerated")
    want = GOLDEN.read_text(encoding="utf-8").splitlines()
    assert len(got) == len(want)
    for index, (mine, theirs) in enumerate(zip(got, want, strict=True)):
        if mine != theirs:
            assert json.loads(mine) == json.loads(theirs), f"case {index} differs"
            raise AssertionError(f"case {index}: same object, different bytes (key order?)")
