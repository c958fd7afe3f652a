"""A store from before 0009 (items kept LL2's raw JSON beside the snapshot) upgrades intact.

The store is built by Alembic up to the revision 0009 follows and filled as that tminus left
it: an event with its updates, webcasts, agencies and program, a launch with its program and
webcasts, each with ``raw`` and its snapshot, and the date announced for the event. After
the upgrade ``raw`` is emptied and everything else is as it was — above all the items' child
rows, which a table rebuild with foreign keys on would have deleted (ON DELETE CASCADE) —
and the next page is diffed against the stored snapshot as before, storing no raw JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from bot.config import load_config
from bot.core.timeutil import isoformat_z
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator.launches import load_recorded_launches
from bot.ll2.parse import parse_event, parse_launch
from bot.pipeline.records import event_record, launch_record
from bot.pipeline.sync import Syncer, SyncReport
from storage import queries
from storage.db import current_revision, head_revision, session_scope
from storage.db import upgrade as upgrade_store
from tests.conftest import T0
from tests.unit.storage.old_store import store_before

EVENT_ID = 7
CHILDREN = {
    # table: (key column, item id)
    "event_updates": ("event_id", EVENT_ID),
    "video_links": ("event_id", EVENT_ID),
    "event_agencies": ("event_id", EVENT_ID),
    "event_programs": ("event_id", EVENT_ID),
}


def _event_raw(updates: int = 1) -> dict[str, Any]:
    return make_event(
        EVENT_ID,
        "Soyuz Docking",
        date=T0 + timedelta(days=2),
        last_updated=T0 - timedelta(hours=1),
        updates=updates,
    )


def _launch_raw() -> dict[str, Any]:
    return next(r for r in load_recorded_launches() if r["program"] and r["vid_urls"])


def _tables(connection: sa.Connection) -> dict[str, sa.Table]:
    metadata = sa.MetaData()
    names = ["events", "launches", "announced_dates", "event_types", "agencies", "programs"]
    names += [*CHILDREN, "launch_programs", "launch_videos"]
    return {name: sa.Table(name, metadata, autoload_with=connection) for name in names}


def _counts(engine: Engine, launch_id: str) -> dict[str, int]:
    with engine.connect() as connection:
        tables = _tables(connection)
        found = {}
        for name, (key, item_id) in CHILDREN.items():
            table = tables[name]
            query = sa.select(sa.func.count()).where(table.c[key] == item_id)
            found[name] = connection.execute(query).scalar_one()
        for name in ("launch_programs", "launch_videos"):
            table = tables[name]
            query = sa.select(sa.func.count()).where(table.c.launch_id == launch_id)
            found[name] = connection.execute(query).scalar_one()
        return found


@pytest.fixture
def old_store(db_url: str) -> Iterator[Engine]:
    """Yield a store at the revision before 0009 with an event and a launch, raw JSON kept."""
    engine = store_before(db_url, "0009")
    event_raw, launch_raw = _event_raw(), _launch_raw()
    event = event_record(parse_event(event_raw))
    launch = launch_record(parse_launch(launch_raw))
    with engine.begin() as connection:
        t = _tables(connection)
        assert "raw" in t["events"].c and "raw" in t["launches"].c
        connection.execute(t["event_types"].insert(), {"id": event.type_id, "name": "Docking"})
        connection.execute(
            t["events"].insert(),
            {
                "id": event.id,
                "name": event.name,
                "name_lower": event.name.lower(),
                "slug": event.slug,
                "type_id": event.type_id,
                "type_name": event.type_name,
                "date": event.date,
                "date_precision": event.date_precision,
                "webcast_live": event.webcast_live,
                "last_updated": event.last_updated,
                "snapshot": json.loads(event.snapshot_json),
                "raw": event_raw,
                "first_seen_at": T0,
                "seen_at": T0,
            },
        )
        connection.execute(
            t["agencies"].insert(),
            [{"id": a, "name": name, "abbrev": abbrev} for a, name, abbrev in event.agencies],
        )
        connection.execute(
            t["programs"].insert(),
            [{"id": p, "name": name} for p, name in {*event.programs, *launch.programs}],
        )
        connection.execute(
            t["event_agencies"].insert(),
            [{"event_id": event.id, "agency_id": a[0]} for a in event.agencies],
        )
        connection.execute(
            t["event_programs"].insert(),
            [{"event_id": event.id, "program_id": p[0]} for p in event.programs],
        )
        connection.execute(
            t["event_updates"].insert(), [dict(u, event_id=event.id) for u in event.updates]
        )
        connection.execute(
            t["video_links"].insert(), [dict(v, event_id=event.id) for v in event.videos]
        )
        connection.execute(
            t["announced_dates"].insert(),
            {"feed": "events", "item_id": str(event.id), "date": event.date, "precision": "Hour"},
        )
        connection.execute(
            t["launches"].insert(),
            {
                "id": launch.id,
                "name": launch.name,
                "name_lower": launch.name.lower(),
                "slug": launch.slug,
                "search_text": launch.name.lower(),
                "net": launch.net,
                "net_precision": launch.net_precision,
                "webcast_live": launch.webcast_live,
                "last_updated": launch.last_updated,
                "snapshot": json.loads(launch.snapshot_json),
                "raw": launch_raw,
                "first_seen_at": T0,
                "seen_at": T0,
            },
        )
        connection.execute(
            t["launch_programs"].insert(),
            [{"launch_id": launch.id, "program_id": p[0]} for p in launch.programs],
        )
        connection.execute(
            t["launch_videos"].insert(),
            [
                {"launch_id": launch.id, "url": url, "priority": pr, "start_time": st, "live": lv}
                for url, pr, st, lv in launch.videos
            ],
        )
    yield engine
    engine.dispose()


def _raw(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        t = _tables(connection)
        return [
            *connection.execute(sa.select(t["events"].c.raw)).scalars(),
            *connection.execute(sa.select(t["launches"].c.raw)).scalars(),
        ]


def test_items_and_their_child_rows_survive_clearing_raw(old_store: Engine) -> None:
    """Rows, snapshots, child rows and the announced date are as before; ``raw`` is empty."""
    launch_id = launch_record(parse_launch(_launch_raw())).id
    before = _counts(old_store, launch_id)
    assert all(before.values()), before  # every kind of child row is there to lose
    assert all(_raw(old_store))
    upgrade_store(old_store)
    assert current_revision(old_store) == head_revision()
    assert _raw(old_store) == [{}, {}]
    assert _counts(old_store, launch_id) == before
    with session_scope(old_store) as session:
        event = queries.get_event(session=session, event_id=EVENT_ID)
        launch = queries.get_launch(session=session, launch_id=launch_id)
        assert event is not None and launch is not None
        assert event.snapshot == json.loads(event_record(parse_event(_event_raw())).snapshot_json)
        assert launch.snapshot == json.loads(
            launch_record(parse_launch(_launch_raw())).snapshot_json
        )
        stored = queries.stored_items(session=session, feed="events", item_ids=[str(EVENT_ID)])
        assert stored[str(EVENT_ID)].announced_precision == "Hour"


def test_the_next_page_is_diffed_against_the_upgraded_store(old_store: Engine) -> None:
    """A new update on the stored event is one ``update`` alert and one more stored row."""
    upgrade_store(old_store)
    launch_id = launch_record(parse_launch(_launch_raw())).id
    before = _counts(old_store, launch_id)
    syncer = Syncer(client=None, engine=old_store, alerts=load_config(None, env={}).alerts)  # type: ignore[arg-type]
    raw = _event_raw(updates=2)
    raw["last_updated"] = isoformat_z(T0)
    report = SyncReport()
    syncer.apply_events([parse_event(raw)], seeding=False, report=report)
    assert [key.split(":")[3] for key in report.alerts] == ["update"]
    assert _counts(old_store, launch_id) == dict(before, event_updates=before["event_updates"] + 1)
    raw["id"] = EVENT_ID + 1  # a new item: inserted without its raw JSON
    syncer.apply_events([parse_event(raw)], seeding=False)
    assert _raw(old_store) == [{}, {}, {}]
