"""deliveries share one stored payload per alert and role set (issue 13)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-05 10:00:00

One alert to 10,000 channels stored 10,000 copies of the same ~2.5 KB alert JSON. From here
``delivery_payloads`` holds it once per alert and role set; a delivery points at it
(``payload_id``) and keeps what differs per row: its key (the dedupe key) and the alert
JSON's ``subscription`` (``payload_subscription_id``). ``deliveries.payload`` becomes
nullable: rows stored before keep their payload on the row, untouched, and are read as
before.

On SQLite making a column nullable rebuilds ``deliveries`` (drop and re-create), which with
foreign keys on would cascade into ``delivery_subscriptions``: its links are set aside in
a copy for the rebuild and put back after it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    bind = op.get_bind()
    op.create_table(
        "delivery_payloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TABLE _links_0008 AS SELECT * FROM delivery_subscriptions")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=True)
        batch_op.add_column(sa.Column("payload_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("payload_subscription_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_deliveries_payload_id_delivery_payloads",
            "delivery_payloads",
            ["payload_id"],
            ["id"],
        )
        batch_op.create_index("ix_deliveries_payload", ["payload_id"], unique=False)
    if sqlite:
        op.execute(
            "INSERT INTO delivery_subscriptions (delivery_id, subscription_id) "
            "SELECT delivery_id, subscription_id FROM _links_0008 WHERE true "
            "ON CONFLICT DO NOTHING"
        )
        op.execute("DROP TABLE _links_0008")


def downgrade() -> None:
    """Refuse: restore a backup to go back."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
