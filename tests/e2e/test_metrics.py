"""End to end: `tminus run` with ``metrics.listen`` serves /metrics that Prometheus's parser
reads and whose counters move as alerts go out, and /healthz that turns 503 with the reason
when the store stops answering."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from bot.config import Config
from bot.core.timeutil import utcnow
from bot.devtools.discord_emulator import DiscordEmulator
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from bot.devtools.pgschema import postgres_schema
from tests.conftest import POSTGRES_URL
from tests.faults.bot import add_channel_subscriptions, bot_config, eventually, running_bot

pytestmark = pytest.mark.slow

EVENT = 7001
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_metrics(config: Config) -> Config:
    """Return ``config`` serving metrics on a free loopback port."""
    return replace(config, metrics=replace(config.metrics, listen=("127.0.0.1", free_port())))


async def get(config: Config, path: str) -> tuple[int, str]:
    """GET a path of the bot's metrics server; return the status and body."""
    assert config.metrics.listen is not None
    host, port = config.metrics.listen
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{host}:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def until_healthy(config: Config, within: float = 15.0) -> None:
    """Wait for /healthz to say 200 "ok" (start-up waits for READY and the guilds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    answer = await get(config, "/healthz")
    while answer != (200, "ok\n"):
        if loop.time() > deadline:
            raise AssertionError(f"/healthz still says {answer} after {within}s")
        await asyncio.sleep(0.05)
        answer = await get(config, "/healthz")


async def scrape(config: Config) -> Samples:
    """Scrape /metrics and parse it with Prometheus's own text parser."""
    status, text = await get(config, "/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def upcoming_event() -> dict[str, object]:
    """Return an event a few hours out whose webcast is not live yet."""
    now = utcnow().replace(microsecond=0)
    return make_event(
        EVENT,
        "Soyuz MS-29 Docking",
        date=now + timedelta(hours=5),
        last_updated=now - timedelta(days=3),
    )


async def test_metrics_move_as_an_alert_is_delivered_through_a_429(tmp_path: Path) -> None:
    """Seeded, healthy, then a webcast goes live and Discord answers the first post with 429:
    one message, and /metrics counts the LL2 polls, the sent delivery, its latency, the 429."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with (
        LL2Emulator([upcoming_event()], requests_per_hour=None) as ll2,
        DiscordEmulator() as discord,
    ):
        guild = discord.add_guild("Space Club", channels=("launches",))
        channel_id = guild.channel_named("launches").id
        add_channel_subscriptions(db_url, guild.id, [channel_id])
        config = with_metrics(bot_config(ll2, discord, db_url))
        async with running_bot(config, discord):
            await eventually(lambda: any(r.status == 200 for r in ll2.requests))
            await until_healthy(config)
            before = await scrape(config)
            assert before[("tminus_shards_connected", ())] == 1
            assert before[("tminus_leader", ())] == 1
            assert before[("tminus_deliveries_total", (("outcome", "sent"),))] == 0

            discord.rate_limit_next("POST /channels/{channel_id}/messages", retry_after=0.2)
            ll2.set_webcast_live(EVENT, True)
            await eventually(lambda: len(discord.messages(channel_id)) == 1)

            async def delivered() -> Samples:
                # The post is recorded (and counted) just after Discord has it. One scrape
                # counts the pending depth in the store before it reads the counters, so a
                # commit landing in between shows "sent" already and the old depth still:
                # wait for the scrape that has both.
                for _ in range(100):
                    found = await scrape(config)
                    sent = found[("tminus_deliveries_total", (("outcome", "sent"),))]
                    if sent == 1 and found[("tminus_deliveries_pending", ())] == 0:
                        return found
                    await asyncio.sleep(0.05)
                raise AssertionError(f"the sent delivery was never counted: {found}")

            after = await delivered()
            assert discord.counters.total_429 == 1
            assert after[("tminus_discord_429_total", (("scope", "user"),))] == 1
            assert after[("tminus_alert_delivery_seconds_count", ())] == 1
            assert after[("tminus_alert_delivery_seconds_sum", ())] >= 0.2  # waited out the 429
            assert after[("tminus_deliveries_pending", ())] == 0
            ok = (("feed", "events"), ("outcome", "ok"))
            assert after[("tminus_ll2_requests_total", ok)] > before.get(
                ("tminus_ll2_requests_total", ok), 0
            )
            assert after[("tminus_last_sync_timestamp_seconds", (("feed", "events"),))] > 0
            assert after[("tminus_ll2_budget_remaining", ())] > 0
            assert await get(config, "/healthz") == (200, "ok\n")


async def test_a_metrics_port_in_use_stops_start_up_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """metrics.listen on a taken port: exit 2 with one line naming the key."""
    from bot.app.client import run_bot

    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with LL2Emulator([upcoming_event()]) as ll2, DiscordEmulator() as discord:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            config = bot_config(ll2, discord, db_url)
            config = replace(config, metrics=replace(config.metrics, listen=taken.getsockname()))
            assert await run_bot(config) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tminus: cannot serve metrics on 127.0.0.1:")
    assert "metrics.listen" in err and "\n" not in err


# --- the store going away ----------------------------------------------------------------


class TcpRelay:
    """A loopback TCP relay in front of PostgreSQL that a test can cut and restore, as a
    network partition or a stopped server would.

    It runs on threads, not in the test's event loop: the bot talks to its store
    synchronously from that loop, so a relay served by the same loop would deadlock.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Accept connections (on the same port again after a cut)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        if self._listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would leave the
            # kernel socket accepting for as long as that call holds it.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            dropped, self._open = self._open, set()
        for sock in dropped:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.asynccontextmanager
async def relayed_schema(base: str) -> AsyncIterator[tuple[str, TcpRelay]]:
    """Yield a URL of a fresh PostgreSQL schema reached through a :class:`TcpRelay`."""
    with postgres_schema(base) as direct:
        url = make_url(direct)
        relay = TcpRelay((url.host or "127.0.0.1", url.port or 5432))
        relay.start()
        try:
            relayed = url.set(host="127.0.0.1", port=relay.port)
            yield relayed.render_as_string(hide_password=False), relay
        finally:
            relay.cut()


@pytest.mark.skipif(POSTGRES_URL is None, reason="needs TMINUS_TEST_POSTGRES_URL")
async def test_healthz_turns_503_while_the_store_is_unreachable() -> None:
    """PostgreSQL cut off behind its relay: /healthz 503 "store unreachable: …" (and /metrics
    still answers); the relay back: 200 again, with no restart."""
    assert POSTGRES_URL is not None
    async with (
        relayed_schema(POSTGRES_URL) as (db_url, relay),
        LL2Emulator([upcoming_event()], requests_per_hour=None) as ll2,
        DiscordEmulator() as discord,
    ):
        discord.add_guild("Space Club", channels=("launches",))
        config = with_metrics(bot_config(ll2, discord, db_url))
        async with running_bot(config, discord):
            await until_healthy(config)

            relay.cut()
            status, text = await get(config, "/healthz")
            assert status == 503
            assert text.startswith("store unreachable: "), text
            assert "connection" in text.lower(), text  # the driver's own words
            assert len(text.strip().splitlines()) == 1  # the gateway is still up
            status, _ = await get(config, "/metrics")
            assert status == 200

            relay.start()
            await until_healthy(config)  # the pool reconnects: no restart needed
