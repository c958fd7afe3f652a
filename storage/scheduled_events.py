"""Discord scheduled event query functions (invariant 11): the subscriptions that mirror
items as a guild's scheduled events, what we made in each guild (one row per guild and
item) and pausing only that part of a guild's subscriptions. Each function takes the
session as a keyword argument, as in :mod:`storage.queries`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storage.models import ScheduledEventRow, Subscription
from storage.queries import _upsert


def scheduled_event_subscriptions(*, session: Session) -> list[Subscription]:
    """Return active subscriptions that mirror items as scheduled events (not paused)."""
    query = select(Subscription).where(
        col(Subscription.paused_reason).is_(None),
        col(Subscription.scheduled_events).is_(True),
        col(Subscription.scheduled_events_paused_reason).is_(None),
        col(Subscription.guild_id).is_not(None),
    )
    return list(session.exec(query.order_by(col(Subscription.id))).all())


def guild_scheduled_events(*, session: Session, guild_id: int) -> list[ScheduledEventRow]:
    """Return the scheduled events we made in a guild."""
    query = select(ScheduledEventRow).where(ScheduledEventRow.guild_id == guild_id)
    return list(session.exec(query.order_by(col(ScheduledEventRow.id))).all())


def save_scheduled_event(
    *,
    session: Session,
    guild_id: int,
    feed: str,
    item_id: str,
    discord_id: int | None,
    sent: dict[str, Any],
    state: str,
    now: datetime,
) -> None:
    """Insert or replace what we know of one item's scheduled event in a guild."""
    _upsert(
        session,
        ScheduledEventRow,
        [
            {
                "guild_id": guild_id,
                "feed": feed,
                "item_id": item_id,
                "discord_id": discord_id,
                "sent": sent,
                "state": state,
                "updated_at": now,
            }
        ],
        ["guild_id", "feed", "item_id"],
    )


def pause_scheduled_events(*, session: Session, guild_id: int, reason: str) -> list[int]:
    """Pause only the scheduled-event part of a guild's subscriptions; return their ids."""
    subs = session.exec(
        select(Subscription).where(
            Subscription.guild_id == guild_id,
            col(Subscription.scheduled_events).is_(True),
            col(Subscription.scheduled_events_paused_reason).is_(None),
        )
    ).all()
    for sub in subs:
        sub.scheduled_events_paused_reason = reason
        session.add(sub)
    session.flush()
    return [s.id for s in subs if s.id is not None]
