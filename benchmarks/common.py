"""What every benchmark shares: figures, the machine, stores, and `tminus run` as a child."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import logging
import multiprocessing
import os
import platform
import sqlite3
import sys
import threading
import time
import urllib.request
import uuid
import warnings
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from bot.config import load_config
from bot.devtools.cluster import yield_cpu
from bot.devtools.ll2_emulator import LL2Emulator, render_event
from bot.ll2.parse import parse_items
from bot.pipeline.sync import Syncer
from storage import queries
from storage.db import normalise_url, session_scope
from storage.models import Subscription

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAGE = 100  # LL2's largest page
ROOT = Path(__file__).resolve().parent.parent


# --- figures ----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured figure, what it is measured against, and whether it meets its target.

    ``ratio`` is ``value / ceiling``. ``goal`` says which way is good: ``"min"`` (the ratio
    must reach ``target``), ``"max"`` (it must stay at or under ``target``), ``"under"``
    (strictly under) or ``None`` (reported only).
    """

    bench: str
    label: str
    value: float
    unit: str
    ceiling: float | None = None
    ceiling_label: str = ""
    goal: str | None = None
    target: float | None = None
    note: str = ""
    ok_override: bool | None = None

    @property
    def ratio(self) -> float | None:
        """Return value / ceiling (None without a ceiling)."""
        if self.ceiling in (None, 0):
            return None
        return self.value / self.ceiling  # type: ignore[operator]

    @property
    def status(self) -> str:
        """Return PASS, MISS or info."""
        if self.ok_override is not None:
            return "PASS" if self.ok_override else "MISS"
        ratio = self.ratio
        if self.goal is None or ratio is None or self.target is None:
            return "info"
        if self.goal == "min":
            ok = ratio >= self.target
        elif self.goal == "under":
            ok = ratio < self.target
        else:
            ok = ratio <= self.target
        return "PASS" if ok else "MISS"

    def target_text(self) -> str:
        """Return the target as text, e.g. ``>= 0.90``."""
        if self.goal is None or self.target is None:
            return ""
        sign = {"min": ">=", "max": "<=", "under": "<"}[self.goal]
        return f"{sign} {self.target:g}"


def fmt(value: float, unit: str) -> str:
    """Format a figure for a table."""
    if unit in ("", "count", "requests", "messages", "channels") or abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def print_figure(fig: Figure) -> None:
    """Print one figure as a line."""
    ratio = f"{fig.ratio:.2f}" if fig.ratio is not None else "-"
    ceiling = fig.ceiling_label or "-"
    target = fig.target_text()
    print(
        f"  {fig.label:<44} {fmt(fig.value, fig.unit):>14}  vs {ceiling:<34} "
        f"ratio {ratio:>6} {target:>8}  {fig.status}"
    )
    if fig.note:
        print(f"      {fig.note}")


def markdown_table(figures: Sequence[Figure]) -> str:
    """Return the figures as a Markdown table (for docs/benchmarks.md)."""
    lines = [
        "| benchmark | figure | value | ceiling / reference | ratio | target | result |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for fig in figures:
        ratio = f"{fig.ratio:.2f}" if fig.ratio is not None else "–"
        lines.append(
            f"| {fig.bench} | {fig.label} | {fmt(fig.value, fig.unit)} | "
            f"{fig.ceiling_label or '–'} | {ratio} | {fig.target_text() or '–'} | {fig.status} |"
        )
    return "\n".join(lines)


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --- the machine ------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """Describe the machine the figures come from."""
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


# --- stores -----------------------------------------------------------------------------------


def postgres_base_url() -> str | None:
    """Return a reachable PostgreSQL URL (TMINUS_TEST_POSTGRES_URL or the local default)."""
    url = normalise_url(os.environ.get("TMINUS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return None
    finally:
        engine.dispose()
    return url


def ll2_json(events: Iterable[dict[str, Any]], base: str = "http://127.0.0.1") -> list[dict]:
    """Render emulator events as LL2 2.2.0 serves them."""
    return [render_event(e, "2.2.0", base=base) for e in events]


def syncer(engine: Engine) -> Syncer:
    """Return a Syncer for storing pages directly (no LL2 client needed)."""
    config = load_config(None, env={})
    return Syncer(client=None, engine=engine, alerts=config.alerts)  # type: ignore[arg-type]


def store_events(engine: Engine, raw_events: Sequence[dict[str, Any]], *, seeding: bool) -> int:
    """Store LL2 JSON events page by page through Syncer.apply_events; return deliveries."""
    sync = syncer(engine)
    enqueued = 0
    for start in range(0, len(raw_events), PAGE):
        parsed, rejected = parse_items(list(raw_events[start : start + PAGE]))
        if rejected:
            raise RuntimeError(f"synthetic events rejected: {rejected[:1]}")
        enqueued += sync.apply_events(
            [e for e, _ in parsed], {e.id: r for e, r in parsed}, seeding=seeding
        )
    return enqueued


def mark_seeded(engine: Engine, *, watermark: datetime, now: datetime) -> None:
    """Record a finished seeding sync, so a starting bot polls changes instead of seeding."""
    with session_scope(engine) as session:
        state = queries.sync_state(session=session)
        state.seeded = True
        state.watermark = watermark
        state.last_success_at = now
        state.last_upcoming_refresh_at = now
        state.last_types_refresh_at = now
        session.add(state)


def add_subscriptions(engine: Engine, subs: Iterable[Subscription]) -> int:
    """Insert subscriptions in one transaction; return how many."""
    items = list(subs)
    with session_scope(engine) as session:
        session.add_all(items)
    return len(items)


# --- an LL2 emulator on its own thread ---------------------------------------------------------


class ThreadedLL2:
    """Run an LL2Emulator on its own event loop in a thread, so its CPU is not ours.

    ``time.thread_time()`` on the caller's thread then counts the client side only.
    """

    def __init__(self, emulator: LL2Emulator) -> None:
        self.emulator = emulator
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> LL2Emulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.emulator.start(), self.loop).result(10)
        return self.emulator

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.emulator.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a mutation on the emulator's loop thread and return its result."""

        async def run() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)


class ProcessLL2:
    """Run an LL2Emulator of ``events`` in a child process, as LL2 runs on another machine.

    On a thread of the benchmark's process (:class:`ThreadedLL2`), an emulator filtering
    10,000 events for each request holds the GIL while the bot's thread waits for its answer,
    and the bot's thread then pays for the switches back in its own CPU time. A child process
    keeps the bot's figure to the bot's work. Requests are counted through the emulator's
    control API (``GET /_control/requests``), outside any timed span.
    """

    def __init__(self, events: list[dict[str, Any]]) -> None:
        context = multiprocessing.get_context("spawn")
        self._parent, child = context.Pipe()
        self._process = context.Process(target=_serve_ll2, args=(events, child), daemon=True)
        self.base_url = ""

    def __enter__(self) -> ProcessLL2:
        self._process.start()
        if not self._parent.poll(120):
            self._process.kill()
            raise RuntimeError("the LL2 emulator process did not start")
        self.base_url = self._parent.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._parent.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    def url(self, version: str = "2.2.0") -> str:
        """Return the API root for ``version``."""
        return f"{self.base_url}/{version}"

    def request_count(self) -> int:
        """Return how many API requests the emulator has answered."""
        with urllib.request.urlopen(f"{self.base_url}/_control/requests", timeout=10) as reply:  # noqa: S310 (loopback)
            return len(json.load(reply))


def _serve_ll2(events: list[dict[str, Any]], pipe: Any) -> None:
    """Serve ``events`` until ``pipe`` says stop (the child of :class:`ProcessLL2`)."""

    async def serve() -> None:
        async with LL2Emulator(events, requests_per_hour=None) as emulator:
            pipe.send(emulator.base_url)
            await asyncio.to_thread(pipe.recv)

    asyncio.run(serve())


# --- `tminus run` as a child process ----------------------------------------------------------


@dataclass
class BotProcess:
    """A running `tminus run` child: its process, log file and memory readings."""

    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        """The child's pid."""
        return self.process.pid

    def log_text(self) -> str:
        """Return what the bot logged so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def status_kib(self, key: str) -> int | None:
        """Return a /proc/<pid>/status value in KiB (VmRSS, VmHWM), or None."""
        with contextlib.suppress(OSError), open(f"/proc/{self.pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return None


def settle_emulators() -> None:
    """Collect and freeze this process's objects before a measured phase.

    The emulators run here and stand for Discord's and LL2's servers. A full collection over
    everything they recorded so far (every request, with its JSON) stalled their event loop
    for 120-170 ms in the middle of a fan-out; the requests that queued meanwhile were then
    stamped together, and the emulator's one-second window counted a burst the bot never
    sent. Frozen objects are not scanned again.
    """
    gc.collect()
    gc.freeze()


def bot_command() -> list[str]:
    """Return the command that starts `tminus run` (the console script's entry point)."""
    return [sys.executable, "-m", "bot", "run"]


def bot_env(
    *, discord: Any, ll2_url: str, db_url: str, requests_per_hour: int, min_interval: str
) -> dict[str, str]:
    """Return the environment `tminus run` gets: no config file, everything from TMINUS_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMINUS_")}
    env.update(
        TMINUS_DISCORD_TOKEN=discord.token,
        TMINUS_DISCORD_API_URL=discord.api_base,
        TMINUS_DISCORD_GATEWAY_URL=discord.gateway_url,
        TMINUS_LL2_URL=ll2_url,
        TMINUS_LL2_REQUESTS_PER_HOUR=str(requests_per_hour),
        TMINUS_LL2_MIN_INTERVAL=min_interval,
        TMINUS_STORAGE_URL=db_url,
        TMINUS_LOG_LEVEL="INFO",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    return env


def open_log(path: Path) -> Any:
    """Open the child's log file (stdout and stderr both go there)."""
    return open(path, "wb")  # noqa: SIM115 - handed to the child, closed by the caller


@contextlib.asynccontextmanager
async def tminus_run(
    *,
    discord: Any,
    ll2_url: str,
    db_url: str,
    workdir: Path,
    requests_per_hour: int = 3600,
    min_interval: str = "1s",
    ready_timeout: float = 60.0,
) -> AsyncIterator[BotProcess]:
    """Start `tminus run` against the emulators; yield once it is connected; stop it after."""
    env = bot_env(
        discord=discord,
        ll2_url=ll2_url,
        db_url=db_url,
        requests_per_hour=requests_per_hour,
        min_interval=min_interval,
    )
    log_path = workdir / f"tminus-run-{uuid.uuid4().hex[:6]}.log"
    log_file = open_log(log_path)
    try:
        process = await asyncio.create_subprocess_exec(
            *bot_command(),
            cwd=workdir,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
        )
        yield_cpu(process.pid)  # the emulators stand for servers that do not share our CPU
    finally:
        log_file.close()
    bot = BotProcess(process, log_path)
    try:
        deadline = time.monotonic() + ready_timeout
        while "connected as" not in bot.log_text():
            if process.returncode is not None:
                raise RuntimeError(f"tminus run exited early:\n{bot.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"tminus run not ready in time:\n{bot.log_text()[-3000:]}")
            await asyncio.sleep(0.05)
        yield bot
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def wait_for(predicate: Any, within: float, step: float = 0.01) -> bool:
    """Wait until ``predicate()`` holds; return whether it did within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


# --- one benchmark in a process of its own ----------------------------------------------------


def quiet_logging() -> None:
    """Log warnings only, and errors only from the bot's and the libraries' loggers."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("discord", "bot", "cogs", "storage", "aiohttp", "httpx", "tests"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def run_benchmark(module_name: str, quick: bool, workdir: Path) -> list[Figure]:
    """Run one benchmark module's ``run``: in the process ``python3 -m benchmarks`` starts."""
    quiet_logging()
    module = importlib.import_module(module_name)
    return list(asyncio.run(module.run(quick=quick, workdir=workdir)))
