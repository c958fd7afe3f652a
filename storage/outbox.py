"""The outbox: which subscriptions an alert goes to, and the delivery rows that carry it.

Each function takes the session as a keyword argument, as in :mod:`storage.queries`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

from sqlalchemy import Table, Text, bindparam, cast, func, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from storage.models import Delivery, DeliveryState, DeliverySubscription, Subscription
from storage.queries import _dialect_name, _insert_statement, _runs

# --- subscriptions an alert may go to -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertSubscription:
    """What matching and addressing an alert need of one active subscription (read-only)."""

    id: int
    guild_id: int | None
    channel_id: int | None
    feed: str
    kinds: tuple[str, ...]
    type_ids: tuple[int, ...]
    agency_ids: tuple[int, ...]
    program_ids: tuple[int, ...]
    provider_ids: tuple[int, ...]
    location_ids: tuple[int, ...]
    exclude: tuple[str, ...]
    reminder_leads: tuple[int, ...]
    mention_role_id: int | None


_ALERT_SUBSCRIPTION_JSON = (
    "kinds",
    "type_ids",
    "agency_ids",
    "program_ids",
    "provider_ids",
    "location_ids",
    "exclude",
    "reminder_leads",
)


def alert_subscriptions(*, session: Session) -> list[AlertSubscription]:
    """Return the active subscriptions as plain values for matching alerts, by id.

    An alert for 10,000 channels loads 10,000 subscriptions: as ORM objects with eight JSON
    lists each that took ~0.6 s. Here the lists come back as text, and each distinct text
    (most are ``[]`` or one of a few filters) is decoded once.
    """
    table: Table = Subscription.__table__  # type: ignore[attr-defined]
    lists = [cast(table.c[name], Text) for name in _ALERT_SUBSCRIPTION_JSON]
    plain = ("id", "guild_id", "channel_id", "feed", "mention_role_id")
    query = (
        core_select(*(table.c[name] for name in plain), *lists)
        .where(table.c.paused_reason.is_(None))
        .order_by(table.c.id)
    )
    decoded: dict[str | None, tuple[Any, ...]] = {None: ()}
    found = []
    for sub_id, guild_id, channel_id, feed, role, *texts in session.execute(query):
        lists_by_name: dict[str, Any] = {}
        for name, text in zip(_ALERT_SUBSCRIPTION_JSON, texts, strict=True):
            value = decoded.get(text)
            if value is None:
                value = decoded[text] = tuple(json.loads(text))
            lists_by_name[name] = value
        found.append(
            AlertSubscription(
                id=sub_id,
                guild_id=guild_id,
                channel_id=channel_id,
                feed=feed,
                mention_role_id=role,
                **lists_by_name,
            )
        )
    return found


# --- deliveries (the outbox) ----------------------------------------------------------------


def _payload_json(payload: dict[str, Any], shared: dict[int, str]) -> str:
    """Return ``json.dumps(payload)``, encoding each nested object shared between rows once.

    One alert to 10,000 channels is 10,000 payloads holding the same ``message`` and item
    objects (one per role set): encoding them once per call, not once per row, was most of
    the enqueue's CPU. ``shared`` maps ``id()`` of those objects, alive for the whole call,
    to their JSON. The text is exactly what ``json.dumps`` gives for the whole payload.
    """
    parts = []
    for name, value in payload.items():
        if type(name) is not str:
            return json.dumps(payload)  # json.dumps turns other keys into strings its own way
        kind = type(value)
        if kind is str:
            text = _json_string(value)
        elif kind is int:
            text = int.__repr__(value)
        elif value is None:
            text = "null"
        elif kind is dict or kind is list:
            text = shared.get(id(value)) or shared.setdefault(id(value), json.dumps(value))
        else:
            text = json.dumps(value)
        parts.append(f"{_json_string(name)}: {text}")
    return "{" + ", ".join(parts) + "}"


@functools.cache
def _delivery_insert(dialect: str) -> Any:
    """Return the outbox INSERT, its payload bound as JSON text already encoded, built once."""
    table: Table = Delivery.__table__  # type: ignore[attr-defined]
    text = bindparam("payload_json", type_=Text())
    # PostgreSQL's json column takes the text by a cast; SQLite stores JSON as the text itself.
    payload = cast(text, table.c.payload.type) if dialect == "postgresql" else text
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(table)
        .values(payload=payload)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.dedupe_key)
    )


def enqueue_deliveries(*, session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows; a row whose dedupe key exists is skipped. Return how many went in.

    Each row may carry ``subscription_ids``: the subscriptions it serves (stored as links).
    """
    if not rows:
        return 0
    served = {row["dedupe_key"]: row.get("subscription_ids") or () for row in rows}
    shared: dict[int, str] = {}
    values = []
    for row in rows:
        value = {k: v for k, v in row.items() if k not in ("subscription_ids", "payload")}
        value["payload_json"] = _payload_json(row["payload"], shared)
        values.append(value)
    dialect = _dialect_name(session)
    statement = _delivery_insert(dialect)
    inserted = [found for run in _runs(values) for found in session.execute(statement, run)]
    links = [
        {"delivery_id": delivery_id, "subscription_id": sub_id}
        for delivery_id, key in inserted
        for sub_id in dict.fromkeys(served.get(key, ()))
    ]
    if links:
        # Fresh delivery ids: no link can exist yet, so no RETURNING count is needed.
        session.execute(_insert_statement(dialect, DeliverySubscription), links)
    return len(inserted)


def due_deliveries(
    *,
    session: Session,
    now: datetime,
    limit: int = 100,
    subscription_ids: Sequence[int] | None = None,
) -> list[Delivery]:
    """Return pending deliveries whose next attempt is due, oldest first.

    With ``subscription_ids``, only deliveries serving at least one of them.
    """
    query = select(Delivery).where(
        Delivery.state == DeliveryState.PENDING.value, col(Delivery.next_attempt_at) <= now
    )
    if subscription_ids is not None:
        query = query.where(
            col(Delivery.id).in_(
                select(DeliverySubscription.delivery_id).where(
                    col(DeliverySubscription.subscription_id).in_(subscription_ids)
                )
            )
        )
    query = query.order_by(col(Delivery.next_attempt_at), col(Delivery.id)).limit(limit)
    return list(session.exec(query).all())


def delivery_subscription_ids(
    *, session: Session, delivery_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Return, for each delivery, the ids of the subscriptions it serves (ascending)."""
    found: dict[int, list[int]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    query = (
        select(DeliverySubscription.delivery_id, DeliverySubscription.subscription_id)
        .where(col(DeliverySubscription.delivery_id).in_(list(delivery_ids)))
        .order_by(col(DeliverySubscription.subscription_id))
    )
    for delivery_id, subscription_id in session.exec(query).all():
        found[delivery_id].append(subscription_id)
    return found


def next_delivery_due(*, session: Session) -> datetime | None:
    """Return when the earliest pending delivery is due."""
    return session.exec(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.state == DeliveryState.PENDING.value
        )
    ).one()


def mark_sent(
    *, session: Session, delivery_id: int, now: datetime, message_id: int | None = None
) -> None:
    """Record that a delivery reached its destination."""
    session.exec(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(
            state=DeliveryState.SENT.value,
            sent_at=now,
            message_id=message_id,
            attempts=Delivery.attempts + 1,
            last_error=None,
        )
    )


def mark_retry(*, session: Session, delivery_id: int, error: str, retry_at: datetime) -> None:
    """Record a transient failure and when to try again."""
    session.exec(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(
            attempts=Delivery.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=retry_at,
        )
    )


def mark_final(*, session: Session, delivery_id: int, state: DeliveryState, error: str) -> None:
    """Give up on a delivery (``failed``) or record one never to send (``dropped``)."""
    session.exec(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(state=state.value, last_error=error[:2000])
    )


def count_deliveries(*, session: Session, state: DeliveryState) -> int:
    """Return how many deliveries are in ``state``."""
    return int(
        session.exec(
            select(func.count()).select_from(Delivery).where(Delivery.state == state.value)
        ).one()
    )
