"""This process as one of a cluster on PostgreSQL: its lease, its heartbeat, its claims.

docs/architecture.md, invariant 12. Each ``tminus run`` on a PostgreSQL store is a member:
it tries for the poller lease (:mod:`bot.pipeline.lease`), writes a heartbeat row (its
shards, which are up, whether it polls — what ``/status`` shows), and renews the channel
claims its delivery worker holds (:mod:`bot.pipeline.claims`), all every quarter lease
period. A clean stop gives the lease and the row up at once; a kill -9 leaves both to
expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.core.timeutil import utcnow
from bot.pipeline.lease import POLLER, Lease, lease_period, process_name
from bot.pipeline.runner import Pipeline
from storage import cluster
from storage.db import session_scope
from storage.models import ClusterMember

log = logging.getLogger(__name__)

# Members silent this many lease periods are dropped from the table (a kill -9 leaves one).
FORGET_AFTER_PERIODS = 20


class Cluster:
    """The lease, heartbeat and claim renewal of one ``tminus run`` process."""

    def __init__(
        self,
        engine: Engine,
        *,
        pipeline: Pipeline,
        shard_count: int | None,
        shard_ids: Sequence[int],
        shards_up: Callable[[], list[int]],
        period: timedelta | None = None,
    ) -> None:
        self.engine = engine
        self.owner = process_name()
        self.period = period or lease_period()
        self.shard_count = shard_count
        self.shard_ids = list(shard_ids)
        self.shards_up = shards_up
        self.pipeline = pipeline
        self.started_at = utcnow()
        self.lease = Lease(engine, owner=self.owner, period=self.period)
        pipeline.lease = self.lease
        self.lease.on_gain.append(pipeline.lease_gained)
        self.lease.on_loss.append(self._lost)
        self._task: asyncio.Task[None] | None = None

    def _lost(self) -> None:
        self.pipeline.leading()  # metrics read pipeline.leader

    def beat(self) -> None:
        """Write this process's heartbeat and renew its channel claims (blocking)."""
        with session_scope(self.engine) as session:
            cluster.heartbeat(
                session=session,
                owner=self.owner,
                host=socket.gethostname(),
                pid=os.getpid(),
                shard_count=self.shard_count,
                shard_ids=self.shard_ids,
                shards_up=self.shards_up(),
                leader=self.lease.held,
                started_at=self.started_at,
            )
            cluster.renew_claims(session=session, owner=self.owner, period=self.period)
            cluster.forget_members(session=session, silent_for=self.period * FORGET_AFTER_PERIODS)

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.beat)
            except Exception as exc:
                log.warning("cluster heartbeat failed: %s", exc)
            await asyncio.sleep(self.lease.check_every.total_seconds())

    def start(self) -> None:
        """Try for the lease once now (so the first poll need not wait), then keep at it."""
        self.pipeline.leading()
        self.lease.start()
        self._task = asyncio.create_task(self._run(), name="tminus-heartbeat")
        log.info("cluster member %s (lease period %ss)", self.owner, self.period.total_seconds())

    async def stop(self) -> None:
        """Give the lease and this process's row up (its claims expire or were released)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.lease.stop()
        try:
            with session_scope(self.engine) as session:
                cluster.leave(session=session, owner=self.owner)
        except Exception as exc:
            log.warning("could not remove this process from cluster_members: %s", exc)


@dataclass(frozen=True)
class ClusterView:
    """What ``/status`` shows of a cluster: who polls, which processes and shards are up."""

    poller: str | None  # the lease holder, when the lease is live
    poller_since: datetime | None
    members: list[ClusterMember]
    shard_count: int | None
    shards_up: list[int]  # over every live member
    claims: dict[str, int]  # live channel claims per process


def cluster_view(engine: Engine, *, period: timedelta | None = None) -> ClusterView:
    """Read the cluster's state from the store (PostgreSQL)."""
    period = period or lease_period()
    with session_scope(engine) as session:
        lease = cluster.lease_state(session=session, name=POLLER)
        members = cluster.live_members(session=session, within=period * 2)
        claims = cluster.claims_by_owner(session=session)
        for member in members:
            session.expunge(member)
    counts = {m.shard_count for m in members if m.shard_count}
    return ClusterView(
        poller=lease.holder if lease.live else None,
        poller_since=lease.acquired_at if lease.live else None,
        members=members,
        shard_count=max(counts) if counts else None,
        shards_up=sorted({s for m in members for s in m.shards_up}),
        claims=claims,
    )


def cluster_lines(view: ClusterView, *, me: str | None = None) -> tuple[str, str]:
    """Return ``/status``'s two cluster fields: who polls, and the processes with their shards."""
    if view.poller is None:
        poller = "⚠️ nobody holds the lease right now (a process takes it within seconds)"
    else:
        since = f" since <t:{int(view.poller_since.timestamp())}:R>" if view.poller_since else ""
        poller = f"`{view.poller}`{' (this process)' if view.poller == me else ''}{since}"
    lines = []
    for m in view.members:
        shards = ",".join(map(str, m.shard_ids)) or "all"
        up = ",".join(map(str, m.shards_up)) or "none"
        claims = view.claims.get(m.owner, 0)
        lines.append(
            f"`{m.owner}`{' ★' if m.leader else ''}: shards {shards} (up: {up}), "
            f"{claims} channel(s) claimed"
        )
    if view.shard_count:
        missing = sorted(set(range(view.shard_count)) - set(view.shards_up))
        lines.append(
            f"shards up: {len(view.shards_up)} of {view.shard_count}"
            + (f" — ⚠️ down: {', '.join(map(str, missing))}" if missing else "")
        )
    return poller, "\n".join(lines) or "no process heard from"
