"""The bot's metrics: what the real delivery worker, LL2 client and aiohttp trace count, and
what ``/metrics`` and ``/healthz`` answer, on a real store behind a real aiohttp server."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from bot.app.metrics import GatewayState, Metrics, MetricsServer, ll2_feed
from bot.config import ConfigError, load_config
from bot.core.schedule import PollPlan
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock, LL2Emulator
from bot.ll2.client import LL2Client
from bot.pipeline.delivery import (
    ConsoleSink,
    DeliveryWorker,
    PermanentSinkError,
    TransientSinkError,
)
from bot.pipeline.runner import Pipeline
from bot.pipeline.sync import Syncer
from storage import subscriptions
from storage.db import make_engine, session_scope
from storage.models import Delivery, Subscription
from tests.conftest import T0

HOUR = timedelta(hours=1)
EVENT = 7001
SENT_CHANNEL, FLAKY_CHANNEL, GONE_CHANNEL, BAD_CHANNEL = 10, 11, 12, 13


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse the registry's exposition with Prometheus's own parser: (name, labels) → value."""
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@dataclass
class ChannelSink:
    """Deliver like Discord would for four channels: one takes the post (printed by the real
    console sink), one is rate limited, one is gone (pauses), one refuses the payload."""

    console: ConsoleSink

    async def send(self, delivery: Delivery, subscription: Subscription) -> int | None:
        """Post, or fail the way the channel is set up to."""
        if delivery.channel_id == FLAKY_CHANNEL:
            raise TransientSinkError("rate limited by Discord", retry_after=5.0)
        if delivery.channel_id == GONE_CHANNEL:
            raise PermanentSinkError("404 10003", pause_reason="channel no longer exists")
        if delivery.channel_id == BAD_CHANNEL:
            raise PermanentSinkError("Discord 400 50035: Invalid Form Body")
        return await self.console.send(delivery, subscription)


@dataclass
class World:
    """A seeded store, the LL2 emulator behind a real client, and a pipeline around them."""

    emulator: LL2Emulator
    engine: Engine
    clock: FakeClock
    client: LL2Client
    syncer: Syncer
    pipeline: Pipeline

    def subscribe(self, channel: int) -> None:
        """Store a subscription of ``channel`` to every alert."""
        with session_scope(self.engine) as session:
            subscriptions.add_subscription(
                session=session,
                subscription=Subscription(guild_id=1, channel_id=channel, created_at=self.clock()),
            )

    async def go_live(self) -> None:
        """Flip the event's webcast live in LL2 and poll the change (one alert per channel)."""
        self.clock.advance(minutes=1)
        self.emulator.set_webcast_live(EVENT, True)
        self.clock.advance(seconds=5)
        await self.pipeline.poll()


@pytest.fixture
async def world(engine: Engine, clock: FakeClock) -> AsyncIterator[World]:
    """Yield a seeded store with one upcoming event whose webcast is not live yet."""
    event = make_event(EVENT, "Crew-13 Docking", date=T0 + 3 * HOUR, last_updated=T0 - 24 * HOUR)
    async with LL2Emulator([event], clock=clock, requests_per_hour=1000) as emulator:
        config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url("2.2.0")})
        async with LL2Client(config.ll2, clock=clock) as client:
            pipeline = Pipeline(config=config, engine=engine, client=client, sink=None, clock=clock)
            await pipeline.syncer.seed()
            yield World(emulator, engine, clock, client, pipeline.syncer, pipeline)


async def test_the_delivery_worker_counts_each_outcome_and_times_the_sent_one(
    world: World,
) -> None:
    """Four channels, one alert: sent, retried, paused and failed each count once; the sent
    one's latency is the time from the outbox to the post."""
    metrics = Metrics()
    for channel in (SENT_CHANNEL, FLAKY_CHANNEL, GONE_CHANNEL, BAD_CHANNEL):
        world.subscribe(channel)
    await world.go_live()
    printed = io.StringIO()
    worker = DeliveryWorker(
        world.engine, ChannelSink(ConsoleSink(stream=printed)), clock=world.clock
    )
    metrics.watch_worker(worker)
    before = samples(metrics)
    assert before[("tminus_deliveries_total", (("outcome", "sent"),))] == 0
    world.clock.advance(seconds=3)  # the alert waits 3 s in the outbox

    report = await worker.drain()

    assert (report.sent, report.retried, report.failed, report.paused) == (1, 1, 2, 1)
    assert "Crew-13 Docking" in printed.getvalue()
    after = samples(metrics)
    for outcome in ("sent", "retried", "paused", "failed"):
        assert after[("tminus_deliveries_total", (("outcome", outcome),))] == 1, outcome
    assert after[("tminus_alert_delivery_seconds_count", ())] == 1
    assert after[("tminus_alert_delivery_seconds_sum", ())] == pytest.approx(3.0)
    assert after[("tminus_alert_delivery_seconds_bucket", (("le", "2.5"),))] == 0
    assert after[("tminus_alert_delivery_seconds_bucket", (("le", "5.0"),))] == 1


async def test_ll2_requests_are_counted_by_feed_and_outcome(world: World) -> None:
    """Every HTTP attempt of the real client counts once: a throttled one as throttled."""
    metrics = Metrics()
    metrics.watch_ll2(world.client)
    world.emulator.clear_requests()  # the seed's requests were sent before watching
    await world.go_live()
    counted = samples(metrics)
    answered = [ll2_feed(r.path) for r in world.emulator.requests if r.status == 200]
    assert "events" in answered
    for feed in set(answered):
        ok = counted[("tminus_ll2_requests_total", (("feed", feed), ("outcome", "ok")))]
        assert ok == answered.count(feed), feed

    world.emulator.inject_fault("throttle", path="/event/", retry_after=1)
    world.clock.advance(minutes=1)
    await world.pipeline.poll()
    counted = samples(metrics)
    throttled = (("feed", "events"), ("outcome", "throttled"))
    assert counted[("tminus_ll2_requests_total", throttled)] == 1


def test_feed_labels_follow_the_path_of_both_api_versions() -> None:
    """2.2.0's singular and 2.3.0's plural paths give the same feed label."""
    base = "https://ll.thespacedevs.com"
    assert ll2_feed(f"{base}/2.2.0/event/?limit=1") == "events"
    assert ll2_feed(f"{base}/2.3.0/events/upcoming/") == "events"
    assert ll2_feed(f"{base}/2.2.0/launch/upcoming/") == "launches"
    assert ll2_feed(f"{base}/2.3.0/launches/") == "launches"
    assert ll2_feed(f"{base}/2.2.0/config/eventtype/") == "config"
    assert ll2_feed(f"{base}/2.2.0/api-throttle/") == "throttle"
    assert ll2_feed(f"{base}/2.2.0/agencies/") == "other"


async def test_the_http_trace_counts_429s_by_scope() -> None:
    """A 429 answered to an aiohttp session traced like discord.py's counts by its scope."""
    metrics = Metrics()
    answers = iter(
        [
            (429, {"X-RateLimit-Scope": "user"}),
            (429, {"X-RateLimit-Scope": "global", "X-RateLimit-Global": "true"}),
            (429, {"X-RateLimit-Scope": "made-up"}),
            (200, {}),
        ]
    )

    async def handler(_request: web.Request) -> web.Response:
        status, headers = next(answers)
        return web.json_response({"retry_after": 0.01}, status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/channels/1/messages", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession(trace_configs=[metrics.http_trace()]) as session:
            for _ in range(4):
                async with session.post(f"http://127.0.0.1:{port}/channels/1/messages") as r:
                    await r.read()
    finally:
        await runner.cleanup()
    counted = samples(metrics)
    for scope in ("user", "global", "unknown"):
        assert counted[("tminus_discord_429_total", (("scope", scope),))] == 1, scope
    assert ("tminus_discord_429_total", (("scope", "made-up"),)) not in counted


def test_each_bot_has_its_own_registry() -> None:
    """Two Metrics in one process neither clash nor share counts (tests run several bots)."""
    first, second = Metrics(), Metrics()
    first.rate_limited("user")
    assert samples(first)[("tminus_discord_429_total", (("scope", "user"),))] == 1
    assert ("tminus_discord_429_total", (("scope", "user"),)) not in samples(second)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9108", ("127.0.0.1", 9108)), ("[::1]:80", ("::1", 80)), ("", None)],
)
def test_metrics_listen_reads_host_and_port(text: str, expected: object) -> None:
    """metrics.listen is "host:port" (IPv6 in brackets); empty turns the server off."""
    config = load_config(None, env={"TMINUS_METRICS_LISTEN": text})
    assert config.metrics.listen == expected


@pytest.mark.parametrize("text", ["9108", ":9108", "localhost", "host:0", "host:70000", "a b:1"])
def test_metrics_listen_refuses_what_is_not_host_and_port(text: str) -> None:
    """A listen value without a host or with a bad port stops start-up with one line."""
    with pytest.raises(ConfigError) as caught:
        load_config(None, env={"TMINUS_METRICS_LISTEN": text})
    assert str(caught.value).startswith('metrics.listen must be "host:port"')
    assert "(TMINUS_METRICS_LISTEN)" in str(caught.value)


# --- the server ----------------------------------------------------------------------------


@dataclass
class Served:
    """A metrics server on a free loopback port, and how to ask it."""

    server: MetricsServer
    gateway: list[GatewayState]

    async def get(self, path: str) -> tuple[int, str]:
        """GET a path; return the status and body."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.server.port}{path}") as response,
        ):
            return response.status, await response.text()


@pytest.fixture
async def served(world: World) -> AsyncIterator[Served]:
    """Serve the world's pipeline with a gateway state the test sets."""
    gateway = [GatewayState(ready=True, shards_connected=1, shards_total=1)]
    metrics = Metrics()
    metrics.watch_ll2(world.client)
    server = MetricsServer(metrics, pipeline=world.pipeline, gateway=lambda: gateway[0])
    await server.start("127.0.0.1", 0)
    try:
        yield Served(server, gateway)
    finally:
        await server.stop()


async def test_metrics_parse_and_show_state_read_when_scraped(world: World, served: Served) -> None:
    """/metrics is Prometheus text with HELP; pending depth, budget, last sync, leader and
    shards are read at scrape time."""
    world.subscribe(SENT_CHANNEL)
    await world.go_live()  # one pending delivery, a successful sync
    status, text = await served.get("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "tminus_ll2_requests",
        "tminus_ll2_budget_remaining",
        "tminus_last_sync_timestamp_seconds",
        "tminus_deliveries",
        "tminus_deliveries_pending",
        "tminus_alert_delivery_seconds",
        "tminus_discord_429",
        "tminus_leader",
        "tminus_shards_connected",
    ):
        assert name in families, name
        assert families[name].documentation, f"{name} has no HELP"
    value = {s.name: s for f in families.values() for s in f.samples}
    assert value["tminus_deliveries_pending"].value == 1
    assert value["tminus_leader"].value == 1
    assert value["tminus_shards_connected"].value == 1
    assert value["tminus_ll2_budget_remaining"].value == world.client.budget.remaining()
    # One sample per feed (events and launches poll under one budget).
    synced = {
        s.labels["feed"]: s.value
        for f in families.values()
        for s in f.samples
        if s.name == "tminus_last_sync_timestamp_seconds"
    }
    assert synced["events"] == world.clock().timestamp()


async def test_healthz_is_ok_while_gateway_store_and_polls_are(served: Served) -> None:
    """All well: 200 "ok"."""
    assert await served.get("/healthz") == (200, "ok\n")


async def test_healthz_names_a_gateway_that_is_down(served: Served) -> None:
    """Not ready, or a shard down: 503 saying so."""
    served.gateway[0] = GatewayState(ready=False, shards_connected=0, shards_total=0)
    assert await served.get("/healthz") == (503, "gateway not connected\n")
    served.gateway[0] = GatewayState(ready=True, shards_connected=1, shards_total=2)
    assert await served.get("/healthz") == (503, "gateway not connected: 1 of 2 shards up\n")


async def test_healthz_names_an_overdue_poll(world: World, served: Served) -> None:
    """A planned poll well past its time (and past the grace) makes /healthz 503."""
    world.pipeline.next_plan = PollPlan(at=world.clock() - timedelta(minutes=5), reason="test")
    status, text = await served.get("/healthz")
    assert status == 503
    assert text.startswith("LL2 poll overdue: due at ")
    world.pipeline.leader = False  # a process that does not poll is not late
    assert await served.get("/healthz") == (200, "ok\n")


async def test_healthz_names_a_store_that_does_not_answer(world: World, tmp_path: Path) -> None:
    """A store without the bot's tables (a wrong or emptied database) is 503 with the cause;
    /metrics still answers, with pending depth unknown."""
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    metrics = Metrics()
    gateway = GatewayState(ready=True, shards_connected=1, shards_total=1)
    world.pipeline.engine = empty
    server = MetricsServer(metrics, pipeline=world.pipeline, gateway=lambda: gateway)
    await server.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{server.port}"
            async with session.get(f"{base}/healthz") as response:
                assert response.status == 503
                assert (await response.text()).startswith("store unreachable: no such table")
            async with session.get(f"{base}/metrics") as response:
                assert response.status == 200
                text = await response.text()
        (pending,) = [
            s
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "tminus_deliveries_pending"
        ]
        assert pending.value != pending.value  # NaN: unknown, not zero
    finally:
        await server.stop()
        empty.dispose()
