"""a PostgreSQL cluster: the poller's lease, delivery claims and the shared rate budget (issue 12)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:20:00
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""


def downgrade() -> None:
    """Refuse: restore a backup to go back."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
