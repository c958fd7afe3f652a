"""Lookups: p50/p99 of `/events search|show|upcoming` through the cog's command callbacks.

The store holds 10,000 events and 10,000 subscriptions (SQLite). Each call goes through the
``Lookups`` cog's callback exactly as discord.py invokes it after parsing the interaction:
store query, snapshot parsing, rendering and building discord.py's Embed/View objects for the
response. Only the network write of the answer is replaced by a recorder.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.common import Figure, percentile
from benchmarks.store import big_store
from cogs.lookups import Lookups
from storage.db import make_engine

TARGET_MS = 20.0


class _Response:
    """Stands in for ``interaction.response``: records the answer instead of posting it."""

    def __init__(self) -> None:
        self.sent: dict[str, Any] | None = None

    def is_done(self) -> bool:
        return self.sent is not None

    async def send_message(self, content: str | None = None, **kwargs: Any) -> None:
        self.sent = {"content": content, **kwargs}

    async def defer(self, **_kwargs: Any) -> None:
        self.sent = {}


class _Followup:
    async def send(self, content: str | None = None, **kwargs: Any) -> None:
        return None


class _Interaction:
    """The parts of ``discord.Interaction`` the lookup callbacks touch."""

    def __init__(self) -> None:
        self.response = _Response()
        self.followup = _Followup()


async def _time(calls: list[Any]) -> list[float]:
    """Run each zero-argument coroutine factory; return latencies in ms."""
    out = []
    for call in calls:
        interaction = _Interaction()
        t0 = time.perf_counter()
        await call(interaction)
        out.append((time.perf_counter() - t0) * 1000)
        assert interaction.response.sent is not None, "the command did not answer"
    return out


async def run(*, quick: bool, workdir: Path) -> list[Figure]:
    """Measure the three commands against the big store."""
    store = big_store(workdir.parent, quick=quick)
    engine = make_engine(f"sqlite:///{store.path}")
    cog = Lookups(SimpleNamespace(engine=engine))  # type: ignore[arg-type]
    rng = random.Random(11)
    n = 100 if quick else 400
    names = [e["name"] for e in store.events]
    words = sorted({w for name in names for w in name.split() if len(w) > 3})
    type_names = sorted({e["type"]["name"] for e in store.events})

    def search_query() -> str:
        pick = rng.random()
        if pick < 0.4:
            return rng.choice(words)  # a word: many matches, a list answer
        if pick < 0.8:
            return rng.choice(names)  # a whole name: the autocomplete path
        if pick < 0.9:
            return rng.choice(names)[:5].lower()
        return "no such event zzz"

    def show_value() -> str:
        event = rng.choice(store.events)
        return str(event["id"]) if rng.random() < 0.8 else event["name"]

    def upcoming_args() -> dict[str, Any]:
        pick = rng.random()
        if pick < 0.5:
            return {}
        if pick < 0.8:
            return {"type": rng.choice(type_names)}
        return {"count": 25}

    plans: dict[str, list[Any]] = {
        "/events search": [
            (lambda q: lambda i: cog.search.callback(cog, i, query=q))(search_query())
            for _ in range(n)
        ],
        "/events show": [
            (lambda v: lambda i: cog.show.callback(cog, i, event=v))(show_value()) for _ in range(n)
        ],
        "/events upcoming": [
            (lambda a: lambda i: cog.upcoming.callback(cog, i, **a))(upcoming_args())
            for _ in range(n)
        ],
    }
    figures = []
    for command, calls in plans.items():
        await _time(calls[:10])  # warm caches (statement cache, SQLite pages)
        latencies = await _time(calls)
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        note = f"{len(latencies)} calls, max {max(latencies):.1f} ms" if command else ""
        figures.append(
            Figure("lookups", f"{command} p50", p50, "ms", TARGET_MS, "20 ms (p99 target)")
        )
        figures.append(
            Figure(
                "lookups",
                f"{command} p99",
                p99,
                "ms",
                TARGET_MS,
                "20 ms",
                goal="under",
                target=1.0,
                note=note,
            )
        )
    figures[0].note = (
        f"store: {len(store.events):,} events, {store.subscriptions:,} subscriptions "
        f"(SQLite, built in {store.built_in:.0f} s)"
    )
    engine.dispose()
    return figures
