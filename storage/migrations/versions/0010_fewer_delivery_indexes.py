"""the outbox keeps the indexes its queries use: one (guild, feed, item) index (issue 13)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:00:00

Every delivery enqueued writes one entry in each index of ``deliveries``, and a page that
alerts enqueues hundreds of rows. Two indexes did one job: ``ix_deliveries_guild``
(``guild_id``: a guild the bot leaves) and ``ix_deliveries_item`` (``feed, item_id``:
``/alerts why``, which always names the guild too). One index on ``guild_id, feed,
item_id`` serves both. On SQLite ``ix_deliveries_channel`` goes too: no query there uses
it (the due ones go by ``state, next_attempt_at``; pausing a channel touches pending rows
found by state); PostgreSQL keeps it for the cluster's channel claims.

Only indexes change: no table is rebuilt, no row is touched.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_index("ix_deliveries_guild_item", "deliveries", ["guild_id", "feed", "item_id"])
    op.drop_index("ix_deliveries_guild", table_name="deliveries")
    op.drop_index("ix_deliveries_item", table_name="deliveries")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_deliveries_channel", table_name="deliveries")


def downgrade() -> None:
    """Refuse: restore a backup to go back."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
