"""a PostgreSQL cluster: the poller's lease, delivery claims and the shared rate budget (issue 12)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:20:00

``cluster_lease`` holds the poller's lease (holder and expiry, in the database's clock);
``cluster_members`` one row per running process (its shards, leader or not, last heartbeat);
``channel_claims`` which process drains a channel's pending deliveries, until when;
``rate_pacers`` the next free Discord request slot shared by every process. SQLite stores
get the tables too (one schema everywhere) but never use them: one process per SQLite store.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    utc = storage.types.UTCDateTime(timezone=True)
    op.create_table(
        "cluster_lease",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=True),
        sa.Column("expires_at", utc, nullable=True),
        sa.Column("acquired_at", utc, nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "cluster_members",
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("shard_count", sa.Integer(), nullable=True),
        sa.Column("shard_ids", sa.JSON(), nullable=False),
        sa.Column("shards_up", sa.JSON(), nullable=False),
        sa.Column("leader", sa.Boolean(), nullable=False),
        sa.Column("started_at", utc, nullable=False),
        sa.Column("seen_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )
    op.create_table(
        "channel_claims",
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("claimed_until", utc, nullable=False),
        sa.PrimaryKeyConstraint("channel_id"),
    )
    op.create_table(
        "rate_pacers",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    """Refuse: restore a backup to go back."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
