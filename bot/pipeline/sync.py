"""Sync: pull changed items of one feed from LL2, diff them against the store, fill the outbox.

One :class:`Syncer` per feed (``events``, ``launches``), each with its own watermark, keyset
walk, seeding and reminders. Each page is one transaction: the items, their outbox rows and
the watermark move together (invariants 1 and 2). The watermark only moves past what has
been committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine
from sqlmodel import Session

from bot.config import AlertSettings
from bot.core.alerts import Alert, AlertKind, Item, reminder_alert
from bot.core.changes import detect_changes, reminder_due_times
from bot.core.items import Event
from bot.core.launches import Launch
from bot.core.timeutil import Clock, utcnow
from bot.ll2.client import MAX_LIMIT, EventFilters, LaunchFilters, LL2Client
from bot.ll2.pages import EventPage, LaunchPage
from bot.pipeline.crashpoints import crashpoint
from bot.pipeline.fanout import delivery_batch, delivery_rows
from bot.pipeline.records import (
    Record,
    item_from_snapshot,
    item_record,
    snapshot_json,
)
from storage import outbox, queries, subscriptions
from storage.db import one_line, refused_by_store, savepoint, session_scope
from storage.models import DeliveryState, Subscription

FEED_EVENTS = Event.feed
FEED_LAUNCHES = Launch.feed

log = logging.getLogger(__name__)

DEFAULT_OVERLAP = timedelta(minutes=2)
# How far ahead of our clock LL2's ``last_updated`` may be and still count as a real change
# time. Further ahead is a bad date (``2099-01-01``): moving the watermark there would hide
# every later change, so such an item is stored but never moves a watermark (issue 9.3).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class SyncReport:
    """What one sync did."""

    pages: int = 0
    events: int = 0  # items of the feed (events or launches), named when events came first
    rejected: int = 0
    enqueued: int = 0
    seeded: bool = False
    alerts: list[str] = field(default_factory=list)


def sqlite_file(engine: Engine) -> Path | None:
    """Return the file of a SQLite engine (None for other databases and in-memory ones)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database).expanduser().absolute()


def _file_id(path: Path) -> tuple[int, int] | None:
    """Return the (device, inode) of ``path``, or None when it does not exist."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _held_copy(path: Path) -> str | None:
    """Return ``/proc/<pid>/fd/<n>`` of a deleted file this process still holds (Linux)."""
    folder = Path("/proc/self/fd")
    try:
        entries = list(folder.iterdir())
    except OSError:
        return None
    for entry in entries:
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target == f"{path} (deleted)":
            return f"/proc/{os.getpid()}/fd/{entry.name}"
    return None


EventState = queries.EventRecord | None  # an item's record as stored, or None: not stored
LaunchState = queries.LaunchRecord | None

# How many items a Syncer remembers as it last stored them (see Syncer._stored_state): two
# full pages, so a page polled again finds its items; a few MiB at most.
KNOWN_ITEMS = 200


@dataclass(frozen=True, slots=True)
class _Known:
    """An item as this syncer committed it, with its record (the snapshot text stored)."""

    item: Item
    record: Record


@dataclass
class _Page:
    """One page of either feed, as the sync walks it."""

    items: list[Item]
    rejected: int
    span: int


def _page(page: EventPage | LaunchPage) -> _Page:
    if isinstance(page, LaunchPage):
        items: list[Item] = list(page.launches)
    else:
        items = list(page.events)
    return _Page(items, len(page.rejected), page.span)


def _told_date(r: Record) -> tuple[str, datetime | None, str | None]:
    """Return ``(item id, date, precision)``: the date users are told of with ``r`` stored."""
    if r.announced_date is not None:
        return (str(r.id), r.announced_date, r.announced_precision)
    if isinstance(r, queries.LaunchRecord):
        return (r.id, r.net, r.net_precision)
    return (str(r.id), r.date, r.date_precision)


def _announced(
    records: Sequence[Record], stored: dict[str, queries.StoredItem]
) -> list[tuple[str, datetime | None, str | None]]:
    """Return ``(item id, date, precision)`` users were last told, where the store differs."""
    told: list[tuple[str, datetime | None, str | None]] = []
    for r in records:
        date = _told_date(r)
        before = stored.get(date[0])
        if before is None or before.announced_date is None:
            told.append(date)  # new, or no row yet (or a dateless item: written again)
        elif (before.announced_date, before.announced_precision) != date[1:]:
            told.append(date)
    return told


class Syncer:
    """Keep the store in step with one LL2 feed and turn its changes into outbox rows."""

    def __init__(
        self,
        *,
        client: LL2Client,
        engine: Engine,
        alerts: AlertSettings,
        clock: Clock = utcnow,
        overlap: timedelta = DEFAULT_OVERLAP,
        page_size: int = MAX_LIMIT,
        feed: str = FEED_EVENTS,
    ) -> None:
        if feed not in (FEED_EVENTS, FEED_LAUNCHES):
            raise ValueError(f"unknown feed {feed!r}")
        self.feed = feed
        self.client = client
        self.engine = engine
        self.settings = alerts
        self.clock = clock
        self.overlap = overlap
        self.page_size = page_size
        self._future_dates: set[datetime] = set()
        self._known: OrderedDict[str, _Known] = OrderedDict()
        # A SQLite file deleted or replaced under the running process (see check_store).
        self._store_file = sqlite_file(engine)
        self._store_id = _file_id(self._store_file) if self._store_file else None
        self.store_problem: str | None = None
        # Where the feed stands (seeded, watermark) as this syncer last read or committed it:
        # while it is the feed's only writer, an idle poll need not ask the store first.
        self._position: tuple[bool, datetime | None] | None = None

    @property
    def seeded(self) -> bool | None:
        """Whether the feed is seeded, as remembered (None: only the store knows)."""
        return None if self._position is None else self._position[0]

    def forget_position(self) -> None:
        """Read where the feed stands from the store at the next poll (another process may
        have polled: the runner calls this when it takes the polling lease over), and every
        item's stored state with it."""
        self._position = None
        self._known.clear()

    # --- one transaction per page -----------------------------------------------------------

    def apply_events(
        self,
        events: Sequence[Item],
        raw: dict[Any, dict[str, Any]] | None = None,
        *,
        seeding: bool,
        watermark: datetime | None = None,
        mark_seeded: bool = False,
        report: SyncReport | None = None,
    ) -> int:
        """Store items, enqueue their alerts and move the watermark, all in one commit.

        The items are this syncer's feed's (events or launches; the name is from when
        events were the only feed). ``raw`` (LL2's JSON of each item) is not stored: the
        snapshot is the item's one stored JSON form (migration 0009).
        """
        now = self.clock()
        if watermark is not None and watermark > now + CLOCK_SKEW:
            watermark = None  # a caller's bad date must not hide every later change
        latest: dict[str, Item] = {}
        for item in events:
            latest[item.item_id] = item  # the same item twice in a page: keep the last
        if not (seeding or mark_seeded) and self._seen_again(latest):
            self._note_seen(list(latest), now, watermark)
            return 0
        with session_scope(self.engine) as session:
            stored = queries.stored_items(session=session, feed=self.feed, item_ids=list(latest))
            found: dict[str, list[Alert]] = {}
            records: dict[str, Record] = {}
            previous: dict[str, Record | None] = {}
            for item_id, item in latest.items():
                before = stored.get(item_id)
                old, previous[item_id] = self._stored_state(item_id, before)
                alerts = detect_changes(
                    old,
                    item,
                    seeding=seeding,
                    now=now,
                    reschedule_threshold=self.settings.reschedule_threshold,
                    announced_date=before.announced_date if before else None,
                    announced_precision=before.announced_precision if before else None,
                )
                found[item_id] = alerts
                record = item_record(item)
                self._carry_announced(record, old, before, alerts)
                records[item_id] = record
            # Most polls produce no alert; only pages that do need the subscriptions loaded.
            subs = outbox.alert_subscriptions(session=session) if any(found.values()) else None
            kept, enqueued = self._store(session, records, previous, stored, found, subs, now)
            alerts = [a for item_id in kept for a in found[item_id]]
            if report is not None:
                report.rejected += len(records) - len(kept)
            queries.note_page_stored(
                session=session,
                feed=self.feed,
                now=now,
                watermark=watermark,
                mark_seeded=mark_seeded,
                error=self.store_problem,
            )
            crashpoint("before_page_commit")
        self._advance(watermark, seeded=mark_seeded)  # committed: the store's moved so
        for item_id in kept:  # committed: the store now holds these snapshots
            self._remember(item_id, latest[item_id], records[item_id])
        crashpoint("after_page_commit")
        if report is not None:
            report.alerts.extend(a.key() for a in alerts)
        if alerts:
            log.info(
                "%d alert(s) from %d %s; %d deliveries enqueued",
                len(alerts),
                len(kept),
                self.feed,
                enqueued,
            )
        return enqueued

    def _advance(self, watermark: datetime | None, *, seeded: bool = False) -> None:
        """Move the remembered position as a committed page moved the store's (forward)."""
        if self._position is None:
            return
        was_seeded, mark = self._position
        if watermark is not None and (mark is None or mark < watermark):
            mark = watermark
        self._position = (was_seeded or seeded, mark)

    def _seen_again(self, latest: dict[str, Item]) -> bool:
        """Return whether a page holds only items this syncer committed exactly so, while it
        is sure the store still holds them (it is the feed's only writer since: see
        :meth:`forget_position`).

        Such a page (an idle poll's: the overlap brings the newest change back) has nothing
        to diff, store or announce; only ``seen_at`` and the sync state are written. A
        dateless item is written again, as the full path does.
        """
        if not latest or self._position is None or self.store_problem is not None:
            return False
        for item_id, item in latest.items():
            known = self._known.get(item_id)
            if known is None or _told_date(known.record)[1] is None:
                return False
            if snapshot_json(item) != known.record.snapshot_json:
                return False
        return True

    def _note_seen(self, ids: list[str], now: datetime, watermark: datetime | None) -> None:
        """Commit a page of items seen again: their ``seen_at`` and the feed's sync state."""
        # A bare connection's transaction: two UPDATEs need no ORM session.
        with self.engine.begin() as connection:
            queries.mark_items_seen(session=connection, feed=self.feed, item_ids=ids, now=now)
            queries.note_page_stored(
                session=connection,
                feed=self.feed,
                now=now,
                watermark=watermark,
                error=self.store_problem,
            )
            crashpoint("before_page_commit")
        self._advance(watermark)
        for item_id in ids:
            self._known.move_to_end(item_id)
        crashpoint("after_page_commit")

    def _stored_state(
        self, item_id: str, before: queries.StoredItem | None
    ) -> tuple[Item | None, Record | None]:
        """Return the stored item and its record, or (None, None) when it is not stored.

        An item this syncer stored is remembered with the snapshot text it wrote: while the
        store still holds exactly that text, the remembered item is the stored one and is not
        rebuilt (parsing a snapshot back into a model was a tenth of a page's CPU). Any other
        text (another process, a restart, an older tminus) is parsed.
        """
        if before is None:
            return None, None
        known = self._known.get(item_id)
        if known is not None and known.record.snapshot_json == before.snapshot_json:
            self._known.move_to_end(item_id)
            return known.item, known.record
        item = item_from_snapshot(self.feed, before.snapshot)
        record = dataclasses.replace(item_record(item), snapshot_json=before.snapshot_json)
        return item, record

    def _remember(self, item_id: str, item: Item, record: Record) -> None:
        """Remember an item as committed, forgetting the least recently used past the bound."""
        self._known[item_id] = _Known(item, record)
        self._known.move_to_end(item_id)
        while len(self._known) > KNOWN_ITEMS:
            self._known.popitem(last=False)

    @staticmethod
    def _carry_announced(
        record: Record,
        old: Item | None,
        before: queries.StoredItem | None,
        alerts: Sequence[Alert],
    ) -> None:
        """Set the date users were last told: the new one if announced now, else the old."""
        if old is None or before is None or any(a.kind is AlertKind.RESCHEDULED for a in alerts):
            return  # None: the store takes the item's current date
        if before.announced_date is not None:
            record.announced_date = before.announced_date
            record.announced_precision = before.announced_precision
        else:
            # Stored before announced dates were kept: what users saw is the stored date.
            record.announced_date = old.date
            record.announced_precision = old.date_precision.name if old.date_precision else None

    @staticmethod
    def _only_seen(
        ids: list[str],
        records: dict[str, Record],
        previous: dict[str, Record | None],
        stored: dict[str, queries.StoredItem],
        found: dict[str, list[Alert]],
    ) -> bool:
        """Return whether every item is stored exactly so, with no alert and no date to note."""
        for item_id in ids:
            before = previous[item_id]
            if found[item_id] or before is None:
                return False
            if before.snapshot_json != records[item_id].snapshot_json:
                return False
        return not _announced([records[i] for i in ids], stored)

    def _store(
        self,
        session: Session,
        records: dict[str, Record],
        previous: dict[str, Record | None],
        stored: dict[str, queries.StoredItem],
        found: dict[str, list[Alert]],
        subs: outbox.Subscribers | None,
        now: datetime,
    ) -> tuple[list[str], int]:
        """Save events and enqueue their alerts; return the ids kept and the rows enqueued.

        The page goes in as one batch. If the store refuses a value in it (issue 9.2: a NUL
        that reached PostgreSQL, a lone surrogate SQLite cannot encode), each event is tried
        alone: the ones refused are set aside with a logged reason, the rest are committed
        with the watermark, so one poison item never stalls the feed.
        """

        def write(ids: list[str]) -> int:
            chosen = [records[i] for i in ids]
            told = _announced(chosen, stored)
            if told:
                queries.save_announced(session=session, feed=self.feed, dates=told)
            if self.feed == FEED_LAUNCHES:
                launches = [r for r in chosen if isinstance(r, queries.LaunchRecord)]
                held = {r.id: cast(LaunchState, previous[r.id]) for r in launches}
                queries.save_launches(session=session, records=launches, now=now, stored=held)
            else:
                events = [r for r in chosen if isinstance(r, queries.EventRecord)]
                was = {r.id: cast(EventState, previous[str(r.id)]) for r in events}
                queries.save_events(session=session, records=events, now=now, stored=was)
            alerts = [a for i in ids for a in found[i]]
            if not alerts or subs is None:
                return 0
            rows = delivery_batch(alerts, subs, now)
            return outbox.enqueue_deliveries(session=session, rows=rows)

        ids = list(records)
        if not ids:
            return [], 0
        if self._only_seen(ids, records, previous, stored, found):
            # Nothing but ``seen_at`` to write (an idle poll): no value the store could
            # refuse, so no SAVEPOINT to set aside a poison item.
            return ids, write(ids)
        try:
            with savepoint(session):
                return ids, write(ids)
        except Exception as exc:
            if not refused_by_store(exc):
                raise
            batch_error = exc
        kept: list[str] = []
        enqueued = 0
        refused: list[tuple[str, BaseException]] = []
        for event_id in ids:
            try:
                with savepoint(session):
                    enqueued += write([event_id])
            except Exception as exc:
                if not refused_by_store(exc):
                    raise
                refused.append((event_id, exc))
            else:
                kept.append(event_id)
        if not kept and len(ids) > 1:
            # Every event refused alone: the store, not an item, is at fault. Fail the page
            # (the watermark stays) rather than set a whole page aside.
            raise batch_error
        for item_id, error in refused:
            log.error(
                "setting %s %s aside: the store refused it (%s); the rest of the page "
                "is stored and its alerts sent",
                "launch" if self.feed == FEED_LAUNCHES else "event",
                item_id,
                one_line(error),
            )
        return kept, enqueued

    # --- polls ------------------------------------------------------------------------------

    def _plausible(self, last_updated: datetime) -> datetime | None:
        """Return ``last_updated`` if it may move a watermark, None if it is in the future."""
        if last_updated > self.clock() + CLOCK_SKEW:
            if last_updated in self._future_dates:
                return None  # said already: every poll re-reads a future-dated item
            self._future_dates.add(last_updated)
            log.warning(
                "LL2 dates a change %s, past now + %s: it will not move the watermark",
                last_updated.isoformat(),
                CLOCK_SKEW,
            )
            return None
        return last_updated

    def check_store(self) -> str | None:
        """Notice a SQLite file deleted or replaced while we run; return the problem, if any.

        SQLite keeps working on the file it has open, so nothing fails: alerts still go out,
        but everything written since (subscriptions, what was sent) is lost when the process
        stops. Said once as an error, and kept as the feed's ``last_error`` for ``/status``.
        """
        if self._store_file is None or self.store_problem is not None:
            return self.store_problem
        now_id = _file_id(self._store_file)
        if self._store_id is None:
            self._store_id = now_id  # the file did not exist yet when we started
            return None
        if now_id == self._store_id:
            return None
        what = "deleted" if now_id is None else "replaced by another file"
        self.store_problem = (
            f"the SQLite store {self._store_file} was {what} while tminus ran; it keeps "
            "alerting from the copy it has open, but everything stored since is lost when it "
            "stops: stop tminus and restore the file from a backup"
        )
        held = _held_copy(self._store_file)
        if held:
            self.store_problem += f" (or copy {held} before stopping)"
        log.error("%s", self.store_problem)
        return self.store_problem

    def _state(self) -> tuple[bool, datetime | None]:
        """Return (seeded, watermark): remembered, or read from the store with the attempt.

        The first poll, and any poll after a failure, a lease take-over or a store problem
        found, reads them in one statement that also notes the attempt; an idle poll then
        costs the store nothing before its request (its page's commit notes the attempt).
        """
        problem = self.check_store()
        if self._position is not None and problem is None:
            return self._position
        with self.engine.begin() as connection:
            self._position = queries.note_sync_attempt(
                session=connection, feed=self.feed, now=self.clock(), error=problem
            )
        return self._position

    async def sync(self) -> SyncReport:
        """Seed the store on first run, else pull what changed since the watermark."""
        seeded, watermark = self._state()
        try:
            if not seeded:
                return await self.seed()
            return await self.poll_changes(watermark)
        except BaseException as exc:
            self._position = None  # whatever was committed, the store says where we are
            if isinstance(exc, Exception):
                self._record_error(exc)
            raise

    def _record_error(self, exc: BaseException) -> None:
        with session_scope(self.engine) as session:
            state = queries.sync_state(session=session, feed=self.feed)
            state.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            state.last_attempt_at = self.clock()
            session.add(state)

    # --- LL2 requests, per feed -------------------------------------------------------------

    async def _newest_change(self) -> _Page:
        """Fetch the one most recently changed item of the feed."""
        if self.feed == FEED_LAUNCHES:
            return _page(
                await self.client.launches_page(LaunchFilters(ordering="-last_updated", limit=1))
            )
        return _page(await self.client.events_page(EventFilters(ordering="-last_updated", limit=1)))

    async def _changed_page(self, since: datetime, offset: int | None) -> _Page:
        """Fetch one page of items changed since ``since``, oldest change first."""
        if self.feed == FEED_LAUNCHES:
            launches = LaunchFilters(
                last_updated_gte=since, ordering="last_updated", limit=self.page_size, offset=offset
            )
            return _page(await self.client.launches_page(launches))
        events = EventFilters(
            last_updated_gte=since, ordering="last_updated", limit=self.page_size, offset=offset
        )
        return _page(await self.client.events_page(events))

    async def _upcoming(self) -> AsyncIterator[_Page]:
        """Yield the pages of the feed's upcoming list.

        Launches ask ``hide_recent_previous``: without it a launch stays "upcoming" for a
        day after it flew, and a seed would store yesterday's launches as coming.
        """
        if self.feed == FEED_LAUNCHES:
            filters = LaunchFilters(limit=self.page_size, hide_recent_previous=True)
            async for launch_page in self.client.upcoming_launch_pages(filters):
                yield _page(launch_page)
        else:
            async for event_page in self.client.upcoming_pages(EventFilters(limit=self.page_size)):
                yield _page(event_page)

    async def seed(self) -> SyncReport:
        """Fill an empty feed from LL2's upcoming list, quietly (invariant 4)."""
        report = SyncReport(seeded=True)
        # LL2's newest change before the seed starts is where incremental polls take over:
        # anything edited while the upcoming pages are read comes after it. (The newest
        # change *seen* would not do: an item edited behind the pages already read could
        # be older than one edited on a later page.)
        latest = await self._newest_change()
        start_mark = self._plausible(latest.items[0].last_updated) if latest.items else None
        pages = [page async for page in self._upcoming()]
        items = [e for p in pages for e in p.items]
        newest = start_mark or self.clock() - self.overlap
        report.pages = len(pages)
        report.events = len(items)
        report.rejected = sum(p.rejected for p in pages)
        report.enqueued = await asyncio.to_thread(
            self.apply_events,
            items,
            seeding=True,
            watermark=newest,
            mark_seeded=True,
            report=report,
        )
        log.info("seeded the store with %d upcoming %s", len(items), self.feed)
        return report

    async def poll_changes(self, watermark: datetime | None) -> SyncReport:
        """Pull every item changed since ``watermark - overlap``, page by page.

        Pages are walked by keyset (``last_updated__gte`` = the newest change already
        committed) rather than by ``next`` offsets: an item edited while we page moves to
        the end of LL2's ordering and would shift an unseen one past an offset.
        """
        report = SyncReport()
        since = (watermark or self.clock()) - self.overlap
        skip = 0  # items at exactly ``since`` already read (a tie group across pages)
        while True:
            page = await self._changed_page(since, skip or None)
            report.pages += 1
            report.events += len(page.items)
            report.rejected += page.rejected
            # A future-dated item is stored but neither moves the watermark nor the keyset:
            # it sorts last, so the walk reaches it by offset and still ends.
            newest = max(
                (e.last_updated for e in page.items if self._plausible(e.last_updated)),
                default=None,
            )
            report.enqueued += await asyncio.to_thread(
                self.apply_events,
                page.items,
                seeding=False,
                watermark=newest,
                report=report,
            )
            # ``span``, not the row count: a page padded past ``limit`` with repeated rows
            # still stands for ``limit`` positions of LL2's ordering (issue 9.4).
            if page.span < self.page_size:
                break
            if newest is not None and newest > since:
                since = newest
                skip = sum(1 for e in page.items if e.last_updated == newest)
            else:
                # No step forward in time (a page all at ``since``, all malformed or all
                # future-dated): step over it by offset within the tie group. Either
                # ``since`` or ``skip`` grows every round, so the walk always ends.
                skip += page.span
        return report

    async def refresh_upcoming(self) -> SyncReport:
        """Re-read LL2's upcoming list: catches changes that did not bump ``last_updated``."""
        report = SyncReport()
        async for page in self._upcoming():
            report.pages += 1
            report.events += len(page.items)
            report.enqueued += await asyncio.to_thread(
                self.apply_events, page.items, seeding=False, report=report
            )
        with session_scope(self.engine) as session:
            state = queries.sync_state(session=session, feed=self.feed)
            state.last_upcoming_refresh_at = self.clock()
            session.add(state)
        return report

    async def refresh_event_types(self) -> int:
        """Store LL2's list of event types (for autocomplete and ``--type NAME``)."""
        types = await self.client.event_types()
        with session_scope(self.engine) as session:
            queries.save_event_types(session=session, types=[(t.id, t.name) for t in types])
            state = queries.sync_state(session=session, feed=self.feed)
            state.last_types_refresh_at = self.clock()
            session.add(state)
        return len(types)

    # --- reminders --------------------------------------------------------------------------

    def enqueue_reminders(self) -> int:
        """Enqueue reminders that fell due since the last tick (invariant 5)."""
        now = self.clock()
        grace = self.settings.grace
        with session_scope(self.engine) as session:
            state = queries.sync_state(session=session, feed=self.feed)
            last = state.reminders_watermark
            since = min(last, now - grace) if last else now - grace
            subs = [
                s
                for s in subscriptions.active_subscriptions(session=session)
                if s.reminder_leads and (not s.kinds or AlertKind.REMINDER.value in s.kinds)
            ]
            enqueued = 0
            if subs:
                longest = timedelta(seconds=max(max(s.reminder_leads) for s in subs))
                enqueued = self._reminders_between(session, subs, since, now, longest)
            state.reminders_watermark = now
            session.add(state)
        return enqueued

    def _reminders_between(
        self,
        session: Session,
        subs: list[Subscription],
        since: datetime,
        now: datetime,
        longest: timedelta,
    ) -> int:
        grace = self.settings.grace
        due: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        # A reminder due since the last tick can belong to an event that began in between
        # (a late tick, a lead shorter than the gap): it must still be sent or dropped.
        rows: list[Any]
        if self.feed == FEED_LAUNCHES:
            rows = queries.launches_between(session=session, start=since, end=now + longest)
        else:
            rows = queries.events_between(session=session, start=since, end=now + longest)
        for row in rows:
            event = item_from_snapshot(self.feed, row.snapshot)
            leads = {timedelta(seconds=s) for sub in subs for s in sub.reminder_leads}
            for lead, at in reminder_due_times(event, leads):
                if not since < at <= now:
                    continue
                alert = reminder_alert(event, lead)
                matched = delivery_rows([alert], subs, now)
                if now - at <= grace:
                    due.extend(matched)
                else:
                    for item in matched:
                        item["state"] = DeliveryState.DROPPED.value
                        item["last_error"] = f"missed by {now - at} (grace {grace})"
                    dropped.extend(matched)
        outbox.enqueue_deliveries(session=session, rows=dropped)
        for item in dropped:
            log.warning("dropped reminder %s: %s", item["dedupe_key"], item["last_error"])
        return outbox.enqueue_deliveries(session=session, rows=due)
