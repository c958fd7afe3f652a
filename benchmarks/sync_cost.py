"""Sync cost: CPU ms for one 100-event page (parse, diff, store, enqueue), and an idle poll.

The LL2 emulator runs on its own thread and event loop, so ``time.thread_time()`` on the
benchmark's thread counts the bot's side only: the HTTP client, JSON and pydantic parsing,
change detection, the upsert of events with their updates/videos/agencies/programs, the
rendering and insertion of outbox rows. On PostgreSQL the server's own CPU is not in the
figure (it is another process); the wall time is shown next to it.

The store holds the page's 100 events and 100 subscriptions, each following one event type
(every kind). A round adds one update to each of the 100 events in LL2, then fetches the
page of changes and applies it in one transaction: 100 ``update`` alerts, one delivery per
matching subscription. An idle poll is ``Syncer.sync()`` with nothing changed: one request
(the 2-minute overlap brings back the newest event again, which changes nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import bot.ll2.client as client_module
import bot.pipeline.sync as sync_module
from benchmarks.common import (
    Figure,
    ThreadedLL2,
    add_subscriptions,
    ll2_json,
    mark_seeded,
    postgres_base_url,
    store_events,
)
from benchmarks.store import big_store
from bot.config import load_config
from bot.core.timeutil import utcnow
from bot.devtools.ll2_emulator import LL2Emulator, parse_ll2_datetime, synthetic_events
from bot.devtools.pgschema import postgres_schema
from bot.ll2.client import EventFilters, LL2Client
from bot.pipeline.sync import Syncer
from storage import queries
from storage.db import make_engine, session_scope, upgrade
from storage.models import Subscription

PAGE = 100
SUBSCRIPTIONS = 100
# Sync runs on the bot's event loop: while a page is processed no slash command is answered,
# so Discord's 3 s interaction deadline is the hard ceiling for one page.
CEILING_MS = 3000.0
CEILING_LABEL = "3,000 ms (interaction deadline)"


def postgres_version(url: str) -> str:
    """Return the server's short version string."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("SHOW server_version").scalar()).split()[0]
    finally:
        engine.dispose()


def client_config(emulator: LL2Emulator) -> Any:
    """Return settings pointing at ``emulator`` with no budget in the way."""
    overrides = {("ll2", "url"): emulator.url("2.2.0"), ("ll2", "requests_per_hour"): 1_000_000}
    return load_config(None, env={}, overrides=overrides)


class Stopwatch:
    """Accumulate thread CPU time per stage by wrapping the functions that do the work."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``fn`` timed into ``stage``."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.cpu[stage] += time.thread_time() - t0

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Time parse (pydantic), diff, render+match and store+enqueue stages."""
        patches = [
            (client_module, "parse_items", "parse"),
            (sync_module, "detect_changes", "diff"),
            (sync_module, "delivery_rows", "render"),
            (queries, "save_events", "store"),
            (queries, "enqueue_deliveries", "enqueue"),
        ]
        originals = [(m, name, getattr(m, name)) for m, name, _ in patches]
        for module, name, stage in patches:
            setattr(module, name, self.wrap(stage, getattr(module, name)))
        try:
            yield
        finally:
            for module, name, fn in originals:
                setattr(module, name, fn)


async def measure_backend(label: str, url: str, *, rounds: int) -> list[Figure]:
    """Run the page rounds and the idle polls on one database."""
    engine = make_engine(url)
    upgrade(engine)
    now = utcnow().replace(microsecond=0)
    events = synthetic_events(PAGE, start=now + timedelta(days=2), seed=3)
    store_events(engine, ll2_json(events), seeding=True)
    newest = max(parse_ll2_datetime(e["last_updated"]) for e in events)
    mark_seeded(engine, watermark=newest, now=now)
    type_ids = sorted({int(e["type"]["id"]) for e in events})
    add_subscriptions(
        engine,
        (
            Subscription(
                guild_id=1,
                channel_id=1000 + i,
                type_ids=[type_ids[i % len(type_ids)]],
                created_at=now,
            )
            for i in range(SUBSCRIPTIONS)
        ),
    )
    config = load_config(None, env={})
    threaded = ThreadedLL2(LL2Emulator(events, requests_per_hour=None))
    page_cpu: list[float] = []
    page_wall: list[float] = []
    stages: list[dict[str, float]] = []
    enqueued: list[int] = []
    with threaded as emulator:
        settings = client_config(emulator)
        async with LL2Client(settings.ll2) as client:
            syncer = Syncer(client=client, engine=engine, alerts=config.alerts)
            await syncer.sync()  # warm up: connection pool, statement caches
            for r in range(rounds + 1):
                changed_from = utcnow()
                await asyncio.sleep(0.002)
                for event in events:
                    threaded.call(emulator.add_update, event["id"], f"Round {r}: status update")
                watch = Stopwatch()
                with watch.installed():
                    w0, c0 = time.perf_counter(), time.thread_time()
                    page = await client.events_page(
                        EventFilters(
                            last_updated_gte=changed_from, ordering="last_updated", limit=PAGE
                        )
                    )
                    watch.cpu["fetch+parse"] = time.thread_time() - c0
                    count = syncer.apply_events(
                        page.events,
                        page.raw,
                        seeding=False,
                        watermark=max(e.last_updated for e in page.events),
                    )
                    cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
                if len(page.events) != PAGE:
                    raise RuntimeError(f"expected a {PAGE}-event page, got {len(page.events)}")
                if r == 0:
                    continue  # the first round warms the insert paths
                page_cpu.append(cpu * 1000)
                page_wall.append(wall * 1000)
                stages.append(dict(watch.cpu))
                enqueued.append(count)
            idle_cpu, idle_wall, idle_requests = await _idle_polls(syncer, emulator, rounds)
    engine.dispose()
    stage_ms = {k: statistics.median(s.get(k, 0.0) for s in stages) * 1000 for k in stages[0]}
    breakdown = ", ".join(
        f"{name} {stage_ms.get(key, 0):.0f}"
        for name, key in (
            ("HTTP+JSON+pydantic", "fetch+parse"),
            ("diff", "diff"),
            ("store", "store"),
            ("render", "render"),
            ("enqueue", "enqueue"),
        )
    )
    return [
        Figure(
            "sync cost",
            f"{label}: one 100-event page, CPU",
            statistics.median(page_cpu),
            "ms",
            CEILING_MS,
            CEILING_LABEL,
            note=f"median of {len(page_cpu)}; wall {statistics.median(page_wall):.0f} ms; "
            f"{enqueued[0]} deliveries enqueued per page; stages (CPU ms): {breakdown}",
        ),
        Figure(
            "sync cost",
            f"{label}: idle poll, CPU",
            statistics.median(idle_cpu),
            "ms",
            CEILING_MS,
            CEILING_LABEL,
            note=f"{idle_requests:.0f} LL2 request per poll; "
            f"wall {statistics.median(idle_wall):.1f} ms",
        ),
    ]


async def _idle_polls(
    syncer: Syncer, emulator: LL2Emulator, rounds: int
) -> tuple[list[float], list[float], float]:
    cpu, wall, requests = [], [], []
    for _ in range(max(5, rounds)):
        before = len(emulator.requests)
        w0, c0 = time.perf_counter(), time.thread_time()
        report = await syncer.sync()
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
        requests.append(len(emulator.requests) - before)
        if report.enqueued:
            raise RuntimeError("an idle poll enqueued alerts")
    return cpu, wall, statistics.median(requests)


async def idle_poll_big(workdir: Path, *, quick: bool) -> Figure:
    """An idle poll with the big store (10k events, 10k subscriptions) behind it."""
    store = big_store(workdir.parent, quick=quick)
    url = store.copy_to(workdir / "big-idle.db")
    engine = make_engine(url)
    threaded = ThreadedLL2(LL2Emulator(store.events, requests_per_hour=None))
    config = load_config(None, env={})
    with threaded as emulator:
        settings = client_config(emulator)
        async with LL2Client(settings.ll2) as client:
            syncer = Syncer(client=client, engine=engine, alerts=config.alerts)
            await syncer.sync()
            cpu, wall, requests = await _idle_polls(syncer, emulator, 5)
    with session_scope(engine) as session:
        events = queries.count_events(session=session)
    engine.dispose()
    return Figure(
        "sync cost",
        f"SQLite, {events:,} events + {store.subscriptions:,} subs: idle poll, CPU",
        statistics.median(cpu),
        "ms",
        CEILING_MS,
        CEILING_LABEL,
        note=f"{requests:.0f} LL2 request per poll; wall {statistics.median(wall):.1f} ms",
    )


async def run(*, quick: bool, workdir: Path) -> list[Figure]:
    """Measure SQLite and (when reachable) PostgreSQL."""
    rounds = 3 if quick else 8
    figures = await measure_backend("SQLite", f"sqlite:///{workdir / 'sync.db'}", rounds=rounds)
    base = postgres_base_url()
    if base is None:
        figures.append(
            Figure(
                "sync cost",
                "PostgreSQL: not measured",
                0,
                "",
                note="no server at TMINUS_TEST_POSTGRES_URL or 127.0.0.1:5432",
            )
        )
    else:
        with postgres_schema(base, prefix="bench") as url:
            measured = await measure_backend("PostgreSQL", url, rounds=rounds)
            measured[0].note += f"; server: {postgres_version(url)}, same machine"
            figures += measured
    figures.append(await idle_poll_big(workdir, quick=quick))
    return figures
