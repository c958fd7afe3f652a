"""Delivery claims: on PostgreSQL, whichever process is free drains whichever channel is due.

docs/architecture.md, invariant 12. A process claims a batch of *channels* (not single
deliveries) whose deliveries are due, with ``FOR UPDATE SKIP LOCKED`` so two processes
claiming at once never wait for each other nor take the same channel; it then sends those
channels' due deliveries in order, as a single process would (per-channel order stays), and
gives the channels back. A claim expires one lease period after its last renewal (the
process's heartbeat renews it), so a dead process's channels return to the others. Exactly
once still rests on the message nonce: a channel taken over mid-send is resent with the
same nonce, and Discord answers with the message already posted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.core.timeutil import Clock, utcnow
from bot.pipeline.delivery import DeliveryWorker, DrainReport, Sink
from storage import cluster
from storage.db import session_scope
from storage.models import Delivery, Subscription

log = logging.getLogger(__name__)

# Channels claimed at a time: small enough that a big fan-out spreads over the processes,
# large enough that the pause between claim rounds (release, claim, load what is due) comes
# rarely: at 40, one process sending 300 channels alone ran at 0.70 of Discord's 50/s; at 100,
# 0.89 (docs/benchmarks.md, cluster).
CLAIM_BATCH = 100
# Claim rounds per drain: a drain goes on while it finds channels to claim, but not forever.
MAX_ROUNDS = 50


class ClaimingWorker(DeliveryWorker):
    """A :class:`DeliveryWorker` that sends only the channels it claimed in the store."""

    def __init__(
        self,
        engine: Engine,
        sink: Sink,
        *,
        owner: str,
        period: timedelta,
        clock: Clock = utcnow,
        serves: Callable[[Subscription], bool] = lambda _s: True,
        concurrency: int = 1,
        batch: int = CLAIM_BATCH,
    ) -> None:
        super().__init__(engine, sink, clock=clock, serves=serves, concurrency=concurrency)
        self.owner = owner
        self.period = period
        self.batch = batch
        self._claimed: list[int] = []

    def claim(self) -> list[int]:
        """Claim up to a batch of channels with due deliveries; return their ids."""
        with session_scope(self.engine) as session:
            return cluster.claim_channels(
                session=session,
                owner=self.owner,
                now=self.clock(),
                period=self.period,
                limit=self.batch,
            )

    def release(self, channel_ids: list[int]) -> None:
        """Give channels back (their due deliveries went out, or wait for a retry)."""
        try:
            with session_scope(self.engine) as session:
                cluster.release_claims(session=session, owner=self.owner, channel_ids=channel_ids)
        except Exception as exc:  # they expire on their own
            log.warning("could not release %d channel claims: %s", len(channel_ids), exc)

    def _due(self, session: Session, *, limit: int, subscription_ids: list[int]) -> list[Delivery]:
        return cluster.claimed_deliveries(
            session=session,
            channel_ids=self._claimed,
            now=self.clock(),
            subscription_ids=subscription_ids,
            limit=limit,
        )

    async def drain(self, *, limit: int = 1000) -> DrainReport:
        """Claim channels and send their due deliveries, round after round, until none are left."""
        total = DrainReport()
        for _ in range(MAX_ROUNDS):
            claimed = await asyncio.to_thread(self.claim)
            if not claimed:
                break
            self._claimed = claimed
            try:
                report = await super().drain(limit=limit)
            finally:
                self._claimed = []
                await asyncio.to_thread(self.release, claimed)
            total.sent += report.sent
            total.retried += report.retried
            total.failed += report.failed
            total.paused += report.paused
            if not (report.sent or report.failed):
                break  # only retries (or nothing) came of it: they fall due later
        return total
