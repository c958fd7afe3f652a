"""The outbox worker: drains pending deliveries to a sink, marking each sent only after it was.

Sinks are pluggable: the console sink prints (``tminus watch``), the Discord cog posts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TextIO

from sqlalchemy import Engine
from sqlmodel import Session

from bot.core.timeutil import Clock, utcnow
from bot.pipeline.cards import CardGone, CardKeeper, CardSink, Written, is_card, is_loud
from bot.pipeline.crashpoints import crashpoint
from bot.render.console import payload_text
from storage import outbox, subscriptions
from storage.db import session_scope
from storage.models import Delivery, DeliveryState, Subscription

log = logging.getLogger(__name__)


class SinkError(Exception):
    """A sink could not deliver."""


class TransientSinkError(SinkError):
    """Worth trying again later (rate limits, 5xx, timeouts)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSinkError(SinkError):
    """Will not work until a person fixes something (permissions, a deleted channel)."""

    def __init__(self, message: str, *, pause_reason: str | None = None) -> None:
        super().__init__(message)
        self.pause_reason = pause_reason


class Sink(Protocol):
    """Where deliveries go."""

    async def send(self, delivery: Delivery, subscription: Subscription) -> int | None:
        """Deliver to the delivery's destination (``subscription`` is one it serves).

        Return a message id when the destination has one.
        """
        ...


# What became of one delivery attempt, as told to a worker's observers (the bot's metrics).
# Exclusive: a permanent failure that paused subscriptions is "paused", not also "failed".
SENT, RETRIED, FAILED, PAUSED = "sent", "retried", "failed", "paused"
OUTCOMES = (SENT, RETRIED, FAILED, PAUSED)

DeliveryObserver = Callable[[str, Delivery, datetime], None]


@dataclass
class DrainReport:
    """What one drain did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused: int = 0


class DeliveryWorker:
    """Send due deliveries of the subscriptions this worker serves."""

    def __init__(
        self,
        engine: Engine,
        sink: Sink,
        *,
        clock: Clock = utcnow,
        serves: Callable[[Subscription], bool] = lambda _s: True,
        concurrency: int = 1,
        max_attempts: int = 8,
        backoff: timedelta = timedelta(seconds=5),
        max_backoff: timedelta = timedelta(minutes=10),
    ) -> None:
        self.engine = engine
        self.sink = sink
        self.clock = clock
        self.serves = serves
        self.concurrency = max(1, concurrency)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        # Told (outcome, delivery, when) after each attempt is recorded in the store.
        self.observers: list[DeliveryObserver] = []
        # Card subscriptions need a sink that can keep cards; others post as before.
        self.cards: CardKeeper | None = (
            CardKeeper(engine, sink, clock=clock, serves=serves, concurrency=concurrency)
            if isinstance(sink, CardSink)
            else None
        )

    def _observe(self, outcome: str, delivery: Delivery, at: datetime) -> None:
        for observer in self.observers:
            try:
                observer(outcome, delivery, at)
            except Exception:  # an observer's bug must not stop the drain
                log.exception("delivery observer failed")

    def _served_subscriptions(self) -> dict[int, Subscription]:
        with session_scope(self.engine) as session:
            subs = subscriptions.active_subscriptions(session=session)
        return {s.id: s for s in subs if s.id is not None and self.serves(s)}

    def _load_due(
        self, limit: int
    ) -> tuple[dict[int, Subscription], list[Delivery], dict[int, list[int]]] | None:
        """Return the served subscriptions, the due deliveries and whom each serves (or None)."""
        with session_scope(self.engine) as session:
            next_due = outbox.next_delivery_due(session=session)
        if next_due is None or next_due > self.clock():
            return None  # nothing due: skip loading every subscription
        subs = self._served_subscriptions()
        if not subs:
            return None
        with session_scope(self.engine) as session:
            due = self._due(session, limit=limit, subscription_ids=list(subs))
            served_by = outbox.delivery_subscription_ids(
                session=session, delivery_ids=[d.id for d in due if d.id is not None]
            )
        return subs, due, served_by

    def _due(self, session: Session, *, limit: int, subscription_ids: list[int]) -> list[Delivery]:
        """Return the due deliveries this drain sends (a cluster worker: its claimed ones)."""
        return outbox.due_deliveries(
            session=session, now=self.clock(), limit=limit, subscription_ids=subscription_ids
        )

    async def drain(self, *, limit: int = 1000) -> DrainReport:
        """Send every due delivery (up to ``limit``); one failing channel stops no other."""
        report = DrainReport()
        # The store is asked in a worker thread: a commit or a big read must not hold the
        # event loop, where the pacer releases requests and the gateway keeps its heartbeat.
        loaded = await asyncio.to_thread(self._load_due, limit)
        if loaded is None:
            return report
        subs, due, served_by = loaded
        # One queue per destination: a channel (however many subscriptions it has) or a
        # console subscription. Each delivery goes out once, on behalf of the first active
        # subscription it serves (the sink needs only its destination).
        queues: dict[tuple[str, int], list[tuple[Delivery, Subscription]]] = defaultdict(list)
        serving: dict[int, list[Subscription]] = {}
        for delivery in due:
            assert delivery.id is not None
            serving[delivery.id] = [subs[i] for i in served_by.get(delivery.id, ()) if i in subs]
            sub = next(iter(serving[delivery.id]), None)
            if sub is None or sub.id is None:
                continue
            where = ("channel", delivery.channel_id) if delivery.channel_id else ("sub", sub.id)
            queues[where].append((delivery, sub))
        semaphore = asyncio.Semaphore(self.concurrency)

        async def run(items: Sequence[tuple[Delivery, Subscription]]) -> None:
            async with semaphore:
                # One destination's alerts go out in order; different channels in parallel.
                for delivery, sub in items:
                    assert delivery.id is not None
                    if not await self._deliver(delivery, sub, report, serving[delivery.id]):
                        break

        await asyncio.gather(*(run(items) for items in queues.values()))
        return report

    async def _send(
        self, delivery: Delivery, sub: Subscription, serving: Sequence[Subscription]
    ) -> tuple[int | None, Written | None]:
        """Send one delivery: a message, or (card subscriptions) the card and maybe a ping.

        Returns the message id and, when a card was just created, its write to record with
        the delivery (one transaction: invariant 10).
        """
        cards = [s for s in serving if is_card(s)]
        if not cards or self.cards is None or delivery.channel_id is None:
            return await self.sink.send(delivery, sub), None
        try:
            card_id, written = await self.cards.ensure_card(delivery)
        except CardGone as exc:
            raise TransientSinkError(
                "card nonce points at a deleted message; fresh nonce next"
            ) from exc
        except (LookupError, TimeoutError) as exc:
            raise TransientSinkError(str(exc)) from exc
        if written is not None and is_loud(delivery):
            # The ping comes next: record the card first, so a crash before the ping cannot
            # lose the card's id (the ping's own nonce keeps it single).
            await asyncio.to_thread(self._record_card, written)
            written = None
        if len(cards) < len(serving):
            # Feed-style subscriptions of the same channel get the full message (one per
            # channel per alert, invariant 9); it stands in for the card's ping.
            return await self.sink.send(delivery, sub), written
        if is_loud(delivery):
            return await self.cards.ping(delivery, card_id), written
        return card_id, written

    async def _deliver(
        self,
        delivery: Delivery,
        sub: Subscription,
        report: DrainReport,
        serving: Sequence[Subscription] = (),
    ) -> bool:
        """Send one delivery; return False when the rest of this destination's must wait."""
        assert delivery.id is not None
        try:
            message_id, written = await self._send(delivery, sub, serving or [sub])
        except TransientSinkError as exc:
            attempts = delivery.attempts + 1
            if attempts >= self.max_attempts:
                await asyncio.to_thread(
                    self._record_final, delivery.id, f"gave up after {attempts} attempts: {exc}"
                )
                report.failed += 1
                log.error("delivery %s failed for good: %s", delivery.dedupe_key, exc)
                self._observe(FAILED, delivery, self.clock())
                return True
            wait = self._backoff(attempts, exc.retry_after)
            await asyncio.to_thread(self._record_retry, delivery.id, str(exc), self.clock() + wait)
            report.retried += 1
            self._observe(RETRIED, delivery, self.clock())
            log.warning(
                "delivery %s failed (%s); retry %d in %.0fs",
                delivery.dedupe_key,
                exc,
                attempts,
                wait.total_seconds(),
            )
            return False
        except PermanentSinkError as exc:
            paused = await asyncio.to_thread(self._record_refused, delivery, sub, exc)
            if exc.pause_reason:
                report.paused += len(paused)
                log.warning(
                    "paused subscriptions %s (channel %s): %s",
                    paused,
                    delivery.channel_id,
                    exc.pause_reason,
                )
            report.failed += 1
            self._observe(PAUSED if paused else FAILED, delivery, self.clock())
            return False
        crashpoint("after_send")
        sent_at = self.clock()
        await asyncio.to_thread(self._record_sent, delivery.id, sent_at, message_id, written)
        report.sent += 1
        self._observe(SENT, delivery, sent_at)
        return True

    # The store writes of one attempt, each one transaction, run in a worker thread.

    def _record_sent(
        self, delivery_id: int, sent_at: datetime, message_id: int | None, written: Written | None
    ) -> None:
        with session_scope(self.engine) as session:
            if written is not None:
                written.record(session, sent_at)
            outbox.mark_sent(
                session=session, delivery_id=delivery_id, now=sent_at, message_id=message_id
            )

    def _record_card(self, written: Written) -> None:
        with session_scope(self.engine) as session:
            written.record(session, self.clock())

    def _record_retry(self, delivery_id: int, error: str, retry_at: datetime) -> None:
        with session_scope(self.engine) as session:
            outbox.mark_retry(
                session=session, delivery_id=delivery_id, error=error, retry_at=retry_at
            )

    def _record_final(self, delivery_id: int, error: str) -> None:
        with session_scope(self.engine) as session:
            outbox.mark_final(
                session=session, delivery_id=delivery_id, state=DeliveryState.FAILED, error=error
            )

    def _record_refused(
        self, delivery: Delivery, sub: Subscription, exc: PermanentSinkError
    ) -> list[int]:
        """Fail the delivery; pause the channel's subscriptions when a person must act."""
        assert delivery.id is not None
        with session_scope(self.engine) as session:
            outbox.mark_final(
                session=session,
                delivery_id=delivery.id,
                state=DeliveryState.FAILED,
                error=str(exc),
            )
            if not exc.pause_reason:
                return []
            return subscriptions.pause_subscriptions(
                session=session,
                reason=exc.pause_reason,
                channel_id=delivery.channel_id,
                subscription_ids=[sub.id] if sub.id is not None else [],
            )

    def _backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        wait = self.backoff * (2 ** (attempts - 1))
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        return min(wait, self.max_backoff)


# --- the console sink ------------------------------------------------------------------------


class ConsoleSink:
    """Print alerts: readable text for people, or one JSON object per line for machines."""

    def __init__(self, *, fmt: str = "text", stream: TextIO | None = None) -> None:
        if fmt not in ("text", "json"):
            raise ValueError("format must be text or json")
        self.fmt = fmt
        self.stream = stream or sys.stdout

    async def send(self, delivery: Delivery, subscription: Subscription) -> int | None:
        """Print one delivery."""
        if self.fmt == "json":
            self.stream.write(json.dumps(delivery.payload, ensure_ascii=False) + "\n")
        else:
            self.stream.write(payload_text(delivery.payload) + "\n\n")
        self.stream.flush()
        return None
