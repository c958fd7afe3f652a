"""The Discord side of ``tminus run``: the bot object, its endpoints, and its start-up."""

from __future__ import annotations

import gc
import logging
import sys
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands
from sqlalchemy import Engine

from bot.app.cluster import Cluster
from bot.app.metrics import GatewayState, Metrics, MetricsServer
from bot.app.shared_rate import pacer_for
from bot.app.sink import paced
from bot.config import Config, DiscordSettings, Secret, env_name
from bot.core.options import UsageError
from bot.ll2.client import LL2Client
from bot.pipeline.budget_store import stored_budget
from bot.pipeline.lease import LeasePeriodError, is_cluster_store, lease_period
from bot.pipeline.runner import Pipeline, open_store
from bot.pipeline.store_lock import StoreRefused, check_lasting, exclusive_store
from storage.db import StorageError

log = logging.getLogger(__name__)

# Loaded by name in setup_hook (bot/ never imports cogs/): one concern each.
EXTENSIONS: tuple[str, ...] = (
    "cogs.lookups",
    "cogs.launches",
    "cogs.subscriptions",
    "cogs.delivery",
    "cogs.status",
)

DEFAULT_GATEWAY = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


def apply_endpoints(settings: DiscordSettings) -> None:
    """Point discord.py at ``discord.api_url`` and ``discord.gateway_url`` (proxies, tests)."""
    discord.http.Route.BASE = settings.api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = (
        yarl.URL(settings.gateway_url) if settings.gateway_url else DEFAULT_GATEWAY
    )


class TMinusBot(commands.AutoShardedBot):
    """The tminus bot: Guilds intent only, cogs by name, the pipeline in the same loop."""

    def __init__(
        self,
        *,
        config: Config,
        engine: Engine,
        ll2: LL2Client,
        pipeline: Pipeline,
        extensions: tuple[str, ...] = EXTENSIONS,
        start_pipeline: bool = True,
        metrics: Metrics | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # no privileged intents: slash commands need none
        # Counted whether or not metrics.listen serves them: the hooks cost next to nothing.
        self.metrics = metrics or Metrics()
        # Every REST request waits for the pacer as aiohttp starts it: posts, card edits,
        # scheduled events, start-up calls and retries alike. On PostgreSQL the pacer is one
        # row shared by every process of the bot (docs/architecture.md, invariants 3 and 12).
        self.pacer = pacer_for(engine)
        self._heap_settled = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            http_trace=paced(self.metrics.http_trace(), self.pacer),  # paced; counts 429s
            **options,
        )
        self.config = config
        self.engine = engine
        self.ll2 = ll2
        self.pipeline = pipeline
        self.initial_extensions = extensions
        self.start_pipeline = start_pipeline
        self.scheduler: Any = None
        self.commands_synced = False
        self.metrics.watch_ll2(ll2)
        # On PostgreSQL this process is one of a cluster: the poller lease, a heartbeat,
        # channel claims (docs/architecture.md, invariant 12). On SQLite it is the only one
        # (store_lock).
        self.cluster: Cluster | None = (
            Cluster(
                engine,
                pipeline=pipeline,
                shard_count=config.discord.shard_count,
                shard_ids=config.discord.shard_ids,
                shards_up=self.shards_up,
            )
            if start_pipeline and is_cluster_store(engine)
            else None
        )

    async def setup_hook(self) -> None:
        """Load cogs, sync application commands and start the pipeline's jobs."""
        gateway = self.config.discord.gateway_url
        if gateway:
            # AutoShardedBot asks /gateway/bot for its URL; a configured proxy wins.
            original = self.http.get_bot_gateway

            async def get_bot_gateway() -> Any:
                shards, _url, limits = await original()
                return shards, gateway, limits

            self.http.get_bot_gateway = get_bot_gateway  # type: ignore[method-assign]
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        for name in self.initial_extensions:
            try:
                await self.load_extension(name)
            except commands.ExtensionError:
                log.exception("failed to load extension %s", name)
        await self.sync_commands()
        if self.start_pipeline:
            from apscheduler.schedulers.asyncio import AsyncIOScheduler

            if self.cluster is not None:
                self.cluster.start()  # first try for the lease before the first poll
            self.scheduler = AsyncIOScheduler(timezone="UTC")
            self.pipeline.start(self.scheduler)
            self.scheduler.start()

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Answer every failed command: a clear ephemeral line, never a silent nothing."""
        original = getattr(error, "original", error)
        # Errors may quote what the user typed: shown as typed, never as markdown.
        if isinstance(original, UsageError):
            text = f"❌ {discord.utils.escape_markdown(str(original))}"
        elif isinstance(error, app_commands.CheckFailure):
            text = f"❌ {error}"
        elif isinstance(error, app_commands.TransformerError):
            shown = discord.utils.escape_markdown(str(error.value)[:60])
            text = f"❌ '{shown}' is not a valid {error.type.name.lower()} here"
        else:
            log.error(
                "command /%s failed",
                interaction.command.qualified_name if interaction.command else "?",
                exc_info=original,
            )
            text = "❌ Something went wrong on our side; it has been logged."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(
                    text[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )
            else:
                await interaction.response.send_message(
                    text[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )
        except discord.HTTPException:
            log.warning("could not tell the user about a failed command", exc_info=True)

    async def sync_commands(self) -> None:
        """Sync slash commands: instantly to ``dev_guild_ids``, else globally."""
        try:
            guild_ids = self.config.discord.dev_guild_ids
            if guild_ids:
                for guild_id in guild_ids:
                    guild = discord.Object(id=guild_id)
                    self.tree.copy_global_to(guild=guild)
                    synced = await self.tree.sync(guild=guild)
                    log.info("synced %d commands to guild %s", len(synced), guild_id)
            else:
                synced = await self.tree.sync()
                log.info("synced %d global commands", len(synced))
            self.commands_synced = True
        except discord.HTTPException:
            log.exception("could not sync application commands; the old ones stay")

    async def close(self) -> None:
        """Stop the jobs, then disconnect (pending deliveries stay pending)."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.cluster is not None:
            await self.cluster.stop()  # a peer takes the lease over at once
        await super().close()

    def shards_up(self) -> list[int]:
        """Return the ids of this process's shards whose gateway connection is open."""
        return sorted(i for i, shard in self.shards.items() if not shard.is_closed())

    def gateway_state(self) -> GatewayState:
        """Return whether the gateway is ready and how many of this process's shards are up."""
        shards = self.shards
        connected = sum(1 for shard in shards.values() if not shard.is_closed())
        return GatewayState(
            ready=self.is_ready() and not self.is_closed(),
            shards_connected=connected,
            shards_total=len(shards) or (self.shard_count or 0),
        )

    async def on_ready(self) -> None:
        """Log the connection; the first time, set start-up's objects aside from the collector."""
        log.info("connected as %s to %d guild(s)", self.user, len(self.guilds))
        if not self._heap_settled:
            self._heap_settled = True
            settle_heap()


def settle_heap() -> None:
    """Collect start-up's garbage, then leave what start-up built out of every later collection.

    A full collection walks every tracked object: with the modules, discord.py's caches, the
    models and the store's engine alive (a few hundred thousand objects), each one held the
    event loop for 80-180 ms, and one during a fan-out stopped the pacer long enough to cost
    1 % of the rate (docs/benchmarks.md). Frozen objects are still freed by reference
    counting; only their cycles wait for :func:`unsettle_heap`.
    """
    gc.collect()
    gc.freeze()
    log.debug("%d start-up objects set aside from the garbage collector", gc.get_freeze_count())


def unsettle_heap() -> None:
    """Hand the objects :func:`settle_heap` set aside back to the collector (the bot stops).

    A process that runs the bot more than once (the tests do) must not keep every stopped
    bot's cycles.
    """
    gc.unfreeze()


async def run_bot(config: Config) -> int:
    """Run the bot until stopped; return the process exit code."""
    token = config.discord.token
    if not token:
        print(  # noqa: T201
            f"tminus: no Discord bot token: set {env_name('discord', 'token')} "
            "(or discord.token in the config file)",
            file=sys.stderr,
        )
        return 2
    problem = config.discord.shard_problem()
    if problem:
        print(f"tminus: {problem}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        lease_period()
    except LeasePeriodError as exc:
        print(f"tminus: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        check_lasting(config.storage.url)
        with exclusive_store(config.storage.url):
            return await _run(config, token)
    except StoreRefused as exc:
        print(f"tminus: {exc}", file=sys.stderr)  # noqa: T201
        return 2


async def _run(config: Config, token: Secret) -> int:
    try:
        engine = open_store(config.storage.url)
    except StorageError as exc:
        print(f"tminus: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    apply_endpoints(config.discord)
    try:
        async with LL2Client(config.ll2, budget=stored_budget(engine, config.ll2)) as client:
            pipeline = Pipeline(config=config, engine=engine, client=client, sink=None)
            shards: dict[str, Any] = {}
            if config.discord.shard_count is not None:
                # Each process connects only its own shards (docs/architecture.md,
                # invariant 12); discord.py routes
                # the interactions of those shards' guilds to it.
                shards["shard_count"] = config.discord.shard_count
                shards["shard_ids"] = list(config.discord.shard_ids) or None
            bot = TMinusBot(config=config, engine=engine, ll2=client, pipeline=pipeline, **shards)
            async with bot:
                server = None
                if config.metrics.listen is not None:
                    server = MetricsServer(
                        bot.metrics, pipeline=pipeline, gateway=bot.gateway_state
                    )
                    host, port = config.metrics.listen
                    try:
                        await server.start(host, port)
                    except OSError as exc:
                        print(  # noqa: T201
                            f"tminus: cannot serve metrics on {host}:{port} "
                            f"(metrics.listen from {config.origin('metrics', 'listen')}): "
                            f"{exc.strerror or exc}",
                            file=sys.stderr,
                        )
                        return 2
                try:
                    await bot.start(token.get())
                except discord.LoginFailure:
                    print(  # noqa: T201
                        "tminus: Discord rejected the bot token "
                        f"(discord.token from {config.origin('discord', 'token')}); "
                        "check it in the developer portal",
                        file=sys.stderr,
                    )
                    return 2
                except discord.PrivilegedIntentsRequired:
                    print("tminus: Discord refused the gateway intents", file=sys.stderr)  # noqa: T201
                    return 2
                finally:
                    if server is not None:
                        await server.stop()
    finally:
        unsettle_heap()
        engine.dispose()
    return 0
