"""Card query functions (invariant 10, one living message per item per channel): a card's
row (made once, then what its message shows and its generation), the claim that lets one
process edit it at a time, the cards still following their item, the card-style
subscriptions and the stored state of the events a card shows. Each function takes the
session as a keyword argument, as in :mod:`storage.queries`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from storage.models import CardMessage, EventRow, Subscription
from storage.queries import _insert_ignore


def get_card(*, session: Session, channel_id: int, feed: str, item_id: str) -> CardMessage | None:
    """Return the card of an item in a channel, if one was ever made."""
    return session.exec(
        select(CardMessage).where(
            CardMessage.channel_id == channel_id,
            CardMessage.feed == feed,
            CardMessage.item_id == item_id,
        )
    ).first()


def card_slot(
    *,
    session: Session,
    guild_id: int | None,
    channel_id: int,
    feed: str,
    item_id: str,
    now: datetime,
) -> CardMessage:
    """Return the card row of an item in a channel, creating an empty one (no message) once."""
    _insert_ignore(
        session,
        CardMessage,
        [
            {
                "guild_id": guild_id,
                "channel_id": channel_id,
                "feed": feed,
                "item_id": item_id,
                "generation": 0,
                "history": {},
                "done": False,
                "created_at": now,
            }
        ],
    )
    found = get_card(session=session, channel_id=channel_id, feed=feed, item_id=item_id)
    assert found is not None
    return found


def record_card_written(
    *,
    session: Session,
    card_id: int,
    message_id: int,
    version: datetime | None,
    history: dict[str, Any],
    done: bool,
    now: datetime,
    generation: int | None = None,
) -> bool:
    """Store what a card now shows, unless a newer state was written meanwhile; True if stored.

    With ``generation``, only while the card is still that generation (a re-creation that
    raced with another process's records nothing twice).
    """
    query = update(CardMessage).where(col(CardMessage.id) == card_id)
    if version is not None:
        query = query.where(
            or_(col(CardMessage.version).is_(None), col(CardMessage.version) <= version)
        )
    if generation is not None:
        query = query.where(col(CardMessage.generation) == generation)
    result = session.exec(
        query.values(
            message_id=message_id, version=version, history=history, done=done, edited_at=now
        )
    )
    return bool(result.rowcount)


def forget_card_message(*, session: Session, card_id: int, generation: int) -> None:
    """Forget a card a person deleted: the next write re-creates it with a fresh nonce.

    Only while the card is still ``generation`` (another process may have re-created it).
    """
    session.exec(
        update(CardMessage)
        .where(col(CardMessage.id) == card_id, col(CardMessage.generation) == generation)
        .values(message_id=None, version=None, generation=generation + 1, done=False)
    )


def open_cards(*, session: Session, channel_ids: Sequence[int] | None = None) -> list[CardMessage]:
    """Return cards that still follow their item (made, and not at their outcome yet)."""
    query = select(CardMessage).where(
        col(CardMessage.message_id).is_not(None), col(CardMessage.done).is_(False)
    )
    if channel_ids is not None:
        query = query.where(col(CardMessage.channel_id).in_(list(channel_ids)))
    return list(session.exec(query.order_by(col(CardMessage.id))).all())


def claim_card(*, session: Session, card_id: int, now: datetime, until: datetime) -> bool:
    """Claim a card for one edit (one process at a time); True when this caller has it."""
    result = session.exec(
        update(CardMessage)
        .where(
            col(CardMessage.id) == card_id,
            or_(col(CardMessage.claimed_until).is_(None), col(CardMessage.claimed_until) < now),
        )
        .values(claimed_until=until)
    )
    return bool(result.rowcount)


def release_card(*, session: Session, card_id: int) -> None:
    """Release a card's claim."""
    session.exec(
        update(CardMessage).where(col(CardMessage.id) == card_id).values(claimed_until=None)
    )


def event_states(
    *, session: Session, event_ids: Iterable[int]
) -> dict[int, tuple[datetime, dict[str, Any]]]:
    """Return each stored event's ``last_updated`` and snapshot (the state a card shows)."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return {}
    query = select(EventRow.id, EventRow.last_updated, EventRow.snapshot).where(
        col(EventRow.id).in_(ids)
    )
    return {i: (when, dict(snap)) for i, when, snap in session.exec(query).all()}


def card_subscriptions(*, session: Session) -> list[Subscription]:
    """Return the active card-style subscriptions."""
    query = select(Subscription).where(
        col(Subscription.paused_reason).is_(None), Subscription.style == "card"
    )
    return list(session.exec(query.order_by(col(Subscription.id))).all())
