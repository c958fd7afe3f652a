"""Subscription query functions: a guild's subscriptions added (or made once from a key),
listed, paused and removed; a removal deletes the pending deliveries no other subscription
wants and the payloads left unused, a pause marks them dropped. Each function takes the
session as a keyword argument, as in :mod:`storage.queries`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, false, literal_column, or_, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from storage.models import (
    Delivery,
    DeliveryPayload,
    DeliveryState,
    DeliverySubscription,
    Subscription,
)


def add_subscription(*, session: Session, subscription: Subscription) -> Subscription:
    """Store a new subscription and return it with its id."""
    session.add(subscription)
    session.flush()
    return subscription


def implicit_subscription(
    *, session: Session, implicit_key: str, template: Subscription
) -> Subscription:
    """Return the subscription for ``implicit_key``, creating it from ``template`` once."""
    found = session.exec(
        select(Subscription).where(Subscription.implicit_key == implicit_key)
    ).first()
    if found is not None:
        return found
    template.implicit_key = implicit_key
    return add_subscription(session=session, subscription=template)


def active_subscriptions(*, session: Session) -> list[Subscription]:
    """Return the subscriptions that receive alerts (not paused)."""
    query = select(Subscription).where(col(Subscription.paused_reason).is_(None))
    return list(session.exec(query.order_by(col(Subscription.id))).all())


def guild_subscriptions(*, session: Session, guild_id: int) -> list[Subscription]:
    """Return one guild's subscriptions."""
    query = select(Subscription).where(Subscription.guild_id == guild_id)
    return list(session.exec(query.order_by(col(Subscription.id))).all())


def get_guild_subscription(
    *, session: Session, guild_id: int, subscription_id: int
) -> Subscription | None:
    """Return a subscription only if it belongs to ``guild_id``."""
    found = session.get(Subscription, subscription_id)
    if found is None or found.guild_id != guild_id:
        return None
    return found


def _drop_orphans(session: Session) -> None:
    """Delete pending deliveries that no longer serve any subscription (nothing to send to),
    and the shared payloads no delivery carries any more."""
    served = select(DeliverySubscription.delivery_id)
    session.exec(
        delete(Delivery).where(
            col(Delivery.state) == DeliveryState.PENDING.value, col(Delivery.id).not_in(served)
        )
    )
    carried: Any = (
        core_select(literal_column("1"))
        .select_from(Delivery)
        .where(col(Delivery.payload_id) == col(DeliveryPayload.id))
    )
    session.exec(delete(DeliveryPayload).where(~carried.exists()))


def remove_subscription(*, session: Session, guild_id: int, subscription_id: int) -> bool:
    """Delete a guild's subscription and the pending deliveries only it wanted; True if found.

    Sent deliveries stay: they record what the channel already got, so a new subscription of
    the same channel is not sent the same alert again.
    """
    found = get_guild_subscription(
        session=session, guild_id=guild_id, subscription_id=subscription_id
    )
    if found is None:
        return False
    session.exec(
        delete(DeliverySubscription).where(
            col(DeliverySubscription.subscription_id) == subscription_id
        )
    )
    _drop_orphans(session)
    session.delete(found)
    session.flush()
    return True


def remove_guild(*, session: Session, guild_id: int) -> int:
    """Delete every subscription and delivery of a guild the bot left; return how many subs."""
    ids = list(session.exec(select(Subscription.id).where(Subscription.guild_id == guild_id)).all())
    if ids:
        session.exec(
            delete(DeliverySubscription).where(col(DeliverySubscription.subscription_id).in_(ids))
        )
        session.exec(delete(Subscription).where(col(Subscription.id).in_(ids)))
    session.exec(delete(Delivery).where(col(Delivery.guild_id) == guild_id))
    _drop_orphans(session)
    return len(ids)


def pause_subscriptions(
    *,
    session: Session,
    reason: str,
    subscription_ids: Sequence[int] = (),
    channel_id: int | None = None,
) -> list[int]:
    """Pause subscriptions by id or by channel; return the ids paused.

    Pending deliveries that now serve no active subscription are dropped with the reason: a
    paused channel gets no backlog when a person fixes it and subscribes again, and the
    outbox holds only what can go out. (Pausing by channel pauses every subscription of it:
    the channel itself refused, so all its deliveries stop.)
    """
    query = select(Subscription).where(col(Subscription.paused_reason).is_(None))
    if channel_id is not None:
        query = query.where(Subscription.channel_id == channel_id)
    elif subscription_ids:
        query = query.where(col(Subscription.id).in_(subscription_ids))
    else:
        return []
    paused = []
    for sub in session.exec(query).all():
        sub.paused_reason = reason
        session.add(sub)
        assert sub.id is not None
        paused.append(sub.id)
    session.flush()
    if paused:
        affected = select(DeliverySubscription.delivery_id).where(
            col(DeliverySubscription.subscription_id).in_(paused)
        )
        still_served = (
            select(DeliverySubscription.delivery_id)
            .join(Subscription, col(Subscription.id) == col(DeliverySubscription.subscription_id))
            .where(col(Subscription.paused_reason).is_(None))
        )
        refused = col(Delivery.channel_id) == channel_id if channel_id is not None else false()
        session.exec(
            update(Delivery)
            .where(
                col(Delivery.state) == DeliveryState.PENDING.value,
                or_(
                    refused,
                    col(Delivery.id).in_(affected) & col(Delivery.id).not_in(still_served),
                ),
            )
            .values(state=DeliveryState.DROPPED.value, last_error=f"subscription paused: {reason}")
        )
    session.flush()
    return paused


def paused_subscriptions(*, session: Session, guild_id: int | None = None) -> list[Subscription]:
    """Return paused subscriptions (of one guild, when given)."""
    query = select(Subscription).where(col(Subscription.paused_reason).is_not(None))
    if guild_id is not None:
        query = query.where(Subscription.guild_id == guild_id)
    return list(session.exec(query).all())
