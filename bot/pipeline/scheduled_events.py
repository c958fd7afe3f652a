"""Discord scheduled events mirror matching items, and never fight people.

docs/architecture.md, invariant 11.

For each guild whose subscriptions ask for it, matching items starting within the horizon
become external guild scheduled events (at most :data:`MAX_PER_GUILD` of ours), created once
(the store remembers the Discord id and what we set), updated when the item changes,
started when the item starts, completed when it is over, and cancelled when it is gone from
the store, no longer matches or moved past the horizon. An event whose name, description or
times differ from what we last set was edited by a person: it is left alone from then on. A
403 pauses only the guild's scheduled-event part, with the reason for ``/alerts list``.

Discord's rules: status 1 Scheduled -> 2 Active or 4 Canceled, 2 -> 3 Completed; an Active
event refuses a new start; a finished one refuses every edit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine

from bot.core.timeutil import Clock, as_utc, parse_datetime, utcnow
from bot.pipeline.cards import Item, item_wanted, load_items
from bot.render.cards import item_date, item_duration, render_scheduled_event
from storage import queries
from storage import scheduled_events as scheduled_event_queries
from storage.db import session_scope
from storage.models import ScheduledEventRow, Subscription

log = logging.getLogger(__name__)

MAX_PER_GUILD = 50  # Discord keeps 100 uncompleted per guild; people need room too
SCHEDULED, ACTIVE, COMPLETED, CANCELED = 1, 2, 3, 4
GUILD_ONLY = 2  # discord.py leaves privacy_level out unless given; Discord requires it
EXTERNAL = 3
OPEN_STATES = ("scheduled", "active")
COMPARED = ("name", "description", "scheduled_start_time", "scheduled_end_time")


class ScheduledEventRefused(Exception):
    """Discord refused: the bot lacks Manage Events (403) in the guild."""


class ScheduledEventFinished(Exception):
    """The event is gone (10070) or finished (180000): nothing more to do with it."""


class ScheduledEventsApi(Protocol):
    """The Discord calls the mirror needs."""

    async def list_events(self, guild_id: int) -> list[dict[str, Any]]:
        """Return the guild's scheduled events."""
        ...

    async def create_event(self, guild_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Create an external event; return it."""
        ...

    async def edit_event(
        self, guild_id: int, event_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Edit an event; return it."""
        ...


@dataclass
class MirrorReport:
    """What one pass did."""

    created: int = 0
    updated: int = 0
    cancelled: int = 0
    ended: int = 0
    left_alone: int = 0
    paused_guilds: int = 0


def wants(sub: Subscription, item: Item) -> bool:
    """Return whether a subscription's filters match an item (kinds do not matter here)."""
    return item_wanted(sub, item)


def _same_time(a: Any, b: Any) -> bool:
    try:
        return bool(parse_datetime(str(a)) == parse_datetime(str(b)))
    except (TypeError, ValueError):
        return a == b


def edited_by_person(sent: dict[str, Any], current: dict[str, Any]) -> bool:
    """Return whether Discord's event differs from what we last set (a person edited it)."""
    for key in COMPARED:
        ours, theirs = sent.get(key), current.get(key)
        if key.endswith("_time"):
            if not _same_time(ours, theirs):
                return True
        elif (ours or None) != (theirs or None):
            return True
    location = (current.get("entity_metadata") or {}).get("location")
    return bool(sent.get("location")) and location != sent.get("location")


class ScheduledEventMirror:
    """Keep each guild's scheduled events in step with the items its subscriptions match."""

    def __init__(
        self,
        engine: Engine,
        api: ScheduledEventsApi,
        *,
        horizon: timedelta = timedelta(days=14),
        clock: Clock = utcnow,
        serves: Callable[[int], bool] = lambda _guild: True,
        max_per_guild: int = MAX_PER_GUILD,
    ) -> None:
        self.engine = engine
        self.api = api
        self.horizon = horizon
        self.clock = clock
        self.serves = serves
        self.max_per_guild = max_per_guild

    def _wanted(self, subs: Sequence[Subscription], now: datetime) -> dict[tuple[str, str], Item]:
        """Return the items the guild's subscriptions want mirrored now, soonest first."""
        end = now + self.horizon
        with session_scope(self.engine) as session:
            events = queries.events_between(session=session, start=now, end=end)
            launches = queries.launches_between(session=session, start=now, end=end)
            items = [
                *load_items(session, "events", [str(r.id) for r in events]).values(),
                *load_items(session, "launches", [r.id for r in launches]).values(),
            ]
        wanted = [item for _, item in items if any(wants(s, item) for s in subs)]
        wanted.sort(key=lambda i: (item_date(i) or now, i.item_id))
        return {(i.feed, i.item_id): i for i in wanted[: self.max_per_guild]}

    async def sync(self) -> MirrorReport:
        """Run one pass over every guild that asks for scheduled events."""
        report = MirrorReport()
        with session_scope(self.engine) as session:
            subs = scheduled_event_queries.scheduled_event_subscriptions(session=session)
        by_guild: dict[int, list[Subscription]] = defaultdict(list)
        for sub in subs:
            if sub.guild_id is not None and self.serves(sub.guild_id):
                by_guild[sub.guild_id].append(sub)
        for guild_id, guild_subs in by_guild.items():
            try:
                await self._sync_guild(guild_id, guild_subs, report)
            except ScheduledEventRefused as exc:
                reason = f"Discord refused scheduled events ({exc}): grant Manage Events"
                with session_scope(self.engine) as session:
                    scheduled_event_queries.pause_scheduled_events(
                        session=session, guild_id=guild_id, reason=reason
                    )
                report.paused_guilds += 1
                log.warning("guild %s: scheduled events paused: %s", guild_id, reason)
            except Exception:
                log.exception("guild %s: scheduled events pass failed; will run again", guild_id)
        return report

    def _save(self, guild_id: int, row_key: tuple[str, str], **values: Any) -> None:
        with session_scope(self.engine) as session:
            scheduled_event_queries.save_scheduled_event(
                session=session,
                guild_id=guild_id,
                feed=row_key[0],
                item_id=row_key[1],
                now=self.clock(),
                **values,
            )

    async def _sync_guild(
        self, guild_id: int, subs: Sequence[Subscription], report: MirrorReport
    ) -> None:
        now = self.clock()
        wanted = self._wanted(subs, now)
        with session_scope(self.engine) as session:
            rows = scheduled_event_queries.guild_scheduled_events(
                session=session, guild_id=guild_id
            )
            for row in rows:
                session.expunge(row)
            ours = {(r.feed, r.item_id): r for r in rows}
            stored = {
                (feed, item_id): item
                for feed in {r.feed for r in rows}
                for item_id, (_, item) in load_items(
                    session, feed, [r.item_id for r in rows if r.feed == feed]
                ).items()
            }
        open_rows = [r for r in rows if r.state in OPEN_STATES and r.discord_id]
        if not wanted and not open_rows:
            return
        current = {int(e["id"]): e for e in await self.api.list_events(guild_id)}
        for row in open_rows:
            key = (row.feed, row.item_id)
            await self._follow(
                guild_id,
                row,
                current.get(int(row.discord_id or 0)),
                stored.get(key),
                key in wanted,
                now,
                report,
            )
        uncompleted = sum(
            1
            for r in rows
            if r.state in OPEN_STATES and r.discord_id and int(r.discord_id) in current
        )
        for key, item in wanted.items():
            if key in ours or uncompleted >= self.max_per_guild:
                continue  # made once; one a person deleted or edited stays theirs
            body = render_scheduled_event(item)
            if body is None or parse_datetime(body["scheduled_start_time"]) <= now:
                continue
            created = await self.api.create_event(guild_id, _create_body(body))
            self._save(guild_id, key, discord_id=int(created["id"]), sent=body, state="scheduled")
            uncompleted += 1
            report.created += 1

    async def _follow(
        self,
        guild_id: int,
        row: ScheduledEventRow,
        event: dict[str, Any] | None,
        item: Item | None,
        still_wanted: bool,
        now: datetime,
        report: MirrorReport,
    ) -> None:
        """Bring one of our events in step with its item (or leave it to the people)."""
        key = (row.feed, row.item_id)
        assert row.discord_id is not None
        if event is None:
            self._save(guild_id, key, discord_id=row.discord_id, sent=row.sent, state="gone")
            return
        status = int(event.get("status") or SCHEDULED)
        if status in (COMPLETED, CANCELED):
            state = "ended" if status == COMPLETED else "cancelled"
            self._save(guild_id, key, discord_id=row.discord_id, sent=row.sent, state=state)
            return
        if edited_by_person(row.sent, event):
            self._save(guild_id, key, discord_id=row.discord_id, sent=row.sent, state="hands_off")
            report.left_alone += 1
            log.info(
                "guild %s: event %s was edited by a person; leaving it", guild_id, row.discord_id
            )
            return
        try:
            await self._step(guild_id, row, status, item, still_wanted, now, report)
        except ScheduledEventFinished:
            self._save(guild_id, key, discord_id=row.discord_id, sent=row.sent, state="ended")

    async def _step(
        self,
        guild_id: int,
        row: ScheduledEventRow,
        status: int,
        item: Item | None,
        still_wanted: bool,
        now: datetime,
        report: MirrorReport,
    ) -> None:
        key = (row.feed, row.item_id)
        assert row.discord_id is not None
        event_id = int(row.discord_id)
        start = item_date(item) if item is not None else None
        over = item is not None and start is not None and as_utc(start) + item_duration(item) <= now
        started = item is not None and start is not None and as_utc(start) <= now
        if status == ACTIVE and (over or item is None):
            await self.api.edit_event(guild_id, event_id, {"status": COMPLETED})
            self._save(guild_id, key, discord_id=event_id, sent=row.sent, state="ended")
            report.ended += 1
            return
        if status == SCHEDULED and (item is None or (not still_wanted and not started)):
            # Gone from LL2, no longer matching, or moved past the horizon.
            await self.api.edit_event(guild_id, event_id, {"status": CANCELED})
            self._save(guild_id, key, discord_id=event_id, sent=row.sent, state="cancelled")
            report.cancelled += 1
            return
        if status == SCHEDULED and started:
            # Discord does not start external events by itself: start ours at T-0, so
            # members get Discord's own "happening now".
            await self.api.edit_event(guild_id, event_id, {"status": ACTIVE})
            self._save(guild_id, key, discord_id=event_id, sent=row.sent, state="active")
            return
        assert item is not None
        body = render_scheduled_event(item)
        if body is None:
            return
        if status == ACTIVE:
            body["scheduled_start_time"] = row.sent.get("scheduled_start_time", "")
        changes = _changes(row.sent, body)
        if status == ACTIVE:
            changes.pop("scheduled_start_time", None)  # an Active event's start is fixed
        if not changes:
            return
        await self.api.edit_event(guild_id, event_id, changes)
        self._save(guild_id, key, discord_id=event_id, sent=body, state=row.state)
        report.updated += 1


def _create_body(body: dict[str, str]) -> dict[str, Any]:
    """Return a create request's JSON: an external, guild-only event."""
    return {
        "name": body["name"],
        "description": body["description"],
        "scheduled_start_time": body["scheduled_start_time"],
        "scheduled_end_time": body["scheduled_end_time"],
        "privacy_level": GUILD_ONLY,
        "entity_type": EXTERNAL,
        "entity_metadata": {"location": body["location"]},
    }


def _changes(sent: dict[str, Any], body: dict[str, str]) -> dict[str, Any]:
    """Return the PATCH body for what differs between what we set and what we would set."""
    changes: dict[str, Any] = {}
    for key in COMPARED:
        same = (
            _same_time(sent.get(key), body[key])
            if key.endswith("_time")
            else (sent.get(key) == body[key])
        )
        if not same:
            changes[key] = body[key]
    if sent.get("location") != body["location"]:
        changes["entity_metadata"] = {"location": body["location"]}
    return changes
