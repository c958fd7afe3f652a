"""items keyed by (feed, id); one delivery per (channel, alert)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00

Schema 0001 kept one delivery per (subscription, event, kind, discriminator), keyed
``<subscription id>:<event id>:<kind>:<discriminator>``. From here a delivery belongs to a
destination — a channel, or a console subscription (``tminus watch``) — and to an item of a
feed, keyed ``channel:<channel id>:<feed>:<item id>:<kind>:<discriminator>`` (or
``console:<subscription id>:…``); the subscriptions it serves are links.

Nothing is lost: every row keeps its id, state, attempts, message id and times, its old key
(``legacy_key``: a pending row may already have been posted with a nonce derived from it),
and the subscription it was for (a link). Where two subscriptions of one channel had a row
for the same alert, one row takes the new key — the sent one if any, so the alert is not
sent again — and serves both; the other keeps its row under ``legacy:<old key>`` and, if it
was still pending, is dropped as merged (the channel gets one message per alert).

The ``reminders`` sync row becomes the ``events`` row's ``reminders_watermark``; sync rows
are named by feed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FEED = "events"  # schema 0001 knew only events
# Which of several rows for one (channel, alert) keeps the new key: one already sent first.
_RANK = {"sent": 0, "pending": 1, "failed": 2, "dropped": 3}


def _new_key(old: dict[str, Any], channel_id: int | None) -> str:
    """Return the 0002 key of a 0001 row (``legacy:<old key>`` if it does not parse)."""
    parts = old["dedupe_key"].split(":", 3)  # the discriminator itself may contain ':'
    expected = [str(old["subscription_id"]), str(old["event_id"]), old["kind"]]
    if len(parts) != 4 or parts[:3] != expected:
        return f"legacy:{old['dedupe_key']}"
    where = f"channel:{channel_id}" if channel_id is not None else f"console:{parts[0]}"
    return f"{where}:{FEED}:{parts[1]}:{parts[2]}:{parts[3]}"


def _convert_deliveries(bind: sa.Connection) -> list[dict[str, Any]]:
    """Rewrite every 0001 delivery in place; return the (delivery, subscription) links."""
    deliveries = sa.table(
        "deliveries",
        sa.column("id", sa.Integer),
        sa.column("dedupe_key", sa.String),
        sa.column("legacy_key", sa.String),
        sa.column("subscription_id", sa.Integer),
        sa.column("event_id", sa.BigInteger),
        sa.column("guild_id", sa.BigInteger),
        sa.column("channel_id", sa.BigInteger),
        sa.column("feed", sa.String),
        sa.column("item_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("state", sa.String),
        sa.column("last_error", sa.Text),
        sa.column("sent_at", storage.types.UTCDateTime()),
    )
    subscriptions = sa.table(
        "subscriptions",
        sa.column("id", sa.Integer),
        sa.column("guild_id", sa.BigInteger),
        sa.column("channel_id", sa.BigInteger),
    )
    subs = {
        row.id: (row.guild_id, row.channel_id)
        for row in bind.execute(sa.select(subscriptions)).mappings()
    }
    rows = [
        dict(row)
        for row in bind.execute(
            sa.select(
                deliveries.c.id,
                deliveries.c.dedupe_key,
                deliveries.c.subscription_id,
                deliveries.c.event_id,
                deliveries.c.kind,
                deliveries.c.state,
                deliveries.c.last_error,
                deliveries.c.sent_at,
            ).order_by(deliveries.c.id)
        ).mappings()
    ]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        guild_id, channel_id = subs.get(row["subscription_id"], (None, None))
        row["guild_id"], row["channel_id"] = guild_id, channel_id
        groups[_new_key(row, channel_id)].append(row)
    updates: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    for key, group in groups.items():
        group.sort(key=lambda r: (_RANK.get(r["state"], 9), r["id"]))
        keeper = group[0]
        for row in group:
            merged = row is not keeper
            state, error = row["state"], row["last_error"]
            if merged and state == "pending":
                state = "dropped"
                error = f"merged into delivery {keeper['id']}: one message per channel per alert"
            updates.append(
                {
                    "b_id": row["id"],
                    "b_key": f"legacy:{row['dedupe_key']}" if merged else key,
                    "b_legacy": row["dedupe_key"],
                    "b_guild": row["guild_id"],
                    "b_channel": row["channel_id"],
                    "b_item": str(row["event_id"]),
                    "b_state": state,
                    "b_error": error,
                }
            )
            if row["subscription_id"] in subs:
                link_rows.append(
                    {"delivery_id": row["id"], "subscription_id": row["subscription_id"]}
                )
                if merged:  # the kept row serves this subscription too
                    link_rows.append(
                        {"delivery_id": keeper["id"], "subscription_id": row["subscription_id"]}
                    )
    if updates:
        bind.execute(
            deliveries.update()
            .where(deliveries.c.id == sa.bindparam("b_id"))
            .values(
                dedupe_key=sa.bindparam("b_key"),
                legacy_key=sa.bindparam("b_legacy"),
                guild_id=sa.bindparam("b_guild"),
                channel_id=sa.bindparam("b_channel"),
                feed=FEED,
                item_id=sa.bindparam("b_item"),
                state=sa.bindparam("b_state"),
                last_error=sa.bindparam("b_error"),
            ),
            updates,
        )
    return list({(r["delivery_id"], r["subscription_id"]): r for r in link_rows}.values())


def _move_reminders_watermark(bind: sa.Connection) -> None:
    state = sa.table(
        "sync_state",
        sa.column("feed", sa.String),
        sa.column("seeded", sa.Boolean),
        sa.column("watermark", storage.types.UTCDateTime()),
        sa.column("reminders_watermark", storage.types.UTCDateTime()),
    )
    reminders = sa.select(state.c.watermark).where(state.c.feed == "reminders").scalar_subquery()
    has_feed_row = sa.exists().where(state.c.feed == FEED)
    bind.execute(
        state.insert().from_select(
            ["feed", "seeded", "reminders_watermark"],
            sa.select(sa.literal(FEED), sa.false(), state.c.watermark).where(
                state.c.feed == "reminders", ~has_feed_row
            ),
        )
    )
    bind.execute(
        state.update()
        .where(state.c.feed == FEED, state.c.reminders_watermark.is_(None))
        .values(reminders_watermark=reminders)
    )
    bind.execute(state.delete().where(state.c.feed == "reminders"))


def upgrade() -> None:
    """Apply this migration."""
    bind = op.get_bind()
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("legacy_key", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("guild_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("channel_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("feed", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("item_id", sa.String(), nullable=True))
    links = _convert_deliveries(bind)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_subscription")
        batch_op.drop_column("subscription_id")
        batch_op.drop_column("event_id")
        batch_op.alter_column("feed", existing_type=sa.String(), nullable=False)
        batch_op.alter_column("item_id", existing_type=sa.String(), nullable=False)
        batch_op.create_index("ix_deliveries_channel", ["channel_id"], unique=False)
        batch_op.create_index("ix_deliveries_guild", ["guild_id"], unique=False)
        batch_op.create_index("ix_deliveries_item", ["feed", "item_id"], unique=False)
    # Created only now: on SQLite the batch rebuild above drops and re-creates ``deliveries``,
    # which (foreign keys on) would cascade into a link table already filled.
    link_table = op.create_table(
        "delivery_subscriptions",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_id", "subscription_id"),
    )
    with op.batch_alter_table("delivery_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_subscriptions_subscription", ["subscription_id"], unique=False
        )
    if links:
        op.bulk_insert(link_table, links)

    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.alter_column("name", new_column_name="feed", existing_type=sa.String())
        batch_op.add_column(
            sa.Column(
                "reminders_watermark", storage.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    _move_reminders_watermark(bind)


def downgrade() -> None:
    """Refuse: schema 0001 cannot hold one delivery for several subscriptions."""
    raise NotImplementedError(
        "migration 0002 cannot be reverted (merged per-channel deliveries have no 0001 form); "
        "restore a backup taken before the upgrade"
    )
