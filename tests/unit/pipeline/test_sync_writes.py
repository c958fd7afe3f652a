"""What a page writes: only what changed, and never a stale idea of the stored item."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from bot.config import load_config
from bot.devtools.factories import make_event
from bot.ll2.parse import parse_items
from bot.pipeline.sync import Syncer, SyncReport
from storage import queries
from storage.db import session_scope
from storage.models import EventAgency, EventRow, EventUpdateRow, VideoLinkRow
from tests.conftest import T0

OLD = T0 - timedelta(days=1)


def syncer(engine: Engine) -> Syncer:
    """Return a Syncer storing pages directly (no LL2 client)."""
    config = load_config(None, env={})
    client: Any = None
    return Syncer(client=client, engine=engine, alerts=config.alerts, clock=lambda: T0)


def apply(sync: Syncer, *raws: dict[str, Any], seeding: bool = False) -> list[str]:
    """Apply raw LL2 events as one page; return the alert keys."""
    parsed, rejected = parse_items([copy.deepcopy(r) for r in raws])
    assert not rejected
    report = SyncReport()
    sync.apply_events(
        [e for e, _ in parsed], {e.id: r for e, r in parsed}, seeding=seeding, report=report
    )
    return report.alerts


def child_rows(engine: Engine, model: Any) -> list[tuple[Any, ...]]:
    """Return the child rows of ``model`` as sorted tuples of their columns (ids left out)."""
    with session_scope(engine) as session:
        rows = session.execute(select(model.__table__)).all()
    return sorted(tuple(str(v) for k, v in row._mapping.items() if k != "id") for row in rows)


def count(engine: Engine, model: Any) -> int:
    """Return how many rows ``model`` holds."""
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_an_appended_update_is_stored_beside_the_others(engine: Engine) -> None:
    """A new update adds its row; the event's other rows stay as they were."""
    sync = syncer(engine)
    raw = make_event(1, "Soyuz MS-29 Docking", date=T0 + timedelta(hours=2), last_updated=OLD)
    apply(sync, raw, seeding=True)
    videos, agencies = child_rows(engine, VideoLinkRow), child_rows(engine, EventAgency)
    newer = copy.deepcopy(raw)
    newer["updates"].append(dict(newer["updates"][0], id=999, comment="Hatch open"))
    newer["last_updated"] = (T0 - timedelta(minutes=1)).isoformat()
    assert any("999" in key for key in apply(sync, newer))
    with session_scope(engine) as session:
        updates = queries.event_updates(session=session, event_id=1)
    assert {u.id for u in updates} == {100, 101, 999}
    assert child_rows(engine, VideoLinkRow) == videos
    assert child_rows(engine, EventAgency) == agencies


def test_edited_and_removed_parts_are_replaced(engine: Engine) -> None:
    """An edited update and a webcast gone are what the store then holds."""
    sync = syncer(engine)
    raw = make_event(1, "Soyuz MS-29 Docking", date=T0 + timedelta(hours=2), last_updated=OLD)
    apply(sync, raw, seeding=True)
    edited = copy.deepcopy(raw)
    edited["updates"][0]["comment"] = "Corrected"
    edited["vid_urls"] = edited["vid_urls"][:1]
    edited["last_updated"] = (T0 - timedelta(minutes=1)).isoformat()
    apply(sync, edited)
    with session_scope(engine) as session:
        updates = {u.id: u.comment for u in queries.event_updates(session=session, event_id=1)}
    assert updates[100] == "Corrected" and set(updates) == {100, 101}
    with session_scope(engine) as session:
        videos = session.execute(select(VideoLinkRow.url)).scalars().all()
    assert videos == [edited["vid_urls"][0]["url"]]


def test_an_unchanged_item_is_only_marked_seen(engine: Engine) -> None:
    """Polling an item again leaves its rows alone and moves only ``seen_at``."""
    sync = syncer(engine)
    raw = make_event(1, "Soyuz MS-29 Docking", date=T0 + timedelta(hours=2), last_updated=OLD)
    apply(sync, raw, seeding=True)
    before = child_rows(engine, EventUpdateRow), child_rows(engine, VideoLinkRow)
    sync.clock = lambda: T0 + timedelta(minutes=5)
    assert apply(sync, raw) == []
    assert (child_rows(engine, EventUpdateRow), child_rows(engine, VideoLinkRow)) == before
    with session_scope(engine) as session:
        row = session.get(EventRow, 1)
        assert row is not None
        assert row.seen_at == T0 + timedelta(minutes=5)
        assert row.first_seen_at == T0


def test_a_change_written_by_another_syncer_is_diffed_against_the_store(engine: Engine) -> None:
    """A syncer never diffs against the item it remembers once someone else stored another."""
    first, second = syncer(engine), syncer(engine)
    raw = make_event(1, "Soyuz MS-29 Docking", date=T0 + timedelta(hours=2), last_updated=OLD)
    apply(first, raw, seeding=True)
    newer = copy.deepcopy(raw)
    newer["updates"].append(dict(newer["updates"][0], id=999, comment="Hatch open"))
    newer["last_updated"] = (T0 - timedelta(minutes=2)).isoformat()
    assert any("999" in k for k in apply(second, newer))  # the other process alerts once
    # The first syncer remembers the older item; the store holds the newer one.
    assert not any("999" in k for k in apply(first, newer))
    with session_scope(engine) as session:
        assert {u.id for u in queries.event_updates(session=session, event_id=1)} == {
            100,
            101,
            999,
        }
