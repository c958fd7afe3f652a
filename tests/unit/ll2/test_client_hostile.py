"""The real LL2Client against a hostile LL2 on loopback: deadlines, loops, long pages, clamps."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from bot.config import LL2Settings
from bot.devtools.factories import make_event
from bot.devtools.hostile_ll2 import HostileLL2
from bot.devtools.ll2_emulator import FakeClock
from bot.ll2.client import MAX_REQUEST_LIMIT, EventFilters, LL2Client
from bot.ll2.errors import MAX_WAIT_SECONDS, LL2BadResponse, LL2DeadlineExceeded, LL2Throttled

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def five_events() -> list[dict[str, Any]]:
    """Return five upcoming events, a day apart."""
    return [
        make_event(
            100 + i, f"Event {i}", date=T0 + timedelta(days=i + 1), last_updated=T0, updates=1
        )
        for i in range(5)
    ]


@pytest.fixture
async def ll2() -> AsyncIterator[HostileLL2]:
    """A hostile LL2 serving five events (behaving until a test says otherwise)."""
    async with HostileLL2(five_events(), clock=FakeClock(T0)) as server:
        yield server


def client_for(server: HostileLL2, **options: Any) -> LL2Client:
    """Return a client on ``server`` with short timeouts and a fake clock at T0."""
    options.setdefault("timeout", 0.3)
    options.setdefault("deadline", 1.0)
    options.setdefault("backoff", 0.01)
    options.setdefault("clock", FakeClock(T0))
    return LL2Client(LL2Settings(url=server.url(), requests_per_hour=1000), **options)


async def test_a_trickled_answer_overruns_the_deadline_and_is_tried_once_more(
    ll2: HostileLL2,
) -> None:
    """One byte every 0.1 s never trips the 0.3 s read timeout; the 1 s deadline does, twice."""
    ll2.trickle(0.1, times=5, path="/event/")
    async with client_for(ll2) as client:
        start = time.monotonic()
        with pytest.raises(LL2DeadlineExceeded) as failed:
            await client.events_page(EventFilters(limit=5))
        took = time.monotonic() - start
        assert 2.0 <= took < 3.5
        assert failed.value.deadline == 1.0
        assert client.budget.used() == 2  # each try counts against the hour
        # LL2 answering normally again: the same client reads the page.
        ll2.bad.trickles.clear()
        assert len((await client.events_page(EventFilters(limit=5))).events) == 5


async def test_the_deadline_defaults_to_twice_the_timeout(ll2: HostileLL2) -> None:
    """Without an explicit deadline, it is derived from the configured timeout."""
    async with client_for(ll2, timeout=0.25, deadline=None) as client:
        assert client.deadline == 0.5


@pytest.mark.parametrize("loop", ["self", "first"])
async def test_a_looping_next_stops_after_the_pages_read(
    ll2: HostileLL2, loop: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``next`` to itself, or from page 2 back to page 1: stop, log once, keep what was read."""
    ll2.bad.next_loop = loop
    async with client_for(ll2) as client:
        ids = [e.id for p in [p async for p in client.upcoming_pages(EventFilters(limit=2))]
               for e in p.events]  # fmt: skip
    expected = [100, 101] if loop == "self" else [100, 101, 102, 103]
    assert ids == expected
    assert len([r for r in ll2.requests if "/upcoming/" in r]) == len(expected) // 2
    assert len([r for r in caplog.records if "LL2's next link" in r.getMessage()]) == 1


async def test_a_next_that_repeats_only_read_events_stops(
    ll2: HostileLL2, caplog: pytest.LogCaptureFixture
) -> None:
    """A server ignoring ``offset`` (every page the same rows) stops after the second page."""
    ll2.bad.ignore_offset = True
    async with client_for(ll2) as client:
        pages = [p async for p in client.upcoming_pages(EventFilters(limit=2))]
    assert len(pages) == 1
    assert any("repeats only events already read" in r.getMessage() for r in caplog.records)


async def test_a_page_longer_than_limit_is_reported_honestly(ll2: HostileLL2) -> None:
    """Four repeated rows past ``limit=2``: two events, four duplicates, a span of two."""
    ll2.bad.repeat_rows = 4
    async with client_for(ll2) as client:
        page = await client.events_page(EventFilters(ordering="last_updated", limit=2))
    assert page.size == 6 and page.limit == 2
    assert [e.id for e in page.events] == [100, 101] and sorted(page.raw) == [100, 101]
    assert page.duplicates == 4
    assert page.span == 2


async def test_absurd_throttle_values_are_clamped_and_said_once(
    ll2: HostileLL2, caplog: pytest.LogCaptureFixture
) -> None:
    """``1e400`` limit, 30 million in use, ``1e300`` s: clamped; each oddity logged once."""
    ll2.bad.throttle_body = (
        b'{"your_request_limit": 1e400, "limit_frequency_secs": 3600,'
        b' "current_use": 30000000, "next_use_secs": 1e300}'
    )
    async with client_for(ll2) as client:
        assert client.alignment_due
        status = await client.throttle()
        await client.throttle()
        assert not client.alignment_due
        assert status.limit == MAX_REQUEST_LIMIT
        assert status.current_use == MAX_REQUEST_LIMIT
        assert status.next_use_secs == MAX_WAIT_SECONDS
        assert client.budget.used() == client.budget.limit == 1000
    said = [r.getMessage() for r in caplog.records if "absurd" in r.getMessage()]
    assert len(said) == 3, said  # limit, use, wait: each once over two answers


@pytest.mark.parametrize(
    "body",
    [
        b'{"your_request_limit": "lots"}',
        b'{"your_request_limit": true}',
        b'{"your_request_limit": NaN}',
        b'{"your_request_limit": [15]}',
    ],
)
async def test_a_throttle_body_that_is_no_number_is_a_bad_response(
    ll2: HostileLL2, body: bytes
) -> None:
    """A limit that is text, a boolean, NaN or a list: LL2BadResponse, never a crash."""
    ll2.bad.throttle_body = body
    async with client_for(ll2) as client:
        with pytest.raises(LL2BadResponse):
            await client.throttle()


async def test_a_retry_after_date_is_read_and_a_429_asks_for_alignment(ll2: HostileLL2) -> None:
    """``Retry-After`` as an HTTP date two minutes ahead waits two minutes; a 429 re-aligns."""
    clock = FakeClock(T0)
    ll2.throttle_next(retry_after=format_datetime(T0 + timedelta(minutes=2), usegmt=True))
    async with client_for(ll2, clock=clock) as client:
        await client.throttle()
        with pytest.raises(LL2Throttled) as throttled:
            await client.events_page(EventFilters(limit=1))
        assert throttled.value.retry_after == 120
        assert client.alignment_due
        assert client.budget.available_at() == T0 + timedelta(minutes=2)


async def test_an_absurd_retry_after_is_clamped_and_said_once(
    ll2: HostileLL2, caplog: pytest.LogCaptureFixture
) -> None:
    """``Retry-After: 1e300`` twice: an hour each time, one warning."""
    ll2.throttle_next(retry_after="1e300", times=2)
    clock = FakeClock(T0)
    async with client_for(ll2, clock=clock) as client:
        for _ in range(2):
            with pytest.raises(LL2Throttled) as throttled:
                await client.events_page(EventFilters(limit=1))
            assert throttled.value.retry_after == MAX_WAIT_SECONDS
            clock.advance(hours=1)
    said = [r for r in caplog.records if "asked to wait" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING


async def test_event_types_with_a_self_referencing_next_end(ll2: HostileLL2) -> None:
    """The type list's ``next`` pointing at itself ends the walk with the types read."""
    ll2.bad.next_loop = "self"
    ll2.bad.next_loop_path = "/config/"
    async with client_for(ll2) as client:
        types = await client.event_types()
    assert {t.name for t in types} == {"Docking", "Press Event", "EVA"}
    assert len([r for r in ll2.requests if "/config/" in r]) == 1
