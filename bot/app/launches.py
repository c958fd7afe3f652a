"""Launch lookups for ``/launches …`` and ``tminus launches …``: answered from the store only.

Nothing here talks to LL2 (docs/architecture.md, invariant 7: lookups never wait on LL2) or
knows Discord objects; the cog and the CLI turn these answers into messages and lines.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from bot.app.service import MAX_CHOICES, Choice, launch_named
from bot.core.launches import Launch
from bot.core.options import UsageError, resolve_named_ids
from bot.pipeline.records import launch_from_snapshot
from storage import queries
from storage.db import session_scope
from storage.models import LaunchRow, ProgramRow

SEARCH_LIMIT = 100  # characters: longer is not a launch name, it is a paste


@dataclass(frozen=True)
class LaunchFilters:
    """Resolved launch filters (LL2 ids; empty = any)."""

    provider_ids: tuple[int, ...] = ()
    location_ids: tuple[int, ...] = ()
    program_ids: tuple[int, ...] = ()


def _launch(row: LaunchRow) -> Launch:
    """Rebuild a stored launch from its snapshot (every field of the model)."""
    return launch_from_snapshot(row.snapshot)


# --- names -----------------------------------------------------------------------------------


def resolve_named(engine: Engine, what: str, value: str | None) -> list[int]:
    """Resolve a ``provider``/``location``/``program`` option (an id or a name) to ids."""
    if value is None or not value.strip():
        return []
    if what == "program":
        named = [(p.id, p.name) for p in _programs(engine)]
    else:
        named = launch_named(engine, what)
    return resolve_named_ids([value], named, what)


def _programs(engine: Engine) -> list[ProgramRow]:
    with session_scope(engine) as session:
        return queries.programs(session=session)


def resolve_launch_filters(
    engine: Engine, *, provider: str | None, location: str | None, program: str | None
) -> LaunchFilters:
    """Resolve the lookup options (ids or names) or raise UsageError naming the unknown one."""
    return LaunchFilters(
        provider_ids=tuple(resolve_named(engine, "provider", provider)),
        location_ids=tuple(resolve_named(engine, "location", location)),
        program_ids=tuple(resolve_named(engine, "program", program)),
    )


def _choices(named: Sequence[tuple[int, str, str | None]], text: str) -> list[Choice]:
    needle = text.strip().lower()
    starts: list[Choice] = []
    within: list[Choice] = []
    for row_id, name, abbrev in named:
        label = f"{name} ({abbrev})" if abbrev and abbrev != name else name
        haystack = label.lower()
        if needle and needle not in haystack and needle != str(row_id):
            continue
        choice = Choice(name=label[:100], value=str(row_id))
        (starts if not needle or haystack.startswith(needle) else within).append(choice)
    return (sorted(starts, key=lambda c: c.name.lower()) + within)[:MAX_CHOICES]


def provider_choices(engine: Engine, text: str) -> list[Choice]:
    """Return autocomplete choices for the ``provider`` option (providers in the store)."""
    with session_scope(engine) as session:
        named = queries.launch_providers(session=session)
    return _choices(named, text)


def location_choices(engine: Engine, text: str) -> list[Choice]:
    """Return autocomplete choices for the ``location`` option (launch sites in the store)."""
    with session_scope(engine) as session:
        named = queries.launch_locations(session=session)
    return _choices(named, text)


# --- lookups ---------------------------------------------------------------------------------


def upcoming_launches(
    engine: Engine, filters: LaunchFilters, *, now: datetime, count: int
) -> list[Launch]:
    """Return the next ``count`` launches matching ``filters``, soonest NET first."""
    if not 1 <= count <= 25:
        raise UsageError("count must be between 1 and 25")
    with session_scope(engine) as session:
        rows = queries.upcoming_launches(
            session=session,
            after=now,
            provider_ids=filters.provider_ids,
            location_ids=filters.location_ids,
            program_ids=filters.program_ids,
            limit=count,
        )
        return [_launch(r) for r in rows]


def search_launches(engine: Engine, query: str, *, now: datetime, limit: int = 10) -> list[Launch]:
    """Return launches whose name or mission contains ``query``, upcoming first."""
    text = query.strip()
    if not text:
        raise UsageError("type part of a launch's name or mission to search for")
    if len(text) > SEARCH_LIMIT:
        raise UsageError(f"a search is at most {SEARCH_LIMIT} characters")
    with session_scope(engine) as session:
        rows = queries.search_launches(session=session, query=text, limit=limit, upcoming_from=now)
        return [_launch(r) for r in rows]


def _as_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def find_launch(engine: Engine, value: str, *, now: datetime) -> Launch:
    """Return the launch named by a UUID (as autocomplete sends), a slug or a name."""
    text = value.strip()
    if not text:
        raise UsageError("name a launch: pick one from the list or type part of its name")
    launch_id = _as_uuid(text)
    with session_scope(engine) as session:
        row = (
            queries.get_launch(session=session, launch_id=launch_id)
            if launch_id is not None
            else queries.get_launch_by_slug(session=session, slug=text.lower()[:SEARCH_LIMIT])
        )
        if row is not None:
            return _launch(row)
    found = search_launches(engine, text[:SEARCH_LIMIT], now=now, limit=1)
    if not found:
        raise UsageError(f"no launch matching '{value[:100]}' in the store")
    return found[0]


def launch_choices(engine: Engine, text: str, *, now: datetime) -> list[Choice]:
    """Return autocomplete choices for the ``launch`` option (upcoming first)."""
    if text.strip():
        launches = search_launches(engine, text[:SEARCH_LIMIT], now=now, limit=MAX_CHOICES)
    else:
        launches = upcoming_launches(engine, LaunchFilters(), now=now, count=MAX_CHOICES)
    choices = []
    for launch in launches:
        when = f" · {launch.net:%Y-%m-%d}" if launch.net else ""
        choices.append(Choice(name=f"{launch.name}{when}"[:100], value=launch.id))
    return choices


def live_launches(engine: Engine) -> list[Launch]:
    """Return the launches whose webcast is live now."""
    with session_scope(engine) as session:
        return [_launch(r) for r in queries.live_launches(session=session)]
