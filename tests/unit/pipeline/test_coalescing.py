"""One poll's alerts about one item: a burst of updates is one alert, a role is pinged once."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from bot.core.changes import detect_changes
from bot.core.kinds import update as update_kind
from bot.devtools.factories import make_event
from bot.ll2.parse import parse_event
from bot.pipeline.fanout import delivery_rows
from storage import outbox, subscriptions
from storage.db import session_scope
from storage.models import Delivery, Subscription
from tests.conftest import T0


def updates(count: int, first_id: int) -> list[dict[str, Any]]:
    """Return ``count`` updates a minute apart, oldest first."""
    return [
        {
            "id": first_id + i,
            "comment": f"note {i}",
            "created_by": "Writer",
            "created_on": (T0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
        }
        for i in range(count)
    ]


def test_a_burst_is_one_alert_whose_key_does_not_depend_on_ll2s_order() -> None:
    """Four or more new updates: one alert, newest first, the same key for any LL2 order."""
    base = make_event(1, "Docking", date=T0 + timedelta(days=2), last_updated=T0)
    stored = parse_event(base)
    burst = updates(10, 900)
    keys = set()
    for seed in range(3):
        shuffled = random.Random(seed).sample(burst, len(burst))
        new = parse_event(dict(base, updates=base["updates"] + shuffled))
        found = detect_changes(stored, new, seeding=False, now=T0)
        assert len(found) == 1
        assert [u.id for u in found[0].updates] == list(range(909, 899, -1))
        keys.add(found[0].key("channel:5"))
    assert keys == {"channel:5:events:1:update:909+9"}
    few = parse_event(dict(base, updates=base["updates"] + burst[: update_kind.COALESCE_AFTER]))
    assert len(detect_changes(stored, few, seeding=False, now=T0)) == update_kind.COALESCE_AFTER


def test_a_role_is_pinged_once_per_item_per_poll(engine: Engine) -> None:
    """Update + webcast live + rescheduled for one item in one channel: each role is pinged
    by the first message that wants it; the others carry no mention and admit no role."""
    base = make_event(1, "Docking", date=T0 + timedelta(days=2), last_updated=T0)
    stored = parse_event(base)
    new = parse_event(
        dict(
            base,
            updates=base["updates"] + updates(1, 900),
            webcast_live=True,
            date=(T0 + timedelta(days=3)).isoformat().replace("+00:00", "Z"),
        )
    )
    found = detect_changes(stored, new, seeding=False, now=T0)
    assert [a.kind.name for a in found] == ["update", "webcast_live", "rescheduled"]
    with session_scope(engine) as session:
        subs = [
            subscriptions.add_subscription(
                session=session,
                subscription=Subscription(
                    guild_id=1, channel_id=channel, mention_role_id=role, kinds=kinds, created_at=T0
                ),
            )
            for channel, role, kinds in [
                (10, 111, []),
                (10, 222, ["webcast_live", "rescheduled"]),
                (20, 333, []),
            ]
        ]
        rows = delivery_rows(found, subs, T0)
        outbox.enqueue_deliveries(session=session, rows=rows)
    with session_scope(engine) as session:
        stored_rows = session.exec(select(Delivery).order_by(col(Delivery.id))).all()
        got = [
            (
                r.channel_id,
                r.kind,
                r.payload["message"]["content"].split(" ", 1)[0],
                r.payload["message"]["allowed_mentions"].get("roles", []),
            )
            for r in stored_rows
        ]
    assert got == [
        (10, "update", "<@&111>", ["111"]),
        (20, "update", "<@&333>", ["333"]),
        (10, "webcast_live", "<@&222>", ["222"]),
        (20, "webcast_live", "🔴", []),
        (10, "rescheduled", "🗓️", []),
        (20, "rescheduled", "🗓️", []),
    ]
    # The same content, only without the ping.
    by_key = {r["dedupe_key"]: r["payload"]["message"]["content"] for r in rows}
    assert by_key["channel:20:events:1:webcast_live:" + found[1].discriminator].startswith("🔴")
