"""The Discord side of scheduled events: REST calls through discord.py, paced like posts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.pipeline.scheduled_events import (
    ScheduledEventFinished,
    ScheduledEventMirror,
    ScheduledEventRefused,
)

if TYPE_CHECKING:
    from bot.app.client import TMinusBot

log = logging.getLogger(__name__)

EVERY = 30.0  # seconds between passes (each costs one list request per mirrored guild)
UNKNOWN_EVENT = 10070
FINISHED_EVENT = 180000


def _mapped(exc: discord.HTTPException) -> Exception:
    """Map Discord's answer to the mirror's errors (others are raised as they are)."""
    if isinstance(exc, discord.Forbidden):
        return ScheduledEventRefused(f"403 {exc.code}: {exc.text}")
    if exc.code in (UNKNOWN_EVENT, FINISHED_EVENT):
        return ScheduledEventFinished(f"{exc.status} {exc.code}: {exc.text}")
    return exc


class DiscordScheduledEvents:
    """Guild scheduled-event calls on the bot's HTTP client (paced with every request)."""

    def __init__(self, bot: TMinusBot) -> None:
        self.bot = bot

    async def list_events(self, guild_id: int) -> list[dict[str, Any]]:
        """Return the guild's scheduled events."""
        try:
            return [dict(e) for e in await self.bot.http.get_scheduled_events(guild_id, False)]
        except discord.HTTPException as exc:
            raise _mapped(exc) from exc

    async def create_event(self, guild_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Create an external event (privacy_level given: discord.py leaves it out)."""
        try:
            return dict(await self.bot.http.create_guild_scheduled_event(guild_id, **body))
        except discord.HTTPException as exc:
            raise _mapped(exc) from exc

    async def edit_event(
        self, guild_id: int, event_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Edit one of our events."""
        try:
            return dict(await self.bot.http.edit_scheduled_event(guild_id, event_id, **body))
        except discord.HTTPException as exc:
            raise _mapped(exc) from exc


class ScheduledEventsLoop:
    """Run the mirror every :data:`EVERY` seconds while the bot runs."""

    def __init__(self, bot: TMinusBot) -> None:
        self.bot = bot
        self.mirror = ScheduledEventMirror(
            bot.engine,
            DiscordScheduledEvents(bot),
            horizon=bot.config.alerts.scheduled_event_horizon,
            serves=lambda guild_id: bot.get_guild(guild_id) is not None,
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop."""
        self._task = asyncio.create_task(self._run(), name="tminus-scheduled-events")

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        while not self.bot.is_closed():
            try:
                report = await self.mirror.sync()
                if report.created or report.updated or report.cancelled or report.ended:
                    log.info("scheduled events: %s", report)
            except Exception:
                log.exception("scheduled events pass failed; will run again")
            await asyncio.sleep(EVERY)
