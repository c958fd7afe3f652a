"""Query functions of a PostgreSQL cluster: the poller's lease, members, claims, the pacer.

Several ``tminus run`` processes on one PostgreSQL store (docs/architecture.md, invariant
12). Every time these functions compare is the database's own ``clock_timestamp()``, so
the processes' clocks may disagree without anyone holding a lease twice. They need
PostgreSQL (``FOR UPDATE SKIP LOCKED``, ``clock_timestamp``); a SQLite store never calls
them (one process per SQLite store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, case, cast, extract, func, literal, or_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from storage.models import (
    ChannelClaim,
    ClusterLease,
    ClusterMember,
    Delivery,
    DeliveryState,
    DeliverySubscription,
    RatePacer,
)
from storage.types import UTCDateTime

# A claim row nobody holds reads as expired since the epoch.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _db_now() -> ColumnElement[Any]:
    """The database's wall clock at this statement (``now()`` is the transaction's start)."""
    return func.clock_timestamp()


def _db_in(offset: timedelta) -> ColumnElement[Any]:
    """The database's wall clock plus ``offset`` (negative: in the past)."""
    return func.clock_timestamp() + func.make_interval(0, 0, 0, 0, 0, 0, offset.total_seconds())


# --- the lease ----------------------------------------------------------------------------


def take_lease(*, session: Session, name: str, holder: str, period: timedelta) -> datetime | None:
    """Take or renew lease ``name`` for ``holder`` when free, expired or already its own.

    Return the new expiry, or None when another holder's lease is still running.
    """
    session.exec(
        postgresql.insert(ClusterLease)
        .values(name=name, holder=None, expires_at=None)
        .on_conflict_do_nothing()
    )
    now = _db_now()
    lease = ClusterLease
    row = session.exec(
        update(lease)
        .where(
            col(lease.name) == name,
            or_(
                col(lease.holder) == holder,
                col(lease.holder).is_(None),
                col(lease.expires_at).is_(None),
                col(lease.expires_at) < now,
            ),
        )
        .values(
            holder=holder,
            expires_at=_db_in(period),
            # A renewal keeps the time it was first taken; a take-over starts it afresh.
            acquired_at=func.coalesce(
                case((col(lease.holder) == holder, col(lease.acquired_at)), else_=None), now
            ),
        )
        .returning(col(lease.expires_at))
    ).first()
    return None if row is None else row[0]


def release_lease(*, session: Session, name: str, holder: str) -> None:
    """Give lease ``name`` up at once if ``holder`` holds it (a clean shutdown)."""
    session.exec(
        update(ClusterLease)
        .where(col(ClusterLease.name) == name, col(ClusterLease.holder) == holder)
        .values(holder=None, expires_at=None)
    )


@dataclass(frozen=True)
class LeaseState:
    """Who holds a lease and until when (as the database sees it now)."""

    holder: str | None
    expires_at: datetime | None
    acquired_at: datetime | None
    live: bool  # held and not expired


def lease_state(*, session: Session, name: str) -> LeaseState:
    """Return lease ``name``'s holder, expiry and whether it is live right now."""
    row = session.exec(
        select(
            ClusterLease.holder,
            ClusterLease.expires_at,
            ClusterLease.acquired_at,
            col(ClusterLease.expires_at) > _db_now(),
        ).where(col(ClusterLease.name) == name)
    ).first()
    if row is None:
        return LeaseState(None, None, None, False)
    holder, expires_at, acquired_at, live = row
    return LeaseState(holder, expires_at, acquired_at, bool(live) and holder is not None)


# --- members (what /status shows) ---------------------------------------------------------


def heartbeat(
    *,
    session: Session,
    owner: str,
    host: str,
    pid: int,
    shard_count: int | None,
    shard_ids: Sequence[int],
    shards_up: Sequence[int],
    leader: bool,
    started_at: datetime,
) -> None:
    """Record that process ``owner`` is alive, with its shards and whether it polls."""
    values = {
        "owner": owner,
        "host": host,
        "pid": pid,
        "shard_count": shard_count,
        "shard_ids": list(shard_ids),
        "shards_up": list(shards_up),
        "leader": leader,
        "started_at": started_at,
        "seen_at": datetime.now(UTC),
    }
    statement = postgresql.insert(ClusterMember).values(values)
    session.exec(
        statement.on_conflict_do_update(
            index_elements=["owner"],
            set_={k: statement.excluded[k] for k in values if k not in ("owner", "started_at")}
            | {"seen_at": _db_now()},
        )
    )


def live_members(*, session: Session, within: timedelta) -> list[ClusterMember]:
    """Return the processes heard from within ``within``, oldest first."""
    query = (
        select(ClusterMember)
        .where(col(ClusterMember.seen_at) > _db_in(-within))
        .order_by(col(ClusterMember.started_at), col(ClusterMember.owner))
    )
    return list(session.exec(query).all())


def leave(*, session: Session, owner: str) -> None:
    """Forget process ``owner`` (a clean shutdown)."""
    member = session.get(ClusterMember, owner)
    if member is not None:
        session.delete(member)


def forget_members(*, session: Session, silent_for: timedelta) -> int:
    """Delete processes not heard from for ``silent_for``; return how many."""
    old = session.exec(
        select(ClusterMember).where(col(ClusterMember.seen_at) < _db_in(-silent_for))
    ).all()
    for member in old:
        session.delete(member)
    return len(old)


# --- delivery claims ----------------------------------------------------------------------


def _due_channels(now: datetime) -> Any:
    return (
        select(Delivery.channel_id)
        .where(
            Delivery.state == DeliveryState.PENDING.value,
            col(Delivery.next_attempt_at) <= now,
            col(Delivery.channel_id).is_not(None),
        )
        .distinct()
    )


def claim_channels(
    *, session: Session, owner: str, now: datetime, period: timedelta, limit: int
) -> list[int]:
    """Claim up to ``limit`` channels with due deliveries that nobody else holds; return them.

    A channel is claimed whole, so its deliveries go out in order from one process; the
    rows are picked ``FOR UPDATE SKIP LOCKED``, so processes claiming at once never wait for
    each other nor take the same channel. A claim lasts ``period`` unless renewed: a dead
    process's channels return to the pool.
    """
    due = _due_channels(now)
    session.exec(
        postgresql.insert(ChannelClaim)
        .from_select(
            ["channel_id", "owner", "claimed_until"],
            select(
                col(Delivery.channel_id),
                literal(None),
                literal(EPOCH, UTCDateTime()),
            )
            .where(col(Delivery.channel_id).in_(due))
            .distinct(),
        )
        .on_conflict_do_nothing()
    )
    pick = (
        select(ChannelClaim.channel_id)
        .where(
            col(ChannelClaim.channel_id).in_(due),
            or_(col(ChannelClaim.claimed_until) < _db_now(), col(ChannelClaim.owner) == owner),
        )
        .order_by(col(ChannelClaim.channel_id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.exec(
        update(ChannelClaim)
        .where(col(ChannelClaim.channel_id).in_(pick.scalar_subquery()))
        .values(owner=owner, claimed_until=_db_in(period))
        .returning(col(ChannelClaim.channel_id))
    ).all()
    return sorted(r[0] for r in rows)


def renew_claims(*, session: Session, owner: str, period: timedelta) -> int:
    """Extend every live claim of ``owner`` by ``period`` from now; return how many."""
    rows = session.exec(
        update(ChannelClaim)
        .where(col(ChannelClaim.owner) == owner, col(ChannelClaim.claimed_until) > _db_now())
        .values(claimed_until=_db_in(period))
        .returning(col(ChannelClaim.channel_id))
    ).all()
    return len(rows)


def still_claimed(*, session: Session, owner: str, channel_id: int) -> bool:
    """Return whether ``owner``'s claim on ``channel_id`` is still running."""
    row = session.exec(
        select(ChannelClaim.channel_id).where(
            col(ChannelClaim.channel_id) == channel_id,
            col(ChannelClaim.owner) == owner,
            col(ChannelClaim.claimed_until) > _db_now(),
        )
    ).first()
    return row is not None


def release_claims(*, session: Session, owner: str, channel_ids: Sequence[int]) -> None:
    """Give back ``owner``'s claims on ``channel_ids`` (their deliveries are done or waiting)."""
    if not channel_ids:
        return
    session.exec(
        update(ChannelClaim)
        .where(col(ChannelClaim.owner) == owner, col(ChannelClaim.channel_id).in_(channel_ids))
        .values(owner=None, claimed_until=EPOCH)
    )


def claimed_deliveries(
    *,
    session: Session,
    channel_ids: Sequence[int],
    now: datetime,
    subscription_ids: Sequence[int] | None = None,
    limit: int = 1000,
) -> list[Delivery]:
    """Return the due pending deliveries of ``channel_ids``, in the order they go out."""
    if not channel_ids:
        return []
    query = select(Delivery).where(
        Delivery.state == DeliveryState.PENDING.value,
        col(Delivery.next_attempt_at) <= now,
        col(Delivery.channel_id).in_(list(channel_ids)),
    )
    if subscription_ids is not None:
        query = query.where(
            col(Delivery.id).in_(
                select(DeliverySubscription.delivery_id).where(
                    col(DeliverySubscription.subscription_id).in_(list(subscription_ids))
                )
            )
        )
    query = query.order_by(col(Delivery.next_attempt_at), col(Delivery.id)).limit(limit)
    return list(session.exec(query).all())


def claims_by_owner(*, session: Session) -> dict[str, int]:
    """Return how many live channel claims each process holds."""
    rows = session.exec(
        select(ChannelClaim.owner, func.count())
        .where(col(ChannelClaim.owner).is_not(None), col(ChannelClaim.claimed_until) > _db_now())
        .group_by(col(ChannelClaim.owner))
    ).all()
    return {owner: int(n) for owner, n in rows if owner is not None}


# --- the shared pacer ---------------------------------------------------------------------


@dataclass(frozen=True)
class RateSlot:
    """A reserved slot of a shared pacer, and the database's clock when it was handed out."""

    at: float  # epoch seconds, the database's wall clock
    now: float

    @property
    def delay(self) -> float:
        """Seconds from the database's ``now`` to the slot (0 or more)."""
        return max(0.0, self.at - self.now)


def take_rate_slot(*, session: Session, name: str, interval: float, lead: float = 0.0) -> RateSlot:
    """Reserve the next free slot of pacer ``name`` (slots ``interval`` s apart).

    The caller sends at the slot. One row updated by every process, so together they never
    go faster than one per interval, and one process alone gets every slot. The slot comes
    with the database's clock so the caller can place it on its own clock; it is at least
    ``lead`` seconds away, so the answer is back before the slot is due.
    """
    epoch_now = cast(extract("epoch", _db_now()), Float)
    statement = (
        update(RatePacer)
        .where(col(RatePacer.name) == name)
        .values(next_at=func.greatest(col(RatePacer.next_at), epoch_now + lead) + interval)
        .returning(col(RatePacer.next_at) - interval, epoch_now)
    )
    row = session.exec(statement).first()
    if row is None:
        session.exec(
            postgresql.insert(RatePacer).values(name=name, next_at=0.0).on_conflict_do_nothing()
        )
        row = session.exec(statement).first()
        assert row is not None
    return RateSlot(at=float(row[0]), now=float(row[1]))
