"""What slash commands ask of the core: lookups, subscriptions and status, from the store.

Cogs translate Discord interactions into these calls and back; nothing here knows Discord
objects, and nothing here talks to LL2 (docs/architecture.md, invariant 7: lookups never wait on
LL2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from bot.core.items import Event
from bot.core.options import UsageError, is_id, resolve_named_ids
from bot.pipeline.records import event_from_snapshot
from bot.pipeline.runner import PollHealth
from storage import outbox, queries, subscriptions
from storage.db import session_scope
from storage.models import (
    AgencyRow,
    DeliveryState,
    EventTypeRow,
    ProgramRow,
    Subscription,
)

MAX_CHOICES = 25  # Discord's autocomplete limit


@dataclass(frozen=True)
class Filters:
    """Resolved lookup/subscription filters (ids; empty = any)."""

    type_ids: tuple[int, ...] = ()
    agency_ids: tuple[int, ...] = ()
    program_ids: tuple[int, ...] = ()
    provider_ids: tuple[int, ...] = ()  # launches only
    location_ids: tuple[int, ...] = ()  # launches only


@dataclass(frozen=True)
class Choice:
    """An autocomplete choice: what the user sees and the value sent back."""

    name: str
    value: str


# --- names and filters -----------------------------------------------------------------------


def _named(engine: Engine, model: type) -> list[tuple[int, str]]:
    with session_scope(engine) as session:
        if model is EventTypeRow:
            rows: Sequence[object] = queries.event_types(session=session)
        elif model is AgencyRow:
            rows = queries.agencies(session=session)
        else:
            rows = queries.programs(session=session)
    named: list[tuple[int, str]] = []
    for row in rows:
        named.append((row.id, row.name))  # type: ignore[attr-defined]
        abbrev = getattr(row, "abbrev", None)
        if abbrev:
            named.append((row.id, abbrev))  # type: ignore[attr-defined]
    return named


def resolve_filters(
    engine: Engine,
    *,
    type: str | None,
    agency: str | None,
    program: str | None,
    provider: str | None = None,
    location: str | None = None,
) -> Filters:
    """Resolve the filter options (ids or names) or raise UsageError naming the unknown one."""
    return Filters(
        type_ids=tuple(_resolve(engine, EventTypeRow, type, "event type")),
        agency_ids=tuple(_resolve(engine, AgencyRow, agency, "agency")),
        program_ids=tuple(_resolve(engine, ProgramRow, program, "program")),
        provider_ids=tuple(_resolve_launch_named(engine, "provider", provider)),
        location_ids=tuple(_resolve_launch_named(engine, "location", location)),
    )


def launch_named(engine: Engine, what: str) -> list[tuple[int, str]]:
    """Return ``(id, name)`` of known launch providers or locations, abbreviations as names."""
    with session_scope(engine) as session:
        if what == "provider":
            rows = queries.launch_providers(session=session)
        else:
            rows = queries.launch_locations(session=session)
    return [(i, name) for i, name, _ in rows] + [(i, abbrev) for i, _, abbrev in rows if abbrev]


def _resolve_launch_named(engine: Engine, what: str, value: str | None) -> list[int]:
    if value is None or not value.strip():
        return []
    return resolve_named_ids([value], launch_named(engine, what), what)


def _resolve(engine: Engine, model: type, value: str | None, what: str) -> list[int]:
    if value is None or not value.strip():
        return []
    return resolve_named_ids([value], _named(engine, model), what)


# The named things a filter option autocompletes, by the option's name.
NAMED: dict[str, type] = {"type": EventTypeRow, "agency": AgencyRow, "program": ProgramRow}


def named_choices(engine: Engine, option: str, text: str) -> list[Choice]:
    """Return autocomplete choices for the ``type``, ``agency`` or ``program`` option."""
    return name_choices(engine, NAMED[option], text)


def name_choices(engine: Engine, model: type, text: str) -> list[Choice]:
    """Return autocomplete choices for types, agencies or programs matching ``text``."""
    with session_scope(engine) as session:
        rows = queries.search_names(session=session, model=model, text=text, limit=MAX_CHOICES)
    choices = []
    for row in rows:
        abbrev = getattr(row, "abbrev", None)
        label = f"{row.name} ({abbrev})" if abbrev and abbrev != row.name else row.name
        choices.append(Choice(name=label[:100], value=str(row.id)))
    return choices


# --- lookups ----------------------------------------------------------------------------------


def upcoming(engine: Engine, filters: Filters, *, now: datetime, count: int) -> list[Event]:
    """Return the next ``count`` events matching ``filters``."""
    if not 1 <= count <= 25:
        raise UsageError("count must be between 1 and 25")
    with session_scope(engine) as session:
        rows = queries.upcoming_events(
            session=session,
            after=now,
            type_ids=filters.type_ids,
            agency_ids=filters.agency_ids,
            program_ids=filters.program_ids,
            limit=count,
        )
        return [event_from_snapshot(r.snapshot) for r in rows]


def search(engine: Engine, query: str, *, now: datetime, limit: int = 10) -> list[Event]:
    """Return events whose name contains ``query``, upcoming first."""
    text = query.strip()
    if not text:
        raise UsageError("type part of an event's name to search for")
    if len(text) > 100:
        raise UsageError("a search is at most 100 characters")
    with session_scope(engine) as session:
        rows = queries.search_events(session=session, query=text, limit=limit, upcoming_from=now)
        return [event_from_snapshot(r.snapshot) for r in rows]


def find_event(engine: Engine, value: str, *, now: datetime) -> Event:
    """Return the event named by an id (as autocomplete sends) or a name; raise UsageError."""
    text = value.strip().lstrip("#")
    if is_id(text) and len(text) < 12:
        with session_scope(engine) as session:
            row = queries.get_event(session=session, event_id=int(text))
            if row is not None:
                return event_from_snapshot(row.snapshot)
    found = search(engine, value, now=now, limit=1) if value.strip() else []
    if not found:
        raise UsageError(f"no event matching '{value[:100]}' in the store")
    return found[0]


def event_choices(engine: Engine, text: str, *, now: datetime) -> list[Choice]:
    """Return autocomplete choices for the ``event`` option (upcoming first)."""
    if text.strip():
        events = search(engine, text[:100], now=now, limit=MAX_CHOICES)
    else:
        events = upcoming(engine, Filters(), now=now, count=MAX_CHOICES)
    choices = []
    for event in events:
        when = f" · {event.date:%Y-%m-%d}" if event.date else ""
        choices.append(Choice(name=f"{event.name}{when}"[:100], value=str(event.id)))
    return choices


def live(engine: Engine) -> list[Event]:
    """Return the events whose webcast is live now."""
    with session_scope(engine) as session:
        return [event_from_snapshot(r.snapshot) for r in queries.live_events(session=session)]


# --- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """What ``/status`` shows."""

    last_success_at: datetime | None
    last_error: str | None
    next_poll_at: datetime | None
    budget_remaining: int
    budget_limit: int
    pending: int
    failed: int
    events: int
    paused: list[Subscription]


def status(
    engine: Engine,
    *,
    guild_id: int | None,
    budget_remaining: int,
    budget_limit: int,
    next_poll_at: datetime | None,
) -> Status:
    """Return the sync, budget and outbox status (paused subscriptions of this guild)."""
    with session_scope(engine) as session:
        state = queries.sync_state(session=session)
        return Status(
            last_success_at=state.last_success_at,
            last_error=state.last_error,
            next_poll_at=next_poll_at,
            budget_remaining=budget_remaining,
            budget_limit=budget_limit,
            pending=outbox.count_deliveries(session=session, state=DeliveryState.PENDING),
            failed=outbox.count_deliveries(session=session, state=DeliveryState.FAILED),
            events=queries.count_events(session=session),
            paused=subscriptions.paused_subscriptions(session=session, guild_id=guild_id),
        )


def poll_line(health: PollHealth) -> str:
    """Describe polling for ``/status``: the next poll, or loudly that it is overdue."""
    if health.next_poll_at is None:
        return "not planned yet"
    stamp = int(health.next_poll_at.timestamp())
    if not health.overdue:
        return f"<t:{stamp}:F> (<t:{stamp}:R>)"
    last = health.last_attempt or health.last_poll
    ended = f"; the last poll ended <t:{int(last.timestamp())}:R>" if last else ""
    return (
        f"⚠️ overdue — it was due <t:{stamp}:R> and has not finished{ended}. "
        "LL2 may be hanging or unreachable; the bot keeps trying."
    )
