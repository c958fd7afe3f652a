"""The alert pipeline put together: sync, reminders and delivery, once or on a schedule."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TextIO, cast

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine

from bot.config import Config
from bot.core.items import FINE_PRECISIONS
from bot.core.options import parse_leads
from bot.core.schedule import BRIEF, DATE, STREAM, Moment, PollPlan, plan_next_poll
from bot.core.timeutil import Clock, human_duration, utcnow
from bot.ll2.client import LL2Client
from bot.ll2.errors import LL2BudgetExhausted, LL2Error, LL2Throttled
from bot.pipeline.delivery import ConsoleSink, DeliveryWorker, DrainReport, Sink
from bot.pipeline.lease import Lease
from bot.pipeline.sync import FEED_EVENTS, FEED_LAUNCHES, Syncer, SyncReport
from storage import queries, subscriptions
from storage.db import make_engine, session_scope, upgrade
from storage.models import Subscription

log = logging.getLogger(__name__)

UPCOMING_REFRESH_EVERY = timedelta(hours=6)
TYPES_REFRESH_EVERY = timedelta(hours=24)
REMINDER_TICK = timedelta(seconds=15)
DELIVERY_TICK = timedelta(seconds=2)
# Requests kept back from optional refreshes so change polls never starve.
REFRESH_RESERVE = 3
# A poll that has not finished this long after it was due is reported overdue (/status).
OVERDUE_AFTER = timedelta(minutes=2)
# The poll job plans its successor from its own ``finally``, while it still counts as
# running: a successor due at once (after a failed poll) would be skipped as a second
# instance, and a skipped one-off job is never run again. One "poll" job exists at a time
# (same id, replaced), so allowing two instances only covers that hand-over.
POLL_JOB_OPTIONS = {"max_instances": 2, "coalesce": True, "misfire_grace_time": 60}


@dataclass(frozen=True)
class JobBounds:
    """How long each scheduled job may run before its watchdog cancels it.

    Every LL2 request has its own deadline; these bound the jobs as a whole, so nothing a
    job waits on (a request, a lock, a sink) can stop the schedule. Work cut short is safe
    to redo: an uncommitted page is polled again, a pending delivery is resent.
    """

    poll: timedelta = timedelta(minutes=15)
    reminders: timedelta = timedelta(minutes=5)
    delivery: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class PollHealth:
    """What ``/status`` and ``/healthz`` say about polling: when, next, and whether late."""

    last_poll: datetime | None  # the last poll that synced
    last_attempt: datetime | None  # the last poll job that ended, synced or not
    next_poll_at: datetime | None
    overdue: bool  # the planned poll has not run (or not finished) well past its time


def open_store(url: str) -> Engine:
    """Open the database and bring its schema up to date, saying so when it changes."""
    engine = make_engine(url)
    before, after = upgrade(engine)
    if before != after:
        log.info("storage at %s upgraded to schema %s", engine.url.render_as_string(), after)
    return engine


def _fine(precision: str | None) -> bool:
    """Return whether a date of this precision is a moment (good to the hour, or unsaid)."""
    return precision is None or precision.lower() in FINE_PRECISIONS


def known_types(engine: Engine) -> list[tuple[int, str]]:
    """Return ``(id, name)`` of every stored event type."""
    with session_scope(engine) as session:
        return [(t.id, t.name) for t in queries.event_types(session=session)]


# --- the cycle ------------------------------------------------------------------------------


@dataclass
class CycleReport:
    """What one pass of the pipeline did."""

    sync: SyncReport | None = None  # the first feed's (events when it is on)
    syncs: dict[str, SyncReport] = field(default_factory=dict)  # by feed
    reminders: int = 0
    delivery: DrainReport = field(default_factory=DrainReport)
    throttled: LL2Throttled | None = None
    error: LL2Error | None = None


class Pipeline:
    """Sync + reminders + delivery around one store and one LL2 client."""

    def __init__(
        self,
        *,
        config: Config,
        engine: Engine,
        client: LL2Client,
        sink: Sink | None,
        serves: Callable[[Subscription], bool] = lambda _s: True,
        clock: Clock = utcnow,
        delivery_concurrency: int = 1,
        bounds: JobBounds | None = None,
    ) -> None:
        self.config = config
        self.bounds = bounds or JobBounds()
        self.engine = engine
        self.client = client
        self.clock = clock
        # One syncer per enabled feed, each with its own watermark and seeding; one client,
        # so one request budget for all of them (docs/architecture.md, invariant 8).
        self.syncers: dict[str, Syncer] = {
            feed: Syncer(client=client, engine=engine, alerts=config.alerts, clock=clock, feed=feed)
            for feed in config.ll2.feeds
        }
        self.syncer = self.syncers.get(FEED_EVENTS) or next(iter(self.syncers.values()))
        # Without a sink (the Discord bot), a delivery cog drains the outbox and is told
        # through ``listeners`` when there is something new.
        self.worker = (
            DeliveryWorker(
                engine, sink, clock=clock, serves=serves, concurrency=delivery_concurrency
            )
            if sink is not None
            else None
        )
        self.listeners: list[Callable[[], None]] = []
        self._last_drain = DrainReport()
        self.last_poll: datetime | None = None
        # When each feed last synced to the end in this process (metrics, per feed).
        self.last_sync: dict[str, datetime] = {}
        # Whether this process polls LL2 and runs the reminder tick. One process does all of
        # it until the PostgreSQL lease (docs/architecture.md, invariant 12) decides between
        # several.
        self.leader = True
        # On PostgreSQL (several processes): poll and remind only while holding this lease.
        self.lease: Lease | None = None
        self.last_attempt: datetime | None = None
        self.next_plan: PollPlan | None = None
        self._scheduler: AsyncIOScheduler | None = None

    async def align_budget(self) -> None:
        """Ask ``/api-throttle/`` (free) so the budget matches LL2's own count."""
        try:
            status = await self.client.throttle()
        except LL2Error as exc:
            log.info("could not read /api-throttle/: %s", exc)
            return
        with session_scope(self.engine) as session:
            state = queries.sync_state(session=session)
            state.budget_limit = status.limit
            state.budget_remaining = max(0, status.limit - status.current_use)
            state.budget_checked_at = self.clock()
            session.add(state)

    def _due(self, last: datetime | None, every: timedelta) -> bool:
        return (
            last is None or self.clock() - last >= every
        ) and self.client.budget.remaining() > REFRESH_RESERVE

    def _seeded(self) -> dict[str, bool]:
        remembered = {feed: syncer.seeded for feed, syncer in self.syncers.items()}
        if all(seeded is not None for seeded in remembered.values()):
            return cast(dict[str, bool], remembered)  # what each syncer last read or committed
        with session_scope(self.engine) as session:
            return {
                feed: queries.sync_state(session=session, feed=feed).seeded for feed in self.syncers
            }

    def feeds_to_poll(self, feeds: frozenset[str] | None = None) -> list[str]:
        """Return the enabled feeds a poll asks, in order: ``feeds`` plus any not yet seeded.

        ``feeds`` None means the last plan's feeds (every feed before any plan). A feed that
        has never synced is always asked: it seeds quietly (docs/architecture.md, invariant 4), and
        a feed
        switched on in a running store must not wait for its moments to come up.
        """
        if feeds is None:
            feeds = self.next_plan.feeds if self.next_plan is not None else None
        seeded = self._seeded()
        return [f for f in self.syncers if feeds is None or f in feeds or not seeded[f]]

    async def poll(self, feeds: frozenset[str] | None = None) -> CycleReport:
        """Sync the feeds asked (plus any refresh that is due and affordable).

        Each poll asks only the feeds its plan is for (docs/architecture.md, invariant 8: a request
        asks only the
        feed whose moment is near); the budget is the client's, shared by every feed.
        """
        report = CycleReport()
        try:
            for feed in self.feeds_to_poll(feeds):
                syncer = self.syncers[feed]
                synced = await syncer.sync()
                report.syncs[feed] = synced
                report.sync = report.sync or synced
                self.last_poll = self.clock()
                self.last_sync[feed] = self.last_poll
                with session_scope(self.engine) as session:
                    state = queries.sync_state(session=session, feed=feed)
                    if synced.seeded:
                        state.last_upcoming_refresh_at = self.clock()
                        session.add(state)
                    types_at = state.last_types_refresh_at
                    upcoming_at = state.last_upcoming_refresh_at
                if feed == FEED_EVENTS and self._due(types_at, TYPES_REFRESH_EVERY):
                    await syncer.refresh_event_types()
                if self._due(upcoming_at, UPCOMING_REFRESH_EVERY):
                    await syncer.refresh_upcoming()
        except LL2BudgetExhausted as exc:
            report.throttled = exc  # our own limiter: expected, not a problem
            log.info("%s", exc)
        except LL2Throttled as exc:
            report.throttled = exc  # the client has logged LL2's 429 already
        except LL2Error as exc:
            report.error = exc
            log.error("sync failed: %s", exc)
        return report

    def enqueue_reminders(self) -> int:
        """Enqueue the reminders due in every feed; return how many."""
        return sum(syncer.enqueue_reminders() for syncer in self.syncers.values())

    async def cycle(self) -> CycleReport:
        """Run one full pass: align budget, sync, reminders, deliver."""
        await self.align_budget()
        report = await self.poll(frozenset(self.syncers))
        report.reminders = await asyncio.to_thread(self.enqueue_reminders)
        await self.deliver()
        if self.worker is not None:
            report.delivery = self._last_drain
        return report

    async def deliver(self) -> None:
        """Drain the outbox (console sink) or wake whoever drains it (Discord)."""
        if self.worker is not None:
            self._last_drain = await self.worker.drain()
        for listener in self.listeners:
            listener()

    # --- scheduling -------------------------------------------------------------------------

    def moments(self, now: datetime) -> list[Moment]:
        """Return the moments LL2 announced near ``now``, typed and tagged with their feed.

        Events: a stream's ``start_time``; an event's ``date`` (``brief`` when a stream has
        its own start). Launches: a stream's ``start_time``; ``net``, where status changes
        happen (T-0, then the result); ``window_start`` when it differs from ``net``.
        Only dates good to the hour count: a "NET November" date is no moment.
        """
        horizon = now + timedelta(hours=2)
        since = now - timedelta(minutes=15)
        found: list[Moment] = []
        with session_scope(self.engine) as session:
            if FEED_EVENTS in self.syncers:
                streams = queries.video_start_times(session=session, start=since, end=horizon)
                streamed = {event_id for event_id, _ in streams}
                found += [Moment(t, STREAM, FEED_EVENTS) for _, t in streams]
                for e in queries.events_between(session=session, start=since, end=horizon):
                    if e.date is not None and _fine(e.date_precision):
                        kind = BRIEF if e.id in streamed else DATE
                        found.append(Moment(e.date, kind, FEED_EVENTS))
            if FEED_LAUNCHES in self.syncers:
                launch_streams = queries.launch_video_start_times(
                    session=session, start=since, end=horizon
                )
                found += [Moment(t, STREAM, FEED_LAUNCHES) for _, t in launch_streams]
                for _id, net, precision, window_start in queries.launch_moments(
                    session=session, start=since, end=horizon
                ):
                    if not _fine(precision):
                        continue
                    if net is not None and since <= net <= horizon:
                        found.append(Moment(net, DATE, FEED_LAUNCHES))
                    if (
                        window_start is not None
                        and since <= window_start <= horizon
                        and (net is None or abs(window_start - net) > timedelta(minutes=1))
                    ):
                        found.append(Moment(window_start, BRIEF, FEED_LAUNCHES))
        return found

    def idle_feeds(self) -> frozenset[str]:
        """Return the feed an idle poll asks: the one synced longest ago (they take turns)."""
        oldest = datetime.min.replace(tzinfo=self.clock().tzinfo)
        feed = min(self.syncers, key=lambda f: self.last_sync.get(f, oldest))
        return frozenset({feed})

    def plan(self) -> PollPlan:
        """Decide when the next poll should happen, and for which feeds (docs/architecture.md,
        invariant 8)."""
        now = self.clock()
        self.next_plan = plan_next_poll(
            now,
            last_poll=self.last_poll,
            moments=self.moments(now),
            requests_per_hour=self.client.budget.limit,
            min_interval=self.config.ll2.min_interval,
            budget_available_at=self.client.budget.available_at(),
            recent=self.client.budget.sent_times(),
            feeds=self.idle_feeds(),
        )
        # A hot window of a feed that is off (cannot happen today) must not stop every poll.
        enabled = self.next_plan.feeds & frozenset(self.syncers)
        if not enabled:
            self.next_plan = PollPlan(self.next_plan.at, self.next_plan.reason, self.idle_feeds())
        return self.next_plan

    def poll_health(self) -> PollHealth:
        """Return when LL2 was last polled, when next, and whether that poll is overdue."""
        now = self.clock()
        next_at = self.next_plan.at if self.next_plan else None
        return PollHealth(
            last_poll=self.last_poll,
            last_attempt=self.last_attempt,
            next_poll_at=next_at,
            overdue=next_at is not None and now > next_at + OVERDUE_AFTER,
        )

    async def _run_job(
        self, name: str, work: Callable[[], Awaitable[object]], bound: timedelta
    ) -> None:
        """Run one job's work within ``bound``: log failures and overruns, the job runs again."""
        try:
            async with asyncio.timeout(bound.total_seconds()) as watchdog:
                await work()
        except TimeoutError:
            if not watchdog.expired():
                log.exception("%s failed; will run again", name)
                return
            # Work in a thread (a SQLite commit) runs on; everything awaited is cancelled.
            log.error(
                "%s overran its %s watchdog and was cancelled; the schedule goes on",
                name,
                human_duration(bound),
            )
        except asyncio.CancelledError:
            # Shutdown cancels a job mid-flight. Its work is safe to redo (an uncommitted
            # page is polled again, a pending delivery is resent with its nonce), so end
            # quietly instead of letting the scheduler report a cancelled job as a failure.
            log.info("%s interrupted by shutdown", name)
        except Exception:
            log.exception("%s failed; will run again", name)

    def leading(self) -> bool:
        """Return whether this process polls and reminds now (the lease, when there is one)."""
        self.leader = self.lease is None or self.lease.held
        return self.leader

    def lease_gained(self) -> None:
        """Take over polling: count what the old leader spent, and poll as soon as planned."""
        self.client.budget.reload()
        self.last_poll = None  # this process's own last poll says nothing now
        for syncer in self.syncers.values():
            syncer.forget_position()  # the old leader moved the watermarks
        self._schedule_poll()

    async def _poll_and_deliver(self) -> None:
        if not self.leading():
            # Another process polls (docs/architecture.md, invariant 12); asked again each turn.
            return
        if self.client.alignment_due:
            # At start-up and after a 429: LL2's own count, so a restart or a peer on the
            # same IP does not draw 429s (``watch --once`` aligns on every cycle).
            await self.align_budget()
        await self.poll()
        await self.deliver()

    async def _poll_job(self) -> None:
        try:
            await self._run_job("LL2 poll", self._poll_and_deliver, self.bounds.poll)
        finally:
            self.last_attempt = self.clock()
            self._schedule_poll()

    def _schedule_poll(self) -> None:
        if self._scheduler is None or not self._scheduler.running:
            return
        try:
            if self.lease is not None and not self.leading():
                plan = PollPlan(
                    at=self.clock() + self.lease.check_every, reason="another process polls"
                )
            else:
                plan = self.plan()
        except Exception:
            log.exception("could not plan the next poll; retrying in a minute")
            plan = PollPlan(at=self.clock() + timedelta(minutes=1), reason="planning failed")
        log.log(
            logging.INFO if self.lease is None or self.leader else logging.DEBUG,
            "next LL2 poll %s (%s, %d requests left this hour)",
            plan.at.strftime("%H:%M:%S"),
            plan.reason,
            self.client.budget.remaining(),
        )
        self._scheduler.add_job(
            self._poll_job,
            "date",
            run_date=plan.at,
            id="poll",
            replace_existing=True,
            **POLL_JOB_OPTIONS,
        )

    async def _remind(self) -> None:
        if not self.leading():
            return
        if await asyncio.to_thread(self.enqueue_reminders):
            await self.deliver()

    async def _reminder_job(self) -> None:
        await self._run_job("reminder tick", self._remind, self.bounds.reminders)

    async def _delivery_job(self) -> None:
        await self._run_job("delivery drain", self.deliver, self.bounds.delivery)

    def start(self, scheduler: AsyncIOScheduler) -> None:
        """Add the pipeline's jobs to a running-or-soon scheduler."""
        self._scheduler = scheduler
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 60}
        scheduler.add_job(
            self._poll_job, "date", id="poll", replace_existing=True, **POLL_JOB_OPTIONS
        )
        scheduler.add_job(
            self._reminder_job,
            "interval",
            seconds=REMINDER_TICK.total_seconds(),
            id="reminders",
            **common,
        )
        if self.worker is not None:
            # Retries fall due between polls; the Discord cog runs its own loop for these.
            scheduler.add_job(
                self._delivery_job,
                "interval",
                seconds=DELIVERY_TICK.total_seconds(),
                id="delivery",
                **common,
            )


def console_pipeline(
    *,
    config: Config,
    engine: Engine,
    client: LL2Client,
    type_ids: Sequence[int] = (),
    kinds: Sequence[str] = (),
    feed: str = "all",
    fmt: str = "text",
    stream: TextIO | None = None,
    clock: Clock = utcnow,
) -> Pipeline:
    """Build the pipeline ``tminus watch`` runs: an implicit subscription and a console sink.

    ``feed`` (``events``, ``launches`` or ``all``) filters what is printed; the store syncs
    every enabled feed whatever it is.

    The subscription is keyed by its flags, so rerunning ``watch`` with the same flags picks
    up the same outbox (and never prints an alert twice), while other flag sets get their own.
    """
    leads = parse_leads(None, config.alerts.reminders)
    # The feed is part of the key: a subscription from before launches existed follows
    # events only (migration 0005), so plain ``watch`` now gets one of its own.
    key = (
        f"watch:types={','.join(map(str, sorted(type_ids)))}"
        f":kinds={','.join(kinds)}:leads={','.join(map(str, leads))}:feed={feed}"
    )
    with session_scope(engine) as session:
        sub = subscriptions.implicit_subscription(
            session=session,
            implicit_key=key,
            template=Subscription(
                type_ids=list(type_ids),
                kinds=list(kinds),
                feed=feed,
                reminder_leads=leads,
                created_at=clock(),
            ),
        )
        sub_id = sub.id
    return Pipeline(
        config=config,
        engine=engine,
        client=client,
        sink=ConsoleSink(fmt=fmt, stream=stream),
        serves=lambda s: s.id == sub_id,
        clock=clock,
    )


async def run_scheduled(pipeline: Pipeline, stop: asyncio.Event) -> None:
    """Run the pipeline on an APScheduler ``AsyncIOScheduler`` until ``stop`` is set."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    pipeline.start(scheduler)
    scheduler.start()
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)


def describe_wait(exc: LL2Throttled, clock: Clock = utcnow) -> str:
    """Return the one line that says when LL2 can be asked again."""
    wait = timedelta(seconds=round(exc.retry_after))
    at = clock() + wait
    why = "LL2 request budget spent" if isinstance(exc, LL2BudgetExhausted) else "LL2 throttled us"
    return f"{why}: next request possible at {at:%Y-%m-%d %H:%M:%S} UTC (in {human_duration(wait)})"
