"""A store from before 0010 upgrades to the outbox's fewer indexes with its rows intact.

The store is built by Alembic up to the revision 0010 follows and given two guilds'
deliveries of two items, with their links. After the upgrade the rows and links are as
they were, ``deliveries`` has one (guild, feed, item) index instead of a guild one and an
item one (and, on SQLite, no channel index: no query there uses it), ``/alerts why`` and
leaving a guild find the rows they did — on SQLite by the new index — and pausing a
channel still drops its pending deliveries.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import col, select

from storage import outbox, subscriptions
from storage.db import current_revision, head_revision, session_scope
from storage.db import upgrade as upgrade_store
from storage.explain import item_deliveries
from storage.models import Delivery, DeliveryState
from tests.conftest import T0
from tests.unit.storage.old_store import DELIVERIES, LINKS, add_subscription, store_before

# id, guild, channel, item id, subscription served
OLD_ROWS = [
    (1, 1, 100, "7", 1),
    (2, 1, 100, "8", 1),
    (3, 1, 101, "7", 2),
    (4, 2, 200, "7", 3),
]


@pytest.fixture
def old_store(db_url: str) -> Iterator[Engine]:
    """Yield a store at the revision before 0010 with two guilds' deliveries and links."""
    engine = store_before(db_url, "0010")
    with engine.begin() as connection:
        for sub_id, guild, channel in ((1, 1, 100), (2, 1, 101), (3, 2, 200)):
            add_subscription(connection, sub_id, guild, channel)
        for delivery_id, guild, channel, item_id, sub_id in OLD_ROWS:
            key = f"channel:{channel}:events:{item_id}:update:1"
            inserted = connection.execute(
                DELIVERIES.insert()
                .values(
                    dedupe_key=key,
                    guild_id=guild,
                    channel_id=channel,
                    feed="events",
                    item_id=item_id,
                    kind="update",
                    payload={"key": key, "subscription": sub_id},
                    state=DeliveryState.PENDING.value,
                    attempts=0,
                    next_attempt_at=T0,
                    created_at=T0,
                )
                .returning(DELIVERIES.c.id)
            )
            assert inserted.scalar_one() == delivery_id
            connection.execute(
                LINKS.insert().values(delivery_id=delivery_id, subscription_id=sub_id)
            )
    yield engine
    engine.dispose()


def _indexes(engine: Engine) -> set[str]:
    """Return the names of ``deliveries``' indexes (not the one behind its unique key)."""
    found = sa.inspect(engine).get_indexes("deliveries")
    return {i["name"] for i in found if i["name"] and not i.get("duplicates_constraint")}


def test_the_upgrade_swaps_the_indexes_and_keeps_the_rows(old_store: Engine) -> None:
    sqlite = old_store.dialect.name == "sqlite"
    assert {"ix_deliveries_guild", "ix_deliveries_item", "ix_deliveries_channel"} <= _indexes(
        old_store
    )
    upgrade_store(old_store)
    assert current_revision(old_store) == head_revision()
    expected = {"ix_deliveries_state_due", "ix_deliveries_payload", "ix_deliveries_guild_item"}
    if not sqlite:
        expected.add("ix_deliveries_channel")
    assert _indexes(old_store) == expected
    with session_scope(old_store) as session:
        rows = session.exec(select(Delivery).order_by(col(Delivery.id))).all()
        assert [(d.id, d.guild_id, d.channel_id, d.item_id) for d in rows] == [
            (i, g, c, item) for i, g, c, item, _ in OLD_ROWS
        ]
        assert outbox.delivery_subscription_ids(session=session, delivery_ids=[1, 2, 3, 4]) == {
            i: [s] for i, *_, s in OLD_ROWS
        }


def test_after_the_upgrade_the_outbox_queries_find_the_same_rows(old_store: Engine) -> None:
    upgrade_store(old_store)
    if old_store.dialect.name == "sqlite":
        with old_store.connect() as connection:
            for where in ("guild_id = 1 AND feed = 'events' AND item_id = '7'", "guild_id = 1"):
                plan = connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN SELECT id FROM deliveries WHERE {where}"  # noqa: S608
                ).all()
                assert "ix_deliveries_guild_item" in " ".join(str(r[-1]) for r in plan)
    with session_scope(old_store) as session:
        found = item_deliveries(session=session, guild_id=1, feed="events", item_id="7")
        assert [(d.id, subs) for d, subs in found] == [(1, [1]), (3, [2])]
        assert subscriptions.pause_subscriptions(
            session=session, reason="gone", channel_id=100
        ) == [1]
    with session_scope(old_store) as session:
        states = dict(session.exec(select(Delivery.id, Delivery.state)).all())
        assert states == {1: "dropped", 2: "dropped", 3: "pending", 4: "pending"}
        assert subscriptions.remove_guild(session=session, guild_id=1) == 2
    with session_scope(old_store) as session:
        assert session.exec(select(Delivery.id)).all() == [4]
