"""A store from before 0011 upgrades to a WITHOUT ROWID link table with its links intact.

The store is built by Alembic up to the revision 0011 follows and given deliveries and
their links, one delivery serving two subscriptions. After the upgrade every link is there;
on SQLite ``delivery_subscriptions`` is a ``WITHOUT ROWID`` table kept in two b-trees (the
table and its subscription index) instead of three, and a new store has the same shape.
Either way the foreign keys hold: deleting a delivery or a subscription deletes its links,
and a link to a missing delivery is refused. Downgrading gives the rowid back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from storage.db import _alembic_config, current_revision, head_revision
from storage.db import upgrade as upgrade_store
from storage.models import DeliveryState, DeliverySubscription
from tests.conftest import T0
from tests.unit.storage.old_store import DELIVERIES, LINKS, add_subscription, store_before

SUBSCRIPTIONS = [(1, 1, 100), (2, 1, 100), (3, 2, 200)]  # id, guild, channel
# id, channel, item id
OLD_DELIVERIES = [(1, 100, "7"), (2, 100, "8"), (3, 200, "7"), (4, 100, "9")]
# Delivery 1 serves both of channel 100's subscriptions.
OLD_LINKS = {(1, 1), (1, 2), (2, 1), (3, 3), (4, 2)}


@pytest.fixture
def old_store(db_url: str) -> Iterator[Engine]:
    """Yield a store at the revision before 0011 with deliveries and their links."""
    engine = store_before(db_url, "0011")
    with engine.begin() as connection:
        for sub_id, guild, channel in SUBSCRIPTIONS:
            add_subscription(connection, sub_id, guild, channel)
        for delivery_id, channel, item_id in OLD_DELIVERIES:
            key = f"channel:{channel}:events:{item_id}:update:1"
            inserted = connection.execute(
                DELIVERIES.insert()
                .values(
                    dedupe_key=key,
                    guild_id=1 if channel == 100 else 2,
                    channel_id=channel,
                    feed="events",
                    item_id=item_id,
                    kind="update",
                    payload={"key": key, "subscription": 1},
                    state=DeliveryState.PENDING.value,
                    attempts=0,
                    next_attempt_at=T0,
                    created_at=T0,
                )
                .returning(DELIVERIES.c.id)
            )
            assert inserted.scalar_one() == delivery_id
        connection.execute(
            LINKS.insert(), [{"delivery_id": d, "subscription_id": s} for d, s in OLD_LINKS]
        )
    yield engine
    engine.dispose()


def _links(engine: Engine) -> set[tuple[int, int]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(LINKS.c.delivery_id, LINKS.c.subscription_id))
        return {(d, s) for d, s in rows}


def _without_rowid(engine: Engine) -> bool:
    """Return whether SQLite stores ``delivery_subscriptions`` WITHOUT ROWID."""
    with engine.connect() as connection:
        sql = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'delivery_subscriptions'"
        ).scalar_one()
    return "WITHOUT ROWID" in sql.upper()


def _btrees(engine: Engine) -> set[str]:
    """Return the SQLite b-trees (table and indexes) holding ``delivery_subscriptions``."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master "
            "WHERE tbl_name = 'delivery_subscriptions' AND rootpage != 0"
        )
        return {name for (name,) in rows}


def _assert_same_constraints(engine: Engine) -> None:
    """The primary key, both cascading foreign keys and the subscription index are there."""
    inspector = sa.inspect(engine)
    pk = inspector.get_pk_constraint("delivery_subscriptions")
    assert pk["constrained_columns"] == ["delivery_id", "subscription_id"]
    foreign = {
        (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
        for fk in inspector.get_foreign_keys("delivery_subscriptions")
        if fk["options"].get("ondelete") == "CASCADE"
    }
    assert foreign == {
        (("delivery_id",), "deliveries", ("id",)),
        (("subscription_id",), "subscriptions", ("id",)),
    }
    indexes = {
        (i["name"], tuple(i["column_names"]))
        for i in inspector.get_indexes("delivery_subscriptions")
    }
    assert indexes == {("ix_delivery_subscriptions_subscription", ("subscription_id",))}


def test_the_upgrade_drops_the_rowid_and_keeps_every_link(old_store: Engine) -> None:
    sqlite = old_store.dialect.name == "sqlite"
    if sqlite:
        assert not _without_rowid(old_store)
        assert len(_btrees(old_store)) == 3  # the table, its primary key's index, ours
    upgrade_store(old_store)
    assert current_revision(old_store) == head_revision()
    assert _links(old_store) == OLD_LINKS
    _assert_same_constraints(old_store)
    if sqlite:
        assert _without_rowid(old_store)
        options = sa.inspect(old_store).get_table_options("delivery_subscriptions")
        assert options.get("sqlite_with_rowid") is False
        assert _btrees(old_store) == {
            "delivery_subscriptions",
            "ix_delivery_subscriptions_subscription",
        }
        with old_store.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"


def test_after_the_upgrade_the_links_cascade_and_need_their_delivery(old_store: Engine) -> None:
    upgrade_store(old_store)
    with old_store.begin() as connection:
        connection.execute(DELIVERIES.delete().where(DELIVERIES.c.id == 1))
    assert _links(old_store) == OLD_LINKS - {(1, 1), (1, 2)}
    with old_store.begin() as connection:
        connection.exec_driver_sql("DELETE FROM subscriptions WHERE id = 2")
    assert _links(old_store) == {(2, 1), (3, 3)}
    with pytest.raises(IntegrityError), old_store.begin() as connection:
        connection.execute(LINKS.insert().values(delivery_id=99, subscription_id=1))
    with pytest.raises(IntegrityError), old_store.begin() as connection:
        connection.execute(LINKS.insert().values(delivery_id=2, subscription_id=99))
    with pytest.raises(IntegrityError), old_store.begin() as connection:  # the primary key
        connection.execute(LINKS.insert().values(delivery_id=2, subscription_id=1))
    assert _links(old_store) == {(2, 1), (3, 3)}


def test_a_new_store_has_the_links_without_rowid_as_the_models_say(engine: Engine) -> None:
    _assert_same_constraints(engine)
    links: sa.Table = DeliverySubscription.__table__  # type: ignore[attr-defined]
    assert links.dialect_options["sqlite"]["with_rowid"] is False
    if engine.dialect.name == "sqlite":
        assert _without_rowid(engine)
        options = sa.inspect(engine).get_table_options("delivery_subscriptions")
        assert options.get("sqlite_with_rowid") is False


def test_the_downgrade_gives_the_rowid_back_with_every_link(old_store: Engine) -> None:
    upgrade_store(old_store)
    command.downgrade(_alembic_config(old_store), "0010")
    assert current_revision(old_store) == "0010"
    assert _links(old_store) == OLD_LINKS
    _assert_same_constraints(old_store)
    if old_store.dialect.name == "sqlite":
        assert not _without_rowid(old_store)
        assert len(_btrees(old_store)) == 3
