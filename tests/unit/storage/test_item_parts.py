"""An item's child rows after a change: new updates wherever LL2 lists them, others replaced."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.devtools.factories import make_event
from storage import queries
from storage.db import session_scope
from storage.models import VideoLinkRow
from tests.conftest import T0
from tests.unit.pipeline.test_sync_writes import apply, syncer

OLD = T0 - timedelta(days=1)
Change = Callable[[dict[str, Any]], None]


def _update(raw: dict[str, Any], update_id: int, comment: str) -> dict[str, Any]:
    return dict(raw["updates"][0], id=update_id, comment=comment)


def _stored_then(engine: Engine, change: Change) -> tuple[dict[int, str | None], list[str]]:
    """Store an event with updates 100..102, apply ``change``; return its updates and alerts."""
    sync = syncer(engine)
    raw = make_event(1, "Soyuz MS-29 Docking", date=T0 + timedelta(hours=2), last_updated=OLD)
    raw["updates"] = [_update(raw, 100 + i, f"Update {i}") for i in range(3)]
    apply(sync, raw, seeding=True)
    newer = copy.deepcopy(raw)
    change(newer)
    newer["last_updated"] = (T0 - timedelta(minutes=1)).isoformat()
    alerts = apply(sync, newer)
    with session_scope(engine) as session:
        rows = queries.event_updates(session=session, event_id=1)
        updates = {u.id: u.comment for u in rows}
        assert len(rows) == len(updates)  # no update stored twice
    return updates, alerts


@pytest.mark.parametrize("where", [0, 3, 1], ids=["in front", "at the end", "in between"])
def test_a_new_update_adds_one_row_wherever_it_is_listed(engine: Engine, where: int) -> None:
    """The stored updates stay, the new one is stored once, and it is one alert."""
    updates, alerts = _stored_then(
        engine, lambda raw: raw["updates"].insert(where, _update(raw, 999, "Hatch open"))
    )
    assert updates == {100: "Update 0", 101: "Update 1", 102: "Update 2", 999: "Hatch open"}
    assert [key.split(":")[3:] for key in alerts] == [["update", "999"]]


def test_an_update_gone_and_one_new_replace_the_rows(engine: Engine) -> None:
    """Not an append: the store then holds exactly LL2's list, without the one gone."""

    def swap(raw: dict[str, Any]) -> None:
        raw["updates"] = [_update(raw, 999, "Hatch open"), *raw["updates"][1:]]

    updates, _ = _stored_then(engine, swap)
    assert updates == {999: "Hatch open", 101: "Update 1", 102: "Update 2"}


def _videos(engine: Engine) -> list[tuple[Any, ...]]:
    with session_scope(engine) as session:
        found = session.execute(select(VideoLinkRow.id, VideoLinkRow.url).order_by("id")).all()
        return [tuple(row) for row in found]


def test_unchanged_webcasts_keep_their_rows(engine: Engine) -> None:
    """A change to updates only leaves the webcast rows as they were (same row ids)."""
    sync = syncer(engine)
    raw = make_event(1, "Soyuz MS-29 Docking", date=T0 + timedelta(hours=2), last_updated=OLD)
    apply(sync, raw, seeding=True)
    videos = _videos(engine)
    assert videos
    newer = copy.deepcopy(raw)
    newer["updates"].insert(0, _update(raw, 999, "Hatch open"))
    newer["last_updated"] = (T0 - timedelta(minutes=1)).isoformat()
    apply(sync, newer)
    assert _videos(engine) == videos
