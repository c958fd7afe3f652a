"""The big store: 10,000 events and 10,000 subscriptions, built once per run and shared."""

from __future__ import annotations

import pickle
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, update

from benchmarks.common import add_subscriptions, ll2_json, mark_seeded, store_events
from bot.core.timeutil import utcnow
from bot.devtools.ll2_emulator import parse_ll2_datetime, synthetic_events
from storage.db import make_engine, upgrade
from storage.models import Subscription

GUILD_BASE = 900_000_000_000_000_000
CHANNEL_BASE = 910_000_000_000_000_000
SUBS_PER_GUILD = 50  # tminus's per-guild maximum
SUBS_PER_CHANNEL = 2
DEFAULT_LEADS = [86_400, 3_600, 600]


@dataclass
class BigStore:
    """A SQLite file holding ``events`` and ``subscriptions``, and the events themselves."""

    path: Path
    events: list[dict[str, Any]]  # the LL2 emulator's internal shape
    subscriptions: int
    built_in: float
    now: datetime

    def copy_to(self, target: Path) -> str:
        """Copy the store (WAL checkpointed) to ``target``; return its URL."""
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"


_CACHE: dict[Path, BigStore] = {}


def sizes(quick: bool) -> tuple[int, int]:
    """Return (events, subscriptions) for a run."""
    return (2_000, 2_000) if quick else (10_000, 10_000)


def subscription_rows(count: int, type_ids: list[int], now: datetime) -> list[Subscription]:
    """Return ``count`` subscriptions: 50 per guild, 2 per channel.

    In each channel one follows an event type (every kind, reminders 24h/1h/10m) and one
    follows every event's webcasts only; guild and channel ids are placeholders that the
    footprint run maps onto the Discord emulator's.
    """
    subs = []
    for i in range(count):
        typed = i % 2 == 0
        subs.append(
            Subscription(
                guild_id=GUILD_BASE + i // SUBS_PER_GUILD,
                channel_id=CHANNEL_BASE + i // SUBS_PER_CHANNEL,
                type_ids=[type_ids[(i // 2) % len(type_ids)]] if typed else [],
                kinds=[] if typed else ["webcast_live"],
                reminder_leads=DEFAULT_LEADS if typed else [],
                created_by=1,
                created_at=now,
            )
        )
    return subs


def big_store(root: Path, *, quick: bool) -> BigStore:
    """Return the shared store under ``root``, building it on first use.

    Each benchmark runs in a process of its own: the first to ask builds the store and
    leaves it under ``root`` with its description (``big-store.pickle``, written last, so a
    build cut short is built again); the others load it.
    """
    if root in _CACHE:
        return _CACHE[root]
    described = root / ("big-store-quick.pickle" if quick else "big-store.pickle")
    if described.exists():
        loaded: BigStore = pickle.loads(described.read_bytes())  # noqa: S301 (our own file)
        _CACHE[root] = loaded
        return loaded
    n_events, n_subs = sizes(quick)
    started = time.monotonic()
    now = utcnow().replace(microsecond=0)
    events = synthetic_events(n_events, start=now, seed=5)
    path = root / "big-store.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    store_events(engine, ll2_json(events), seeding=True)
    type_ids = sorted({int(e["type"]["id"]) for e in events})
    add_subscriptions(engine, subscription_rows(n_subs, type_ids, now))
    newest = max(parse_ll2_datetime(e["last_updated"]) for e in events)
    mark_seeded(engine, watermark=newest, now=now)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    store = BigStore(path, events, n_subs, time.monotonic() - started, now)
    described.write_bytes(pickle.dumps(store))
    _CACHE[root] = store
    return store


def remap_subscriptions(url: str, channels: list[tuple[int, int]]) -> None:
    """Point the store's subscriptions at real (guild, channel) pairs, two per channel."""
    engine = make_engine(url)
    with engine.begin() as connection:
        ids = [row[0] for row in connection.exec_driver_sql("SELECT id FROM subscriptions")]
        rows = [
            {
                "sid": sid,
                "g": channels[i // SUBS_PER_CHANNEL][0],
                "c": channels[i // SUBS_PER_CHANNEL][1],
            }
            for i, sid in enumerate(sorted(ids))
        ]
        statement = (
            update(Subscription.__table__)  # type: ignore[attr-defined]
            .where(Subscription.__table__.c.id == bindparam("sid"))  # type: ignore[attr-defined]
            .values(guild_id=bindparam("g"), channel_id=bindparam("c"))
        )
        connection.execute(statement, rows)
    engine.dispose()
