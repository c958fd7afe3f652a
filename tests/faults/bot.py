"""Run the real bot against the loopback emulators in this event loop.

In-process runs use ``run_bot(config)`` (what `tminus run` runs); subprocess runs use
``python -m bot run`` with only ``TMINUS_…`` environment variables, while both emulators
keep answering from the test's own event loop.
"""

# Test helpers take timeout= so a test reads `await bot.wait(timeout=5)`.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from datetime import timedelta

from bot.app.client import run_bot
from bot.config import Config, Secret, load_config
from bot.core.timeutil import utcnow
from bot.devtools.discord_emulator import DiscordEmulator, pointed_at
from bot.devtools.ll2_emulator import LL2Emulator
from storage import outbox, subscriptions
from storage.db import make_engine, session_scope, upgrade
from storage.models import DeliveryState, Subscription


async def eventually(predicate: Callable[[], bool], within: float = 15.0) -> None:
    """Wait until ``predicate()`` holds (the bot polls and delivers on its own schedule)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)


def bot_config(
    ll2: LL2Emulator,
    discord: DiscordEmulator,
    db_url: str,
    *,
    token: str | None = None,
    api_key: str | None = None,
    log_level: str = "INFO",
) -> Config:
    """Return the config `tminus run` gets: both emulators, a fast budget, a SQLite file."""
    config = load_config(None, env={})
    return replace(
        config,
        discord=replace(
            config.discord,
            token=Secret(token if token is not None else discord.token),
            api_url=discord.api_base,
            gateway_url=discord.gateway_url,
        ),
        ll2=replace(
            config.ll2,
            url=ll2.url("2.2.0"),
            api_key=Secret(api_key) if api_key else None,
            requests_per_hour=3600,  # polls every 2 s: a test need not wait minutes
            min_interval=timedelta(seconds=1),
        ),
        storage=replace(config.storage, url=db_url),
        log=replace(config.log, level=log_level),
    )


@contextlib.asynccontextmanager
async def running_bot(config: Config, discord: DiscordEmulator) -> AsyncIterator[asyncio.Task[int]]:
    """Run ``run_bot(config)`` as a task until the block ends (commands synced first)."""
    with pointed_at(discord):  # restores discord.py's endpoints afterwards
        synced_before = len(discord.requests_to("PUT", "/applications/{application_id}/commands"))
        task = asyncio.create_task(run_bot(config))
        try:
            await eventually(
                lambda: (
                    task.done()
                    or len(discord.requests_to("PUT", "/applications/{application_id}/commands"))
                    > synced_before
                )
            )
            if task.done():
                raise AssertionError(f"tminus run exited early with {task.result()}")
            await eventually(lambda: bool(discord.gateway.live_sessions()))
            yield task
        finally:
            await stop_task(task)


async def stop_task(task: asyncio.Task[int], *, within: float = 30.0) -> None:
    """Cancel the bot's task and wait for it, cancelling again if a cancel was lost.

    Python 3.11's ``asyncio.wait_for`` can swallow a cancellation that lands as its inner
    await completes (fixed in 3.12); discord.py awaits through it, so one cancel may not stop
    the bot. A test then must not hang in teardown.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not task.done():
        if loop.time() > deadline:
            stack = (
                "".join(traceback.format_stack(task.get_stack()[-1])) if task.get_stack() else ""
            )
            raise AssertionError(
                f"the bot did not stop within {within}s of being cancelled; it waits at:\n{stack}"
            )
        task.cancel()
        await asyncio.wait({task}, timeout=5)  # a clean close takes well under that
    with contextlib.suppress(asyncio.CancelledError):
        await task


def add_channel_subscriptions(
    db_url: str,
    guild_id: int,
    channel_ids: list[int],
    *,
    kinds: list[str] | None = None,
    type_ids: list[int] | None = None,
    mention_role_ids: Mapping[int, int] | None = None,
) -> dict[int, int]:
    """Store one subscription per channel (migrating the store first); return channel → id."""
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        ids: dict[int, int] = {}
        with session_scope(engine) as session:
            for channel_id in channel_ids:
                sub = subscriptions.add_subscription(
                    session=session,
                    subscription=Subscription(
                        guild_id=guild_id,
                        channel_id=channel_id,
                        type_ids=list(type_ids or []),
                        kinds=list(kinds or []),
                        reminder_leads=[],
                        mention_role_id=(mention_role_ids or {}).get(channel_id),
                        created_at=utcnow(),
                    ),
                )
                assert sub.id is not None
                ids[channel_id] = sub.id
        return ids
    finally:
        engine.dispose()


def delivery_states(db_url: str) -> dict[str, int]:
    """Return how many deliveries the store holds in each state."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return {
                state.value: outbox.count_deliveries(session=session, state=state)
                for state in DeliveryState
            }
    finally:
        engine.dispose()
