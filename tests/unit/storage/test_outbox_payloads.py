"""The outbox stores one payload per alert and role set, and every delivery reads back whole.

``enqueue_deliveries`` keeps what differs per delivery (key, subscription) on the row and the
rest once in ``delivery_payloads`` (issue 13); whatever loads a delivery gets the payload it
was enqueued with, byte for byte, and its links.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, func, select

from bot.core.kinds import webcast_live_alert
from bot.devtools.factories import make_event
from bot.ll2.parse import parse_items
from bot.pipeline.fanout import delivery_rows
from storage import outbox, subscriptions
from storage.db import session_scope
from storage.models import Delivery, DeliveryPayload, Subscription
from tests.conftest import T0


def _subscriptions(engine: Engine, count: int) -> list[Subscription]:
    """Store ``count`` channel subscriptions in 3 guilds, two of them mentioning a role."""
    subs = [
        Subscription(
            guild_id=100 + i % 3,
            channel_id=5000 + i,
            mention_role_id=(700 + i % 3) if i % 3 else None,
            created_at=T0,
        )
        for i in range(count)
    ]
    with session_scope(engine) as session:
        session.add_all(subs)
        session.flush()
        for sub in subs:
            session.refresh(sub)
    return subs


def _alert_rows(subs: list[Subscription], event_id: int = 7001) -> list[dict[str, Any]]:
    raw = make_event(event_id, "Soyuz Docking", date=T0 + timedelta(hours=3), last_updated=T0)
    ((event, _),), _ = parse_items([raw])
    return delivery_rows([webcast_live_alert(event)], subs, T0)


def _payload_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(DeliveryPayload)).one()


def test_one_payload_per_role_set_and_every_delivery_reads_back_whole(engine: Engine) -> None:
    """300 channels, 3 role sets: 3 stored payloads; each delivery's payload as enqueued."""
    subs = _subscriptions(engine, 300)
    rows = _alert_rows(subs)
    with session_scope(engine) as session:
        assert outbox.enqueue_deliveries(session=session, rows=rows) == 300
    assert _payload_count(engine) == 3
    with session_scope(engine) as session:
        due = outbox.due_deliveries(session=session, now=T0, limit=1000)
        served = outbox.delivery_subscription_ids(
            session=session, delivery_ids=[d.id for d in due if d.id is not None]
        )
    assert [d.dedupe_key for d in due] == [r["dedupe_key"] for r in rows]
    # Same fields in the same order: the console sink prints json.dumps(payload).
    assert [json.dumps(d.payload) for d in due] == [json.dumps(r["payload"]) for r in rows]
    assert [served[d.id] for d in due if d.id is not None] == [r["subscription_ids"] for r in rows]


def test_a_duplicate_leaves_no_unused_payload_and_new_rows_still_link(engine: Engine) -> None:
    """Enqueued again: nothing goes in, no payload is left behind; a mixed batch adds its new."""
    subs = _subscriptions(engine, 30)
    rows = _alert_rows(subs)
    with session_scope(engine) as session:
        assert outbox.enqueue_deliveries(session=session, rows=rows) == 30
    with session_scope(engine) as session:
        assert outbox.enqueue_deliveries(session=session, rows=rows) == 0
    assert _payload_count(engine) == 3
    mixed = rows[:10] + _alert_rows(subs, event_id=7002)[:10]
    with session_scope(engine) as session:
        assert outbox.enqueue_deliveries(session=session, rows=mixed) == 10
    assert _payload_count(engine) == 6
    with session_scope(engine) as session:
        fresh = list(
            session.exec(
                select(Delivery).where(Delivery.item_id == "7002").order_by(col(Delivery.id))
            )
        )
        served = outbox.delivery_subscription_ids(
            session=session, delivery_ids=[d.id for d in fresh if d.id is not None]
        )
    assert [d.dedupe_key for d in fresh] == [r["dedupe_key"] for r in mixed[10:]]
    assert [d.payload for d in fresh] == [r["payload"] for r in mixed[10:]]
    assert list(served.values()) == [r["subscription_ids"] for r in mixed[10:]]


def test_a_payload_that_names_another_key_stays_on_its_row(engine: Engine) -> None:
    """A payload whose key is not the row's cannot be shared: stored and read back as given."""
    subs = _subscriptions(engine, 2)
    odd = [
        {**row, "payload": {**row["payload"], "key": f"somewhere:else:{i}"}}
        for i, row in enumerate(_alert_rows(subs))
    ]
    with session_scope(engine) as session:
        assert outbox.enqueue_deliveries(session=session, rows=odd) == 2
        assert outbox.enqueue_deliveries(session=session, rows=odd[:1]) == 0
    assert _payload_count(engine) == 0
    with session_scope(engine) as session:
        due = outbox.due_deliveries(session=session, now=T0)
    assert [d.payload_id for d in due] == [None, None]
    assert [d.payload for d in due] == [row["payload"] for row in odd]


def test_removing_subscriptions_leaves_no_payload_behind(engine: Engine) -> None:
    """A removed subscription's pending deliveries go, and so do payloads nobody carries;
    a payload still carried by another guild's delivery stays."""
    subs = _subscriptions(engine, 30)
    with session_scope(engine) as session:
        outbox.enqueue_deliveries(session=session, rows=_alert_rows(subs))
    assert _payload_count(engine) == 3
    with session_scope(engine) as session:
        subscriptions.remove_guild(session=session, guild_id=101)  # role 701's whole set
    assert _payload_count(engine) == 2
    with session_scope(engine) as session:
        for sub in subs:
            if sub.guild_id == 100:
                assert sub.id is not None
                subscriptions.remove_subscription(
                    session=session, guild_id=100, subscription_id=sub.id
                )
    assert _payload_count(engine) == 1
    with session_scope(engine) as session:
        left = session.exec(select(Delivery)).all()
        assert {d.guild_id for d in left} == {102}
        assert all(d.payload["message"] for d in left)  # the survivors still read whole


def test_a_batch_payload_is_compact_json_and_a_lone_surrogate_still_encodes() -> None:
    """pydantic-core's encoder writes the batch path's payloads; what it refuses, json.dumps
    writes (escaped), so the text always decodes to the object."""
    payload = {"content": "📅 <@&1> Docking", "n": 1, "x": None, "list": [True, {"a": "b"}]}
    text = outbox._compact_json(payload)
    assert text == '{"content":"📅 <@&1> Docking","n":1,"x":null,"list":[true,{"a":"b"}]}'
    assert json.loads(text) == payload
    odd = {"content": "broken \udc80 text"}
    assert outbox._compact_json(odd) == json.dumps(odd)
    assert json.loads(outbox._compact_json(odd)) == odd
