"""the launches feed, and subscriptions that choose a feed (issue 10)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00

``launches`` holds each launch as last seen (normalised columns for lookups, the snapshot
change detection diffs against, LL2's raw JSON), with its providers, locations, programs and
webcast links. ``announced_dates`` keeps, per item of either feed, the date users were last
told, which ``rescheduled`` compares with (small slips that add up are announced once);
existing events have no row and count from their stored date.

Subscriptions gain ``feed``, ``provider_ids``, ``location_ids`` and ``exclude``. A
subscription made before launches existed keeps following events only: its ``feed`` is set
to ``events`` here, while new subscriptions default to ``all``. The ``launches`` feed has no
sync state yet, so the first sync after this upgrade seeds it quietly (docs/architecture.md,
invariant 4): old
launch history raises no alert.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_UTC = storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "launches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_lower", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("mission_name", sa.Text(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=True),
        sa.Column("status_name", sa.String(), nullable=True),
        sa.Column("status_abbrev", sa.String(), nullable=True),
        sa.Column("net", _UTC, nullable=True),
        sa.Column("net_precision", sa.String(), nullable=True),
        sa.Column("window_start", _UTC, nullable=True),
        sa.Column("window_end", _UTC, nullable=True),
        sa.Column("provider_id", sa.BigInteger(), nullable=True),
        sa.Column("provider_name", sa.Text(), nullable=True),
        sa.Column("location_id", sa.BigInteger(), nullable=True),
        sa.Column("location_name", sa.Text(), nullable=True),
        sa.Column("webcast_live", sa.Boolean(), nullable=False),
        sa.Column("last_updated", _UTC, nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", _UTC, nullable=False),
        sa.Column("seen_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_launches_net", "launches", ["net"])
    op.create_index("ix_launches_last_updated", "launches", ["last_updated"])
    op.create_index("ix_launches_name_lower", "launches", ["name_lower"])
    op.create_index("ix_launches_provider_net", "launches", ["provider_id", "net"])
    op.create_index("ix_launches_location_net", "launches", ["location_id", "net"])
    op.create_index("ix_launches_slug", "launches", ["slug"])
    op.create_table(
        "launch_providers",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("abbrev", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "launch_locations",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("country_code", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "launch_programs",
        sa.Column("launch_id", sa.String(length=36), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["launch_id"], ["launches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("launch_id", "program_id"),
    )
    op.create_index("ix_launch_programs_program", "launch_programs", ["program_id"])
    op.create_table(
        "launch_videos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("launch_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("start_time", _UTC, nullable=True),
        sa.Column("live", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["launch_id"], ["launches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_launch_videos_launch_id", "launch_videos", ["launch_id"])
    op.create_index("ix_launch_videos_start_time", "launch_videos", ["start_time"])

    # No rows for existing events: an item without one counts from its stored date.
    op.create_table(
        "announced_dates",
        sa.Column("feed", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("date", _UTC, nullable=True),
        sa.Column("precision", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("feed", "item_id"),
    )

    # Existing subscriptions were made when only events existed: they keep following events.
    # (Added with the default new rows get, then set on the rows already there: no table
    # rebuild, which on SQLite would cascade-delete the links of their deliveries.)
    op.add_column(
        "subscriptions", sa.Column("feed", sa.String(), nullable=False, server_default="all")
    )
    op.execute("UPDATE subscriptions SET feed = 'events'")
    for name in ("provider_ids", "location_ids", "exclude"):
        op.add_column(
            "subscriptions",
            sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        )


def downgrade() -> None:
    """Refuse: restore a backup to go back."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
