"""A fleet of real `tminus run` processes on one PostgreSQL store, against the loopback emulators.

Used by the cluster tests (``tests/cluster``) and the cluster benchmark
(``benchmarks/cluster.py``): each process is ``python -m bot run`` with only ``TMINUS_…``
environment variables, connecting its share of the gateway shards to the Discord emulator,
while both emulators answer from the caller's own event loop. Never imported by `run` or
`watch`.
"""

# Helpers take within=/timeout= so a caller reads `await until(..., within=20)`.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.core.timeutil import utcnow
from bot.devtools.discord_emulator import DiscordEmulator, Guild, RateLimitModel
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from storage import cluster, outbox, queries, subscriptions
from storage.db import make_engine, session_scope, upgrade
from storage.models import DeliveryState, Subscription

REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 1.0
SHARDS = 3


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


def subscribe_channels(
    db_url: str, guilds: Sequence[tuple[Guild, list[int]]], kinds: list[str]
) -> list[int]:
    """Store one subscription to ``kinds`` per alert channel (migrating first); return the ids."""
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        channel_ids: list[int] = []
        with session_scope(engine) as session:
            for guild, ids in guilds:
                for channel_id in ids:
                    subscriptions.add_subscription(
                        session=session,
                        subscription=Subscription(
                            guild_id=guild.id,
                            channel_id=channel_id,
                            kinds=list(kinds),
                            type_ids=[],
                            reminder_leads=[],
                            created_at=utcnow(),
                        ),
                    )
                    channel_ids.append(channel_id)
        return channel_ids
    finally:
        engine.dispose()


DOCKING = 7401  # the LL2 event the cluster tests and benchmark alert on
MESSAGES = "/channels/{channel_id}/messages"


def docking() -> dict[str, Any]:
    """Return the LL2 event whose webcast goes live (dated five hours ahead)."""
    now = utcnow().replace(microsecond=0)
    return make_event(
        DOCKING,
        "Crew-15 Docking",
        date=now + timedelta(hours=5),
        last_updated=now - timedelta(days=1),
    )


def discord_limits() -> RateLimitModel:
    """Discord's global limit (50/s) and the per-channel message bucket (5 per 5 s)."""
    model = RateLimitModel(global_per_second=50)
    model.set_bucket("POST", MESSAGES, 5, 5.0)
    return model


def busiest_second(times: Sequence[float]) -> int:
    """Return the most requests in any one-second window (sliding)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- `tminus run` as a subprocess -------------------------------------------------------------


def run_env(
    *,
    discord: DiscordEmulator,
    ll2: LL2Emulator,
    db_url: str,
    home: Path,
    token: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the environment of a `tminus run` pointed at both emulators (no config file)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMINUS_DISCORD_TOKEN": token if token is not None else discord.token,
        "TMINUS_DISCORD_API_URL": discord.api_base,
        "TMINUS_DISCORD_GATEWAY_URL": discord.gateway_url,
        "TMINUS_LL2_URL": ll2.url("2.2.0"),
        "TMINUS_LL2_REQUESTS_PER_HOUR": "3600",
        "TMINUS_LL2_MIN_INTERVAL": "1s",
        "TMINUS_STORAGE_URL": db_url,
    }
    env.update(extra or {})
    return env


# The bot runs a little "nicer" than the emulators beside it. They stand for Discord's and
# LL2's servers, which never share a CPU with the bot: on a busy 2-core machine a starved
# emulator stamps requests late, in bunches, and its rate windows (Discord's 50/s) count
# bursts the bot never sent.
BOT_NICENESS = 5


def yield_cpu(pid: int) -> None:
    """Run process ``pid`` at :data:`BOT_NICENESS` (best effort)."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, BOT_NICENESS)


@dataclass
class BotProcess:
    """One `python -m bot run` child; its stdout and stderr go to a log file."""

    process: asyncio.subprocess.Process
    log: Path

    @classmethod
    async def start(
        cls, env: Mapping[str, str], *, cwd: Path, log: Path, args: tuple[str, ...] = ()
    ) -> BotProcess:
        """Start `python -m bot run` (plus ``args``) with exactly ``env``."""
        with log.open("ab") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                *args,
                cwd=cwd,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
        yield_cpu(process.pid)
        return cls(process, log)

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while it runs."""
        return self.process.returncode

    def output(self) -> str:
        """Return everything the child wrote so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """Send SIGKILL: no handler, no cleanup, no flush."""
        self.process.send_signal(signal.SIGKILL)

    async def wait(self, timeout: float = 30) -> int:
        """Wait for the child to exit; return its status."""
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self, timeout: float = 15) -> int:
        """Ask the child to stop (SIGTERM) and wait; SIGKILL it if it hangs."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await self.wait(timeout)
        except TimeoutError:
            self.kill()
            await self.process.wait()
            raise AssertionError(f"tminus run ignored SIGTERM:\n{self.output()[-3000:]}") from None


# --- the fleet --------------------------------------------------------------------------------


@dataclass
class Fleet:
    """The running processes, by slot, and what a caller needs to reach them.

    Slot ``i`` of ``processes`` connects the shards ``s`` with ``s % processes == i``; with
    one process per shard (the default) a slot is its shard's id. With ``metrics`` each slot
    also serves ``/metrics`` on a port of its own (``metrics_ports``).
    """

    discord: DiscordEmulator
    ll2: LL2Emulator
    db_url: str
    home: Path
    shards: int = SHARDS
    processes: int = SHARDS
    lease: float = LEASE_SECONDS
    metrics: bool = False
    procs: dict[int, BotProcess] = field(default_factory=dict)
    dead: list[BotProcess] = field(default_factory=list)
    metrics_ports: dict[int, int] = field(default_factory=dict)

    def shards_of(self, slot: int) -> list[int]:
        """Return the shard ids the process in ``slot`` connects."""
        return [s for s in range(self.shards) if s % self.processes == slot]

    def env(self, slot: int) -> dict[str, str]:
        """Return the environment of the process in ``slot``."""
        extra = {
            "TMINUS_DISCORD_SHARD_COUNT": str(self.shards),
            "TMINUS_DISCORD_SHARD_IDS": ",".join(map(str, self.shards_of(slot))),
            "TMINUS_CLUSTER_LEASE": f"{self.lease:g}s",
            "TMINUS_LOG_LEVEL": "INFO",
        }
        if self.metrics:
            port = self.metrics_ports.setdefault(slot, free_port())
            extra["TMINUS_METRICS_LISTEN"] = f"127.0.0.1:{port}"
        return run_env(
            discord=self.discord, ll2=self.ll2, db_url=self.db_url, home=self.home, extra=extra
        )

    async def start(self, slot: int) -> BotProcess:
        """Start the process for ``slot`` (a shard's id with one process per shard)."""
        n = len(self.procs) + len(self.dead)
        proc = await BotProcess.start(
            self.env(slot), cwd=self.home, log=self.home / f"bot-{slot}-{n}.log"
        )
        self.procs[slot] = proc
        return proc

    def logs(self) -> str:
        """Return every process's output (for failure messages)."""
        return "\n".join(
            f"--- {p.log.name}\n{p.output()[-2500:]}" for p in [*self.procs.values(), *self.dead]
        )

    def kill(self, slot: int) -> BotProcess:
        """kill -9 the process of ``slot``."""
        proc = self.procs.pop(slot)
        proc.kill()
        self.dead.append(proc)
        return proc

    def shard_of_pid(self, pid: int) -> int | None:
        """Return the slot of the running process with ``pid``."""
        return next((s for s, p in self.procs.items() if p.process.pid == pid), None)

    async def scrape(self, slot: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Return the process's ``/metrics`` samples: (name, sorted labels) -> value."""
        import aiohttp
        from prometheus_client.parser import text_string_to_metric_families

        url = f"http://127.0.0.1:{self.metrics_ports[slot]}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            body = await response.text()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
        }


async def until(
    predicate: Callable[[], bool], within: float, fleet: Fleet | None = None, what: str = ""
) -> None:
    """Wait until ``predicate()`` holds, or raise AssertionError with the processes' logs."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            logs = fleet.logs() if fleet else ""
            raise AssertionError(f"not within {within}s: {what}\n{logs}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def fleet_of(
    discord: DiscordEmulator,
    ll2: LL2Emulator,
    db_url: str,
    home: Path,
    *,
    shards: int = SHARDS,
    processes: int = SHARDS,
    lease: float = LEASE_SECONDS,
    metrics: bool = False,
    ready_within: float = 40,
) -> AsyncIterator[Fleet]:
    """Run ``processes`` processes over ``shards`` shards until the block ends.

    The block starts once every shard is connected; on exit each process gets SIGTERM, then
    SIGKILL if it hangs.
    """
    fleet = Fleet(discord, ll2, db_url, home, shards, processes, lease, metrics)
    try:
        for slot in range(processes):
            await fleet.start(slot)
        await until(
            lambda: discord.connected_shards() == [(s, shards) for s in range(shards)],
            within=ready_within,
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
    """Short reads of the shared store (for assertions and figures)."""

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
        return self.deliveries(DeliveryState.PENDING)

    def deliveries(self, state: DeliveryState) -> int:
        """Return how many deliveries are in ``state``."""
        with session_scope(self.engine) as session:
            return outbox.count_deliveries(session=session, state=state)

    def poller_pid(self) -> int | None:
        """Return the pid of the live lease holder."""
        with session_scope(self.engine) as session:
            state = cluster.lease_state(session=session, name="poller")
        if not state.live or state.holder is None:
            return None
        return int(state.holder.split(":")[-2])

    def claims_of_pid(self, pid: int) -> list[int]:
        """Return the channels a process holds live claims on."""
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


def scraped_value(
    samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float],
    name: str,
    **labels: str,
) -> float:
    """Return one sample of a ``Fleet.scrape`` answer (0 when absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
