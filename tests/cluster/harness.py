"""Three real `tminus run` processes on one PostgreSQL store, against the loopback emulators."""

# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.devtools.discord_emulator import DiscordEmulator, Guild
from bot.devtools.ll2_emulator import LL2Emulator
from bot.devtools.pgschema import postgres_schema
from storage import cluster, outbox, queries
from storage.db import make_engine, session_scope
from tests.faults.bot import BotProcess, run_env

POSTGRES = os.environ.get("TMINUS_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES,
    reason="cluster tests need PostgreSQL: set TMINUS_TEST_POSTGRES_URL "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)",
)
LEASE_SECONDS = 1.0
SHARDS = 3


@contextlib.contextmanager
def pg_store() -> Iterator[str]:
    """Yield the URL of a fresh PostgreSQL schema (dropped afterwards)."""
    assert POSTGRES is not None
    with postgres_schema(POSTGRES, prefix="cluster") as url:
        yield url


def shard_of(guild_id: int, count: int = SHARDS) -> int:
    """Return the shard Discord routes a guild to."""
    return (guild_id >> 22) % count


def guilds_over_shards(
    discord: DiscordEmulator, count: int, channels: int, *, shards: int = SHARDS
) -> list[tuple[Guild, list[int]]]:
    """Make ``count`` guilds spread evenly over the shards, each with ``channels`` channels.

    Return each guild with its alert channels' ids. A guild's shard comes from its id's
    millisecond, so guilds are made until every shard has its share; the spare ones get no
    alert channels.
    """
    per_shard = -(-count // shards)
    chosen: list[Guild] = []
    while len(chosen) < count:
        time.sleep(0.002)
        guild = discord.add_guild(f"Guild {len(chosen)}", channels=["general"])
        if sum(shard_of(g.id, shards) == shard_of(guild.id, shards) for g in chosen) < per_shard:
            chosen.append(guild)
    return [
        (g, [discord.add_channel(g.id, f"alerts-{c:02d}").id for c in range(channels)])
        for g in chosen
    ]


def busiest_second(times: list[float]) -> int:
    """Return the most requests in any one-second window (sliding)."""
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


@dataclass
class Fleet:
    """The running processes, by shard id, and what the test needs to reach them."""

    discord: DiscordEmulator
    ll2: LL2Emulator
    db_url: str
    home: Path
    procs: dict[int, BotProcess] = field(default_factory=dict)
    dead: list[BotProcess] = field(default_factory=list)

    def env(self, shard: int) -> dict[str, str]:
        """Return the environment of the process running ``shard``."""
        return run_env(
            discord=self.discord,
            ll2=self.ll2,
            db_url=self.db_url,
            home=self.home,
            extra={
                "TMINUS_DISCORD_SHARD_COUNT": str(SHARDS),
                "TMINUS_DISCORD_SHARD_IDS": str(shard),
                "TMINUS_CLUSTER_LEASE": f"{LEASE_SECONDS:g}s",
                "TMINUS_LOG_LEVEL": "INFO",
            },
        )

    async def start(self, shard: int) -> BotProcess:
        """Start the process for ``shard``."""
        n = len(self.procs) + len(self.dead)
        proc = await BotProcess.start(
            self.env(shard), cwd=self.home, log=self.home / f"bot-{shard}-{n}.log"
        )
        self.procs[shard] = proc
        return proc

    def logs(self) -> str:
        """Return every process's output (for failure messages)."""
        return "\n".join(
            f"--- {p.log.name}\n{p.output()[-2500:]}" for p in [*self.procs.values(), *self.dead]
        )

    def kill(self, shard: int) -> BotProcess:
        """kill -9 the process of ``shard``."""
        proc = self.procs.pop(shard)
        proc.kill()
        self.dead.append(proc)
        return proc

    def shard_of_pid(self, pid: int) -> int | None:
        """Return the shard of the running process with ``pid``."""
        return next((s for s, p in self.procs.items() if p.process.pid == pid), None)


async def until(predicate, within: float, fleet: Fleet | None = None, what: str = "") -> None:  # type: ignore[no-untyped-def]
    """Wait until ``predicate()`` holds, or fail with the processes' logs."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            logs = fleet.logs() if fleet else ""
            raise AssertionError(f"not within {within}s: {what}\n{logs}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def fleet_of(
    discord: DiscordEmulator, ll2: LL2Emulator, db_url: str, home: Path
) -> AsyncIterator[Fleet]:
    """Run one process per shard until the block ends (SIGTERM, then SIGKILL)."""
    fleet = Fleet(discord, ll2, db_url, home)
    try:
        for shard in range(SHARDS):
            await fleet.start(shard)
        await until(
            lambda: discord.connected_shards() == [(s, SHARDS) for s in range(SHARDS)],
            within=40,
            fleet=fleet,
            what="every shard connected",
        )
        yield fleet
    finally:
        for proc in list(fleet.procs.values()):
            with contextlib.suppress(AssertionError):
                await proc.stop()
        for proc in fleet.dead:
            with contextlib.suppress(ProcessLookupError):
                await proc.process.wait()


class Store:
    """Short reads of the shared store for assertions."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def close(self) -> None:
        """Dispose of the engine."""
        self.engine.dispose()

    def events(self) -> int:
        """Return how many events are stored."""
        with session_scope(self.engine) as session:
            return queries.count_events(session=session)

    def pending(self) -> int:
        """Return how many deliveries are pending."""
        from storage.models import DeliveryState

        with session_scope(self.engine) as session:
            return outbox.count_deliveries(session=session, state=DeliveryState.PENDING)

    def poller_pid(self) -> int | None:
        """Return the pid of the live lease holder."""
        with session_scope(self.engine) as session:
            state = cluster.lease_state(session=session, name="poller")
        if not state.live or state.holder is None:
            return None
        return int(state.holder.split(":")[-2])

    def claims_of_pid(self, pid: int) -> list[int]:
        """Return the channels a process holds live claims on."""
        from sqlalchemy import text

        with session_scope(self.engine) as session:
            rows = session.execute(
                text(
                    "SELECT channel_id FROM channel_claims WHERE owner LIKE :o "
                    "AND claimed_until > clock_timestamp()"
                ),
                {"o": f"%:{pid}:%"},
            ).all()
        return [int(r[0]) for r in rows]

    def budget_sent(self) -> int:
        """Return how many LL2 requests the shared hour record holds."""
        with session_scope(self.engine) as session:
            values = queries.load_budget(session=session)
        return 0 if values is None else len(values.sent)
