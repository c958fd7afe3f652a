"""A fan-out's rows stored column by column (``DeliveryBatch``) equal the same rows as dicts.

The page path hands ``enqueue_deliveries`` a :class:`storage.outbox.DeliveryBatch` (issue 13:
10,000 rows without a dict each); every other caller passes dicts. Both must leave the same
outbox: the same deliveries, payloads read back byte for byte, shared payloads, and links,
with duplicate keys skipped. ``alert_subscriptions`` loads what the ORM holds, column by
column, paused subscriptions left out.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import col, select

from bot.core.alerts import Alert
from bot.core.kinds import new_event_alert, reminder_alert, webcast_live_alert
from bot.devtools.factories import make_event
from bot.ll2.parse import parse_items
from bot.pipeline.fanout import delivery_batch, delivery_rows
from storage import outbox, subscriptions
from storage.db import session_scope
from storage.models import Delivery, DeliveryPayload, DeliverySubscription, Subscription
from tests.conftest import T0


def _subscriptions(engine: Engine) -> list[Subscription]:
    """24 channel subscriptions (two sharing each of 4 channels), 2 console ones, roles."""
    subs = [
        Subscription(
            guild_id=100 + i % 3,
            channel_id=None if i >= 24 else 5000 + (i % 4 if i < 8 else i),
            kinds=["webcast_live"] if i % 5 == 1 else [],
            type_ids=[2] if i % 7 == 3 else [],
            reminder_leads=[3600] if i % 2 else [],
            mention_role_id=(700 + i % 4) if i % 3 else None,
            created_at=T0,
        )
        for i in range(26)
    ]
    with session_scope(engine) as session:
        session.add_all(subs)
        session.flush()
        for sub in subs:
            session.refresh(sub)
    return subs


def _alerts(*event_ids: int) -> list[Alert]:
    alerts: list[Alert] = []
    for event_id in event_ids:
        raw = make_event(
            event_id, f"Docking {event_id}", date=T0 + timedelta(hours=3), last_updated=T0
        )
        ((event, _),), _ = parse_items([raw])
        alerts += [
            new_event_alert(event),
            webcast_live_alert(event),
            reminder_alert(event, timedelta(hours=1)),
        ]
    return alerts


def _outbox(engine: Engine) -> list[tuple[Any, ...]]:
    """Every delivery by key: its columns, payload as read back, links, payload sharers."""
    with session_scope(engine) as session:
        rows = list(session.exec(select(Delivery).order_by(col(Delivery.id))))
        links = outbox.delivery_subscription_ids(
            session=session, delivery_ids=[d.id for d in rows if d.id is not None]
        )
    sharers: dict[int, list[str]] = {}
    for d in rows:
        if d.payload_id is not None:
            sharers.setdefault(d.payload_id, []).append(d.dedupe_key)
    return [
        (
            d.dedupe_key,
            d.guild_id,
            d.channel_id,
            d.feed,
            d.item_id,
            d.kind,
            d.state,
            d.attempts,
            d.next_attempt_at,
            d.created_at,
            d.payload_subscription_id,
            json.dumps(d.payload),
            links[d.id] if d.id is not None else None,
            sharers.get(d.payload_id) if d.payload_id is not None else None,
        )
        for d in rows
    ]


def _clear(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.exec(delete(DeliverySubscription))
        session.exec(delete(Delivery))
        session.exec(delete(DeliveryPayload))


def _enqueue(engine: Engine, rows: Any) -> int:
    with session_scope(engine) as session:
        return outbox.enqueue_deliveries(session=session, rows=rows)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-channels", "one-per-channel"])
def test_a_batch_stores_what_its_rows_as_dicts_store(engine: Engine, shared: bool) -> None:
    """Overlapping channels (or none), console subscriptions, role sets: the same outbox."""
    subs = _subscriptions(engine)
    if not shared:
        subs = subs[8:]  # each in a channel of its own: one link per row
    alerts = _alerts(7001, 7002)
    batch = delivery_batch(alerts, subs, T0)
    assert batch.rows() == delivery_rows(alerts, subs, T0)
    assert any(type(s) is list for s in batch.served) is shared
    assert _enqueue(engine, batch) == len(batch) > 0
    stored = _outbox(engine)
    _clear(engine)
    assert _enqueue(engine, batch.rows()) == len(batch)
    assert _outbox(engine) == stored
    assert [row[0] for row in stored] == batch.keys


def test_a_batch_skips_duplicate_keys_and_links_what_went_in(engine: Engine) -> None:
    """Enqueued again nothing goes in and no payload is left; a mixed batch adds its new."""
    subs = _subscriptions(engine)
    first = delivery_batch(_alerts(7001), subs, T0)
    assert _enqueue(engine, first) == len(first)
    with session_scope(engine) as session:
        payloads = len(session.exec(select(DeliveryPayload.id)).all())
    assert _enqueue(engine, first) == 0
    with session_scope(engine) as session:
        assert len(session.exec(select(DeliveryPayload.id)).all()) == payloads
    before = _outbox(engine)
    mixed = delivery_batch(_alerts(7001, 7002), subs, T0)
    fresh = len(mixed) - len(first)
    assert _enqueue(engine, mixed) == fresh > 0
    after = _outbox(engine)
    assert after[: len(before)] == before
    # The new rows are stored as they would be on their own.
    alone = delivery_batch(_alerts(7002), subs, T0).rows()
    assert [row[0] for row in after[len(before) :]] == [r["dedupe_key"] for r in alone]
    assert [json.loads(row[11]) for row in after[len(before) :]] == [r["payload"] for r in alone]
    assert [row[12] for row in after[len(before) :]] == [r["subscription_ids"] for r in alone]


def test_alert_subscriptions_are_the_active_ones_column_by_column(engine: Engine) -> None:
    """The rows fanned out from the loaded columns equal those from the ORM subscriptions."""
    subs = _subscriptions(engine)
    paused = [s.id for s in subs[:3] if s.id is not None]
    with session_scope(engine) as session:
        subscriptions.pause_subscriptions(session=session, reason="test", subscription_ids=paused)
        loaded = outbox.alert_subscriptions(session=session)
        active = subscriptions.active_subscriptions(session=session)
    assert loaded.ids == [s.id for s in active] == [s.id for s in subs[3:]]
    assert loaded.channel_ids == [s.channel_id for s in active]
    assert loaded.guild_ids == [s.guild_id for s in active]
    assert loaded.mention_role_ids == [s.mention_role_id for s in active]
    for index, sub in enumerate(active):
        found = loaded.filters[loaded.filter_of[index]]
        assert (found.kinds, found.type_ids, found.reminder_leads, found.feed) == (
            tuple(sub.kinds),
            tuple(sub.type_ids),
            tuple(sub.reminder_leads),
            sub.feed,
        )
    alerts = _alerts(7001, 7002)
    assert delivery_rows(alerts, loaded, T0) == delivery_rows(alerts, active, T0)
