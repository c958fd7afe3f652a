"""Alert delivery: drain the outbox into channels, exactly once each, within Discord's limits."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.app import subscriptions
from bot.app.client import TMinusBot
from bot.app.delivery import ChannelDelivery

log = logging.getLogger(__name__)


class AlertDelivery(commands.Cog):
    """Run the outbox worker for channel subscriptions, and follow guilds and channels going."""

    def __init__(self, bot: TMinusBot) -> None:
        self.bot = bot
        self.delivery = ChannelDelivery(bot)

    async def cog_load(self) -> None:
        """Start draining once loaded."""
        self.delivery.start()

    async def cog_unload(self) -> None:
        """Stop draining."""
        await self.delivery.stop()

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Forget a guild's subscriptions when the bot leaves it."""
        removed = subscriptions.forget_guild(self.bot.engine, guild.id)
        log.info("left guild %s: removed %d subscription(s)", guild.id, removed)

    async def _pause_channel(self, channel_id: int, reason: str) -> None:
        paused = subscriptions.pause_channel(self.bot.engine, channel_id, reason)
        if paused:
            log.info("paused subscriptions %s: %s", paused, reason)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """Pause subscriptions of a deleted channel."""
        await self._pause_channel(channel.id, f"channel #{channel.name} was deleted")

    @commands.Cog.listener()
    async def on_thread_delete(self, thread: discord.Thread) -> None:
        """Pause subscriptions of a deleted thread."""
        await self._pause_channel(thread.id, f"thread {thread.name} was deleted")


async def setup(bot: TMinusBot) -> None:
    """Load the cog."""
    await bot.add_cog(AlertDelivery(bot))
