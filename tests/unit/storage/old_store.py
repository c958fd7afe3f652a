"""What the upgrade tests share: a store stopped before a migration, and its outbox tables.

Each upgrade test builds a store with Alembic up to the revision its migration follows and
fills it with Core inserts. The models describe the head's schema, so the old tables are
written out here as Core tables, with only the columns those revisions had.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from storage.db import MIGRATIONS, _alembic_config, make_engine
from storage.types import UTCDateTime
from tests.conftest import T0

SUBSCRIPTIONS = sa.table(
    "subscriptions",
    sa.column("id", sa.Integer),
    sa.column("guild_id", sa.BigInteger),
    sa.column("channel_id", sa.BigInteger),
    *(sa.column(name, sa.JSON) for name in ("type_ids", "agency_ids", "program_ids", "kinds")),
    sa.column("reminder_leads", sa.JSON),
    sa.column("created_at", UTCDateTime()),
)
# ``deliveries`` before 0008 (each row carried its payload) and up to 0010.
DELIVERIES = sa.table(
    "deliveries",
    sa.column("id", sa.Integer),
    sa.column("dedupe_key", sa.String),
    sa.column("guild_id", sa.BigInteger),
    sa.column("channel_id", sa.BigInteger),
    sa.column("feed", sa.String),
    sa.column("item_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("state", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("next_attempt_at", UTCDateTime()),
    sa.column("created_at", UTCDateTime()),
    sa.column("sent_at", UTCDateTime()),
    sa.column("message_id", sa.BigInteger),
)
LINKS = sa.table(
    "delivery_subscriptions",
    sa.column("delivery_id", sa.Integer),
    sa.column("subscription_id", sa.Integer),
)


def revision_before(revision: str) -> str:
    """Return the revision ``revision`` follows."""
    script = ScriptDirectory(str(MIGRATIONS)).get_revision(revision)
    assert script is not None and isinstance(script.down_revision, str)
    return script.down_revision


def store_at(db_url: str, revision: str) -> Engine:
    """Return an engine on a store Alembic built up to ``revision``."""
    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), revision)
    return engine


def store_before(db_url: str, revision: str) -> Engine:
    """Return an engine on a store Alembic built up to the revision ``revision`` follows."""
    return store_at(db_url, revision_before(revision))


def add_subscription(connection: Connection, sub_id: int, guild_id: int, channel_id: int) -> None:
    """Insert a subscription that follows everything, with no reminders."""
    connection.execute(
        SUBSCRIPTIONS.insert().values(
            id=sub_id,
            guild_id=guild_id,
            channel_id=channel_id,
            type_ids=[],
            agency_ids=[],
            program_ids=[],
            kinds=[],
            reminder_leads=[],
            created_at=T0,
        )
    )
