"""living cards and Discord scheduled events (issue 11)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:00:00

Subscriptions gain ``style`` (``feed``: a message per alert, the behaviour so far; ``card``:
one living message per item), ``scheduled_events`` (mirror matching items as guild
scheduled events) and ``scheduled_events_paused_reason`` (a 403 pauses only that part).
``card_messages`` holds each (channel, feed, item)'s card: its message id, the item state
last written and the nonce generation. ``scheduled_events`` holds each (guild, feed, item)'s
Discord event id and what we last set on it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.add_column(
        "subscriptions",
        sa.Column("style", sa.String(), nullable=False, server_default="feed"),
    )
    op.add_column(
        "subscriptions",
        sa.Column("scheduled_events", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "subscriptions", sa.Column("scheduled_events_paused_reason", sa.String(), nullable=True)
    )
    op.create_table(
        "card_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("feed", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("version", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("claimed_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id", "feed", "item_id", name="uq_card_messages_item"),
    )
    op.create_index("ix_card_messages_item", "card_messages", ["feed", "item_id"])
    op.create_table(
        "scheduled_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("feed", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("discord_id", sa.BigInteger(), nullable=True),
        sa.Column("sent", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("guild_id", "feed", "item_id", name="uq_scheduled_events_item"),
    )
    op.create_index("ix_scheduled_events_guild", "scheduled_events", ["guild_id"])


def downgrade() -> None:
    """Refuse: restore a backup to go back."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
