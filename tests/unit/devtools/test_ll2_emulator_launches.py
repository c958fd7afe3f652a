"""The LL2 emulator's launches: shapes, every filter, modes, paging, budget, OpenAPI, controls."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.devtools.ll2_emulator import (
    FakeClock,
    LL2Emulator,
    load_recorded_launches,
    parse_ll2_datetime,
)
from tests.unit.devtools.test_ll2_emulator import _errors

# The recorded upcoming page was taken on 2026-03-13; the state recordings are older.
NOW = datetime(2026, 3, 13, 12, 0, tzinfo=UTC)
RECORDED = load_recorded_launches()
ARTEMIS = next(x for x in RECORDED if x["name"].endswith("Artemis II"))
FAILURE = next(x for x in RECORDED if (x["status"] or {}).get("id") == 4)
STARLINK_GO = next(
    x for x in RECORDED if x["name"].endswith("Starlink Group 10-48")
)  # Go, probability 75, two streams


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at NOW."""
    return FakeClock(NOW)


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[LL2Emulator]:
    """An unlimited emulator serving the recorded launches (and no events)."""
    async with LL2Emulator([], clock=clock, requests_per_hour=None) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client for loopback."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def _page(http: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    response = await http.get(url, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _ids(http: httpx.AsyncClient, url: str, **params: Any) -> list[str]:
    return [r["id"] for r in (await _page(http, url, **params))["results"]]


def _net(launch: dict[str, Any]) -> datetime:
    return parse_ll2_datetime(launch["net"])


# --------------------------------------------------------------------------------------
# recordings and shapes


def test_the_recorded_launches_load_with_uuid_ids_and_cover_the_states() -> None:
    """16 real launches, each id a UUID; Go, TBD, TBC, Hold, In Flight, Success, Failure."""
    assert len(RECORDED) == 16
    assert all(str(uuid.UUID(x["id"])) == x["id"] for x in RECORDED)
    statuses = {x["status"]["abbrev"] for x in RECORDED}
    assert {"Go", "TBD", "TBC", "Hold", "In Flight", "Success", "Failure"} <= statuses
    assert FAILURE["failreason"]
    assert any(x["webcast_live"] for x in RECORDED)


async def test_2_2_0_detailed_is_the_recorded_shape(
    emu: LL2Emulator, http: httpx.AsyncClient
) -> None:
    """2.2.0 detailed answers vidURLs/infoURLs and image as a URL, like the recording."""
    body = (await http.get(f"{emu.url('2.2.0')}/launch/{ARTEMIS['id']}/")).json()
    assert body["id"] == ARTEMIS["id"] and body["type"] == "detailed"
    assert isinstance(body["image"], str) and "vidURLs" in body and "infoURLs" in body
    assert "vid_urls" not in body and "response_mode" not in body
    # newest first, as prod's 2.2.0 recordings list them
    assert [u["id"] for u in body["updates"]] == [u["id"] for u in ARTEMIS["updates"]][::-1]
    assert body["url"] == f"{emu.base_url}/2.2.0/launch/{ARTEMIS['id']}/"


async def test_2_2_0_modes_narrow_the_shape(emu: LL2Emulator, http: httpx.AsyncClient) -> None:
    """mode=list is the recorded list shape, normal has no updates or streams, detailed has."""
    root = f"{emu.url('2.2.0')}/launch/"
    listed = (await _page(http, root, mode="list"))["results"][0]
    normal = (await _page(http, root))["results"][0]
    detailed = (await _page(http, root, mode="detailed"))["results"][0]
    assert listed["type"] == "list" and isinstance(listed["mission"], (str, type(None)))
    assert {"lsp_name", "pad", "location"} <= set(listed)
    assert normal["type"] == "normal" and "updates" not in normal and "vidURLs" not in normal
    assert set(normal) < set(detailed)


async def test_2_3_0_modes_say_so_and_only_detailed_carries_streams(
    emu: LL2Emulator, http: httpx.AsyncClient
) -> None:
    """2.3.0: response_mode list/normal/detailed; vid_urls (with live) and updates only detailed."""
    root = f"{emu.url('2.3.0')}/launches/"
    listed = (await _page(http, root, mode="list"))["results"][0]
    normal = (await _page(http, root))["results"][0]
    detailed = (await _page(http, root, mode="detailed"))["results"][0]
    assert (listed["response_mode"], normal["response_mode"]) == ("list", "normal")
    assert detailed["response_mode"] == "detailed"
    assert "vid_urls" not in normal and "updates" not in normal
    assert set(listed) < set(normal) < set(detailed)
    assert isinstance(detailed["image"], dict) and "image_url" in detailed["image"]
    assert all("live" in v for v in detailed["vid_urls"])


async def test_2_3_0_launch_answers_validate_against_the_openapi_document(
    emu: LL2Emulator, http: httpx.AsyncClient
) -> None:
    """Every launch in every mode and scope validates against LaunchDetailed/Normal/Basic."""
    schema = {"detailed": "LaunchDetailed", "normal": "LaunchNormal", "list": "LaunchBasic"}
    root = emu.url("2.3.0")
    checked = 0
    for path in ("/launches/", "/launches/upcoming/", "/launches/previous/"):
        for mode, name in schema.items():
            body = await _page(http, root + path, mode=mode)
            for launch in body["results"]:
                assert _errors(launch, name) == [], (path, mode, launch["name"])
                checked += 1
    for launch in RECORDED:
        detail = (await http.get(f"{root}/launches/{launch['id']}/")).json()
        assert detail["response_mode"] == "detailed"
        assert _errors(detail, "LaunchDetailed") == []
    assert checked >= 3 * len(RECORDED)


async def test_changed_launches_still_validate(
    emu: LL2Emulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    """After every control (status, slip, webcast, update, stream, a new launch) it validates."""
    lid = STARLINK_GO["id"]
    emu.set_launch_status(lid, "Hold", holdreason="Weather")
    emu.slip_launch(lid, by=timedelta(minutes=7), net_precision="Second")
    emu.set_launch_webcast(lid, True)
    emu.add_launch_update(lid, "Holding for weather", "https://example.org/hold")
    emu.add_launch_vid_url(lid, "https://example.org/live", start_time=clock())
    added = emu.add_launch({"name": "Electron | Test", "net": NOW + timedelta(days=2)})
    for launch_id in (lid, added["id"]):
        detail = (await http.get(f"{emu.url('2.3.0')}/launches/{launch_id}/")).json()
        assert _errors(detail, "LaunchDetailed") == []


# --------------------------------------------------------------------------------------
# filters


@pytest.mark.parametrize("version", ["2.2.0", "2.3.0"])
async def test_lsp_location_program_and_status_filter_by_id(
    emu: LL2Emulator, http: httpx.AsyncClient, version: str
) -> None:
    """lsp__id, location__ids (comma list), program and status narrow to matching launches."""
    root = f"{emu.url(version)}/{'launch' if version == '2.2.0' else 'launches'}/"
    spacex = await _ids(http, root, lsp__id=121)
    assert spacex and set(spacex) == {
        x["id"] for x in RECORDED if x["launch_service_provider"]["id"] == 121
    }
    locations = await _ids(http, root, location__ids="12,27")
    assert locations and set(locations) == {
        x["id"] for x in RECORDED if x["pad"]["location"]["id"] in (12, 27)
    }
    starlink = await _ids(http, root, program=25)
    assert starlink and set(starlink) == {
        x["id"] for x in RECORDED if 25 in {p["id"] for p in x["program"]}
    }
    failed = await _ids(http, root, status=4)
    assert failed == [x["id"] for x in sorted(RECORDED, key=_net) if x["status"]["id"] == 4]
    several = await _ids(http, root, status__ids="3,4")
    assert set(several) == {x["id"] for x in RECORDED if x["status"]["id"] in (3, 4)}
    assert (await http.get(root, params={"status": "3,4"})).status_code == 400
    bad = await http.get(root, params={"lsp__id": "SpaceX"})
    assert bad.status_code == 400 and bad.json() == {"lsp__id": ["Enter a whole number."]}


async def test_net_bounds_and_ordering(emu: LL2Emulator, http: httpx.AsyncClient) -> None:
    """net__gte/__lte bound by NET; ordering=net, -net and last_updated are followed."""
    root = f"{emu.url()}/launch/"
    low, high = NOW, NOW + timedelta(days=30)
    inside = await _ids(
        http, root, net__gte=low.isoformat(), net__lte=high.isoformat(), ordering="net"
    )
    expected = sorted((x for x in RECORDED if low <= _net(x) <= high), key=_net)
    assert inside == [x["id"] for x in expected] and inside
    descending = await _ids(http, root, ordering="-net")
    assert descending == [x["id"] for x in sorted(RECORDED, key=_net, reverse=True)]
    by_change = await _ids(http, root, ordering="last_updated")
    stamps = {x["id"]: x["last_updated"] for x in RECORDED}
    assert [stamps[i] for i in by_change] == sorted(stamps.values())
    bad = await http.get(root, params={"net__gte": "yesterday"})
    assert bad.status_code == 400 and "net__gte" in bad.json()


async def test_last_updated_bounds_use_the_exact_stamp(
    emu: LL2Emulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A change is found with last_updated__gte its served second; __lte excludes it."""
    before = clock()
    clock.advance(1)
    emu.set_launch_status(ARTEMIS["id"], 5, holdreason="Hydrogen leak")
    served = emu.launch(ARTEMIS["id"])["last_updated"]
    changed = await _ids(http, f"{emu.url()}/launch/", last_updated__gte=served)
    # (some recordings were stamped after NOW: they are "changed" too)
    later = {x["id"] for x in RECORDED if x["last_updated"] >= served}
    assert set(changed) == later | {ARTEMIS["id"]}
    older = await _ids(http, f"{emu.url()}/launch/", last_updated__lte=before.isoformat())
    assert ARTEMIS["id"] not in older
    assert set(older) == {
        x["id"]
        for x in RECORDED
        if x is not ARTEMIS and parse_ll2_datetime(x["last_updated"]) <= before
    }


async def test_search_matches_name_provider_rocket_and_mission(
    emu: LL2Emulator, http: httpx.AsyncClient
) -> None:
    """search looks at the name, provider, rocket and mission; every term must match."""
    root = f"{emu.url('2.3.0')}/launches/"
    assert await _ids(http, root, search="artemis") == [ARTEMIS["id"]]
    starlink = await _ids(http, root, search="spacex starlink")
    assert starlink and all("Starlink" in x["name"] for x in RECORDED if x["id"] in starlink)
    assert await _ids(http, root, search="no such launch") == []


async def test_upcoming_keeps_a_day_and_hide_recent_previous_drops_what_is_over(
    emu: LL2Emulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    """/upcoming/ keeps launches 24 h past NET; hide_recent_previous drops finished ones."""
    success = next(x for x in RECORDED if x["status"]["id"] == 3)
    emu.edit_launch(success["id"], net=NOW - timedelta(hours=2))
    root = f"{emu.url('2.2.0')}/launch/upcoming/"
    assert success["id"] in await _ids(http, root)
    assert success["id"] not in await _ids(http, root, hide_recent_previous="true")
    # a launch still in flight after its NET stays, hidden or not
    emu.edit_launch(success["id"], status=6)
    assert success["id"] in await _ids(http, root, hide_recent_previous="true")
    clock.advance(days=1)
    assert success["id"] not in await _ids(http, root)
    previous = await _ids(http, f"{emu.url('2.2.0')}/launch/previous/")
    assert previous[0] == success["id"] or _net(emu.launch(previous[0])) >= _net(success)
    bad = await http.get(root, params={"hide_recent_previous": "maybe"})
    assert bad.status_code == 400


async def test_limit_offset_and_next_links_page_through_everything(
    emu: LL2Emulator, http: httpx.AsyncClient
) -> None:
    """limit/offset pages with next/previous links that keep mode and filters."""
    url: str | None = f"{emu.url('2.3.0')}/launches/?limit=5&mode=detailed&lsp__id=121"
    seen: list[str] = []
    while url:
        body = (await http.get(url)).json()
        assert all(r["response_mode"] == "detailed" for r in body["results"])
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
        if url:
            assert "mode=detailed" in url and "lsp__id=121" in url
    expected = [x["id"] for x in RECORDED if x["launch_service_provider"]["id"] == 121]
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    body = await _page(http, f"{emu.url()}/launch/", limit=5, offset=5)
    assert body["count"] == len(RECORDED) and body["previous"] and len(body["results"]) == 5


async def test_unknown_launch_is_404_and_a_non_uuid_is_not_a_launch(
    emu: LL2Emulator, http: httpx.AsyncClient
) -> None:
    """A UUID the store lacks is 404; so is a numeric id on the launch path."""
    missing = await http.get(f"{emu.url()}/launch/{uuid.uuid4()}/")
    assert missing.status_code == 404
    assert (await http.get(f"{emu.url()}/launch/12/")).status_code == 404


# --------------------------------------------------------------------------------------
# budget


async def test_launch_requests_share_the_hourly_budget_with_events(
    clock: FakeClock, http: httpx.AsyncClient
) -> None:
    """Event and launch requests count against one limit; the 16th is a 429 with Retry-After."""
    async with LL2Emulator(clock=clock, requests_per_hour=15) as emu:
        for i in range(15):
            path = "/launch/upcoming/" if i % 2 else "/event/upcoming/"
            assert (await http.get(emu.url() + path)).status_code == 200
        throttled = await http.get(f"{emu.url('2.3.0')}/launches/")
        assert throttled.status_code == 429
        assert "throttled" in throttled.json()["detail"]
        assert int(throttled.headers["Retry-After"]) > 0
        assert emu.current_use() == 15
        clock.advance(hours=1)
        assert (await http.get(f"{emu.url('2.3.0')}/launches/")).status_code == 200


# --------------------------------------------------------------------------------------
# controls


async def test_controls_change_what_both_versions_serve(
    emu: LL2Emulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Status, slip, webcast and update, made through methods, show in 2.2.0 and 2.3.0."""
    lid = STARLINK_GO["id"]
    old = emu.launch(lid)
    clock.advance(60)
    emu.set_launch_status(lid, "Hold", holdreason="Range conflict")
    emu.slip_launch(lid, by=timedelta(minutes=6))
    emu.set_launch_webcast(lid, True)
    update = emu.add_launch_update(lid, "Holding; new T-0 soon")
    for version, path in (("2.2.0", "launch"), ("2.3.0", "launches")):
        body = (await http.get(f"{emu.url(version)}/{path}/{lid}/")).json()
        assert body["status"]["id"] == 5 and body["status"]["abbrev"] == "Hold"
        assert _net(body) == _net(old) + timedelta(minutes=6)
        assert parse_ll2_datetime(body["window_end"]) == parse_ll2_datetime(
            old["window_end"]
        ) + timedelta(minutes=6)
        assert body["webcast_live"] is True
        assert update["id"] in [u["id"] for u in body["updates"]]
        assert parse_ll2_datetime(body["last_updated"]) >= clock().replace(microsecond=0)
    detail_22 = (await http.get(f"{emu.url()}/launch/{lid}/")).json()
    assert detail_22["holdreason"] == "Range conflict"
    detail_23 = (await http.get(f"{emu.url('2.3.0')}/launches/{lid}/")).json()
    best = min(detail_23["vid_urls"], key=lambda v: v["priority"])
    assert best["live"] is True and sum(v["live"] for v in detail_23["vid_urls"]) == 1
    emu.set_launch_status(lid, "Failure", failreason="Second stage anomaly")
    detail_23 = (await http.get(f"{emu.url('2.3.0')}/launches/{lid}/")).json()
    assert detail_23["failreason"] == "Second stage anomaly"
    assert (await http.get(f"{emu.url()}/launch/{lid}/")).json()["holdreason"] == ""


async def test_every_control_stamps_a_strictly_later_last_updated(emu: LL2Emulator) -> None:
    """Mutations in the same instant still order strictly (exact stamps), events included."""
    lid = ARTEMIS["id"]
    emu.set_launch_status(lid, 1)
    first = emu._exact_updated[lid]
    emu.set_launch_webcast(lid, False)
    assert emu._exact_updated[lid] > first


async def test_control_http_api_for_launches(emu: LL2Emulator, http: httpx.AsyncClient) -> None:
    """The /_control/launches API adds, changes, lists and deletes launches; errors are 4xx."""
    ctl = f"{emu.base_url}/_control/launches"
    added = await http.post(
        ctl,
        json={
            "name": "Falcon 9 Block 5 | Crew-13",
            "net": "2026-04-01T10:00:00Z",
            "net_precision": "Minute",
            "status": "TBD",
            "launch_service_provider": {"id": 121, "name": "SpaceX", "abbrev": "SpX"},
        },
    )
    assert added.status_code == 201
    lid = added.json()["id"]
    assert uuid.UUID(lid) and added.json()["slug"] == "falcon-9-block-5-crew-13"
    steps: list[tuple[str, dict[str, Any], int]] = [
        ("status", {"status": "Go"}, 200),
        ("net", {"by_seconds": 120}, 200),
        ("net", {"net": "2026-04-01T10:10:00Z", "net_precision": 0}, 200),
        ("webcast", {"live": True}, 200),
        ("vid_urls", {"url": "https://www.youtube.com/watch?v=crew13", "priority": 1}, 201),
        ("updates", {"comment": "Crew is suited up"}, 201),
    ]
    for action, body, status in steps:
        response = await http.post(f"{ctl}/{lid}/{action}", json=body)
        assert response.status_code == status, (action, response.text)
    served = (await http.get(f"{emu.url('2.3.0')}/launches/{lid}/")).json()
    assert served["status"]["abbrev"] == "Go" and served["net"] == "2026-04-01T10:10:00Z"
    assert served["net_precision"]["name"] == "Second"
    assert served["vid_urls"][0]["url"].endswith("crew13")
    assert served["updates"][0]["comment"] == "Crew is suited up"
    assert _errors(served, "LaunchDetailed") == []
    patched = await http.patch(f"{ctl}/{lid}", json={"probability": 80})
    assert patched.status_code == 200 and patched.json()["probability"] == 80
    listed = (await http.get(ctl)).json()
    assert lid in {x["id"] for x in listed} and len(listed) == len(RECORDED) + 1
    assert (await http.post(f"{ctl}/{lid}/status", json={"status": "Nope"})).status_code == 400
    assert (await http.post(f"{ctl}/{lid}/net", json={})).status_code == 400
    assert (await http.post(f"{ctl}/{uuid.uuid4()}/status", json={"status": 1})).status_code == 404
    assert (await http.delete(f"{ctl}/{lid}")).status_code == 204
    assert (await http.get(f"{emu.url()}/launch/{lid}/")).status_code == 404
    control_calls = [r for r in emu.requests if r.path.startswith("/_control")]
    assert control_calls == []  # control calls are never logged or counted
