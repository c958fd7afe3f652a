"""A store from before shared payloads (the revision before 0008) upgrades with its outbox intact.

The store is built by Alembic up to the revision 0008 follows and filled with Core inserts:
three subscriptions, a pending delivery serving two of them, a pending one that has been
retried, a sent one. After the upgrade every row keeps its id, key, state, times and
payload (on the row, as stored), every link is still there, the worker reads the pending
ones as before, and what is enqueued from then on shares one stored payload.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, func, select

from storage import outbox
from storage.db import current_revision, head_revision, session_scope
from storage.db import upgrade as upgrade_store
from storage.models import Delivery, DeliveryPayload, DeliveryState
from tests.conftest import T0
from tests.unit.storage.old_store import DELIVERIES, LINKS, add_subscription, store_before


def _payload(key: str, subscription: int, content: str) -> dict[str, Any]:
    return {
        "kind": "WEBCAST_LIVE",
        "key": key,
        "feed": "events",
        "event": {"id": 7, "name": "Soyuz Docking"},
        "subscription": subscription,
        "message": {"content": content, "allowed_mentions": {"parse": [], "roles": [55]}},
    }


OLD_ROWS = [
    # id, key, state, attempts, subscription ids served
    (1, "channel:100:events:7:webcast_live:1", "pending", 0, [1, 2]),
    (2, "channel:200:events:7:webcast_live:1", "pending", 2, [3]),
    (3, "channel:100:events:7:update:41", "sent", 1, [1]),
]


@pytest.fixture
def old_store(db_url: str) -> Iterator[Engine]:
    """Yield a store at the revision before 0008 with pending and sent deliveries and links."""
    engine = store_before(db_url, "0008")
    with engine.begin() as connection:
        for sub_id, channel in ((1, 100), (2, 100), (3, 200)):
            add_subscription(connection, sub_id, 1, channel)
        for delivery_id, key, state, attempts, served in OLD_ROWS:
            # Ids from the table itself (a PostgreSQL sequence must stay ahead of them).
            inserted = connection.execute(
                DELIVERIES.insert()
                .values(
                    dedupe_key=key,
                    guild_id=1,
                    channel_id=int(key.split(":")[1]),
                    feed="events",
                    item_id="7",
                    kind=key.split(":")[3],
                    payload=_payload(key, served[0], f"row {delivery_id}"),
                    state=state,
                    attempts=attempts,
                    next_attempt_at=T0,
                    created_at=T0,
                    sent_at=T0 if state == "sent" else None,
                    message_id=900 if state == "sent" else None,
                )
                .returning(DELIVERIES.c.id)
            )
            assert inserted.scalar_one() == delivery_id
            connection.execute(
                LINKS.insert(), [{"delivery_id": delivery_id, "subscription_id": s} for s in served]
            )
    yield engine
    engine.dispose()


def test_pending_deliveries_and_their_links_survive_the_upgrade(old_store: Engine) -> None:
    """Ids, keys, states, payloads and links are as before; the worker reads them unchanged."""
    upgrade_store(old_store)
    assert current_revision(old_store) == head_revision()
    with session_scope(old_store) as session:
        rows = list(session.exec(select(Delivery).order_by(col(Delivery.id))).all())
        assert [(d.id, d.dedupe_key, d.state, d.attempts) for d in rows] == [
            (i, key, state, attempts) for i, key, state, attempts, _ in OLD_ROWS
        ]
        for delivery, (i, key, _, _, served) in zip(rows, OLD_ROWS, strict=True):
            assert delivery.payload == _payload(key, served[0], f"row {i}")
            assert delivery.payload_id is None
            assert delivery.nonce_key == key
        assert outbox.delivery_subscription_ids(session=session, delivery_ids=[1, 2, 3]) == {
            i: served for i, *_, served in OLD_ROWS
        }
        due = outbox.due_deliveries(session=session, now=T0)
        assert [(d.id, d.payload["message"]["content"]) for d in due] == [
            (1, "row 1"),
            (2, "row 2"),
        ]
        assert rows[2].sent_at == T0 and rows[2].message_id == 900


def test_after_the_upgrade_new_deliveries_share_one_payload(old_store: Engine) -> None:
    """Rows enqueued after the upgrade store their payload once and read back whole."""
    upgrade_store(old_store)
    later = T0 + timedelta(minutes=5)
    rows = []
    shared = _payload("", 0, "live now")
    for sub_id, channel in ((1, 100), (3, 200)):
        key = f"channel:{channel}:events:7:webcast_live:2"
        rows.append(
            {
                "dedupe_key": key,
                "subscription_ids": [sub_id],
                "guild_id": 1,
                "channel_id": channel,
                "feed": "events",
                "item_id": "7",
                "kind": "webcast_live",
                "payload": {**shared, "key": key, "subscription": sub_id},
                "next_attempt_at": later,
                "created_at": later,
            }
        )
    with session_scope(old_store) as session:
        assert outbox.enqueue_deliveries(session=session, rows=rows) == 2
    with session_scope(old_store) as session:
        assert session.exec(select(func.count()).select_from(DeliveryPayload)).one() == 1
        due = outbox.due_deliveries(session=session, now=later)
        assert [d.id for d in due] == [1, 2, 4, 5]
        assert [json.dumps(d.payload) for d in due[2:]] == [json.dumps(r["payload"]) for r in rows]
        assert all(d.state == DeliveryState.PENDING.value for d in due)
