"""Parsing hostile items: what no store can hold is cleaned, a bad nested item costs only itself."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from bot.core.items import Event
from bot.devtools.factories import make_event
from bot.ll2.parse import clean, clean_text, parse_event, parse_items

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def raw_event(event_id: int = 1) -> dict[str, object]:
    """Return a realistic 2.2.0 event with two updates and its recorded webcasts."""
    return make_event(event_id, "Crew Docking", date=T0, last_updated=T0)


def test_clean_text_drops_nul_and_replaces_lone_surrogates() -> None:
    """NUL goes, each lone surrogate becomes U+FFFD, a real astral character stays."""
    assert clean_text("a\x00b\ud800c\udfffd 🚀") == "ab\ufffdc\ufffdd 🚀"
    assert clean_text("plain").encode("utf-8") == b"plain"


def test_clean_reaches_every_string_and_leaves_clean_data_uncopied() -> None:
    """Keys, nested lists and dicts are cleaned; data with nothing to clean is returned as is."""
    data = json.loads('{"n\\u0000ame": ["x\\ud800", {"deep": "\\u0000"}], "ok": 1}')
    assert clean(data) == {"name": ["x\ufffd", {"deep": ""}], "ok": 1}
    tidy = {"a": ["b", {"c": "d"}], "n": 3}
    assert clean(tidy) is tidy


def test_a_poisoned_event_parses_and_its_snapshot_encodes() -> None:
    """Poison in the name, an update comment and a URL: the event and its raw item are clean."""
    raw = raw_event()
    raw["name"] = "Soyuz\x00 \ud800MS-28"
    raw["updates"][0]["comment"] = "\x00\x00hello"  # type: ignore[index]
    raw["vid_urls"][0]["url"] = "https://example.com/\ud800"  # type: ignore[index]
    [(event, snapshot)], rejected = parse_items([raw])
    assert rejected == []
    assert event.name == "Soyuz \ufffdMS-28"
    assert event.updates[0].comment == "hello"
    json.dumps(snapshot, ensure_ascii=False).encode("utf-8")  # no UnicodeEncodeError
    assert "\x00" not in json.dumps(snapshot)
    assert parse_event(raw).name == event.name


def test_a_too_deeply_nested_item_is_rejected_alone() -> None:
    """An item nested past the recursion limit is one reject; its neighbour parses."""
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    bad = dict(raw_event(2), description=deep)
    parsed, rejected = parse_items([bad, raw_event(3)])
    assert [event.id for event, _ in parsed] == [3]
    assert rejected == [(2, "nested too deeply")]


@pytest.mark.parametrize(
    ("key", "bad", "reason"),
    [
        ("vid_urls", {"url": None, "priority": 1}, "url"),
        ("updates", {"id": 99, "created_on": "garbage"}, "created_on"),
        ("agencies", {"id": 1, "name": None}, "name"),
        ("program", {"id": 17}, "name"),
    ],
)
def test_a_malformed_nested_item_is_dropped_and_the_event_kept(
    key: str, bad: dict[str, object], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One bad entry first in its list: dropped with a logged reason, the rest kept."""
    raw = raw_event(40 + len(key))
    good = list(raw.get(key) or [])  # type: ignore[call-overload]
    if not good:
        good = [{"id": 5, "name": "Good"}] if key in ("agencies", "program") else good
    raw[key] = [bad, *good]
    with caplog.at_level(logging.WARNING):
        event = parse_event(raw)
    field = "programs" if key == "program" else key
    assert len(getattr(event, field)) == len(good)
    said = [r.getMessage() for r in caplog.records]
    assert any(f"{field}[0]" in m and reason in m for m in said), said


def test_a_malformed_type_or_precision_is_ignored_not_fatal() -> None:
    """A type without a name, a precision that is a number: the event stays, those are None."""
    raw = raw_event(60)
    raw["type"] = {"id": 2, "name": None}
    raw["date_precision"] = 7
    event = parse_event(raw)
    assert event.type is None and event.date_precision is None


def test_a_non_list_nested_field_reads_as_empty() -> None:
    """``updates: "none"`` is no list: no updates, not a rejected event."""
    raw = raw_event(61)
    raw["updates"] = "none"
    assert parse_event(raw).updates == ()


def test_a_launch_is_still_rejected_by_its_id_without_part_by_part_noise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An item that fails as a whole says why once; its nested parts are not reported."""
    raw = raw_event(62)
    raw["id"] = "ac897b9f-44d2-4ff4-8416-1a0a076e98a2"
    raw["agencies"] = [{"id": 1, "name": None}]
    with caplog.at_level(logging.WARNING):
        parsed, rejected = parse_items([raw])
    assert parsed == [] and len(rejected) == 1
    assert len(caplog.records) == 1


def test_the_same_dropped_item_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    """Stored snapshots are parsed again on each lookup: the drop is logged the first time only."""
    raw = raw_event(63)
    raw["vid_urls"] = [{"url": None}]
    with caplog.at_level(logging.WARNING, logger="bot.core.items"):
        for _ in range(3):
            assert isinstance(Event.model_validate(raw), Event)
    assert len([r for r in caplog.records if r.name == "bot.core.items"]) == 1
