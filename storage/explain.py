"""Query functions behind ``/alerts why``: what the outbox holds for one item in one guild."""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.models import Delivery, DeliverySubscription


def item_deliveries(
    *, session: Session, guild_id: int, feed: str, item_id: str
) -> list[tuple[Delivery, list[int]]]:
    """Return one guild's deliveries of an item, oldest first, each with its subscription ids."""
    deliveries = list(
        session.exec(
            select(Delivery)
            .where(
                col(Delivery.guild_id) == guild_id,
                col(Delivery.feed) == feed,
                col(Delivery.item_id) == item_id,
            )
            .order_by(col(Delivery.created_at), col(Delivery.id))
        ).all()
    )
    ids = [d.id for d in deliveries if d.id is not None]
    links: dict[int, list[int]] = {i: [] for i in ids}
    if ids:
        rows = session.exec(
            select(DeliverySubscription.delivery_id, DeliverySubscription.subscription_id)
            .where(col(DeliverySubscription.delivery_id).in_(ids))
            .order_by(col(DeliverySubscription.subscription_id))
        ).all()
        for delivery_id, subscription_id in rows:
            links[delivery_id].append(subscription_id)
    return [(d, links.get(d.id or 0, [])) for d in deliveries]
