"""items keep one JSON form, the snapshot: LL2's raw JSON is cleared (issue 13)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 13:00:00

``events.raw`` and ``launches.raw`` held LL2's JSON as received, beside the snapshot that
change detection, reminders and lookups read. Nothing read it, and encoding ~3 KB of JSON per
item a second time was a good part of storing a page. tminus no longer writes it (new rows
get ``{}``), and this step clears what older versions stored.

The columns stay, emptied: dropping or altering a column on SQLite re-creates the table, and
dropping the old one with foreign keys on would delete the items' child rows (ON DELETE
CASCADE); an UPDATE touches only the rows.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    for table in ("events", "launches"):
        op.execute(f"UPDATE {table} SET raw = '{{}}'")  # noqa: S608 (fixed table names)


def downgrade() -> None:
    """Refuse: restore a backup to go back."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
