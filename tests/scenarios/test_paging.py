"""Scenario tests: the keyset walk over LL2's pages, when LL2 changes or orders ties its own way."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.config import load_config
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock, LL2Emulator, ServedPage, TieOrder
from bot.ll2.client import LL2Client
from bot.pipeline.runner import console_pipeline
from bot.pipeline.sync import Syncer
from storage import queries
from storage.db import session_scope
from tests.conftest import T0

MINUTE = timedelta(minutes=1)
OLD = T0 - timedelta(days=2)


def _many_events(n: int, *, last_updated: Any = OLD) -> list[dict[str, Any]]:
    """Return ``n`` upcoming dockings with ids 1..n, none live, all with one ``last_updated``."""
    return [
        make_event(
            i, f"Docking {i}", date=T0 + timedelta(days=3, minutes=i), last_updated=last_updated
        )
        for i in range(1, n + 1)
    ]


async def test_an_event_edited_between_two_pages_of_one_poll_is_alerted(
    engine: Engine, clock: FakeClock
) -> None:
    """LL2 gains an update on an event the walk already passed (page 1 of 2): that same walk
    still alerts it, exactly once."""
    polls: list[ServedPage] = []
    edited: list[int] = []

    def edit_a_passed_event(page: ServedPage) -> None:
        if "last_updated__gte" not in page.query:
            return  # the seeding sync's upcoming pages, not the poll
        polls.append(page)
        if len(polls) == 1 and not edited:
            edited.append(page.ids[0])
            emulator.add_update(page.ids[0], "Docking moved to the zenith port")

    async with LL2Emulator(_many_events(250), clock=clock, requests_per_hour=None) as emulator:
        config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url("2.2.0")})
        async with LL2Client(config.ll2, clock=clock) as client:
            out = io.StringIO()
            pipeline = console_pipeline(
                config=config, engine=engine, client=client, fmt="json", stream=out, clock=clock
            )
            await pipeline.cycle()  # seeds quietly
            clock.advance(minutes=1)
            for i in range(1, 151):  # 150 changes: the poll walks two pages of 100
                emulator.edit_event(i, name=f"Docking {i} (renamed)")
            clock.advance(minutes=1)
            emulator.after_page = edit_a_passed_event
            start = out.tell()
            await pipeline.cycle()
            emulator.after_page = None
            out.seek(start)
            alerts = [json.loads(line) for line in out.read().splitlines() if line.strip()]

    assert len(polls) >= 2, "the poll walked more than one page"
    assert edited and edited[0] in polls[0].ids
    updates = [a for a in alerts if a["kind"] == "update"]
    assert [a["event"]["id"] for a in updates] == edited
    assert "zenith port" in json.dumps(updates[0]["message"])


@pytest.mark.parametrize("tie_order", ["id", "reversed", "shuffled"])
async def test_a_tie_group_across_pages_is_read_whole_in_any_tie_order(
    engine: Engine, clock: FakeClock, tie_order: TieOrder
) -> None:
    """250 events share one ``last_updated``: LL2 promises no order among them, and the walk
    stores all 250 whichever order the ties come back in."""
    stamp = T0 - 10 * MINUTE
    async with LL2Emulator(
        _many_events(250, last_updated=stamp),
        clock=clock,
        requests_per_hour=None,
        tie_order=tie_order,
        tie_seed=7,
    ) as emulator:
        config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url("2.2.0")})
        async with LL2Client(config.ll2, clock=clock) as client:
            syncer = Syncer(client=client, engine=engine, alerts=config.alerts, clock=clock)
            report = await syncer.poll_changes(T0 - timedelta(hours=1))
        pages = [r for r in emulator.requests if "last_updated__gte" in r.query]

    assert len(pages) >= 3, "250 events at 100 a page take at least three pages"
    assert report.rejected == 0
    with session_scope(engine) as session:
        assert queries.count_events(session=session) == 250
        missing = [
            i for i in range(1, 251) if queries.get_event(session=session, event_id=i) is None
        ]
    assert missing == []
