"""The real LL2Client reading launches from the LL2 emulator over loopback, on both versions."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.config import LL2Settings
from bot.core.launches import Launch
from bot.devtools.ll2_emulator import FakeClock, LL2Emulator, load_recorded_launches
from bot.ll2.budget import RequestBudget
from bot.ll2.client import LaunchFilters, LaunchPage, LL2Client
from bot.ll2.errors import LL2BadResponse, LL2BudgetExhausted, LL2Throttled

NOW = datetime(2026, 3, 13, 12, 0, tzinfo=UTC)
RECORDED = load_recorded_launches()
VERSIONS = ["2.2.0", "2.3.0"]
PATHS = {"2.2.0": "/2.2.0/launch/", "2.3.0": "/2.3.0/launches/"}


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at NOW, shared by client, budget and emulator."""
    return FakeClock(NOW)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """One real HTTP client on loopback."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[LL2Emulator]:
    """An unlimited emulator serving the recorded launches."""
    async with LL2Emulator([], clock=clock, requests_per_hour=None) as emulator:
        yield emulator


@pytest.fixture
def make_client(http: httpx.AsyncClient, clock: FakeClock) -> Callable[..., LL2Client]:
    """Build a client for one version of the emulator."""

    async def no_sleep(_: float) -> None:
        return None

    def build(emulator: LL2Emulator, version: str, **kwargs: Any) -> LL2Client:
        settings = LL2Settings(
            url=emulator.url(version), requests_per_hour=kwargs.pop("requests_per_hour", 1000)
        )
        return LL2Client(settings, http=http, clock=clock, sleep=no_sleep, **kwargs)

    return build


def _ids(launches: list[Launch]) -> set[str]:
    return {x.id for x in launches}


def _expected(predicate: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {x["id"] for x in RECORDED if predicate(x)}


def test_filters_become_ll2_parameters_with_detailed_mode() -> None:
    """Each LaunchFilters field maps to LL2's parameter; mode=detailed is always sent."""
    params = LaunchFilters(
        last_updated_gte=NOW,
        last_updated_lte=NOW + timedelta(hours=1),
        net_gte=NOW,
        net_lte=NOW + timedelta(days=1),
        lsp_ids=[121, 44],
        location_ids=[12],
        program_ids=[25],
        status_ids=[1, 8],
        search="starlink",
        ordering="net",
        limit=50,
        offset=100,
        hide_recent_previous=True,
    ).to_params()
    assert params == {
        "mode": "detailed",
        "lsp__id": "121,44",
        "location__ids": "12",
        "program": "25",
        "status__ids": "1,8",
        "last_updated__gte": "2026-03-13T12:00:00Z",
        "last_updated__lte": "2026-03-13T13:00:00Z",
        "net__gte": "2026-03-13T12:00:00Z",
        "net__lte": "2026-03-14T12:00:00Z",
        "search": "starlink",
        "ordering": "net",
        "limit": "50",
        "offset": "100",
        "hide_recent_previous": "true",
    }
    assert LaunchFilters().to_params() == {"mode": "detailed"}
    assert LaunchFilters(status_ids=[5]).to_params()["status"] == "5"
    with pytest.raises(ValueError, match="limit"):
        LaunchFilters(limit=101).to_params()


@pytest.mark.parametrize("version", VERSIONS)
async def test_each_filter_reaches_ll2_and_narrows_the_launches(
    version: str, emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """Provider, location, program, status, NET window and search each narrow the page."""
    client = make_client(emu, version)
    cases: list[tuple[LaunchFilters, set[str]]] = [
        (
            LaunchFilters(lsp_ids=[121], limit=100),
            _expected(lambda x: x["launch_service_provider"]["id"] == 121),
        ),
        (
            LaunchFilters(location_ids=[12, 27], limit=100),
            _expected(lambda x: x["pad"]["location"]["id"] in (12, 27)),
        ),
        (
            LaunchFilters(program_ids=[17], limit=100),
            _expected(lambda x: 17 in {p["id"] for p in x["program"]}),
        ),
        (
            LaunchFilters(status_ids=[4], limit=100),
            _expected(lambda x: x["status"]["id"] == 4),
        ),
        (
            LaunchFilters(net_gte=NOW, net_lte=NOW + timedelta(days=30), limit=100),
            _expected(
                lambda x: NOW <= datetime.fromisoformat(x["net"]) <= NOW + timedelta(days=30)
            ),
        ),
        (LaunchFilters(search="Artemis", limit=100), _expected(lambda x: "Artemis" in x["name"])),
    ]
    for filters, expected in cases:
        page = await client.launches_page(filters)
        assert expected and _ids(page.launches) == expected, filters
        assert page.rejected == [] and page.count == len(expected)
    sent = [r for r in emu.requests if r.path == PATHS[version]]
    assert len(sent) == len(cases) and all(r.query["mode"] == "detailed" for r in sent)
    assert {"lsp__id", "location__ids", "program", "status", "net__gte", "search"} <= {
        k for r in sent for k in r.query
    }


@pytest.mark.parametrize("version", VERSIONS)
async def test_both_versions_read_the_same_launches(
    version: str, emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """Every recorded launch reads with its updates, streams and status on either version."""
    page = await make_client(emu, version).launches_page(LaunchFilters(limit=100))
    assert isinstance(page, LaunchPage) and _ids(page.launches) == _expected(lambda x: True)
    by_id = {x.id: x for x in page.launches}
    for raw in RECORDED:
        launch = by_id[raw["id"]]
        assert sorted(u.id for u in launch.updates) == sorted(u["id"] for u in raw["updates"])
        assert [v.url for v in launch.vid_urls] == [v["url"] for v in raw["vid_urls"]]
        assert launch.status is not None and launch.status.id == raw["status"]["id"]
        assert page.raw[launch.id]["id"] == launch.id


@pytest.mark.parametrize("version", VERSIONS)
async def test_changed_since_walks_pages_oldest_change_first(
    version: str, emu: LL2Emulator, make_client: Callable[..., LL2Client], clock: FakeClock
) -> None:
    """launches_changed_since follows next links and finds each change once, in order."""
    since = max(datetime.fromisoformat(x["last_updated"]) for x in RECORDED) + timedelta(seconds=1)
    clock.set(since + timedelta(minutes=1))
    changed = [x["id"] for x in RECORDED[:7]]
    for i, lid in enumerate(changed):
        clock.advance(10)
        if i % 2:
            emu.set_launch_webcast(lid, True)
        else:
            emu.slip_launch(lid, by=timedelta(minutes=2))
    seen: list[str] = []
    pages = 0
    async for page in make_client(emu, version).launches_changed_since(since, page_size=3):
        pages += 1
        seen += [x.id for x in page.launches]
    assert seen == changed and pages == 3
    queries = [r.query for r in emu.requests if r.path == PATHS[version]]
    assert queries[0]["ordering"] == "last_updated" and queries[0]["mode"] == "detailed"
    assert all(q.get("mode") == "detailed" for q in queries)


@pytest.mark.parametrize("version", VERSIONS)
async def test_upcoming_pages_ask_the_upcoming_path_and_hide_recent_previous(
    version: str, emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """The seed's read: /upcoming/ with hide_recent_previous=true skips finished launches."""
    finished = next(x for x in RECORDED if x["status"]["id"] == 3)
    emu.edit_launch(finished["id"], net=NOW - timedelta(hours=3))
    client = make_client(emu, version)
    shown = await client.upcoming_launches(LaunchFilters(limit=100))
    hidden = await client.upcoming_launches(
        LaunchFilters(limit=100, hide_recent_previous=True), max_pages=2
    )
    assert finished["id"] in _ids(shown) and finished["id"] not in _ids(hidden)
    assert _ids(hidden) < _ids(shown)
    upcoming = [r for r in emu.requests if r.path.endswith("/upcoming/")]
    assert upcoming[-1].query["hide_recent_previous"] == "true"
    assert upcoming[-1].path == PATHS[version] + "upcoming/"


@pytest.mark.parametrize("version", VERSIONS)
async def test_one_launch_by_uuid(
    version: str, emu: LL2Emulator, make_client: Callable[..., LL2Client]
) -> None:
    """launch(id) reads one launch in detailed mode; a non-UUID id is refused unsent."""
    artemis = next(x for x in RECORDED if x["name"].endswith("Artemis II"))
    emu.set_launch_status(artemis["id"], "Hold", holdreason="Hydrogen leak")
    client = make_client(emu, version)
    launch = await client.launch(artemis["id"])
    assert launch.status is not None and launch.status.abbrev == "Hold"
    assert len(launch.updates) == len(artemis["updates"])
    # the 2.3.0 document has no holdreason: only 2.2.0 carries it
    assert launch.holdreason == ("Hydrogen leak" if version == "2.2.0" else None)
    before = len(emu.requests)
    with pytest.raises(ValueError):
        await client.launch("../event/1300")
    assert len(emu.requests) == before


async def test_launch_requests_spend_the_one_budget(
    emu: LL2Emulator, make_client: Callable[..., LL2Client], clock: FakeClock
) -> None:
    """A budget shared with events refuses the launch request that would exceed it."""
    budget = RequestBudget(2, clock=clock)
    events = make_client(emu, "2.2.0", budget=budget)
    launches = make_client(emu, "2.3.0", budget=budget)
    await events.events_page()
    await launches.launches_page()
    with pytest.raises(LL2BudgetExhausted):
        await launches.launches_page()
    assert len(emu.requests) == 2


async def test_a_429_from_ll2_is_honoured_for_launches(
    clock: FakeClock, make_client: Callable[..., LL2Client]
) -> None:
    """The emulator's hourly limit answers 429; the client raises LL2Throttled with the wait."""
    async with LL2Emulator([], clock=clock, requests_per_hour=1) as emu:
        client = make_client(emu, "2.3.0")
        await client.launches_page()
        with pytest.raises(LL2Throttled) as caught:
            await client.launches_page()
        assert 0 < caught.value.retry_after <= 3600


async def test_a_bad_launch_is_rejected_alone_and_a_next_loop_stops(
    http: httpx.AsyncClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A launch lacking last_updated is rejected alone; a next link that loops stops the
    walk; a page cut short is a bad response, not a silent gap."""
    good = dict(RECORDED[0])
    bad = {k: v for k, v in good.items() if k != "last_updated"} | {"id": str(uuid.uuid4())}
    answer: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(answer)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    root = f"http://127.0.0.1:{port}/2.2.0"
    client = LL2Client(LL2Settings(url=root, requests_per_hour=1000), http=http, clock=clock)
    try:
        # page 2 answers the same rows again: the walk stops instead of spending the budget
        answer.update(
            count=4, next=f"{root}/launch/upcoming/?limit=2&offset=2", results=[good, bad]
        )
        with caplog.at_level(logging.WARNING):
            read = [p async for p in client.upcoming_launch_pages(LaunchFilters(limit=2))]
        assert len(read) == 1 and [x.id for x in read[0].launches] == [good["id"]]
        assert read[0].rejected[0][0] == bad["id"]
        assert any("repeats only launches" in r.getMessage() for r in caplog.records)
        # a next link back to the first page is never followed
        answer["next"] = f"{root}/launch/upcoming/?limit=2&mode=detailed"
        with caplog.at_level(logging.WARNING):
            again = [p async for p in client.upcoming_launch_pages(LaunchFilters(limit=2))]
        assert len(again) == 1
        assert any("leads back" in r.getMessage() for r in caplog.records)
        answer.update(count=5, next=None, results=[good])
        with pytest.raises(LL2BadResponse, match="were due"):
            await client.launches_page(LaunchFilters(limit=5))
    finally:
        await runner.cleanup()
