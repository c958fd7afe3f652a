"""A store written with schema 0001 upgrades to head losing nothing (SQLite and PostgreSQL).

The store is built by Alembic up to 0001 and filled with Core inserts against the 0001
layout (the models describe head, not 0001), as today's main would have left it: events
with their updates, webcasts, agencies and programs; channel, paused and console
subscriptions; sent, pending, failed and dropped deliveries, two of them for one alert in
one channel (the double post this upgrade stops); the watermarks and the budget state.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine
from sqlmodel import select

from bot.core.changes import detect_changes
from bot.devtools.factories import make_event
from bot.ll2.parse import parse_event
from bot.pipeline.fanout import delivery_rows
from bot.pipeline.records import event_record
from storage import outbox, queries, subscriptions
from storage.db import (
    _alembic_config,
    current_revision,
    head_revision,
    make_engine,
    session_scope,
    upgrade,
)
from storage.models import Delivery
from storage.types import UTCDateTime
from tests.conftest import T0

HOUR = timedelta(hours=1)
LIVE_AT = T0 - HOUR  # the webcast_live transition's last_updated (its discriminator)
REMINDER = "1h@2026-11-27T13:00:00Z"
UNCHANGED = (
    "events",
    "event_types",
    "agencies",
    "programs",
    "event_agencies",
    "event_programs",
    "event_updates",
    "video_links",
    "subscriptions",
)


def _table(name: str, *columns: sa.Column[Any]) -> sa.Table:
    return sa.Table(name, sa.MetaData(), *columns)


def _utc(name: str) -> sa.Column[Any]:
    return sa.Column(name, UTCDateTime())


# The 0001 layout of the tables whose rows the upgrade rewrites.
OLD_SUBSCRIPTIONS = _table(
    "subscriptions",
    sa.Column("id", sa.Integer),
    sa.Column("guild_id", sa.BigInteger),
    sa.Column("channel_id", sa.BigInteger),
    sa.Column("type_ids", sa.JSON),
    sa.Column("agency_ids", sa.JSON),
    sa.Column("program_ids", sa.JSON),
    sa.Column("kinds", sa.JSON),
    sa.Column("reminder_leads", sa.JSON),
    sa.Column("mention_role_id", sa.BigInteger),
    sa.Column("paused_reason", sa.String),
    sa.Column("implicit_key", sa.String),
    sa.Column("created_by", sa.BigInteger),
    _utc("created_at"),
)
OLD_DELIVERIES = _table(
    "deliveries",
    sa.Column("id", sa.Integer),
    sa.Column("dedupe_key", sa.String),
    sa.Column("subscription_id", sa.Integer),
    sa.Column("event_id", sa.BigInteger),
    sa.Column("kind", sa.String),
    sa.Column("payload", sa.JSON),
    sa.Column("state", sa.String),
    sa.Column("attempts", sa.Integer),
    sa.Column("last_error", sa.Text),
    _utc("next_attempt_at"),
    sa.Column("message_id", sa.BigInteger),
    _utc("created_at"),
    _utc("sent_at"),
)
OLD_SYNC_STATE = _table(
    "sync_state",
    sa.Column("name", sa.String),
    _utc("watermark"),
    sa.Column("seeded", sa.Boolean),
    _utc("last_attempt_at"),
    _utc("last_success_at"),
    _utc("last_upcoming_refresh_at"),
    _utc("last_types_refresh_at"),
    sa.Column("last_error", sa.Text),
    sa.Column("budget_limit", sa.Integer),
    sa.Column("budget_remaining", sa.Integer),
    _utc("budget_checked_at"),
    _utc("next_poll_at"),
)


def _subscription(sub_id: int, channel: int | None, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": sub_id,
        "guild_id": 1 if channel else None,
        "channel_id": channel,
        "type_ids": [],
        "agency_ids": [],
        "program_ids": [],
        "kinds": [],
        "reminder_leads": [86400, 3600, 600],
        "mention_role_id": None,
        "paused_reason": None,
        "implicit_key": None,
        "created_by": 42 if channel else None,
        "created_at": T0 - 48 * HOUR,
    }
    row.update(values)
    return row


def _delivery(
    row_id: int, sub_id: int, event_id: int, kind: str, disc: str, state: str, **values: Any
) -> dict[str, Any]:
    key = f"{sub_id}:{event_id}:{kind}:{disc}"
    row: dict[str, Any] = {
        "id": row_id,
        "dedupe_key": key,
        "subscription_id": sub_id,
        "event_id": event_id,
        "kind": kind,
        "payload": {"kind": kind, "key": key, "subscription": sub_id, "message": {"content": ""}},
        "state": state,
        "attempts": 0,
        "last_error": None,
        "next_attempt_at": T0 - 2 * HOUR + timedelta(seconds=row_id),
        "message_id": None,
        "created_at": T0 - 2 * HOUR,
        "sent_at": None,
    }
    row.update(values)
    return row


SUBSCRIPTIONS = [
    _subscription(1, 100, type_ids=[2], mention_role_id=11),  # #space: dockings
    _subscription(2, 100, kinds=["webcast_live", "reminder"], mention_role_id=12),  # #space
    _subscription(3, 200, paused_reason="Missing Access: the bot cannot see <#200>"),
    _subscription(4, None, implicit_key="watch:types=:kinds=", reminder_leads=[3600]),
]
DELIVERIES = [
    # One webcast_live alert sent twice to #space (once per subscription): both stay sent.
    _delivery(
        1,
        1,
        5001,
        "webcast_live",
        "2026-11-27T11:00:00Z",
        "sent",
        attempts=1,
        message_id=9001,
        sent_at=T0 - HOUR,
    ),
    _delivery(
        2,
        2,
        5001,
        "webcast_live",
        "2026-11-27T11:00:00Z",
        "sent",
        attempts=1,
        message_id=9002,
        sent_at=T0 - HOUR + timedelta(seconds=1),
    ),
    # One reminder pending for both: one row keeps it, the other is merged into it.
    _delivery(3, 1, 5001, "reminder", REMINDER, "pending", attempts=2, last_error="Discord 503"),
    _delivery(4, 2, 5001, "reminder", REMINDER, "pending"),
    # A paused channel's failure and a console subscription's printed alert.
    _delivery(5, 3, 5002, "update", "500201", "failed", attempts=1, last_error="403 50001"),
    _delivery(6, 4, 5002, "new_event", "5002", "sent", attempts=1, sent_at=T0 - HOUR),
    _delivery(
        7,
        1,
        5002,
        "reminder",
        "24h@2026-11-28T09:00:00Z",
        "dropped",
        last_error="missed by 0:12:00 (grace 0:05:00)",
    ),
]
SYNC_STATE = [
    {
        "name": "events",
        "watermark": T0 - 5 * timedelta(minutes=1),
        "seeded": True,
        "last_attempt_at": T0 - timedelta(minutes=1),
        "last_success_at": T0 - timedelta(minutes=1),
        "last_upcoming_refresh_at": T0 - 3 * HOUR,
        "last_types_refresh_at": T0 - 20 * HOUR,
        "last_error": None,
        "budget_limit": 15,
        "budget_remaining": 9,
        "budget_checked_at": T0 - timedelta(minutes=2),
        "next_poll_at": T0 + timedelta(minutes=3),
    },
    {
        "name": "reminders",
        "watermark": T0 - timedelta(seconds=30),
        "seeded": False,
        **dict.fromkeys(
            [
                "last_attempt_at",
                "last_success_at",
                "last_upcoming_refresh_at",
                "last_types_refresh_at",
                "last_error",
                "budget_limit",
                "budget_remaining",
                "budget_checked_at",
                "next_poll_at",
            ]
        ),
    },
]


def _events() -> list[dict[str, Any]]:
    return [
        make_event(
            5001, "Crew-13 Docking", date=T0 + HOUR, last_updated=LIVE_AT, webcast_live=True
        ),
        make_event(
            5002, "US Spacewalk 94", type_name="EVA", date=T0 + 21 * HOUR, last_updated=LIVE_AT
        ),
    ]


@pytest.fixture
def old_store(db_url: str) -> Iterator[Engine]:
    """Yield an engine on a database at schema 0001 holding a realistic store."""
    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), "0001")
    assert current_revision(engine) == "0001"
    # Events and their satellites have the same layout in 0001 and head: the sync's own
    # writer fills them as 0001's code did.
    with session_scope(engine) as session:
        queries.save_events(
            session=session, records=[event_record(parse_event(r), r) for r in _events()], now=T0
        )
    with engine.begin() as connection:
        connection.execute(OLD_SUBSCRIPTIONS.insert(), SUBSCRIPTIONS)
        connection.execute(OLD_DELIVERIES.insert(), DELIVERIES)
        connection.execute(OLD_SYNC_STATE.insert(), SYNC_STATE)
        if connection.dialect.name == "postgresql":
            # The rows above came with their ids (as 0001's code gave them): move the id
            # sequences past them, as the code's own inserts would have.
            for table in ("subscriptions", "deliveries"):
                connection.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    yield engine
    engine.dispose()


def _dump(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)
        order = list(reflected.primary_key.columns) or list(reflected.columns)
        return [tuple(r) for r in connection.execute(sa.select(reflected).order_by(*order))]


def _deliveries(engine: Engine) -> dict[int, Delivery]:
    with session_scope(engine) as session:
        return {d.id: d for d in session.exec(select(Delivery)).all() if d.id}


def test_every_row_of_a_0001_store_survives_the_upgrade(old_store: Engine) -> None:
    """Untouched tables are identical; every delivery keeps state, attempts, message id, times
    and old key, gains its destination and (feed, item id); watermarks and budget stay."""
    before = {table: _dump(old_store, table) for table in UNCHANGED}
    assert all(before[t] for t in ("events", "event_updates", "video_links", "subscriptions"))
    upgrade(old_store)
    assert current_revision(old_store) == head_revision()
    for table in UNCHANGED:
        # Later steps add columns (0004 and 0005 to subscriptions): the old ones stay as they were.
        now = _dump(old_store, table)
        assert len(now) == len(before[table]), table
        kept = [row[: len(old)] for row, old in zip(now, before[table], strict=True)]
        assert kept == before[table], table

    rows = _deliveries(old_store)
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 7]
    for old in DELIVERIES:
        new = rows[old["id"]]
        for column in ("kind", "payload", "attempts", "next_attempt_at", "message_id"):
            assert getattr(new, column) == old[column], (old["id"], column)
        assert (new.created_at, new.sent_at) == (old["created_at"], old["sent_at"])
        assert new.legacy_key == old["dedupe_key"]
        assert (new.feed, new.item_id) == ("events", str(old["event_id"]))
        sub = next(s for s in SUBSCRIPTIONS if s["id"] == old["subscription_id"])
        assert (new.guild_id, new.channel_id) == (sub["guild_id"], sub["channel_id"])

    live = "events:5001:webcast_live:2026-11-27T11:00:00Z"
    assert rows[1].dedupe_key == f"channel:100:{live}"  # the first post keeps the alert
    assert rows[2].dedupe_key == "legacy:2:5001:webcast_live:2026-11-27T11:00:00Z"
    assert [rows[1].state, rows[2].state] == ["sent", "sent"]
    assert [rows[1].last_error, rows[2].last_error] == [None, None]
    assert rows[3].dedupe_key == f"channel:100:events:5001:reminder:{REMINDER}"
    assert (rows[3].state, rows[3].last_error) == ("pending", "Discord 503")
    assert rows[3].nonce_key == DELIVERIES[2]["dedupe_key"]  # a resend reuses the old nonce
    assert rows[4].state == "dropped"
    assert rows[4].last_error == "merged into delivery 3: one message per channel per alert"
    assert rows[5].dedupe_key == "channel:200:events:5002:update:500201"
    assert (rows[5].state, rows[5].last_error) == ("failed", "403 50001")
    assert rows[6].dedupe_key == "console:4:events:5002:new_event:5002"
    assert rows[7].state == "dropped" and rows[7].last_error == DELIVERIES[6]["last_error"]

    with session_scope(old_store) as session:
        links = outbox.delivery_subscription_ids(session=session, delivery_ids=sorted(rows))
        assert links == {1: [1, 2], 2: [2], 3: [1, 2], 4: [2], 5: [3], 6: [4], 7: [1]}
        state = queries.sync_state(session=session)
        old = SYNC_STATE[0]
        for column in old:
            if column != "name":
                assert getattr(state, column) == old[column], column
        assert state.feed == "events"
        assert state.reminders_watermark == SYNC_STATE[1]["watermark"]
    assert [r[0] for r in _dump(old_store, "sync_state")] == ["events"]


def test_an_alert_sent_before_the_upgrade_is_not_sent_again(old_store: Engine) -> None:
    """The webcast_live alert #space got (twice) under 0001 is in the outbox under its new
    per-channel key: detecting it again adds nothing for #space; the console subscription,
    which never printed it, still gets it."""
    upgrade(old_store)
    before, after = (parse_event(raw) for raw in _events()[:1] * 2)
    not_live = before.model_copy(update={"webcast_live": False})
    alerts = [
        a
        for a in detect_changes(not_live, after, seeding=False, now=T0)
        if a.kind.value == "webcast_live"
    ]
    assert len(alerts) == 1
    with session_scope(old_store) as session:
        subs = subscriptions.active_subscriptions(session=session)
        rows = delivery_rows(alerts, subs, T0)
        assert sorted(r["dedupe_key"].split(":events:")[0] for r in rows) == [
            "channel:100",
            "console:4",
        ]
        inserted = outbox.enqueue_deliveries(session=session, rows=rows)
    assert inserted == 1  # only the console subscription, which had not printed it
    assert len(_deliveries(old_store)) == len(DELIVERIES) + 1
