"""The real LL2Client against the LL2 emulator over loopback: filters, versions, budget, faults."""

from __future__ import annotations

import copy
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.config import LL2Settings, Secret
from bot.core.items import Event
from bot.core.timeutil import isoformat_z, parse_datetime
from bot.devtools.ll2_emulator import FakeClock, FaultKind, LL2Emulator, synthetic_events
from bot.ll2.client import EventFilters, LL2Client, ThrottleStatus, version_of
from bot.ll2.errors import (
    LL2BadResponse,
    LL2BudgetExhausted,
    LL2HTTPError,
    LL2Throttled,
    LL2Unavailable,
)
from bot.ll2.parse import parse_event, parse_events

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SYNTHETIC = synthetic_events(260, start=NOW, seed=11)
API_KEY = "ll2-key-0123456789abcdef"


# --------------------------------------------------------------------------------------
# fixtures and helpers


class SleepLog:
    """An async ``sleep`` that records each delay and moves the fake clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(seconds)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at NOW, shared by the client, its budget and the emulator."""
    return FakeClock(NOW)


@pytest.fixture
def sleeps(clock: FakeClock) -> SleepLog:
    """The client's recorded backoff sleeps."""
    return SleepLog(clock)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """One HTTP client for the LL2 client (plain HTTP on loopback: no CA bundle to load)."""
    async with httpx.AsyncClient(timeout=5.0, verify=False) as client:  # noqa: S501
        yield client


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[LL2Emulator]:
    """An emulator without an hourly limit, serving 260 synthetic events."""
    async with LL2Emulator(
        copy.deepcopy(SYNTHETIC), clock=clock, requests_per_hour=None
    ) as emulator:
        yield emulator


@pytest.fixture
def make_client(
    http: httpx.AsyncClient, clock: FakeClock, sleeps: SleepLog
) -> Callable[..., LL2Client]:
    """Build an LL2Client on the shared HTTP client, clock and recorded sleep."""

    def build(
        emulator: LL2Emulator,
        version: str = "2.2.0",
        *,
        requests_per_hour: int = 1000,
        api_key: str | None = None,
        **kwargs: Any,
    ) -> LL2Client:
        settings = LL2Settings(
            url=emulator.url(version),
            requests_per_hour=requests_per_hour,
            api_key=Secret(api_key) if api_key else None,
        )
        kwargs.setdefault("http", http)
        return LL2Client(settings, clock=clock, sleep=sleeps, **kwargs)

    return build


async def fetch_all(client: LL2Client, filters: EventFilters) -> list[Event]:
    """Page through /event(s)/ with limit/offset until LL2 says there is no next page."""
    events: list[Event] = []
    offset = 0
    while True:
        page = await client.events_page(replace(filters, limit=100, offset=offset))
        events.extend(page.events)
        if page.next_url is None:
            return events
        offset += 100


def when(text: str) -> datetime:
    """Parse an LL2 timestamp."""
    return parse_datetime(text)


def _sorted_stamps(field: str) -> list[datetime]:
    return sorted(when(e[field]) for e in SYNTHETIC if e[field])


LU = _sorted_stamps("last_updated")


def _recording(name: str) -> Any:
    return json.loads(resources.files("bot").joinpath("data", "ll2", name).read_text("utf-8"))


# --------------------------------------------------------------------------------------
# filters


FILTER_CASES: list[tuple[str, EventFilters, dict[str, str], Callable[[dict[str, Any]], bool]]] = [
    ("type", EventFilters(type="2"), {"type": "2"}, lambda e: e["type"]["id"] == 2),
    (
        "type_ids",
        EventFilters(type_ids=(2, 3)),
        {"type__ids": "2,3"},
        lambda e: e["type"]["id"] in (2, 3),
    ),
    (
        "program_ids",
        EventFilters(program_ids=(23, 29)),
        {"program": "23,29"},
        lambda e: bool({p["id"] for p in e["program"]} & {23, 29}),
    ),
    (
        "agency_ids",
        EventFilters(agency_ids=(121,)),
        {"agency__ids": "121"},
        lambda e: 121 in {a["id"] for a in e["agencies"]},
    ),
    (
        "last_updated_gte",
        EventFilters(last_updated_gte=LU[200]),
        {"last_updated__gte": isoformat_z(LU[200])},
        lambda e: when(e["last_updated"]) >= LU[200],
    ),
    (
        "last_updated_lte",
        EventFilters(last_updated_lte=LU[40]),
        {"last_updated__lte": isoformat_z(LU[40])},
        lambda e: when(e["last_updated"]) <= LU[40],
    ),
    (
        "date_range",
        EventFilters(date_gte=NOW - timedelta(days=2), date_lte=NOW + timedelta(days=5)),
        {"date__gte": "2026-01-13T12:00:00Z", "date__lte": "2026-01-20T12:00:00Z"},
        lambda e: NOW - timedelta(days=2) <= when(e["date"]) <= NOW + timedelta(days=5),
    ),
    (
        "search",
        EventFilters(search="Spacewalk"),
        {"search": "Spacewalk"},
        lambda e: "spacewalk" in e["name"].lower(),
    ),
    (
        "combined",
        EventFilters(type_ids=(2,), agency_ids=(63,), date_gte=NOW),
        {"type__ids": "2", "agency__ids": "63", "date__gte": "2026-01-15T12:00:00Z"},
        lambda e: (
            e["type"]["id"] == 2
            and 63 in {a["id"] for a in e["agencies"]}
            and when(e["date"]) >= NOW
        ),
    ),
]


@pytest.mark.parametrize(
    ("filters", "params", "keep"), [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES]
)
async def test_each_filter_reaches_ll2_and_narrows_the_results(
    emu: LL2Emulator,
    make_client: Callable[..., LL2Client],
    filters: EventFilters,
    params: dict[str, str],
    keep: Callable[[dict[str, Any]], bool],
) -> None:
    """The filter is sent as LL2's query parameter and only matching events come back."""
    client = make_client(emu)
    expected = sorted(e["id"] for e in SYNTHETIC if keep(e))
    assert 0 < len(expected) < len(SYNTHETIC), "the case must actually filter"
    events = await fetch_all(client, filters)
    assert sorted(e.id for e in events) == expected
    assert emu.requests, "no request reached the emulator"
    for request in emu.requests:
        for name, value in params.items():
            assert request.query.get(name) == value, (name, request.query)


@pytest.mark.parametrize("ordering", ["date", "-date", "last_updated", "-last_updated"])
async def test_ordering_is_sent_and_followed(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], ordering: str
) -> None:
    """`ordering` reaches LL2 and the events come back in that order."""
    client = make_client(emu)
    events = await fetch_all(client, EventFilters(ordering=ordering))
    assert emu.requests[0].query["ordering"] == ordering
    name = ordering.lstrip("-")
    values = [getattr(e, name) for e in events]
    assert values == sorted(values, reverse=ordering.startswith("-"))
    assert len(events) == len(SYNTHETIC)


async def test_limit_and_offset_select_a_window(
    emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """limit/offset return that slice of the ordered results, with count and next."""
    client = make_client(emu)
    everything = await fetch_all(client, EventFilters(ordering="date"))
    page = await client.events_page(EventFilters(ordering="date", limit=7, offset=20))
    assert [e.id for e in page.events] == [e.id for e in everything[20:27]]
    assert page.count == len(SYNTHETIC)
    assert page.next_url is not None and "offset=27" in page.next_url
    assert emu.requests[-1].query["limit"] == "7"
    assert emu.requests[-1].query["offset"] == "20"


@pytest.mark.parametrize("limit", [101, 250, 0, -1])
async def test_limit_outside_1_to_100_is_refused_before_any_request(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], limit: int
) -> None:
    """LL2 caps `limit` at 100; the client refuses more without spending the budget."""
    client = make_client(emu)
    with pytest.raises(ValueError, match=f"limit must be between 1 and 100, got {limit}"):
        await client.events_page(EventFilters(limit=limit))
    assert emu.requests == []
    assert client.budget.used() == 0


async def test_search_events_sends_search_and_a_limit(
    emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """search_events() asks LL2 by name and returns matching events only."""
    client = make_client(emu)
    found = await client.search_events("soyuz docking", limit=5)
    assert 0 < len(found) <= 5
    assert all("soyuz" in e.name.lower() and "docking" in e.name.lower() for e in found)
    assert emu.requests[0].query == {"search": "soyuz docking", "limit": "5"}


# --------------------------------------------------------------------------------------
# pagination


async def test_changed_since_follows_next_and_yields_every_id_once(
    emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """260 events arrive over three pages of 100, each id exactly once, oldest change first."""
    client = make_client(emu)
    since = LU[0]
    seen: list[int] = []
    stamps: list[datetime] = []
    pages = 0
    async for page in client.events_changed_since(since):
        pages += 1
        seen.extend(e.id for e in page.events)
        stamps.extend(e.last_updated for e in page.events)
        assert page.rejected == []
    assert pages == 3
    assert len(seen) == len(set(seen)) == len(SYNTHETIC)
    assert set(seen) == {e["id"] for e in SYNTHETIC}
    assert stamps == sorted(stamps)
    first = emu.requests[0].query
    assert first["ordering"] == "last_updated"
    assert first["limit"] == "100"
    assert first["last_updated__gte"] == isoformat_z(since)
    # the `next` links carry the watermark filter along
    assert [r.query.get("offset") for r in emu.requests] == [None, "100", "200"]
    assert all(r.query["last_updated__gte"] == isoformat_z(since) for r in emu.requests)
    assert client.budget.used() == 3


async def test_changed_since_includes_the_watermarks_own_second(
    emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """`since` is inclusive: the event stamped at the watermark comes back again."""
    client = make_client(emu)
    since = LU[150]
    seen = [
        e.id async for page in client.events_changed_since(since, page_size=40) for e in page.events
    ]
    expected = {e["id"] for e in SYNTHETIC if when(e["last_updated"]) >= since}
    assert len(seen) == len(set(seen)) == len(expected) == 110
    assert set(seen) == expected
    assert len(emu.requests) == 3  # 40 + 40 + 30


async def test_changed_since_keeps_the_callers_filters(
    emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """Type filters given to events_changed_since() are sent on every page."""
    client = make_client(emu)
    seen = [
        e
        async for page in client.events_changed_since(
            LU[0], filters=EventFilters(type_ids=(20,)), page_size=10
        )
        for e in page.events
    ]
    assert {e.type.id for e in seen if e.type} == {20}
    assert len(seen) == sum(e["type"]["id"] == 20 for e in SYNTHETIC)
    assert all(r.query["type__ids"] == "20" for r in emu.requests)


async def test_upcoming_and_previous_split_on_the_clock(
    emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """Upcoming keeps events from 24 h ago on; previous is what already happened."""
    client = make_client(emu)
    upcoming = await client.upcoming_events(max_pages=3)
    assert upcoming and all(e.date and e.date >= NOW - timedelta(hours=24) for e in upcoming)
    assert len(upcoming) == sum(when(e["date"]) >= NOW - timedelta(hours=24) for e in SYNTHETIC)
    previous = await client.previous_events(EventFilters(limit=5))
    assert len(previous) == 5 and all(e.date and e.date < NOW for e in previous)
    dates = [e.date for e in previous if e.date is not None]
    assert [e.date for e in previous] == sorted(dates, reverse=True)


# --------------------------------------------------------------------------------------
# versions


@pytest.mark.parametrize(
    ("version", "paths"),
    [
        (
            "2.2.0",
            [
                "/event/",
                "/event/upcoming/",
                "/event/previous/",
                "/event/10001/",
                "/config/eventtype/",
                "/api-throttle/",
            ],
        ),
        (
            "2.3.0",
            [
                "/events/",
                "/events/upcoming/",
                "/events/previous/",
                "/events/10001/",
                "/config/event_types/",
                "/api-throttle/",
            ],
        ),
    ],
)
async def test_paths_are_singular_on_2_2_0_and_plural_on_2_3_0(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], version: str, paths: list[str]
) -> None:
    """The API version in the URL picks LL2's path names; every call answers 200."""
    client = make_client(emu, version)
    assert client.version == version
    await client.events_page(EventFilters(limit=1))
    await client.upcoming_events(EventFilters(limit=1))
    await client.previous_events(EventFilters(limit=1))
    await client.event(10001)
    types = await client.event_types()
    await client.throttle()
    assert [r.path for r in emu.requests] == [f"/{version}{p}" for p in paths]
    assert all(r.status == 200 for r in emu.requests)
    assert len(types) == 25 and types[1].name == "Docking"


def test_version_is_read_from_the_url() -> None:
    """The last path segment names the version; without one, 2.2.0."""
    assert version_of("https://ll.thespacedevs.com/2.3.0") == "2.3.0"
    assert version_of("https://ll.thespacedevs.com/2.2.0/") == "2.2.0"
    assert version_of("http://127.0.0.1:8765/") == "2.2.0"


def comparable(event: Event) -> dict[str, Any]:
    """The Event fields both versions carry, in a version-independent form.

    Left out: ``url`` (names the version), ``news_url``/``video_url`` (2.2.0 only),
    ``vid_urls[].live`` (2.3.0 only), and the order of ``updates`` (2.2.0 lists them
    oldest first, 2.3.0 newest first).
    """
    data = event.model_dump(exclude={"url", "news_url", "video_url", "vid_urls", "updates"})
    data["vid_urls"] = [v.model_dump(exclude={"live"}) for v in event.vid_urls]
    data["updates"] = sorted((u.model_dump() for u in event.updates), key=lambda u: u["id"])
    return data


@pytest.mark.parametrize("store", ["recorded", "synthetic"])
async def test_both_versions_parse_to_the_same_events(
    clock: FakeClock, make_client: Callable[..., LL2Client], store: str
) -> None:
    """A page from 2.2.0 and one from 2.3.0 give the same Event fields, agencies included."""
    events = None if store == "recorded" else copy.deepcopy(SYNTHETIC)
    async with LL2Emulator(events, clock=clock, requests_per_hour=None) as emulator:
        old = make_client(emulator, "2.2.0")
        new = make_client(emulator, "2.3.0")
        since = datetime(2000, 1, 1, tzinfo=UTC)
        by_version: dict[str, dict[int, Event]] = {}
        for client in (old, new):
            found = {
                e.id: e async for page in client.events_changed_since(since) for e in page.events
            }
            by_version[client.version] = found
        assert by_version["2.2.0"].keys() == by_version["2.3.0"].keys()
        assert len(by_version["2.2.0"]) == len(emulator.events)
        for event_id, event_22 in by_version["2.2.0"].items():
            event_23 = by_version["2.3.0"][event_id]
            assert comparable(event_22) == comparable(event_23), event_id
            best = event_23.videos_by_priority()
            assert event_22.video_url == (best[0].url if best else None)
        with_agencies = [e for e in by_version["2.3.0"].values() if e.agencies]
        assert with_agencies, "2.3.0 pages must carry agencies (lookups filter on them)"
        pages_23 = [r for r in emulator.requests if r.path.startswith("/2.3.0/")]
        assert pages_23 and all(r.query.get("mode") == "detailed" for r in pages_23)
        assert not any("mode" in r.query for r in emulator.requests if r.path.startswith("/2.2.0/"))


async def test_one_event_by_id_is_the_same_in_both_versions(
    clock: FakeClock, make_client: Callable[..., LL2Client]
) -> None:
    """event(1300) from 2.2.0 and 2.3.0 parse to the same fields."""
    async with LL2Emulator(None, clock=clock, requests_per_hour=None) as emulator:
        old = await make_client(emulator, "2.2.0").event(1300)
        new = await make_client(emulator, "2.3.0").event(1300)
    assert comparable(old) == comparable(new)
    assert old.name == "Soyuz MS-28 Docking"
    assert old.type is not None and old.type.name == "Docking"
    assert len(old.updates) == 2 and len(old.vid_urls) == 3
    assert old.programs and old.agencies


# --------------------------------------------------------------------------------------
# recorded responses

DATA_FILES = sorted(
    p.name
    for p in resources.files("bot").joinpath("data", "ll2").iterdir()
    if p.name.endswith(".json")
)


EVENT_FILES = [n for n in DATA_FILES if n.startswith("event-") and n.endswith(".2.2.0.json")]
PAGE_FILES = [n for n in DATA_FILES if n.startswith("events-") and n.endswith(".2.3.0.json")]
THROTTLE_FILES = [n for n in DATA_FILES if n.startswith("api-throttle.")]
LAUNCH_LIST = "launch-upcoming-list.2.2.0.json"
# Launch recordings are parsed by tests/unit/ll2/test_launch_parse.py.
LAUNCH_FILES = [n for n in DATA_FILES if n.startswith("launch") and n.endswith(".2.2.0.json")]


def test_every_recorded_file_is_covered_by_a_parsing_test() -> None:
    """A new recording cannot slip in without one of the tests below reading it."""
    covered = (
        set(EVENT_FILES) | set(PAGE_FILES) | set(THROTTLE_FILES) | {LAUNCH_LIST} | set(LAUNCH_FILES)
    )
    assert set(DATA_FILES) == covered


@pytest.mark.parametrize("name", EVENT_FILES)
def test_recorded_2_2_0_event_parses(name: str) -> None:
    """Each recorded 2.2.0 event detail parses, keeping id, name, type and updates."""
    raw = _recording(name)
    event = parse_event(raw)
    assert event.id == raw["id"] == int(name.split("-")[1])
    assert event.name == raw["name"]
    assert event.type is not None and event.type.id == raw["type"]["id"]
    assert [u.id for u in event.updates] == [u["id"] for u in raw["updates"]]
    assert event.last_updated == parse_datetime(raw["last_updated"])
    assert event.image_url == raw["feature_image"]


@pytest.mark.parametrize("name", PAGE_FILES)
def test_recorded_2_3_0_page_parses_without_rejects(name: str) -> None:
    """Each recorded 2.3.0 page parses every item."""
    raw = _recording(name)
    events, rejected = parse_events(raw["results"])
    assert rejected == []
    assert [e.id for e in events] == [r["id"] for r in raw["results"]]
    for event, item in zip(events, raw["results"], strict=True):
        image = item.get("image")
        assert event.image_url == (image["image_url"] if image else None)
        assert (
            event.date_precision is None
            or event.date_precision.name == item["date_precision"]["name"]
        )


def test_launch_list_is_not_mistaken_for_events(caplog: pytest.LogCaptureFixture) -> None:
    """The launch list (launches, UUID ids) yields no events: each item is rejected by id.

    It is a recording of /launch/, which tminus never reads; parsing it as events must
    fail loudly per item rather than invent events from launches.
    """
    raw = _recording(LAUNCH_LIST)
    with caplog.at_level(logging.WARNING, logger="bot.ll2.parse"):
        events, rejected = parse_events(raw["results"])
    assert events == []
    assert [item_id for item_id, _ in rejected] == [r["id"] for r in raw["results"]]
    assert all("id" in reason for _, reason in rejected)
    assert len(caplog.records) == len(raw["results"])


@pytest.mark.parametrize("name", THROTTLE_FILES)
async def test_recorded_api_throttle_answer_parses(
    name: str, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    """throttle() reads LL2's recorded /api-throttle/ answer served as is."""
    body = _recording(name)
    version = name.split(".", 1)[1].removesuffix(".json")

    async def answer(_request: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_get(f"/{version}/api-throttle/", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        client = LL2Client(
            LL2Settings(url=f"http://127.0.0.1:{port}/{version}"), http=http, clock=clock
        )
        status = await client.throttle()
    finally:
        await runner.cleanup()
    assert status == ThrottleStatus(limit=15, frequency_secs=3600, current_use=0, next_use_secs=0.0)
    assert client.budget.remaining() == 15


async def test_malformed_item_is_skipped_and_logged_with_its_id(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], caplog: pytest.LogCaptureFixture
) -> None:
    """One event without last_updated is dropped with a warning; the rest of the page stays."""
    client = make_client(emu)
    emu.inject_fault(FaultKind.MISSING_FIELDS, drop_fields=("last_updated",))
    with caplog.at_level(logging.WARNING, logger="bot.ll2.parse"):
        page = await client.events_page(EventFilters(ordering="date", limit=20))
    first_id = min(SYNTHETIC, key=lambda e: (when(e["date"]), e["id"]))["id"]
    assert page.size == 20
    assert len(page.events) == 19
    assert first_id not in {e.id for e in page.events}
    assert [item_id for item_id, _ in page.rejected] == [first_id]
    assert "last_updated" in page.rejected[0][1]
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.ll2.parse"]
    assert len(messages) == 1
    assert f"id={first_id}" in messages[0]


# --------------------------------------------------------------------------------------
# the request budget


async def test_default_budget_never_sends_a_sixteenth_request_within_the_hour(
    clock: FakeClock, http: httpx.AsyncClient
) -> None:
    """15 requests/h: the 16th is refused locally with the wait until the oldest leaves."""
    async with LL2Emulator(
        copy.deepcopy(SYNTHETIC), clock=clock, requests_per_hour=None
    ) as emulator:
        client = LL2Client(LL2Settings(url=emulator.url()), http=http, clock=clock)
        assert client.budget.limit == 15
        start = clock()
        for _ in range(15):
            await client.events_page(EventFilters(limit=1))
            clock.advance(minutes=1)
        # 15 sent at start, start+1m, … start+14m; now is start+15m
        with pytest.raises(LL2BudgetExhausted) as caught:
            await client.events_page(EventFilters(limit=1))
        assert caught.value.retry_after == 45 * 60
        assert caught.value.available_at == start + HOUR
        assert len(emulator.requests) == 15

        clock.advance(minutes=30)
        with pytest.raises(LL2BudgetExhausted) as caught:
            await client.events_page(EventFilters(limit=1))
        assert caught.value.retry_after == 15 * 60
        clock.set(start + HOUR - timedelta(seconds=1))
        with pytest.raises(LL2BudgetExhausted) as caught:
            await client.events_page(EventFilters(limit=1))
        assert caught.value.retry_after == 1
        assert len(emulator.requests) == 15

        clock.set(start + HOUR)  # the first request leaves the window
        await client.events_page(EventFilters(limit=1))
        assert len(emulator.requests) == 16
        with pytest.raises(LL2BudgetExhausted) as caught:
            await client.events_page(EventFilters(limit=1))
        assert caught.value.retry_after == 60  # the second one leaves at start+1h+1m
        assert len(emulator.requests) == 16


async def test_a_client_that_waits_as_told_never_meets_a_429(
    clock: FakeClock, http: httpx.AsyncClient
) -> None:
    """Polling every minute for three hours against LL2's own 15/h: never throttled by LL2."""
    async with LL2Emulator(copy.deepcopy(SYNTHETIC), clock=clock, requests_per_hour=15) as emulator:
        client = LL2Client(LL2Settings(url=emulator.url()), http=http, clock=clock)
        end = clock() + 3 * HOUR
        refused = 0
        while clock() < end:
            try:
                await client.events_page(EventFilters(limit=1))
            except LL2BudgetExhausted as exc:
                refused += 1
                clock.advance(exc.retry_after)
            else:
                clock.advance(minutes=1)
        sent = emulator.requests
        assert all(r.status == 200 for r in sent)
        assert refused > 0
        assert len(sent) == 45
        for r in sent:
            in_window = [s for s in sent if r.time - HOUR < s.time <= r.time]
            assert len(in_window) <= 15


async def test_api_throttle_is_free(clock: FakeClock, http: httpx.AsyncClient) -> None:
    """Asking /api-throttle/ spends nothing, on either side."""
    async with LL2Emulator([], clock=clock, requests_per_hour=15) as emulator:
        client = LL2Client(LL2Settings(url=emulator.url()), http=http, clock=clock)
        for _ in range(20):
            status = await client.throttle()
        assert status.current_use == 0
        assert client.budget.remaining() == 15
        assert len(emulator.requests) == 20
        assert not any(r.counted for r in emulator.requests)


async def test_throttle_aligns_the_budget_with_ll2s_count(
    clock: FakeClock, http: httpx.AsyncClient
) -> None:
    """Requests another process made from this IP shrink what the client will still send."""
    async with LL2Emulator([], clock=clock, requests_per_hour=15) as emulator:
        for _ in range(5):  # another process on the same IP
            assert (await http.get(f"{emulator.url()}/event/")).status_code == 200
        client = LL2Client(LL2Settings(url=emulator.url()), http=http, clock=clock)
        assert client.budget.remaining() == 15
        status = await client.throttle()
        assert (status.limit, status.current_use) == (15, 5)
        assert client.last_throttle == status
        assert client.budget.remaining() == 10
        for _ in range(10):
            await client.events_page()
        with pytest.raises(LL2BudgetExhausted):
            await client.events_page()
        assert all(r.status == 200 for r in emulator.requests)


async def test_throttle_blocks_the_budget_when_ll2_says_the_hour_is_spent(
    clock: FakeClock, http: httpx.AsyncClient
) -> None:
    """current_use at the limit: the client waits next_use_secs without asking again."""
    async with LL2Emulator([], clock=clock, requests_per_hour=15) as emulator:
        for _ in range(15):
            await http.get(f"{emulator.url()}/event/")
            clock.advance(minutes=2)
        # LL2's oldest counted request is 30 min old: 1800 s to wait
        client = LL2Client(LL2Settings(url=emulator.url()), http=http, clock=clock)
        status = await client.throttle()
        assert status.next_use_secs == 1800
        emulator.clear_requests()
        with pytest.raises(LL2BudgetExhausted) as caught:
            await client.events_page()
        assert caught.value.retry_after == 1800
        assert emulator.requests == []
        clock.advance(seconds=1800)  # LL2's oldest request leaves its window
        await client.events_page()
        assert [r.status for r in emulator.requests] == [200]
        with pytest.raises(LL2BudgetExhausted):
            await client.events_page()
        assert len(emulator.requests) == 1


async def test_throttle_lowers_the_budget_to_ll2s_limit(
    clock: FakeClock, http: httpx.AsyncClient
) -> None:
    """If LL2 allows fewer requests than configured, the client keeps to LL2's number."""
    async with LL2Emulator([], clock=clock, requests_per_hour=10) as emulator:
        client = LL2Client(LL2Settings(url=emulator.url()), http=http, clock=clock)
        await client.throttle()
        assert client.budget.limit == 10
        for _ in range(10):
            await client.events_page()
        with pytest.raises(LL2BudgetExhausted):
            await client.events_page()
        assert all(r.status == 200 for r in emulator.requests)


@pytest.mark.parametrize("send_retry_after", [True, False], ids=["header", "detail-only"])
async def test_server_429_becomes_ll2_throttled_with_the_wait(
    clock: FakeClock, make_client: Callable[..., LL2Client], send_retry_after: bool
) -> None:
    """LL2's 429 is read from Retry-After, or from its detail text alone, and not retried."""
    async with LL2Emulator(
        [], clock=clock, requests_per_hour=2, send_retry_after=send_retry_after
    ) as emulator:
        client = make_client(emulator)  # a budget of 1000: only LL2 says no
        await client.events_page()
        clock.advance(minutes=10)
        await client.events_page()
        clock.advance(minutes=10)
        with pytest.raises(LL2Throttled) as caught:
            await client.events_page()
        assert type(caught.value) is LL2Throttled
        assert caught.value.retry_after == 40 * 60
        assert caught.value.detail == "Request was throttled. Expected available in 2400 seconds."
        assert [r.status for r in emulator.requests] == [200, 200, 429]
        # the client now holds back until then, without asking LL2
        clock.advance(minutes=5)
        with pytest.raises(LL2BudgetExhausted) as held:
            await client.events_page()
        assert held.value.retry_after == 35 * 60
        assert len(emulator.requests) == 3


@pytest.mark.parametrize("send_retry_after", [True, False], ids=["header", "detail-only"])
@pytest.mark.parametrize("wait", [1, 7])
async def test_injected_429_wait_is_parsed(
    clock: FakeClock,
    make_client: Callable[..., LL2Client],
    send_retry_after: bool,
    wait: int,
) -> None:
    """A throttle fault's wait (\"1 second\", \"7 seconds\") reaches LL2Throttled.retry_after."""
    async with LL2Emulator(
        [], clock=clock, requests_per_hour=None, send_retry_after=send_retry_after
    ) as emulator:
        client = make_client(emulator)
        emulator.inject_fault(FaultKind.THROTTLE, retry_after=wait)
        with pytest.raises(LL2Throttled) as caught:
            await client.events_page()
        assert caught.value.retry_after == wait


# --------------------------------------------------------------------------------------
# retries


@pytest.mark.parametrize(("backoff", "delays"), [(1.0, [1.0, 2.0]), (0.25, [0.25, 0.5])])
async def test_5xx_is_retried_with_exponential_backoff_then_succeeds(
    emu: LL2Emulator,
    make_client: Callable[..., LL2Client],
    sleeps: SleepLog,
    backoff: float,
    delays: list[float],
) -> None:
    """Two 5xx answers, then a good one: two sleeps doubling from `backoff`, and the page."""
    client = make_client(emu, backoff=backoff)
    emu.inject_fault(FaultKind.ERROR, status=503)
    emu.inject_fault(FaultKind.ERROR, status=502)
    page = await client.events_page(EventFilters(limit=3))
    assert len(page.events) == 3
    assert sleeps.delays == delays
    assert [r.status for r in emu.requests] == [503, 502, 200]
    assert client.budget.used() == 3  # every attempt counts


async def test_5xx_every_time_raises_ll2_unavailable_after_max_retries(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], sleeps: SleepLog
) -> None:
    """A 5xx that never ends: 1 + max_retries attempts, backoff 1, 2, 4, then LL2Unavailable."""
    client = make_client(emu)
    emu.inject_fault(FaultKind.ERROR, status=500, count=None)
    with pytest.raises(LL2Unavailable) as caught:
        await client.events_page()
    assert caught.value.cause == "HTTP 500"
    assert caught.value.url == emu.url() + "/event/"
    assert sleeps.delays == [1.0, 2.0, 4.0]
    assert len(emu.requests) == 4
    assert client.budget.used() == 4


async def test_max_retries_is_configurable(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], sleeps: SleepLog
) -> None:
    """max_retries=1: one retry only."""
    client = make_client(emu, max_retries=1)
    emu.inject_fault(FaultKind.ERROR, count=None)
    with pytest.raises(LL2Unavailable):
        await client.events_page()
    assert sleeps.delays == [1.0]
    assert len(emu.requests) == 2


async def test_retries_stop_when_the_budget_is_spent(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], sleeps: SleepLog
) -> None:
    """Retries spend the budget too: with 3 requests/h, a failing LL2 sees 3 requests, no more."""
    client = make_client(emu, requests_per_hour=3, max_retries=10)
    emu.inject_fault(FaultKind.ERROR, count=None)
    with pytest.raises(LL2BudgetExhausted):
        await client.events_page()
    assert len(emu.requests) == 3
    assert sleeps.delays == [1.0, 2.0, 4.0]


async def test_timeouts_are_retried_then_succeed(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], sleeps: SleepLog
) -> None:
    """A request that times out is retried after the backoff and the retry answers."""
    async with httpx.AsyncClient(timeout=0.1, verify=False) as quick:  # noqa: S501
        client = make_client(emu, http=quick)
        emu.inject_fault(FaultKind.SLOW, delay=2.0)
        page = await client.events_page(EventFilters(limit=2))
    assert len(page.events) == 2
    assert sleeps.delays == [1.0]
    assert len(emu.requests) == 2
    assert client.budget.used() == 2


async def test_timeouts_every_time_raise_ll2_unavailable(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], sleeps: SleepLog
) -> None:
    """Timeouts that never end: LL2Unavailable naming the timeout."""
    async with httpx.AsyncClient(timeout=0.1, verify=False) as quick:  # noqa: S501
        client = make_client(emu, http=quick, max_retries=2)
        emu.inject_fault(FaultKind.SLOW, delay=2.0, count=None)
        with pytest.raises(LL2Unavailable) as caught:
            await client.events_page()
    assert caught.value.cause == "timed out"
    assert sleeps.delays == [1.0, 2.0]
    assert len(emu.requests) == 3


async def test_connection_refused_is_retried_then_ll2_unavailable(
    sleeps: SleepLog, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    """Nothing listening: retried like a 5xx, then LL2Unavailable."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LL2Client(
        LL2Settings(url=f"http://127.0.0.1:{port}/2.2.0"),
        http=http,
        clock=clock,
        sleep=sleeps,
        max_retries=2,
    )
    with pytest.raises(LL2Unavailable) as caught:
        await client.events_page()
    assert caught.value.cause.startswith("ConnectError")
    assert sleeps.delays == [1.0, 2.0]


async def test_malformed_json_is_retried_then_succeeds(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], sleeps: SleepLog
) -> None:
    """A body cut in half is retried once and the retry's page is returned."""
    client = make_client(emu)
    emu.inject_fault(FaultKind.MALFORMED)
    page = await client.events_page(EventFilters(limit=4))
    assert len(page.events) == 4
    assert sleeps.delays == [1.0]


async def test_malformed_json_every_time_raises_ll2_bad_response(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], sleeps: SleepLog
) -> None:
    """Broken JSON that never heals: retried max_retries times, then LL2BadResponse."""
    client = make_client(emu)
    emu.inject_fault(FaultKind.MALFORMED, count=None)
    with pytest.raises(LL2BadResponse) as caught:
        await client.events_page()
    assert caught.value.reason.startswith("malformed JSON")
    assert len(emu.requests) == 4
    assert sleeps.delays == [1.0, 2.0, 4.0]


async def test_unknown_event_is_ll2_http_error_404_with_the_url(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], sleeps: SleepLog
) -> None:
    """A 404 is not retried: LL2HTTPError carries the status and the URL."""
    client = make_client(emu)
    with pytest.raises(LL2HTTPError) as caught:
        await client.event(424242)
    assert caught.value.status == 404
    assert caught.value.url == emu.url() + "/event/424242/"
    assert len(emu.requests) == 1
    assert sleeps.delays == []


async def test_bad_filter_is_ll2_http_error_400_with_the_url(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], sleeps: SleepLog
) -> None:
    """LL2's 400 (type given as a name) names the status and the full URL with the query."""
    client = make_client(emu)
    with pytest.raises(LL2HTTPError) as caught:
        await client.events_page(EventFilters(type="Docking"))
    assert caught.value.status == 400
    assert caught.value.url == emu.url() + "/event/?type=Docking"
    assert "Enter a whole number." in caught.value.body
    assert len(emu.requests) == 1
    assert sleeps.delays == []


# --------------------------------------------------------------------------------------
# headers


async def test_api_key_is_sent_as_a_token_header(
    clock: FakeClock, make_client: Callable[..., LL2Client]
) -> None:
    """With an API key, every request (throttle included) carries Authorization: Token."""
    async with LL2Emulator(
        [], clock=clock, requests_per_hour=1, api_keys={API_KEY: None}
    ) as emulator:
        client = make_client(emulator, api_key=API_KEY)
        await client.throttle()
        for _ in range(3):  # beyond the per-IP limit of 1: the key's bucket is unlimited
            await client.events_page()
        assert [r.status for r in emulator.requests] == [200] * 4
        for request in emulator.requests:
            assert request.header("Authorization") == "Token ***"  # masked by the emulator
            assert request.ident == "token:***" + API_KEY[-4:]


async def test_no_authorization_header_without_an_api_key(
    emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """Without a key, no Authorization header is sent at all."""
    client = make_client(emu)
    await client.throttle()
    await client.events_page()
    assert all(r.header("Authorization") is None for r in emu.requests)
    assert all(r.ident == "127.0.0.1" for r in emu.requests)


async def test_user_agent_names_tminus(emu: LL2Emulator, clock: FakeClock) -> None:
    """The client it opens itself sends a User-Agent naming tminus, and JSON Accept."""
    async with LL2Client(LL2Settings(url=emu.url("2.3.0")), clock=clock) as client:
        await client.events_page(EventFilters(limit=1))
        await client.throttle()
    for request in emu.requests:
        agent = request.header("User-Agent")
        assert agent is not None and agent.startswith("tminus/")
        assert request.header("Accept") == "application/json"


async def test_configured_user_agent_is_sent(
    emu: LL2Emulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    """ll2.user_agent replaces the default User-Agent."""
    settings = LL2Settings(url=emu.url(), user_agent="tminus/9 (ops@example.org)")
    client = LL2Client(settings, http=http, clock=clock)
    await client.events_page(EventFilters(limit=1))
    assert emu.requests[0].header("User-Agent") == "tminus/9 (ops@example.org)"


async def test_its_own_http_client_sends_the_headers_and_query_and_keeps_no_cookie() -> None:
    """The client LL2Client makes for itself: headers and query as httpx would send them with
    each request, and a cookie LL2 sets is never sent back."""
    seen: list[tuple[str, dict[str, str]]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append((request.raw_path, dict(request.headers)))
        response = web.json_response({"count": 0, "next": None, "results": []})
        response.set_cookie("sessionid", "abc")
        return response

    app = web.Application()
    app.router.add_get("/2.2.0/event/", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        settings = LL2Settings(url=f"http://127.0.0.1:{port}/2.2.0", api_key=Secret("k3y"))
        filters = EventFilters(
            last_updated_gte=datetime(2026, 12, 3, 21, 0, tzinfo=UTC), search="a b&c", limit=5
        )
        async with LL2Client(settings) as client:
            for _ in range(2):
                await client.events_page(filters)
            jar = list(client._http.cookies.jar)
    finally:
        await runner.cleanup()
    expected = str(
        httpx.Request(
            "GET", f"http://127.0.0.1:{port}/2.2.0/event/", params=filters.to_params()
        ).url
    )
    assert [path for path, _ in seen] == [expected.split(str(port), 1)[1]] * 2
    assert "search=a+b%26c" in seen[0][0]
    for _, headers in seen:
        assert headers["Authorization"] == "Token k3y"
        assert headers["Accept"] == "application/json"
        assert headers["User-Agent"] == settings.user_agent
        assert "Cookie" not in headers
    assert jar == []
