"""Parsing launches: every recorded launch in 2.2.0 as recorded and 2.3.0 as the emulator
renders it, into the same values; one bad item never costs the page; unstorable text."""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

import pytest

from bot.core.launches import Launch
from bot.devtools.ll2_emulator import load_recorded_launches, normalize_launch, render_launch
from bot.ll2.parse import parse_launch, parse_launch_items, parse_launches

LAUNCH_FILES = sorted(
    p.name
    for p in resources.files("bot").joinpath("data", "ll2").iterdir()
    if p.name.startswith("launch") and p.name.endswith(".2.2.0.json")
)
DETAILED_FILES = [n for n in LAUNCH_FILES if n != "launch-upcoming-list.2.2.0.json"]
BASE = "https://ll.thespacedevs.com"


def _recording(name: str) -> Any:
    return json.loads(resources.files("bot").joinpath("data", "ll2", name).read_text("utf-8"))


def _all_recorded() -> list[dict[str, Any]]:
    return [raw for name in DETAILED_FILES for raw in _recording(name)["results"]]


def comparable(launch: Launch) -> dict[str, Any]:
    """What must not depend on the version LL2 answered in (``holdreason``: 2.2.0 only)."""
    return {
        "id": launch.id,
        "name": launch.name,
        "slug": launch.slug,
        "status": launch.status,
        "net": launch.net,
        "net_precision": launch.net_precision,
        "window": (launch.window_start, launch.window_end),
        "probability": launch.probability,
        "failreason": launch.failreason,
        "provider": launch.launch_service_provider,
        "rocket": launch.rocket.name if launch.rocket else None,
        "mission": launch.mission,
        "pad": launch.pad,
        "webcast_live": launch.webcast_live,
        "image_url": launch.image_url,
        "info_urls": launch.info_urls,
        "streams": [
            (v.url, v.priority, v.language_code, v.start_time, v.title) for v in launch.vid_urls
        ],
        # prod lists updates newest first, lldev oldest first: the set is what counts
        "updates": sorted(launch.updates, key=lambda u: u.id),
        "programs": [p.id for p in launch.programs],
        "last_updated": launch.last_updated,
    }


def test_the_bundled_launch_files_are_the_ones_this_module_reads() -> None:
    """Four launch recordings are bundled: three detailed, one list page."""
    assert LAUNCH_FILES == [
        "launch-page-13-updates-lldev.2.2.0.json",
        "launch-page-single-detailed.2.2.0.json",
        "launch-upcoming-list.2.2.0.json",
        "launches-selection.2.2.0.json",
    ]


@pytest.mark.parametrize("name", DETAILED_FILES)
def test_every_recorded_2_2_0_launch_parses_as_recorded(name: str) -> None:
    """Each recorded detailed launch parses, nothing rejected, every field LL2 sent kept."""
    raws = _recording(name)["results"]
    launches, rejected = parse_launches(raws)
    assert rejected == [] and len(launches) == len(raws)
    for launch, raw in zip(launches, raws, strict=True):
        assert launch.id == raw["id"] and launch.name == raw["name"]
        assert launch.status is not None and launch.status.id == raw["status"]["id"]
        assert launch.status.abbrev == raw["status"]["abbrev"]
        assert [u.id for u in launch.updates] == [u["id"] for u in raw["updates"]]
        assert [v.url for v in launch.vid_urls] == [v["url"] for v in raw["vidURLs"]]
        assert launch.image_url == raw["image"]
        assert launch.launch_service_provider is not None
        assert launch.launch_service_provider.id == raw["launch_service_provider"]["id"]
        assert launch.rocket is not None
        assert launch.rocket.name == raw["rocket"]["configuration"]["name"]
        assert launch.pad is not None and launch.pad.location is not None
        assert launch.pad.location.id == raw["pad"]["location"]["id"]
        assert [p.id for p in launch.programs] == [p["id"] for p in raw["program"]]
        assert launch.failreason == (raw["failreason"] or None)
        assert launch.webcast_live is raw["webcast_live"]


def test_the_recordings_hold_streams_with_start_times_and_a_failure_reason() -> None:
    """The recordings exercise what alerts need: stream start times, a failreason, live."""
    launches, _ = parse_launches(_all_recorded())
    assert any(v.start_time for x in launches for v in x.vid_urls)
    assert any(x.failreason for x in launches)
    assert any(x.webcast_live for x in launches)
    assert {x.precision_name for x in launches} >= {"minute", "second", "month", "quarter 1"}


@pytest.mark.parametrize("mode", ["detailed", "normal", "list"])
def test_every_recorded_launch_reads_the_same_from_2_3_0(mode: str) -> None:
    """Rendered as 2.3.0 answers it, each launch parses to the same values as in 2.2.0."""
    for raw in _all_recorded():
        internal = normalize_launch(raw)
        old = parse_launch(render_launch(internal, "2.2.0", base=BASE, mode=mode))
        new = parse_launch(render_launch(internal, "2.3.0", base=BASE, mode=mode))
        if mode == "detailed":
            assert comparable(old) == comparable(new), raw["name"]
            assert comparable(old) == comparable(parse_launch(raw))
        else:
            # normal and list leave out updates and streams: tminus asks for detailed
            assert (old.id, old.status, old.net) == (new.id, new.status, new.net)
            assert new.updates == () and new.vid_urls == ()


def test_the_2_3_0_live_flag_is_read() -> None:
    """A 2.3.0 stream marked live reads as live; 2.2.0 has no such flag."""
    internal = normalize_launch(_all_recorded()[0])
    internal["vid_urls"] = (
        [{**internal["vid_urls"][0], "live": True}]
        if internal["vid_urls"]
        else [{"url": "https://youtu.be/x", "priority": 1, "live": True}]
    )
    launch = parse_launch(render_launch(internal, "2.3.0", base=BASE))
    assert launch.vid_urls[0].live is True


def test_the_list_mode_recording_parses_with_names_only() -> None:
    """mode=list rows parse (names for mission, pad and location) rather than failing."""
    raws = _recording("launch-upcoming-list.2.2.0.json")["results"]
    launches, rejected = parse_launches(raws)
    assert rejected == [] and len(launches) == len(raws)
    assert launches[0].mission is not None and launches[0].mission.name == raws[0]["mission"]
    assert launches[0].location == raws[0]["location"]
    assert all(x.updates == () for x in launches)


def test_one_bad_launch_never_costs_the_page(caplog: pytest.LogCaptureFixture) -> None:
    """An event (integer id), a launch without last_updated and junk are rejected alone."""
    good = _all_recorded()[:2]
    results = [
        good[0],
        {"id": 1300, "name": "Soyuz MS-28 Docking", "last_updated": "2025-01-01T00:00:00Z"},
        {k: v for k, v in good[1].items() if k != "last_updated"},
        "junk",
        good[1],
    ]
    with caplog.at_level(logging.WARNING, logger="bot.ll2.parse"):
        parsed, rejected = parse_launch_items(results)
    assert [x.id for x, _ in parsed] == [good[0]["id"], good[1]["id"]]
    assert [item_id for item_id, _ in rejected] == [1300, good[1]["id"], None]
    assert all("LL2 launch" in r.getMessage() for r in caplog.records)
    assert parse_launch_items({"results": "no"})[1] == [(None, "results is not a list")]


def test_text_no_store_can_hold_is_cleaned_in_the_launch_and_its_snapshot() -> None:
    """NUL is removed and a lone surrogate replaced, in the model and in the stored raw."""
    raw = dict(_all_recorded()[0])
    raw["name"] = "Falcon\x00 9 | Star\ud800link"
    raw["failreason"] = "bad\x00"
    parsed, rejected = parse_launch_items([raw])
    assert rejected == []
    launch, snapshot = parsed[0]
    assert launch.name == "Falcon 9 | Star\ufffdlink" == snapshot["name"]
    assert launch.failreason == "bad"
    assert parse_launch(raw).name == launch.name


def test_a_hopelessly_deep_launch_is_rejected_not_a_crash() -> None:
    """A nesting deep enough to exhaust the recursion limit is one rejected item."""
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    raw = {**_all_recorded()[0], "mission": deep}
    parsed, rejected = parse_launch_items([raw])
    assert parsed == [] and rejected[0][1] == "nested too deeply"
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_launch(raw)


def test_the_emulators_recordings_are_the_bundled_launches() -> None:
    """The emulator serves exactly the bundled detailed launches (no invented ones)."""
    assert {x["id"] for x in load_recorded_launches()} == {x["id"] for x in _all_recorded()}
