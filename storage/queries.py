"""Query functions for events, launches, the sync state and the LL2 budget, and the
statement helpers that :mod:`storage.cards` and :mod:`storage.scheduled_events` share.
Each takes the session as a keyword argument and returns rows or values."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal_column,
    or_,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from storage.models import (
    AgencyRow,
    AnnouncedDate,
    EventAgency,
    EventProgram,
    EventRow,
    EventTypeRow,
    EventUpdateRow,
    LaunchLocationRow,
    LaunchProgram,
    LaunchProviderRow,
    LaunchRow,
    LaunchVideoRow,
    LL2BudgetRow,
    ProgramRow,
    SyncState,
    VideoLinkRow,
)

# --- events ---------------------------------------------------------------------------------


@dataclass
class EventRecord:
    """Everything stored about one event, in plain values (no LL2 wire format)."""

    id: int
    name: str
    slug: str | None
    type_id: int | None
    type_name: str | None
    date: datetime | None
    date_precision: str | None
    webcast_live: bool
    last_updated: datetime
    # The item's snapshot (its model dumped), as the JSON text stored: the store compares
    # texts to tell an unchanged item, and binds it without encoding it again.
    snapshot_json: str
    agencies: list[tuple[int, str, str | None]] = field(default_factory=list)
    programs: list[tuple[int, str]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    videos: list[dict[str, Any]] = field(default_factory=list)
    # The date users were last told (see AnnouncedDate); None: the item's current date.
    announced_date: datetime | None = None
    announced_precision: str | None = None


@dataclass(frozen=True)
class StoredItem:
    """What change detection needs of a stored item: its snapshot and the date announced.

    The snapshot comes as the JSON text stored: a caller that already knows the item by that
    text (it stored it) need not decode it.
    """

    snapshot_json: str
    announced_date: datetime | None
    announced_precision: str | None

    @property
    def snapshot(self) -> dict[str, Any]:
        """Return the snapshot decoded."""
        return dict(json.loads(self.snapshot_json))


# The hot path (a page stored, its alerts enqueued) runs Core statements built once per
# dialect, table and column set, and executed with a list of parameter sets: the compiled
# form is cached, and the driver runs one executemany (SQLite) or a few multi-row batches
# (psycopg, "insertmanyvalues"). ``insert(...).values(rows)`` would render and compile a new
# multi-row statement on every call, which was most of a page's CPU (issue 13).


@functools.cache
def _insert_statement(
    dialect: str,
    model: Any,
    keys: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
    returning: tuple[str, ...] = (),
) -> Any:
    """Return ``INSERT … ON CONFLICT (keys) DO UPDATE SET update`` (or DO NOTHING), built once."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    table: Table = model.__table__
    statement = module.insert(table)
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={c: statement.excluded[c] for c in update}
        )
    else:
        statement = statement.on_conflict_do_nothing()
    if returning:
        statement = statement.returning(*(table.c[c] for c in returning))
    return statement


@functools.cache
def _delete_in_statement(model: Any, column: str) -> Any:
    """Return ``DELETE FROM table WHERE column IN (…)`` with an expanding parameter, built once."""
    table: Table = model.__table__
    return delete(table).where(table.c[column].in_(bindparam("ids", expanding=True)))


# What the few per-request statements (a poll's attempt, the LL2 hour record) run on: a
# session, or a bare connection, which spares the ORM session's set-up and commit.
Executor = Session | Connection


def _dialect_name(session: Executor) -> str:
    if isinstance(session, Connection):
        return session.dialect.name
    return session.get_bind().dialect.name


def _runs(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split rows into consecutive runs with the same keys (one executemany needs one set)."""
    runs: list[list[dict[str, Any]]] = []
    keys: Any = None
    for row in rows:
        if row.keys() != keys:
            keys = row.keys()
            runs.append([])
        runs[-1].append(row)
    return runs


@functools.cache
def _sqlite_form(
    dialect: Dialect, statement: Any, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...], tuple[Callable[[Any], Any] | None, ...], dict[str, Any]]:
    """Return a statement's SQLite text, its parameters' names in order, their converters,
    and the values of those the rows do not give (a literal in the statement, such as
    ``seeded=True``, is a parameter of its own)."""
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
    names = tuple(compiled.positiontup)
    processors = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    fixed = {
        name: bind.effective_value
        for name in names
        if name not in keys and not (bind := compiled.binds[name]).required
    }
    return compiled.string, names, processors, fixed


def _execute_rows(session: Executor, statement: Any, rows: list[dict[str, Any]]) -> int:
    """Execute a statement built once (no RETURNING) for each of ``rows``; return the
    number of rows it changed.

    SQLite runs it by the driver's ``executemany`` of the compiled text, the parameters
    converted column by column: SQLAlchemy's per-row parameter building was a tenth of a
    page's CPU (issue 13). A refused value raises as through SQLAlchemy (``IntegrityError``
    and the like), so an item the store refuses is still set aside. PostgreSQL's driver
    batches the rows through SQLAlchemy ("insertmanyvalues").
    """
    if not rows:
        return 0
    changed = 0
    if _dialect_name(session) != "sqlite":
        for run in _runs(rows):
            # A CursorResult: it has a rowcount (one row goes alone, as the driver counts
            # an ``execute`` surely).
            result: Any = session.execute(statement, run[0] if len(run) == 1 else run)
            changed += result.rowcount
        return changed
    connection = session if isinstance(session, Connection) else session.connection()
    dialect = connection.dialect
    for run in _runs(rows):
        sql, names, processors, fixed = _sqlite_form(dialect, statement, tuple(run[0]))
        columns = []
        for name, process in zip(names, processors, strict=True):
            values = [row[name] for row in run] if name not in fixed else [fixed[name]] * len(run)
            if process is None:
                columns.append(values)
            elif type(values[0]) is datetime and values.count(values[0]) == len(values):
                # One instant for every row (``seen_at``, ``first_seen_at``): one text.
                columns.append([process(values[0])] * len(values))
            else:
                columns.append(list(map(process, values)))
        cursor: Any = connection.connection.cursor()
        try:
            cursor.executemany(sql, zip(*columns, strict=True))
            changed += cursor.rowcount
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc
        finally:
            cursor.close()
    return changed


def _insert_ignore(session: Executor, model: Any, rows: list[dict[str, Any]]) -> int:
    """Insert rows, skipping those that violate a unique constraint; return how many went in."""
    if not rows:
        return 0
    keys = tuple(c.name for c in model.__table__.primary_key.columns)
    # RETURNING counts what went in on every backend (rowcount is -1 on some drivers).
    statement = _insert_statement(_dialect_name(session), model, returning=keys)
    return sum(len(session.execute(statement, run).all()) for run in _runs(rows))


def _upsert(
    session: Executor,
    model: Any,
    rows: list[dict[str, Any]],
    keys: list[str],
    *,
    keep: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Insert rows or update existing ones by ``keys``; columns in ``keep`` stay unchanged."""
    if not rows:
        return
    dialect = _dialect_name(session)
    for run in _runs(rows):
        columns = tuple(c for c in run[0] if c not in keys and c not in keep)
        statement = _insert_statement(dialect, model, tuple(keys), columns)
        _execute_rows(session, statement, run)


def load_snapshots(*, session: Session, event_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Return the stored snapshot of each known event among ``event_ids``."""
    ids = list(set(event_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(EventRow.id, EventRow.snapshot).where(col(EventRow.id).in_(ids))
    ).all()
    return {row[0]: dict(row[1]) for row in rows}


@functools.cache
def _stored_items_statement(model: Any) -> Any:
    """Return ``SELECT id, snapshot as text, announced date, precision … WHERE id IN (…)``.

    One statement, built once per feed: the announced date comes by an outer join (an item
    stored before announced dates were kept has none).
    """
    table: Table = model.__table__
    told: Table = AnnouncedDate.__table__  # type: ignore[attr-defined]
    # Events have integer ids, the announced dates text ones (shared by both feeds).
    item_id = table.c.id if model is LaunchRow else cast(table.c.id, told.c.item_id.type)
    joined = table.outerjoin(told, (told.c.feed == bindparam("feed")) & (told.c.item_id == item_id))
    return (
        core_select(table.c.id, cast(table.c.snapshot, Text), told.c.date, told.c.precision)
        .select_from(joined)
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
    )


def stored_items(*, session: Session, feed: str, item_ids: Iterable[str]) -> dict[str, StoredItem]:
    """Return, by string id, the stored state of each known item of ``feed`` among the ids."""
    model: Any = LaunchRow if feed == "launches" else EventRow
    if feed == "launches":
        ids: list[Any] = list(set(item_ids))
    else:
        ids = list({int(i) for i in item_ids})
    if not ids:
        return {}
    rows = session.execute(_stored_items_statement(model), {"feed": feed, "ids": ids})
    return {
        str(item_id): StoredItem(snapshot_json, date, precision)
        for item_id, snapshot_json, date, precision in rows
    }


@functools.cache
def _seen_one_statement(model: Any) -> Any:
    """Return ``UPDATE … SET seen_at WHERE id = …`` (no expanding IN: compiled once)."""
    table: Table = model.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("item_id"))
        .values(seen_at=bindparam("seen", type_=table.c.seen_at.type))
    )


def mark_items_seen(
    *, session: Executor, feed: str, item_ids: Iterable[str], now: datetime
) -> None:
    """Mark items of ``feed`` seen at ``now`` (LL2 showed them again, unchanged)."""
    model: Any = LaunchRow if feed == "launches" else EventRow
    ids: list[Any] = list(item_ids) if feed == "launches" else [int(i) for i in item_ids]
    if ids:
        # By the driver on SQLite (an idle poll's one row): SQLAlchemy's statement machinery
        # was a third of the idle poll's page transaction.
        _execute_rows(
            session, _seen_one_statement(model), [{"item_id": i, "seen": now} for i in ids]
        )


def save_announced(
    *, session: Session, feed: str, dates: Iterable[tuple[str, datetime | None, str | None]]
) -> None:
    """Record ``(item id, date, precision)``: the date users were last told of each item."""
    rows = [
        {"feed": feed, "item_id": item_id, "date": date, "precision": precision}
        for item_id, date, precision in dates
    ]
    _upsert(session, AnnouncedDate, rows, ["feed", "item_id"])


@functools.cache
def _item_upsert(dialect: str, model: Any, columns: tuple[str, ...]) -> Any:
    """Return an item's upsert by id, its snapshot bound as JSON text already encoded."""
    table: Table = model.__table__
    text = bindparam("snapshot_json", type_=Text())
    # PostgreSQL's json column takes the text by a cast (and keeps it verbatim); SQLite
    # stores JSON as the text itself.
    snapshot = cast(text, table.c.snapshot.type) if dialect == "postgresql" else text
    module: Any = postgresql if dialect == "postgresql" else sqlite
    # ``raw`` (LL2's JSON as received) is no longer stored: the snapshot is the item's one
    # JSON form. A new row gets ``{}``, written in the statement, not bound per row.
    empty = literal_column("'{}'", type_=table.c.raw.type)
    statement = module.insert(table).values(snapshot=snapshot, raw=empty)
    kept = ("id", "first_seen_at", "snapshot_json")
    changed = {c: statement.excluded[c] for c in (*columns, "snapshot") if c not in kept}
    return statement.on_conflict_do_update(index_elements=["id"], set_=changed)


@functools.cache
def _seen_statement(model: Any) -> Any:
    """Return ``UPDATE … SET seen_at WHERE id IN (…)``, built once."""
    table: Table = model.__table__
    return (
        update(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .values(seen_at=bindparam("seen", type_=table.c.seen_at.type))
    )


def _save_items(
    session: Session,
    model: Any,
    rows: list[dict[str, Any]],
    unchanged: list[Any],
    now: datetime,
) -> None:
    """Upsert item rows (each with its ``snapshot_json``); only mark ``unchanged`` ones seen."""
    if rows:
        columns = tuple(rows[0])
        _execute_rows(session, _item_upsert(_dialect_name(session), model, columns), rows)
    if unchanged:
        session.execute(_seen_statement(model), {"ids": unchanged, "seen": now})


_Rec = Any  # an EventRecord or a LaunchRecord


def _changed_parts(
    records: Sequence[_Rec],
    stored: Mapping[Any, _Rec | None] | None,
    parts: str,
    row: Any,
    *,
    additive: bool = False,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Return the item ids whose ``parts`` rows must be deleted, and the rows to insert.

    ``parts`` names a record's list of child entries, ``row(record, entry)`` makes an entry's
    row. An item missing from ``stored`` has its rows replaced; one stored as None (new to
    the store) gets its rows; one whose entries are unchanged gets nothing (compared as
    entries: no row is built for them). ``additive``: when every stored entry is still
    there (a new update appended), only the new ones go in.
    """
    replace: list[Any] = []
    rows: list[dict[str, Any]] = []
    for record in records:
        new = getattr(record, parts)
        if stored is None or record.id not in stored:
            replace.append(record.id)
            rows.extend(row(record, entry) for entry in new)
            continue
        before = stored[record.id]
        if before is None:
            rows.extend(row(record, entry) for entry in new)
            continue
        old = getattr(before, parts)
        if new == old:
            continue
        if additive:
            extra = len(new) - len(old)
            if extra > 0 and new[extra:] == old:  # new updates in front, or at the end
                rows.extend(row(record, entry) for entry in new[:extra])
                continue
            if extra > 0 and new[: len(old)] == old:
                rows.extend(row(record, entry) for entry in new[len(old) :])
                continue
            # Else by value, in a set: comparing each entry with every other grew with the
            # square of an item's updates. (Entries are dicts of hashable values.)
            had = {tuple(entry.values()) for entry in old}
            if had <= {tuple(entry.values()) for entry in new}:
                rows.extend(row(record, e) for e in new if tuple(e.values()) not in had)
                continue
        replace.append(record.id)
        rows.extend(row(record, entry) for entry in new)
    return replace, rows


def _write_parts(
    session: Session,
    model: Any,
    key: str,
    changes: tuple[list[Any], list[dict[str, Any]]],
) -> None:
    """Delete the child rows of the items named, then insert the rows given."""
    replace, rows = changes
    if replace:
        session.execute(_delete_in_statement(model, key), {"ids": replace})
    _execute_rows(session, _insert_statement(_dialect_name(session), model), rows)


def _new_names(
    records: Sequence[_Rec],
    stored: Mapping[Any, _Rec | None] | None,
    names: Any,
) -> list[dict[str, Any]]:
    """Return the name rows (types, agencies, programs…) the changed records bring anew."""
    found: dict[Any, dict[str, Any]] = {}
    for record in records:
        before = stored.get(record.id) if stored is not None else None
        old = names(before) if before is not None else []
        for row in names(record):
            if row not in old:
                found[row["id"]] = row
    return list(found.values())


def _snapshot_changed(record: _Rec, stored: Mapping[Any, _Rec | None] | None) -> bool:
    before = stored.get(record.id) if stored is not None else None
    return before is None or before.snapshot_json != record.snapshot_json


def save_events(
    *,
    session: Session,
    records: Sequence[EventRecord],
    now: datetime,
    stored: Mapping[int, EventRecord | None] | None = None,
) -> None:
    """Insert or replace events and their updates, videos, agencies and programs.

    ``stored`` holds, by id, the record of what the store holds now (None: not stored yet),
    as the caller last read it in this transaction: then only what changed is written (an
    unchanged event is only marked seen; an update appended is one row). Without it, or for
    an id it lacks, the event and all its rows are replaced.
    """
    if not records:
        return
    changed = [r for r in records if _snapshot_changed(r, stored)]
    rows = [
        {
            "id": record.id,
            "name": record.name,
            "name_lower": record.name.lower(),
            "slug": record.slug,
            "type_id": record.type_id,
            "type_name": record.type_name,
            "date": record.date,
            "date_precision": record.date_precision,
            "webcast_live": record.webcast_live,
            "last_updated": record.last_updated,
            "snapshot_json": record.snapshot_json,
            "seen_at": now,
            "first_seen_at": now,
        }
        for record in changed
    ]
    unchanged = [r.id for r in records if not _snapshot_changed(r, stored)]
    _save_items(session, EventRow, rows, unchanged, now)
    if not changed:
        return
    agency_links = _changed_parts(
        changed, stored, "agencies", lambda r, a: {"event_id": r.id, "agency_id": a[0]}
    )
    program_links = _changed_parts(
        changed, stored, "programs", lambda r, p: {"event_id": r.id, "program_id": p[0]}
    )
    updates = _changed_parts(
        changed, stored, "updates", lambda r, u: dict(u, event_id=r.id), additive=True
    )
    videos = _changed_parts(changed, stored, "videos", lambda r, v: dict(v, event_id=r.id))
    types = _new_names(
        changed,
        stored,
        lambda r: (
            [{"id": r.type_id, "name": r.type_name}]
            if r.type_id is not None and r.type_name
            else []
        ),
    )
    _upsert(session, EventTypeRow, types, ["id"])
    agencies = _new_names(
        changed, stored, lambda r: [{"id": a[0], "name": a[1], "abbrev": a[2]} for a in r.agencies]
    )
    _upsert(session, AgencyRow, agencies, ["id"])
    programs = _new_names(
        changed, stored, lambda r: [{"id": p[0], "name": p[1]} for p in r.programs]
    )
    _upsert(session, ProgramRow, programs, ["id"])
    _write_parts(session, EventAgency, "event_id", agency_links)
    _write_parts(session, EventProgram, "event_id", program_links)
    _write_parts(session, EventUpdateRow, "event_id", updates)
    _write_parts(session, VideoLinkRow, "event_id", videos)


def save_event_types(*, session: Session, types: Iterable[tuple[int, str]]) -> None:
    """Insert or rename event types."""
    _upsert(session, EventTypeRow, [{"id": i, "name": n} for i, n in types], ["id"])


def get_event(*, session: Session, event_id: int) -> EventRow | None:
    """Return one stored event."""
    return session.get(EventRow, event_id)


def upcoming_events(
    *,
    session: Session,
    after: datetime,
    type_ids: Sequence[int] = (),
    agency_ids: Sequence[int] = (),
    program_ids: Sequence[int] = (),
    limit: int = 10,
) -> list[EventRow]:
    """Return events dated at or after ``after``, soonest first, matching the filters."""
    query = select(EventRow).where(col(EventRow.date) >= after)
    if type_ids:
        query = query.where(col(EventRow.type_id).in_(type_ids))
    if agency_ids:
        query = query.where(
            col(EventRow.id).in_(
                select(EventAgency.event_id).where(col(EventAgency.agency_id).in_(agency_ids))
            )
        )
    if program_ids:
        query = query.where(
            col(EventRow.id).in_(
                select(EventProgram.event_id).where(col(EventProgram.program_id).in_(program_ids))
            )
        )
    query = query.order_by(col(EventRow.date), col(EventRow.id)).limit(limit)
    return list(session.exec(query).all())


def events_between(*, session: Session, start: datetime, end: datetime) -> list[EventRow]:
    """Return events dated in ``[start, end]``."""
    query = (
        select(EventRow)
        .where(col(EventRow.date) >= start, col(EventRow.date) <= end)
        .order_by(col(EventRow.date))
    )
    return list(session.exec(query).all())


def live_events(*, session: Session) -> list[EventRow]:
    """Return events whose webcast is live, soonest first."""
    query = select(EventRow).where(col(EventRow.webcast_live)).order_by(col(EventRow.date))
    return list(session.exec(query).all())


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_events(
    *, session: Session, query: str, limit: int = 10, upcoming_from: datetime | None = None
) -> list[EventRow]:
    """Return events whose name contains ``query`` (case-insensitive), upcoming ones first."""
    pattern = f"%{_like_escape(query.lower().strip())}%"
    matches = col(EventRow.name_lower).like(pattern, escape="\\")
    if upcoming_from is not None:
        past = col(EventRow.date) < upcoming_from
        # Upcoming soonest first, then past most recent first.
        order: tuple[Any, ...] = (
            func.coalesce(past, False),
            func.abs(func.coalesce(_epoch(session, EventRow.date, upcoming_from), 0)),
        )
    else:
        order = (col(EventRow.date).desc(),)
    if session.get_bind().dialect.name != "sqlite":
        statement = select(EventRow).where(matches).order_by(*order).limit(limit)
        return list(session.exec(statement).all())
    # SQLite keeps each event's JSON inside its row (~5 KB), so scanning or sorting the table
    # reads every matching row in full. Match on the narrow name index and rank on the date
    # index (both cover rowid), then load only the rows that made the cut.
    table = EventRow.__table__  # type: ignore[attr-defined]
    names = table.alias("names")
    matching: Any = (
        select(literal_column("names.rowid"))
        .select_from(names)
        .where(names.c.name_lower.like(pattern, escape="\\"))
    )
    rowid: Any = literal_column("events.rowid")
    # The unary + keeps SQLite from fetching each match by rowid (a table read per match):
    # it scans the narrow date index instead, which covers both rowid and date.
    ranked = (
        select(rowid)
        .select_from(table)
        .where(literal_column("+events.rowid").in_(matching))
        .order_by(*order)
        .limit(limit)
    )
    rowids = [row[0] for row in session.execute(ranked).all()]
    if not rowids:
        return []
    rows = session.exec(select(EventRow, rowid).where(rowid.in_(rowids))).all()
    by_rowid = {found: event for event, found in rows}
    return [by_rowid[r] for r in rowids if r in by_rowid]


def _epoch(session: Session, column: Any, origin: datetime) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column - origin)
    return func.julianday(column) - func.julianday(origin.replace(tzinfo=None))


def event_updates(*, session: Session, event_id: int) -> list[EventUpdateRow]:
    """Return an event's updates, newest first."""
    query = (
        select(EventUpdateRow)
        .where(EventUpdateRow.event_id == event_id)
        .order_by(col(EventUpdateRow.created_on).desc(), col(EventUpdateRow.id).desc())
    )
    return list(session.exec(query).all())


def video_start_times(
    *, session: Session, start: datetime, end: datetime
) -> list[tuple[int, datetime]]:
    """Return ``(event id, webcast start)`` for streams starting in ``[start, end]``."""
    query = select(VideoLinkRow.event_id, VideoLinkRow.start_time).where(
        col(VideoLinkRow.start_time) >= start, col(VideoLinkRow.start_time) <= end
    )
    return [(event_id, t) for event_id, t in session.exec(query).all() if t is not None]


def event_types(*, session: Session) -> list[EventTypeRow]:
    """Return every known event type by name."""
    return list(session.exec(select(EventTypeRow).order_by(col(EventTypeRow.name))).all())


def agencies(*, session: Session) -> list[AgencyRow]:
    """Return every known agency by name."""
    return list(session.exec(select(AgencyRow).order_by(col(AgencyRow.name))).all())


def programs(*, session: Session) -> list[ProgramRow]:
    """Return every known program by name."""
    return list(session.exec(select(ProgramRow).order_by(col(ProgramRow.name))).all())


def count_events(*, session: Session) -> int:
    """Return how many events are stored."""
    return int(session.exec(select(func.count()).select_from(EventRow)).one())


# --- launches -------------------------------------------------------------------------------


@dataclass
class LaunchRecord:
    """Everything stored about one launch, in plain values (no LL2 wire format)."""

    id: str
    name: str
    slug: str | None
    mission_name: str | None
    status_id: int | None
    status_name: str | None
    status_abbrev: str | None
    net: datetime | None
    net_precision: str | None
    window_start: datetime | None
    window_end: datetime | None
    provider: tuple[int, str, str | None] | None  # (id, name, abbrev)
    location: tuple[int, str, str | None] | None  # (id, name, country code)
    webcast_live: bool
    last_updated: datetime
    snapshot_json: str  # as in EventRecord
    programs: list[tuple[int, str]] = field(default_factory=list)
    # (url, priority, start_time, live) of each webcast link.
    videos: list[tuple[str, int | None, datetime | None, bool | None]] = field(default_factory=list)
    announced_date: datetime | None = None  # None: the current NET
    announced_precision: str | None = None


def save_launches(
    *,
    session: Session,
    records: Sequence[LaunchRecord],
    now: datetime,
    stored: Mapping[str, LaunchRecord | None] | None = None,
) -> None:
    """Insert or replace launches and their providers, locations, programs and webcasts.

    ``stored`` as in :func:`save_events`: with it, only what changed is written.
    """
    if not records:
        return
    changed = [r for r in records if _snapshot_changed(r, stored)]
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "name_lower": r.name.lower(),
            "slug": r.slug,
            "search_text": f"{r.name}\n{r.mission_name or ''}".lower(),
            "mission_name": r.mission_name,
            "status_id": r.status_id,
            "status_name": r.status_name,
            "status_abbrev": r.status_abbrev,
            "net": r.net,
            "net_precision": r.net_precision,
            "window_start": r.window_start,
            "window_end": r.window_end,
            "provider_id": r.provider[0] if r.provider else None,
            "provider_name": r.provider[1] if r.provider else None,
            "location_id": r.location[0] if r.location else None,
            "location_name": r.location[1] if r.location else None,
            "webcast_live": r.webcast_live,
            "last_updated": r.last_updated,
            "snapshot_json": r.snapshot_json,
            "seen_at": now,
            "first_seen_at": now,
        }
        for r in changed
    ]
    unchanged = [r.id for r in records if not _snapshot_changed(r, stored)]
    _save_items(session, LaunchRow, rows, unchanged, now)
    if not changed:
        return
    program_links = _changed_parts(
        changed, stored, "programs", lambda r, p: {"launch_id": r.id, "program_id": p[0]}
    )
    videos = _changed_parts(
        changed,
        stored,
        "videos",
        lambda r, v: {
            "launch_id": r.id,
            "url": v[0],
            "priority": v[1],
            "start_time": v[2],
            "live": v[3],
        },
    )
    providers = _new_names(
        changed,
        stored,
        lambda r: [{"id": p[0], "name": p[1], "abbrev": p[2]} for p in [r.provider] if p],
    )
    _upsert(session, LaunchProviderRow, providers, ["id"])
    locations = _new_names(
        changed,
        stored,
        lambda r: [{"id": p[0], "name": p[1], "country_code": p[2]} for p in [r.location] if p],
    )
    _upsert(session, LaunchLocationRow, locations, ["id"])
    programs = _new_names(
        changed, stored, lambda r: [{"id": p[0], "name": p[1]} for p in r.programs]
    )
    _upsert(session, ProgramRow, programs, ["id"])
    _write_parts(session, LaunchProgram, "launch_id", program_links)
    _write_parts(session, LaunchVideoRow, "launch_id", videos)


def get_launch(*, session: Session, launch_id: str) -> LaunchRow | None:
    """Return one stored launch by its UUID."""
    return session.get(LaunchRow, launch_id.lower())


def get_launch_by_slug(*, session: Session, slug: str) -> LaunchRow | None:
    """Return the stored launch with this slug (the newest NET when several share it)."""
    query = (
        select(LaunchRow)
        .where(col(LaunchRow.slug) == slug)
        .order_by(col(LaunchRow.net).desc(), col(LaunchRow.id))
        .limit(1)
    )
    return session.exec(query).first()


def upcoming_launches(
    *,
    session: Session,
    after: datetime,
    provider_ids: Sequence[int] = (),
    location_ids: Sequence[int] = (),
    program_ids: Sequence[int] = (),
    limit: int = 10,
) -> list[LaunchRow]:
    """Return launches with a NET at or after ``after``, soonest first, matching the filters."""
    query = select(LaunchRow).where(col(LaunchRow.net) >= after)
    if provider_ids:
        query = query.where(col(LaunchRow.provider_id).in_(provider_ids))
    if location_ids:
        query = query.where(col(LaunchRow.location_id).in_(location_ids))
    if program_ids:
        query = query.where(
            col(LaunchRow.id).in_(
                select(LaunchProgram.launch_id).where(
                    col(LaunchProgram.program_id).in_(program_ids)
                )
            )
        )
    query = query.order_by(col(LaunchRow.net), col(LaunchRow.id)).limit(limit)
    return list(session.exec(query).all())


def launches_between(*, session: Session, start: datetime, end: datetime) -> list[LaunchRow]:
    """Return launches with a NET in ``[start, end]``, soonest first."""
    query = (
        select(LaunchRow)
        .where(col(LaunchRow.net) >= start, col(LaunchRow.net) <= end)
        .order_by(col(LaunchRow.net), col(LaunchRow.id))
    )
    return list(session.exec(query).all())


def launch_moments(
    *, session: Session, start: datetime, end: datetime
) -> list[tuple[str, datetime | None, str | None, datetime | None]]:
    """Return ``(id, net, net precision, window start)`` of launches near ``[start, end]``."""
    query = select(
        LaunchRow.id, LaunchRow.net, LaunchRow.net_precision, LaunchRow.window_start
    ).where(
        or_(
            (col(LaunchRow.net) >= start) & (col(LaunchRow.net) <= end),
            (col(LaunchRow.window_start) >= start) & (col(LaunchRow.window_start) <= end),
        )
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.exec(query).all()]


def live_launches(*, session: Session) -> list[LaunchRow]:
    """Return launches whose webcast is live, soonest NET first."""
    query = select(LaunchRow).where(col(LaunchRow.webcast_live)).order_by(col(LaunchRow.net))
    return list(session.exec(query).all())


def search_launches(
    *, session: Session, query: str, limit: int = 10, upcoming_from: datetime | None = None
) -> list[LaunchRow]:
    """Return launches whose name or mission contains ``query`` (any case), upcoming first."""
    pattern = f"%{_like_escape(query.lower().strip())}%"
    statement = select(LaunchRow).where(col(LaunchRow.search_text).like(pattern, escape="\\"))
    if upcoming_from is not None:
        past = col(LaunchRow.net) < upcoming_from
        statement = statement.order_by(
            func.coalesce(past, False),
            func.abs(func.coalesce(_epoch(session, LaunchRow.net, upcoming_from), 0)),
            col(LaunchRow.id),
        )
    else:
        statement = statement.order_by(col(LaunchRow.net).desc(), col(LaunchRow.id))
    return list(session.exec(statement.limit(limit)).all())


def launch_video_start_times(
    *, session: Session, start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    """Return ``(launch id, webcast start)`` for launch streams starting in ``[start, end]``."""
    query = select(LaunchVideoRow.launch_id, LaunchVideoRow.start_time).where(
        col(LaunchVideoRow.start_time) >= start, col(LaunchVideoRow.start_time) <= end
    )
    return [(launch_id, t) for launch_id, t in session.exec(query).all() if t is not None]


def launch_providers(*, session: Session) -> list[tuple[int, str, str | None]]:
    """Return ``(id, name, abbrev)`` of every known launch service provider, by name."""
    query = select(LaunchProviderRow).order_by(col(LaunchProviderRow.name))
    return [(p.id, p.name, p.abbrev) for p in session.exec(query).all()]


def launch_locations(*, session: Session) -> list[tuple[int, str, str | None]]:
    """Return ``(id, name, None)`` of every known launch site, by name (shaped like providers)."""
    query = select(LaunchLocationRow).order_by(col(LaunchLocationRow.name))
    return [(p.id, p.name, None) for p in session.exec(query).all()]


def count_launches(*, session: Session) -> int:
    """Return how many launches are stored."""
    return int(session.exec(select(func.count()).select_from(LaunchRow)).one())


# --- sync state -----------------------------------------------------------------------------


def sync_state(*, session: Session, feed: str = "events") -> SyncState:
    """Return a feed's sync state row, creating it on first use."""
    found = session.get(SyncState, feed)
    if found is None:
        # The poll and the reminder tick share a feed's row and may both create it at once:
        # insert-or-nothing, then read whichever insert won.
        _insert_ignore(session, SyncState, [{"feed": feed, "seeded": False}])
        found = session.get(SyncState, feed)
        assert found is not None
    return found


@functools.cache
def _attempt_statement(with_error: bool) -> Any:
    """Return the UPDATE that notes a poll attempt and returns where the feed stands."""
    table: Table = SyncState.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {
        "last_attempt_at": bindparam("now", type_=table.c.last_attempt_at.type)
    }
    if with_error:
        values["last_error"] = bindparam("error", type_=table.c.last_error.type)
    return (
        update(table)
        .where(table.c.feed == bindparam("state_feed"))
        .values(**values)
        .returning(table.c.seeded, table.c.watermark)
    )


def note_sync_attempt(
    *, session: Executor, feed: str, now: datetime, error: str | None = None
) -> tuple[bool, datetime | None]:
    """Note a poll attempt of ``feed`` (and an error to show, if any); return (seeded, watermark).

    One statement: every poll, idle ones too, starts here.
    """
    statement = _attempt_statement(error is not None)
    params = {"state_feed": feed, "now": now, "error": error}
    found = session.execute(statement, params).first()
    if found is None:
        # The feed's first poll: create its row (insert-or-nothing, as sync_state does).
        _insert_ignore(session, SyncState, [{"feed": feed, "seeded": False}])
        found = session.execute(statement, params).one()
    return bool(found[0]), found[1]


@functools.cache
def _page_stored_statement(with_watermark: bool, mark_seeded: bool) -> Any:
    """Return the UPDATE that records a committed page in its feed's sync state."""
    table: Table = SyncState.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {
        # A poll that found its position remembered noted no attempt before its request.
        "last_attempt_at": bindparam("now", type_=table.c.last_attempt_at.type),
        "last_success_at": bindparam("now", type_=table.c.last_success_at.type),
        "last_error": bindparam("error", type_=table.c.last_error.type),
    }
    if with_watermark:
        # Only forward: a page of older changes (a refresh, a late page) never moves it back.
        # SQLite compares the stored UTC texts, which order as the times do.
        mark = bindparam("watermark", type_=table.c.watermark.type)
        values["watermark"] = case(
            (or_(table.c.watermark.is_(None), table.c.watermark < mark), mark),
            else_=table.c.watermark,
        )
    if mark_seeded:
        values["seeded"] = True
    return update(table).where(table.c.feed == bindparam("state_feed")).values(**values)


def note_page_stored(
    *,
    session: Executor,
    feed: str,
    now: datetime,
    watermark: datetime | None,
    mark_seeded: bool = False,
    error: str | None = None,
) -> None:
    """Record a page stored: attempt and success time, error to show, the watermark moved
    forward only.

    One statement in the page's transaction (the watermark commits with the page's items).
    """
    statement = _page_stored_statement(watermark is not None, mark_seeded)
    # Not a "watermark" key when none is given: an UPDATE's parameter named like a column
    # sets that column.
    params: dict[str, Any] = {"state_feed": feed, "now": now, "error": error}
    if watermark is not None:
        params["watermark"] = watermark
    if _execute_rows(session, statement, [params]) == 0:
        # The feed's first page: create its row (insert-or-nothing, as sync_state does).
        _insert_ignore(session, SyncState, [{"feed": feed, "seeded": False}])
        _execute_rows(session, statement, [params])


@dataclass(frozen=True)
class BudgetValues:
    """A request budget's saved hour record, in plain values."""

    sent: list[datetime]
    blocked_until: datetime | None
    per_hour: int


def load_budget(*, session: Session, name: str = "ll2") -> BudgetValues | None:
    """Return the saved record of budget ``name``, or None when there is none."""
    row = session.get(LL2BudgetRow, name)
    if row is None:
        return None
    sent = []
    for text in row.sent:
        try:
            sent.append(datetime.fromisoformat(text))
        except (TypeError, ValueError):
            continue  # a hand-edited row: a lost time only makes the budget less strict
    return BudgetValues(sent=sent, blocked_until=row.blocked_until, per_hour=row.per_hour)


def save_budget(
    *, session: Executor, values: BudgetValues, now: datetime, name: str = "ll2"
) -> None:
    """Replace the saved record of budget ``name``."""
    row = {
        "name": name,
        "sent": [t.isoformat() for t in values.sent],
        "blocked_until": values.blocked_until,
        "per_hour": values.per_hour,
        "saved_at": now,
    }
    _upsert(session, LL2BudgetRow, [row], ["name"])


def search_names(*, session: Session, model: Any, text: str, limit: int = 25) -> list[Any]:
    """Return rows of ``model`` (types, agencies, programs) whose name contains ``text``."""
    pattern = f"%{_like_escape(text.lower().strip())}%"
    conditions = [func.lower(model.name).like(pattern, escape="\\")]
    if hasattr(model, "abbrev"):
        conditions.append(func.lower(model.abbrev).like(pattern, escape="\\"))
    prefix = func.lower(model.name).like(f"{_like_escape(text.lower().strip())}%", escape="\\")
    query = (
        select(model)
        .where(or_(*conditions))
        .order_by(case((prefix, 0), else_=1), model.name)  # "dock" → Docking before Undocking
        .limit(limit)
    )
    return list(session.exec(query).all())
