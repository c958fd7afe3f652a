"""Prometheus metrics and the health check of ``tminus run`` (``[metrics] listen``).

The bot owns a :class:`Metrics` (its own ``CollectorRegistry``, so tests can run several
bots in one process). Counters move from hooks on the real parts: the LL2 client's
``observers`` (one call per HTTP attempt), the delivery worker's ``observers`` (one call per
attempt recorded in the store) and an aiohttp ``TraceConfig`` on discord.py's HTTP session
(every 429 Discord answers, including those discord.py retries on its own). Gauges that
describe state (budget, shards, last sync, pending depth) are read when ``/metrics`` is
scraped. :class:`MetricsServer` serves ``/metrics`` and ``/healthz`` with aiohttp.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import Engine
from sqlmodel import select

from bot.core.timeutil import as_utc
from bot.ll2.client import LL2Client
from bot.pipeline.delivery import OUTCOMES, DeliveryWorker
from bot.pipeline.runner import Pipeline
from storage import outbox
from storage.db import one_line, session_scope
from storage.models import Delivery, DeliveryState, SyncState

log = logging.getLogger(__name__)

T = TypeVar("T")

# Alert-to-channel latency: most alerts go out within a second or two; a fan-out over many
# channels, a retry after a 429 or an outage stretches it to minutes.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# Discord's X-RateLimit-Scope values; anything else is counted as "unknown" so a strange
# header cannot grow the label set without end.
RATE_LIMIT_SCOPES = ("user", "global", "shared")
# How long /healthz and /metrics wait for the store before saying it did not answer.
STORE_TIMEOUT = 2.0


def ll2_feed(url: str) -> str:
    """Return the feed label of an LL2 URL: events, launches, config, throttle or other."""
    path = urlsplit(url).path
    if "/api-throttle/" in path:
        return "throttle"
    if "/config/" in path:
        return "config"
    if "/launch/" in path or "/launches/" in path:
        return "launches"
    if "/event/" in path or "/events/" in path:
        return "events"
    return "other"


@dataclass(frozen=True)
class GatewayState:
    """What the bot's gateway connection looks like right now."""

    ready: bool  # discord.py has seen READY (and the client is not closed)
    shards_connected: int
    shards_total: int


class Metrics:
    """The bot's metrics: one registry, the instruments, and the hooks that move them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ll2_requests = Counter(
            "tminus_ll2_requests",
            "LL2 HTTP requests by feed and outcome "
            "(ok, throttled, http_error, timeout, transport_error, bad_response).",
            ["feed", "outcome"],
            registry=r,
        )
        self.ll2_budget_remaining = Gauge(
            "tminus_ll2_budget_remaining",
            "LL2 requests this process may still send in the rolling hour.",
            registry=r,
        )
        self.last_sync = Gauge(
            "tminus_last_sync_timestamp_seconds",
            "Unix time of the last sync of a feed that ran to the end in this process.",
            ["feed"],
            registry=r,
        )
        self.deliveries = Counter(
            "tminus_deliveries",
            "Delivery attempts by outcome: sent, retried (transient failure), failed "
            "(permanent, or out of attempts), paused (permanent, and paused the subscription).",
            ["outcome"],
            registry=r,
        )
        for outcome in OUTCOMES:
            self.deliveries.labels(outcome)  # every outcome shows, at 0, from the start
        self.pending = Gauge(
            "tminus_deliveries_pending",
            "Deliveries waiting in the outbox (all processes), read when scraped.",
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "tminus_alert_delivery_seconds",
            "Seconds from an alert entering the outbox to its message being sent.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.discord_429 = Counter(
            "tminus_discord_429",
            "HTTP 429 answers from Discord by X-RateLimit-Scope (user, global, shared, unknown).",
            ["scope"],
            registry=r,
        )
        self.leader = Gauge(
            "tminus_leader",
            "1 while this process polls LL2 and runs the reminder tick, else 0.",
            registry=r,
        )
        self.shards_connected = Gauge(
            "tminus_shards_connected",
            "Gateway shards of this process whose connection is open.",
            registry=r,
        )
        self.shards_total = Gauge(
            "tminus_shards",
            "Gateway shards this process runs.",
            registry=r,
        )

    # --- hooks --------------------------------------------------------------------------

    def watch_ll2(self, client: LL2Client) -> None:
        """Count every HTTP attempt the LL2 client makes."""
        client.observers.append(self.ll2_request)

    def watch_worker(self, worker: DeliveryWorker) -> None:
        """Count every delivery attempt the worker records, and time the sent ones."""
        worker.observers.append(self.delivery)

    def ll2_request(self, url: str, outcome: str) -> None:
        """Count one LL2 HTTP attempt."""
        self.ll2_requests.labels(ll2_feed(url), outcome).inc()

    def delivery(self, outcome: str, delivery: Delivery, at: datetime) -> None:
        """Count one delivery attempt; a sent one adds its alert-to-channel latency."""
        self.deliveries.labels(outcome).inc()
        if outcome == "sent":
            latency = (as_utc(at) - as_utc(delivery.created_at)).total_seconds()
            self.delivery_seconds.observe(max(0.0, latency))

    def rate_limited(self, scope: str | None) -> None:
        """Count one 429 from Discord."""
        self.discord_429.labels(scope if scope in RATE_LIMIT_SCOPES else "unknown").inc()

    def http_trace(self) -> aiohttp.TraceConfig:
        """Return a TraceConfig for discord.py's ``http_trace`` that counts Discord's 429s."""
        trace = aiohttp.TraceConfig()

        async def on_request_end(
            _session: aiohttp.ClientSession,
            _context: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            if params.response.status == 429:
                self.rate_limited(params.response.headers.get("X-RateLimit-Scope"))

        trace.on_request_end.append(on_request_end)
        return trace

    def exposition(self) -> bytes:
        """Return the registry in Prometheus text format."""
        return generate_latest(self.registry)


class StoreProbe:
    """Ask the store small questions in a thread, within a deadline, one at a time each.

    A store that hangs (a frozen PostgreSQL, a lost network) must not pile up threads:
    while one question of a kind is still waiting, the next is answered "no answer" at once.
    """

    def __init__(self, engine: Engine, *, timeout: float = STORE_TIMEOUT) -> None:
        self.engine = engine
        self.timeout = timeout
        self._waiting: dict[str, asyncio.Future[object]] = {}

    async def _ask(self, name: str, question: Callable[[], T]) -> T:
        running = self._waiting.get(name)
        if running is not None and not running.done():
            raise TimeoutError
        future: asyncio.Future[T] = asyncio.ensure_future(asyncio.to_thread(question))
        # Read a late failure so asyncio does not report it as never retrieved.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._waiting[name] = future  # type: ignore[assignment]
        return await asyncio.wait_for(asyncio.shield(future), self.timeout)

    def _ping(self) -> None:
        # A real table, not a bare SELECT 1: SQLite answers SELECT 1 without reading the
        # file, and PostgreSQL answers it with the schema gone.
        with self.engine.connect() as connection:
            connection.execute(select(SyncState.feed).limit(1)).all()

    def _pending(self) -> int:
        with session_scope(self.engine) as session:
            return outbox.count_deliveries(session=session, state=DeliveryState.PENDING)

    async def problem(self) -> str | None:
        """Return why the store is unreachable, or None when it answered."""
        try:
            await self._ask("ping", self._ping)
        except TimeoutError:
            return f"store unreachable: no answer within {self.timeout:g}s"
        except Exception as exc:
            return f"store unreachable: {one_line(exc)}"
        return None

    async def pending(self) -> int | None:
        """Return how many deliveries are pending, or None when the store did not say."""
        try:
            return await self._ask("pending", self._pending)
        except Exception as exc:
            log.warning("metrics: could not count pending deliveries: %s", one_line(exc))
            return None


class MetricsServer:
    """Serve ``/metrics`` and ``/healthz`` on ``host:port`` beside the bot, in its loop."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        pipeline: Pipeline,
        gateway: Callable[[], GatewayState],
        probe: StoreProbe | None = None,
    ) -> None:
        self.metrics = metrics
        self.pipeline = pipeline
        self.gateway = gateway
        self.probe = probe or StoreProbe(pipeline.engine)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        """Return the aiohttp application with both routes."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        return app

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0: any free one, then read ``self.port``)."""
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        # Port 0 (tests) asks the OS for a free port: read back which one it gave.
        self.port = int(runner.addresses[0][1]) if runner.addresses else port
        log.info("serving /metrics and /healthz on %s:%s", host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def refresh(self) -> None:
        """Read the state gauges from the bot, the pipeline and the store."""
        m, pipeline = self.metrics, self.pipeline
        m.ll2_budget_remaining.set(pipeline.client.budget.remaining())
        for feed, at in pipeline.last_sync.items():
            m.last_sync.labels(feed).set(as_utc(at).timestamp())
        m.leader.set(1 if pipeline.leader else 0)
        state = self.gateway()
        m.shards_connected.set(state.shards_connected)
        m.shards_total.set(state.shards_total)
        pending = await self.probe.pending()
        # Unknown is not zero: NaN says "the store did not answer" to whoever graphs it.
        m.pending.set(float("nan") if pending is None else pending)

    async def problems(self) -> list[str]:
        """Return why the bot is unhealthy (empty when it is healthy)."""
        found = []
        state = self.gateway()
        if not state.ready:
            found.append("gateway not connected")
        elif state.shards_connected < state.shards_total:
            found.append(
                f"gateway not connected: {state.shards_connected} of {state.shards_total} shards up"
            )
        store = await self.probe.problem()
        if store:
            found.append(store)
        poll = self.pipeline.poll_health()
        if self.pipeline.leader and poll.overdue and poll.next_poll_at is not None:
            found.append(f"LL2 poll overdue: due at {poll.next_poll_at:%Y-%m-%d %H:%M:%S} UTC")
        return found

    async def _metrics(self, _request: web.Request) -> web.Response:
        await self.refresh()
        return web.Response(
            body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _healthz(self, _request: web.Request) -> web.Response:
        found = await self.problems()
        if found:
            return web.Response(status=503, text="\n".join(found) + "\n")
        return web.Response(text="ok\n")
