"""Sync edge cases that need LL2 answers no emulator would give (swapped httpx transport)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from sqlalchemy import Engine

from bot.config import load_config
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock
from bot.ll2.client import LL2Client
from bot.pipeline.sync import Syncer
from storage import queries
from storage.db import session_scope
from tests.conftest import T0


async def test_a_full_page_of_malformed_events_is_stepped_over(
    engine: Engine, clock: FakeClock
) -> None:
    """A tie group whose first page is all malformed (no name): the walk steps over it by
    offset, stores the good events after it, and ends."""
    stamp = T0 - timedelta(minutes=1)
    bad = [
        {k: v for k, v in make_event(i, "x", date=T0, last_updated=stamp).items() if k != "name"}
        for i in (1, 2)
    ]
    good = [make_event(i, f"Docking {i}", date=T0, last_updated=stamp) for i in (3, 4)]
    seen_offsets: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/api-throttle/"):
            return httpx.Response(200, json={"your_request_limit": 15, "current_use": 0})
        offset = request.url.params.get("offset")
        seen_offsets.append(offset)
        start = int(offset or 0)  # all four share one last_updated: every query matches all
        results = (bad + good)[start : start + int(request.url.params["limit"])]
        body = {"count": 4, "next": None, "previous": None, "results": results}
        return httpx.Response(200, content=json.dumps(body).encode())

    config = load_config(None, env={}, overrides={("ll2", "url"): "http://ll2.test/2.2.0"})
    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    async with LL2Client(config.ll2, http=http, clock=clock) as client:
        syncer = Syncer(
            client=client, engine=engine, alerts=config.alerts, clock=clock, page_size=2
        )
        report = await syncer.poll_changes(T0 - timedelta(hours=1))
    await http.aclose()
    # The bad page, the good one, the keyset moved to their second re-read once, the end.
    assert seen_offsets == [None, "2", "2", "4"]
    assert report.rejected == 2
    with session_scope(engine) as session:
        assert queries.get_event(session=session, event_id=3) is not None
        assert queries.get_event(session=session, event_id=4) is not None
