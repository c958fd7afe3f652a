"""Query functions on real databases: SQLite files, and PostgreSQL when configured."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, inspect

from bot.devtools.factories import make_event
from bot.ll2.parse import parse_event
from bot.pipeline.records import event_record
from storage import outbox, queries, subscriptions
from storage.db import current_revision, head_revision, session_scope, upgrade
from storage.models import DeliveryState, EventTypeRow, Subscription
from tests.conftest import T0

HOUR = timedelta(hours=1)


def store(engine: Engine, *raws: dict[str, Any]) -> None:
    """Save raw LL2 events the way the sync does."""
    with session_scope(engine) as session:
        queries.save_events(
            session=session, records=[event_record(parse_event(r), r) for r in raws], now=T0
        )


def sample(engine: Engine) -> None:
    """Store a docking, a spacewalk, a past docking and a live press event."""
    old = T0 - timedelta(days=1)
    store(
        engine,
        make_event(1, "Soyuz MS-29 Docking", date=T0 + 2 * HOUR, last_updated=old),
        make_event(2, "US Spacewalk 94", type_name="EVA", date=T0 + HOUR, last_updated=old),
        make_event(3, "Soyuz MS-27 Docking", date=T0 - 48 * HOUR, last_updated=old),
        make_event(
            4,
            "100% Press_Event",
            type_name="Press Event",
            date=T0 + 3 * HOUR,
            webcast_live=True,
            last_updated=old,
        ),
    )


def subscription(guild: int, channel: int, **values: Any) -> Subscription:
    """Return an unsaved channel subscription."""
    return Subscription(guild_id=guild, channel_id=channel, created_at=T0, **values)


def delivery(key: str, *sub_ids: int, **values: Any) -> dict[str, Any]:
    """Return an outbox row serving ``sub_ids``."""
    row = {
        "dedupe_key": key,
        "subscription_ids": list(sub_ids),
        "feed": "events",
        "item_id": "1",
        "kind": "update",
        "payload": {"kind": "update"},
        "state": DeliveryState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": T0,
        "created_at": T0,
    }
    row.update(values)
    return row


def test_migrations_bring_an_empty_database_to_head(engine: Engine) -> None:
    """The fixture's upgrade leaves the database at the newest revision with every table."""
    assert current_revision(engine) == head_revision()
    assert {"events", "deliveries", "subscriptions", "sync_state"} <= set(
        inspect(engine).get_table_names()
    )
    assert upgrade(engine) == (head_revision(), head_revision())


def test_upcoming_is_soonest_first_and_filters_by_type_agency_program(engine: Engine) -> None:
    """Upcoming skips past events and honours each filter."""
    sample(engine)
    with session_scope(engine) as session:
        ids = [e.id for e in queries.upcoming_events(session=session, after=T0)]
        assert ids == [2, 1, 4]
        dockings = queries.upcoming_events(session=session, after=T0, type_ids=[2])
        assert [e.id for e in dockings] == [1]
        assert [e.id for e in queries.upcoming_events(session=session, after=T0, agency_ids=[63])]
        assert queries.upcoming_events(session=session, after=T0, agency_ids=[999]) == []
        by_program = queries.upcoming_events(session=session, after=T0, program_ids=[17], limit=1)
        assert [e.id for e in by_program] == [2]


def test_search_is_case_insensitive_upcoming_first_and_escapes_wildcards(engine: Engine) -> None:
    """`soyuz` finds both dockings, the upcoming one first; `%` and `_` are literal."""
    sample(engine)
    with session_scope(engine) as session:
        found = queries.search_events(session=session, query="soyuz", upcoming_from=T0)
        assert [e.id for e in found] == [1, 3]
        assert [e.id for e in queries.search_events(session=session, query="100%")] == [4]
        assert queries.search_events(session=session, query="s_yuz") == []


def test_saving_again_replaces_updates_and_keeps_first_seen(engine: Engine) -> None:
    """A re-saved event has its new updates and keeps its first-seen time."""
    raw = make_event(1, "Soyuz MS-29 Docking", date=T0, last_updated=T0, updates=1)
    store(engine, raw)
    raw2 = make_event(1, "Soyuz MS-29 Docking", date=T0, last_updated=T0 + HOUR, updates=2)
    with session_scope(engine) as session:
        queries.save_events(
            session=session, records=[event_record(parse_event(raw2), raw2)], now=T0 + HOUR
        )
    with session_scope(engine) as session:
        row = queries.get_event(session=session, event_id=1)
        assert row is not None
        assert row.first_seen_at == T0 and row.seen_at == T0 + HOUR
        assert len(queries.event_updates(session=session, event_id=1)) == 2


def test_live_events_and_name_search_for_autocomplete(engine: Engine) -> None:
    """Live lookups see the live flag; type search puts prefix matches first."""
    sample(engine)
    with session_scope(engine) as session:
        assert [e.id for e in queries.live_events(session=session)] == [4]
        queries.save_event_types(session=session, types=[(2, "Docking"), (9, "Undocking")])
    with session_scope(engine) as session:
        found = queries.search_names(session=session, model=EventTypeRow, text="dock")
        assert [t.name for t in found] == ["Docking", "Undocking"]


def test_a_duplicate_delivery_cannot_be_enqueued(engine: Engine) -> None:
    """The dedupe key is unique: a second row with it is skipped, not an error."""
    with session_scope(engine) as session:
        sub = subscriptions.add_subscription(session=session, subscription=subscription(1, 10))
        assert sub.id is not None
        assert outbox.enqueue_deliveries(session=session, rows=[delivery("k1", sub.id)]) == 1
    with session_scope(engine) as session:
        again = [delivery("k1", sub.id), delivery("k2", sub.id)]
        assert outbox.enqueue_deliveries(session=session, rows=again) == 1
        assert outbox.count_deliveries(session=session, state=DeliveryState.PENDING) == 2


def test_delivery_states_move_as_the_worker_reports(engine: Engine) -> None:
    """Due rows come oldest first; retry moves the due time; sent and failed leave the queue."""
    with session_scope(engine) as session:
        sub = subscriptions.add_subscription(session=session, subscription=subscription(1, 10))
        assert sub.id is not None
        rows = [
            delivery(f"k{i}", sub.id, next_attempt_at=T0 + timedelta(seconds=i)) for i in range(3)
        ]
        outbox.enqueue_deliveries(session=session, rows=rows)
    with session_scope(engine) as session:
        due = outbox.due_deliveries(session=session, now=T0 + HOUR)
        assert [d.dedupe_key for d in due] == ["k0", "k1", "k2"]
        first, second, third = (d.id for d in due)
        assert first and second and third
        outbox.mark_sent(session=session, delivery_id=first, now=T0, message_id=99)
        outbox.mark_retry(session=session, delivery_id=second, error="503", retry_at=T0 + 2 * HOUR)
        outbox.mark_final(
            session=session, delivery_id=third, state=DeliveryState.FAILED, error="400"
        )
    with session_scope(engine) as session:
        assert outbox.due_deliveries(session=session, now=T0 + HOUR) == []
        (retry,) = outbox.due_deliveries(session=session, now=T0 + 3 * HOUR)
        assert retry.attempts == 1 and retry.last_error == "503"
        assert outbox.next_delivery_due(session=session) == T0 + 2 * HOUR


def test_guilds_only_see_their_own_subscriptions(engine: Engine) -> None:
    """Lookups by guild never return or delete another guild's subscription."""
    with session_scope(engine) as session:
        mine = subscriptions.add_subscription(session=session, subscription=subscription(1, 10))
        theirs = subscriptions.add_subscription(session=session, subscription=subscription(2, 20))
        assert mine.id and theirs.id
        assert (
            subscriptions.get_guild_subscription(
                session=session, guild_id=1, subscription_id=theirs.id
            )
            is None
        )
        assert not subscriptions.remove_subscription(
            session=session, guild_id=1, subscription_id=theirs.id
        )
        assert [s.id for s in subscriptions.guild_subscriptions(session=session, guild_id=2)] == [
            theirs.id
        ]


def test_pausing_by_channel_and_leaving_a_guild(engine: Engine) -> None:
    """Pausing a channel pauses only its subscriptions; leaving a guild removes its rows."""
    with session_scope(engine) as session:
        a = subscriptions.add_subscription(session=session, subscription=subscription(1, 10))
        b = subscriptions.add_subscription(session=session, subscription=subscription(1, 11))
        assert a.id and b.id
        outbox.enqueue_deliveries(session=session, rows=[delivery("k", a.id)])
        paused = subscriptions.pause_subscriptions(session=session, reason="gone", channel_id=10)
        assert paused == [a.id]
        assert [s.id for s in subscriptions.active_subscriptions(session=session)] == [b.id]
    with session_scope(engine) as session:
        assert subscriptions.remove_guild(session=session, guild_id=1) == 2
        assert subscriptions.guild_subscriptions(session=session, guild_id=1) == []
        assert outbox.count_deliveries(session=session, state=DeliveryState.PENDING) == 0


def test_implicit_subscription_is_created_once_per_key(engine: Engine) -> None:
    """`watch` with the same flags reuses its subscription; other flags get a new one."""
    with session_scope(engine) as session:
        first = subscriptions.implicit_subscription(
            session=session, implicit_key="watch:a", template=Subscription(created_at=T0)
        )
        again = subscriptions.implicit_subscription(
            session=session, implicit_key="watch:a", template=Subscription(created_at=T0)
        )
        other = subscriptions.implicit_subscription(
            session=session, implicit_key="watch:b", template=Subscription(created_at=T0)
        )
        assert first.id == again.id != other.id


def test_pausing_drops_the_subscriptions_pending_deliveries(engine: Engine) -> None:
    """A paused channel keeps no backlog: its pending rows are dropped with the reason."""
    with session_scope(engine) as session:
        a = subscriptions.add_subscription(session=session, subscription=subscription(1, 10))
        b = subscriptions.add_subscription(session=session, subscription=subscription(1, 11))
        assert a.id and b.id
        outbox.enqueue_deliveries(
            session=session, rows=[delivery("ka", a.id), delivery("kb", b.id)]
        )
        subscriptions.pause_subscriptions(
            session=session, reason="403 Missing Access", channel_id=10
        )
    with session_scope(engine) as session:
        (left,) = outbox.due_deliveries(session=session, now=T0)
        assert left.dedupe_key == "kb"
        assert outbox.count_deliveries(session=session, state=DeliveryState.DROPPED) == 1
