"""the LL2 request budget's hour record, kept across restarts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:00:00

A restarted process used to start from a blank hour and could overspend LL2's limit (16
restarts of ``watch`` against a 15/h server drew three 429s). The budget's record — the
times of the last hour's requests, when LL2's last 429 lets requests go again, and the
effective limit — now lives here, one row per budget.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "ll2_budget",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("sent", sa.JSON(), nullable=False),
        sa.Column("blocked_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("per_hour", sa.Integer(), nullable=False),
        sa.Column("saved_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    """Revert this migration (the record is only a cache of LL2's own count)."""
    op.drop_table("ll2_budget")
