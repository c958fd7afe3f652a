"""the outbox's links are a WITHOUT ROWID table on SQLite (issue 13)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 22:00:00

A page that alerts writes hundreds of ``delivery_subscriptions`` rows. Each went into three
b-trees: the rowid table, the index SQLite keeps behind the (delivery, subscription)
primary key, and ``ix_delivery_subscriptions_subscription``. In a ``WITHOUT ROWID`` table
the primary key is the table, so a link is two b-tree inserts.

SQLite cannot change that in place: the table is rebuilt (create the new one, copy the
rows, drop the old one, rename the new one, re-create the index) with the same columns,
primary key and foreign keys. Nothing references ``delivery_subscriptions``, so dropping
it cascades nowhere, and foreign keys stay on: every copied link is checked against its
delivery and subscription. PostgreSQL has no rowid; nothing changes there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = "delivery_subscriptions"
INDEX = "ix_delivery_subscriptions_subscription"
NEW = "_delivery_subscriptions_new"


def _rebuild(*, with_rowid: bool) -> None:
    """Re-create the link table on SQLite, with or without a rowid, keeping every row."""
    op.create_table(
        NEW,
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_id", "subscription_id"),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(
        f"INSERT INTO {NEW} (delivery_id, subscription_id) "  # noqa: S608 (fixed names)
        f"SELECT delivery_id, subscription_id FROM {TABLE} "
        "ORDER BY delivery_id, subscription_id"
    )
    op.drop_table(TABLE)  # its index goes with it
    op.rename_table(NEW, TABLE)
    op.create_index(INDEX, TABLE, ["subscription_id"], unique=False)


def upgrade() -> None:
    """Apply this migration."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(with_rowid=False)


def downgrade() -> None:
    """Revert this migration: on SQLite the links get a rowid again."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(with_rowid=True)
