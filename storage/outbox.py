"""The outbox: which subscriptions an alert goes to, and the delivery rows that carry it.

Each function takes the session as a keyword argument, as in :mod:`storage.queries`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string
from operator import itemgetter
from typing import Any, NamedTuple

from pydantic_core import PydanticSerializationError, to_json
from sqlalchemy import (
    Column,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.engine import Dialect
from sqlmodel import Session, col, select

from storage.models import (
    Delivery,
    DeliveryPayload,
    DeliveryState,
    DeliverySubscription,
    Subscription,
)

# --- subscriptions an alert may go to -------------------------------------------------------


class AlertSubscription(NamedTuple):
    """What matching and addressing an alert need of one active subscription (read-only).

    A named tuple: built 10,000 at a time, ~6 times cheaper than a frozen dataclass.
    """

    id: int
    guild_id: int | None
    channel_id: int | None
    feed: str
    kinds: tuple[str, ...]
    type_ids: tuple[int, ...]
    agency_ids: tuple[int, ...]
    program_ids: tuple[int, ...]
    provider_ids: tuple[int, ...]
    location_ids: tuple[int, ...]
    exclude: tuple[str, ...]
    reminder_leads: tuple[int, ...]
    mention_role_id: int | None


_ALERT_SUBSCRIPTION_JSON = (
    "kinds",
    "type_ids",
    "agency_ids",
    "program_ids",
    "provider_ids",
    "location_ids",
    "exclude",
    "reminder_leads",
)


class Subscribers(NamedTuple):
    """Active subscriptions column by column: what fanning an alert out needs of them.

    Subscription ``i`` is ``ids[i]``, in ``guild_ids[i]``/``channel_ids[i]``, mentioning
    ``mention_role_ids[i]``; its filters are ``filters[filter_of[i]]``, the
    :class:`AlertSubscription` of the first subscription with the same filters. 10,000
    subscriptions are a few lists of numbers, not 10,000 objects for the garbage collector to
    walk (a full collection of the process took ~90 ms in a 10,000-channel alert; issue 13).
    """

    ids: list[int]
    guild_ids: list[int | None]
    channel_ids: list[int | None]
    mention_role_ids: list[int | None]
    filter_of: list[int]
    filters: list[AlertSubscription]


@functools.cache
def _alert_subscriptions_sql(dialect: Dialect) -> str:
    """Return the SELECT of the active subscriptions' values, JSON lists as text, by id."""
    table: Table = Subscription.__table__  # type: ignore[attr-defined]
    # An empty list comes back as NULL (decoded alike): no text to make for most of them.
    empty = literal_column("'[]'", Text())
    lists = [func.nullif(cast(table.c[name], Text), empty) for name in _ALERT_SUBSCRIPTION_JSON]
    # In the order of AlertSubscription's fields.
    query = (
        core_select(
            table.c.id,
            table.c.guild_id,
            table.c.channel_id,
            table.c.feed,
            *lists,
            table.c.mention_role_id,
        )
        .where(table.c.paused_reason.is_(None))
        .order_by(table.c.id)
    )
    return str(query.compile(dialect=dialect))


def alert_subscriptions(*, session: Session) -> Subscribers:
    """Return the active subscriptions, by id, column by column for matching alerts.

    An alert for 10,000 channels loads 10,000 subscriptions: as ORM objects with eight JSON
    lists each that took ~0.6 s. Here the lists come back as text, and each distinct text
    (most are ``[]`` or one of a few filters) is decoded once; the rows come from the
    driver's cursor one at a time (no result row objects), each leaving only numbers behind.
    """
    connection = session.connection()
    ids: list[int] = []
    guild_ids: list[int | None] = []
    channel_ids: list[int | None] = []
    role_ids: list[int | None] = []
    filter_of: list[int] = []
    filters: list[AlertSubscription] = []
    known: dict[tuple[Any, ...], int] = {}
    cursor: Any = connection.connection.cursor()
    try:
        # No parameter: the statement runs as compiled, on either driver.
        cursor.execute(_alert_subscriptions_sql(connection.dialect))
        for row in cursor:
            texts = row[3:12]  # the feed and the eight lists, as stored
            index = known.get(texts)
            if index is None:
                index = known[texts] = len(filters)
                values = (tuple(json.loads(text)) if text is not None else () for text in texts[1:])
                filters.append(AlertSubscription._make((*row[:4], *values, row[12])))
            ids.append(row[0])
            guild_ids.append(row[1])
            channel_ids.append(row[2])
            role_ids.append(row[12])
            filter_of.append(index)
    finally:
        cursor.close()
    return Subscribers(ids, guild_ids, channel_ids, role_ids, filter_of, filters)


# --- deliveries (the outbox) ----------------------------------------------------------------


def _compact_json(value: dict[str, Any]) -> str:
    """Return ``value`` as compact JSON text, by pydantic-core's encoder.

    A rendered alert's object encodes in a third of ``json.dumps``'s time (issue 13: a page
    that alerts encodes one per alert); the text is UTF-8 without spaces, which every reader
    decodes alike. Text UTF-8 cannot carry (a lone surrogate) goes through ``json.dumps``,
    which escapes it.
    """
    try:
        return to_json(value).decode()
    except PydanticSerializationError:
        return json.dumps(value)


def _payload_json(payload: dict[str, Any], shared: dict[int, str]) -> str:
    """Return ``json.dumps(payload)``, encoding each nested object shared between rows once.

    One alert to 10,000 channels is 10,000 payloads holding the same ``message`` and item
    objects (one per role set): encoding them once per call, not once per row, was most of
    the enqueue's CPU. ``shared`` maps ``id()`` of those objects, alive for the whole call,
    to their JSON. The text is exactly what ``json.dumps`` gives for the whole payload.
    """
    parts = []
    for name, value in payload.items():
        if type(name) is not str:
            return json.dumps(payload)  # json.dumps turns other keys into strings its own way
        kind = type(value)
        if kind is str:
            text = _json_string(value)
        elif kind is int:
            text = int.__repr__(value)
        elif value is None:
            text = "null"
        elif kind is dict or kind is list:
            text = shared.get(id(value)) or shared.setdefault(id(value), json.dumps(value))
        else:
            text = json.dumps(value)
        parts.append(f"{_json_string(name)}: {text}")
    return "{" + ", ".join(parts) + "}"


# The two alert JSON fields that differ between deliveries sharing a payload: kept on the
# delivery row (its dedupe key, ``payload_subscription_id``), stored as null when shared.
_PER_DELIVERY = ("key", "subscription")


def _shared_shape(payload: dict[str, Any], key: str) -> tuple[Any, ...] | None:
    """Return what makes ``payload`` the same as another's but for its key and subscription.

    Rows of one alert and role set hold the same objects (``delivery_rows`` builds them
    once, and every row's payload is alive for the whole call), so values compare by
    identity: equal payloads built apart are merely stored apart. None: the payload cannot
    be shared (its ``key`` is not the row's, or its subscription is no id) and is stored on
    the row.
    """
    rest = payload.copy()
    named_key = rest.pop("key", key)
    subscription = rest.pop("subscription", None)
    if named_key != key or (subscription is not None and type(subscription) is not int):
        return None
    return (tuple(payload), *map(id, rest.values()))


@functools.cache
def _payload_insert(dialect: str) -> Any:
    """Return the INSERT of one shared payload (bound as encoded JSON text), built once."""
    table: Table = DeliveryPayload.__table__  # type: ignore[attr-defined]
    text = bindparam("payload_json", type_=Text())
    payload = cast(text, table.c.payload.type) if dialect == "postgresql" else text
    return insert(table).values(payload=payload).returning(table.c.id, sort_by_parameter_order=True)


@functools.cache
def _delivery_columns() -> dict[str, Column[Any]]:
    """Return the outbox columns an enqueue may fill, by name (all but the id)."""
    table: Table = Delivery.__table__  # type: ignore[attr-defined]
    return {c.name: c for c in table.c if c.name != "id"}


@functools.cache
def _postgres_delivery_insert(
    dialect: Dialect, constant: tuple[str, ...], varying: tuple[str, ...]
) -> str:
    """Return PostgreSQL's outbox INSERT: one statement and round trip for 10,000 rows.

    A column whose value is the same on every row (feed, item, kind, state, times…) is one
    parameter; each other column is one JSON array, which the C encoder writes from the
    column's list in a few ms (psycopg dumps a Python list element by element: ~5 ms per
    10,000 elements in binary, ~30 in text; and an array per row would be 10,000 tuples
    alive at once, enough to wake the full garbage collector). The server turns each into
    an array, in order, and ``unnest`` zips them into rows. A duplicate key is skipped; the
    ids and keys of the rows that went in come back.
    """
    columns = _delivery_columns()

    def sql_type(name: str) -> str:
        return columns[name].type.compile(dialect=dialect)

    def array(name: str) -> str:
        ordered = "SELECT e FROM json_array_elements_text(%s::json) WITH ORDINALITY AS j(e, n)"
        return f"ARRAY({ordered} ORDER BY n)::{sql_type(name)}[]"

    listed = ", ".join((*constant, *varying))
    values = ", ".join((*(f"%s::{sql_type(n)}" for n in constant), "u.*"))
    arrays = ", ".join(array(n) for n in varying)
    # Names and types come from the table itself, never from input.
    return (
        f"INSERT INTO deliveries ({listed}) SELECT {values} FROM unnest({arrays}) AS u "  # noqa: S608
        "ON CONFLICT DO NOTHING RETURNING id, dedupe_key"
    )


def _json_value(value: Any) -> Any:
    """Return a value ``json.dumps`` cannot write as PostgreSQL reads it back (a time)."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {value!r} in the outbox")


@functools.cache
def _sqlite_delivery_insert(names: tuple[str, ...]) -> str:
    """Return SQLite's outbox INSERT of one row, for an ``executemany`` (rows bound in C)."""
    marks = ", ".join("?" for _ in names)
    return f"INSERT INTO deliveries ({', '.join(names)}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608


def _column_values(dialect: Dialect, column: Column[Any], values: list[Any]) -> list[Any]:
    """Return ``values`` as the driver takes them (a type's conversion done once per value)."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    done: dict[Any, Any] = {None: None}
    return [done[v] if v in done else done.setdefault(v, process(v)) for v in values]


def _insert_deliveries(
    session: Session, columns: dict[str, list[Any]]
) -> tuple[Sequence[int], Sequence[str]]:
    """Insert the outbox rows given column by column; return the ids and keys that went in."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        constant = tuple(
            name
            for name, values in columns.items()
            if name != "dedupe_key" and values.count(values[0]) == len(values)
        )
        varying = tuple(name for name in columns if name not in constant)
        statement = _postgres_delivery_insert(connection.dialect, constant, varying)
        params = (
            *(columns[n][0] for n in constant),
            *(json.dumps(columns[n], default=_json_value) for n in varying),
        )
        found = connection.exec_driver_sql(statement, params).all()
        return [found_id for found_id, _ in found], [key for _, key in found]
    statement = _sqlite_delivery_insert(tuple(columns))
    # SQLite has no RETURNING for executemany. From its first row on, the INSERT holds the
    # write lock, and each row it adds takes the largest id plus one: the ``rowcount`` rows
    # it added are the newest ``rowcount`` ids, in the order given.
    table: Table = Delivery.__table__  # type: ignore[attr-defined]
    # The driver's cursor takes the rows as an iterator: each tuple dies as soon as it is
    # bound, instead of 10,000 of them living long enough to wake the full garbage collector.
    cursor: Any = connection.connection.cursor()
    try:
        cursor.executemany(statement, zip(*columns.values(), strict=True))
        count = cursor.rowcount
    finally:
        cursor.close()
    if count <= 0:
        return [], []
    top = connection.execute(core_select(func.max(table.c.id))).scalar_one()
    keys = columns["dedupe_key"]
    if count == len(keys):  # nothing skipped: no need to read the keys back
        return range(top - count + 1, top + 1), keys
    fresh = core_select(table.c.id, table.c.dedupe_key).where(table.c.id > top - count)
    found = connection.execute(fresh.order_by(table.c.id)).all()
    return [found_id for found_id, _ in found], [key for _, key in found]


class DeliveryBatch:
    """Outbox rows column by column: one alert's 10,000 deliveries as a few lists.

    Row ``i`` goes to ``guild_ids[i]``/``channel_ids[i]`` under ``keys[i]``, about
    ``items[i]`` (feed, item id and alert kind, a tuple shared by the alert's rows); it
    serves ``served[i]`` (a subscription id, or a list of them when several of a channel's
    overlap) and its alert JSON is ``payloads[payload_of[i]]`` with the row's own ``key``
    and ``subscription`` (``subscriptions[i]``, the first one served). Every row is pending,
    due ``now``. :func:`enqueue_deliveries` stores it without a dict per row;
    :meth:`rows` gives the rows as dicts.
    """

    __slots__ = (
        "channel_ids",
        "guild_ids",
        "items",
        "keys",
        "now",
        "payload_of",
        "payloads",
        "served",
        "subscriptions",
    )

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.keys: list[str] = []
        self.served: list[int | list[int]] = []
        self.guild_ids: list[int | None] = []
        self.channel_ids: list[int | None] = []
        self.items: list[tuple[str, str, str]] = []
        self.payload_of: list[int] = []
        self.payloads: list[dict[str, Any]] = []
        self.subscriptions: list[int] = []

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self) -> list[dict[str, Any]]:
        """Return the rows as dicts (the form :func:`enqueue_deliveries` also takes)."""
        pending = DeliveryState.PENDING.value
        now = self.now
        rows: list[dict[str, Any]] = []
        for i, key in enumerate(self.keys):
            served = self.served[i]
            feed, item_id, kind = self.items[i]
            subscription = self.subscriptions[i]
            payload = {**self.payloads[self.payload_of[i]], "key": key}
            payload["subscription"] = subscription
            rows.append(
                {
                    "dedupe_key": key,
                    "subscription_ids": [served] if type(served) is int else list(served),  # type: ignore[arg-type]
                    "guild_id": self.guild_ids[i],
                    "channel_id": self.channel_ids[i],
                    "feed": feed,
                    "item_id": item_id,
                    "kind": kind,
                    "payload": payload,
                    "state": pending,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        return rows


def _store_payloads(session: Session, texts: list[str]) -> list[int]:
    """Store shared payloads given as JSON text; return their ids, in the order given."""
    if not texts:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        found = session.execute(
            _payload_insert(connection.dialect.name), [{"payload_json": t} for t in texts]
        )
        return [found_id for (found_id,) in found]
    # As the outbox rows (see _insert_deliveries): SQLite's executemany in C, and the ids
    # are the newest ones, in order (a payload has no unique key: every row goes in).
    cursor: Any = connection.connection.cursor()
    try:
        cursor.executemany(
            "INSERT INTO delivery_payloads (payload) VALUES (?)", zip(texts, strict=True)
        )
    finally:
        cursor.close()
    payloads: Table = DeliveryPayload.__table__  # type: ignore[attr-defined]
    top = connection.execute(core_select(func.max(payloads.c.id))).scalar_one()
    return list(range(top - len(texts) + 1, top + 1))


def _enqueue_batch(session: Session, batch: DeliveryBatch) -> int:
    """Store a :class:`DeliveryBatch`: one shared payload per alert JSON object it holds."""
    count = len(batch)
    if not count:
        return 0
    session.flush()
    dialect = session.get_bind().dialect
    known = _delivery_columns()
    # One alert JSON object per alert and role set, each built apart (delivery_batch): no
    # nested object to share between them, so each is encoded whole.
    texts = [
        _compact_json({n: None if n in _PER_DELIVERY else v for n, v in p.items()})
        for p in batch.payloads
    ]
    payload_ids = _store_payloads(session, texts)
    feeds, item_ids, kinds = (list(c) for c in zip(*batch.items, strict=True))
    # In the order enqueue_deliveries gives them for rows (one statement form for both).
    columns: dict[str, list[Any]] = {
        "dedupe_key": batch.keys,
        "guild_id": batch.guild_ids,
        "channel_id": batch.channel_ids,
        "feed": feeds,
        "item_id": item_ids,
        "kind": kinds,
        "state": [DeliveryState.PENDING.value] * count,
        "attempts": [0] * count,
        "next_attempt_at": _column_values(dialect, known["next_attempt_at"], [batch.now]) * count,
        "created_at": _column_values(dialect, known["created_at"], [batch.now]) * count,
        "payload": [None] * count,
        "payload_id": [payload_ids[i] for i in batch.payload_of],
        "payload_subscription_id": batch.subscriptions,
    }
    ids, keys = _insert_deliveries(session, columns)
    if len(ids) < count:
        if payload_ids:
            _drop_unused_payloads(session, payload_ids)
        row_of = {key: i for i, key in enumerate(batch.keys)}
        served: Sequence[int | list[int]] = [batch.served[row_of[key]] for key in keys]
    else:
        served = batch.served  # every row, in the order given
    if not ids:
        return 0
    if all(type(s) is int for s in served):  # one subscription per row: the usual case
        if isinstance(ids, range) and session.get_bind().dialect.name == "sqlite":
            # Every row went in, with these ids, each serving the subscription its payload
            # names: the links are copied from the rows in SQL, not bound row by row.
            session.connection().exec_driver_sql(
                "INSERT INTO delivery_subscriptions (delivery_id, subscription_id) "
                "SELECT id, payload_subscription_id FROM deliveries WHERE id BETWEEN ? AND ?",
                (ids[0], ids[-1]),
            )
        else:
            _insert_links(session, ids, served)  # type: ignore[arg-type]
        return len(ids)
    delivery_ids: list[int] = []
    subscription_ids: list[int] = []
    for delivery_id, subs in zip(ids, served, strict=True):
        for sub_id in [subs] if type(subs) is int else dict.fromkeys(subs):  # type: ignore[arg-type]
            delivery_ids.append(delivery_id)
            subscription_ids.append(sub_id)
    _insert_links(session, delivery_ids, subscription_ids)
    return len(ids)


def enqueue_deliveries(*, session: Session, rows: list[dict[str, Any]] | DeliveryBatch) -> int:
    """Insert outbox rows; a row whose dedupe key exists is skipped. Return how many went in.

    Each row may carry ``subscription_ids``: the subscriptions it serves (stored as links).
    Rows whose payloads differ only in their ``key`` and ``subscription`` share one stored
    payload (:class:`storage.models.DeliveryPayload`); any other payload stays on its row.
    ``rows`` may be a :class:`DeliveryBatch` (the fan-out's rows, column by column): stored
    as its rows would be.
    """
    if isinstance(rows, DeliveryBatch):
        return _enqueue_batch(session, rows)
    if not rows:
        return 0
    session.flush()
    dialect = session.get_bind().dialect
    known = _delivery_columns()
    first_keys = rows[0].keys()
    same_keys = all(row.keys() == first_keys for row in rows)
    given: dict[str, None] = dict.fromkeys(first_keys)
    if not same_keys:
        for row in rows:
            given.update(dict.fromkeys(row))
    given.pop("subscription_ids", None)
    given.pop("payload", None)
    unknown = [name for name in given if name not in known or name.startswith("payload")]
    if unknown:
        raise ValueError(f"not outbox columns: {', '.join(unknown)}")

    encoded: dict[int, str] = {}
    shapes: dict[tuple[Any, ...], int] = {}
    shared_texts: list[str] = []
    shared_of: list[int | None] = []
    inline: list[str | None] = []
    named: list[int | None] = []
    for row in rows:
        payload = row["payload"]
        shape = _shared_shape(payload, row["dedupe_key"])
        if shape is None:
            shared_of.append(None)
            inline.append(_payload_json(payload, encoded))
            named.append(None)
            continue
        index = shapes.get(shape)
        if index is None:
            index = shapes[shape] = len(shared_texts)
            blank = {n: None if n in _PER_DELIVERY else v for n, v in payload.items()}
            shared_texts.append(_payload_json(blank, encoded))
        shared_of.append(index)
        inline.append(None)
        named.append(payload.get("subscription"))

    payload_ids = _store_payloads(session, shared_texts)

    columns: dict[str, list[Any]] = {}
    for name in given:
        column = known[name]
        default = column.default.arg if column.default is not None else None  # type: ignore[attr-defined]
        values = (
            list(map(itemgetter(name), rows))
            if same_keys
            else [row.get(name, default) for row in rows]
        )
        columns[name] = _column_values(dialect, column, values)
    columns["payload"] = inline
    columns["payload_id"] = [None if i is None else payload_ids[i] for i in shared_of]
    columns["payload_subscription_id"] = named
    for name in ("state", "attempts"):
        if name not in columns:
            columns[name] = [known[name].default.arg] * len(rows)  # type: ignore[union-attr]

    ids, keys = _insert_deliveries(session, columns)
    if len(ids) < len(rows) and payload_ids:
        _drop_unused_payloads(session, payload_ids)
    delivery_ids, subscription_ids = _link_pairs(ids, keys, rows)
    if delivery_ids:
        # Fresh delivery ids: no link can exist yet.
        _insert_links(session, delivery_ids, subscription_ids)
    return len(ids)


def _link_pairs(
    ids: Sequence[int], keys: Sequence[str], rows: list[dict[str, Any]]
) -> tuple[list[int], list[int]]:
    """Return (delivery id, subscription id) pairs for the rows that went in, as two lists."""
    delivery_ids: list[int] = []
    subscription_ids: list[int] = []
    if len(ids) == len(rows):  # usually every row, in the order given: no key lookup
        for delivery_id, key, row in zip(ids, keys, rows, strict=True):
            if key != row["dedupe_key"]:
                delivery_ids.clear()
                subscription_ids.clear()
                break
            served = row.get("subscription_ids") or ()
            for sub_id in served if len(served) < 2 else dict.fromkeys(served):
                delivery_ids.append(delivery_id)
                subscription_ids.append(sub_id)
        else:
            return delivery_ids, subscription_ids
    by_key = {row["dedupe_key"]: row.get("subscription_ids") or () for row in rows}
    for delivery_id, key in zip(ids, keys, strict=True):
        for sub_id in dict.fromkeys(by_key.get(key, ())):
            delivery_ids.append(delivery_id)
            subscription_ids.append(sub_id)
    return delivery_ids, subscription_ids


def _insert_links(
    session: Session, delivery_ids: Sequence[int], subscription_ids: Sequence[int]
) -> None:
    """Link deliveries to the subscriptions they serve (pairwise), in one statement."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Ids as comma-separated text: joined in C, split by the server (see above).
        connection.exec_driver_sql(
            "INSERT INTO delivery_subscriptions (delivery_id, subscription_id) SELECT * FROM "
            "unnest(string_to_array(%s, ',')::integer[], string_to_array(%s, ',')::integer[])",
            (",".join(map(str, delivery_ids)), ",".join(map(str, subscription_ids))),
        )
    else:
        cursor: Any = connection.connection.cursor()
        try:
            cursor.executemany(
                "INSERT INTO delivery_subscriptions (delivery_id, subscription_id) VALUES (?, ?)",
                zip(delivery_ids, subscription_ids, strict=True),
            )
        finally:
            cursor.close()


def _drop_unused_payloads(session: Session, payload_ids: list[int]) -> None:
    """Delete the just-stored shared payloads that no delivery took (every row a duplicate)."""
    payloads: Table = DeliveryPayload.__table__  # type: ignore[attr-defined]
    deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]
    used = core_select(deliveries.c.id).where(deliveries.c.payload_id == payloads.c.id)
    session.execute(delete(payloads).where(payloads.c.id.in_(payload_ids), ~used.exists()))


def due_deliveries(
    *,
    session: Session,
    now: datetime,
    limit: int = 100,
    subscription_ids: Sequence[int] | None = None,
) -> list[Delivery]:
    """Return pending deliveries whose next attempt is due, oldest first.

    With ``subscription_ids``, only deliveries serving at least one of them.
    """
    query = select(Delivery).where(
        Delivery.state == DeliveryState.PENDING.value, col(Delivery.next_attempt_at) <= now
    )
    if subscription_ids is not None:
        query = query.where(
            col(Delivery.id).in_(
                select(DeliverySubscription.delivery_id).where(
                    col(DeliverySubscription.subscription_id).in_(subscription_ids)
                )
            )
        )
    query = query.order_by(col(Delivery.next_attempt_at), col(Delivery.id)).limit(limit)
    return list(session.exec(query).all())


def delivery_subscription_ids(
    *, session: Session, delivery_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Return, for each delivery, the ids of the subscriptions it serves (ascending)."""
    found: dict[int, list[int]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    query = (
        select(DeliverySubscription.delivery_id, DeliverySubscription.subscription_id)
        .where(col(DeliverySubscription.delivery_id).in_(list(delivery_ids)))
        .order_by(col(DeliverySubscription.subscription_id))
    )
    for delivery_id, subscription_id in session.exec(query).all():
        found[delivery_id].append(subscription_id)
    return found


def next_delivery_due(*, session: Session) -> datetime | None:
    """Return when the earliest pending delivery is due."""
    return session.exec(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.state == DeliveryState.PENDING.value
        )
    ).one()


def mark_sent(
    *, session: Session, delivery_id: int, now: datetime, message_id: int | None = None
) -> None:
    """Record that a delivery reached its destination."""
    session.exec(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(
            state=DeliveryState.SENT.value,
            sent_at=now,
            message_id=message_id,
            attempts=Delivery.attempts + 1,
            last_error=None,
        )
    )


def mark_retry(*, session: Session, delivery_id: int, error: str, retry_at: datetime) -> None:
    """Record a transient failure and when to try again."""
    session.exec(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(
            attempts=Delivery.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=retry_at,
        )
    )


def mark_final(*, session: Session, delivery_id: int, state: DeliveryState, error: str) -> None:
    """Give up on a delivery (``failed``) or record one never to send (``dropped``)."""
    session.exec(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(state=state.value, last_error=error[:2000])
    )


def count_deliveries(*, session: Session, state: DeliveryState) -> int:
    """Return how many deliveries are in ``state``."""
    return int(
        session.exec(
            select(func.count()).select_from(Delivery).where(Delivery.state == state.value)
        ).one()
    )
