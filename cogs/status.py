"""``/status``: is the bot keeping up? Last sync, LL2 budget, outbox, paused subscriptions."""

from __future__ import annotations

from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import service
from bot.app.client import TMinusBot
from bot.app.cluster import cluster_lines, cluster_view


def _when(value: datetime | None) -> str:
    if value is None:
        return "never"
    stamp = int(value.timestamp())
    return f"<t:{stamp}:F> (<t:{stamp}:R>)"


class Status(commands.Cog):
    """Report the pipeline's health."""

    def __init__(self, bot: TMinusBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="status", description="Last LL2 sync, request budget and alert queue"
    )
    async def status(self, interaction: discord.Interaction) -> None:
        """Show the pipeline's status."""
        budget = self.bot.ll2.budget
        plan = self.bot.pipeline.next_plan
        state = service.status(
            self.bot.engine,
            guild_id=interaction.guild_id,
            budget_remaining=budget.remaining(),
            budget_limit=budget.limit,
            next_poll_at=plan.at if plan else None,
        )
        health = self.bot.pipeline.poll_health()
        embed = discord.Embed(
            title="tminus status", colour=0xED4245 if health.overdue else 0x5865F2
        )
        embed.add_field(name="Last sync", value=_when(state.last_success_at), inline=False)
        embed.add_field(name="Next LL2 poll", value=service.poll_line(health), inline=False)
        embed.add_field(
            name="LL2 requests left this hour",
            value=f"{state.budget_remaining} of {state.budget_limit}",
        )
        embed.add_field(name="Alerts pending", value=str(state.pending))
        embed.add_field(name="Events in store", value=str(state.events))
        if self.bot.cluster is not None:
            # PostgreSQL: several processes; which one polls and which shards are up.
            view = cluster_view(self.bot.engine, period=self.bot.cluster.period)
            poller, members = cluster_lines(view, me=self.bot.cluster.owner)
            embed.add_field(name="Polling LL2", value=poller[:1024], inline=False)
            embed.add_field(name="Processes", value=members[:1024], inline=False)
        if state.last_error:
            embed.add_field(name="Last sync error", value=state.last_error[:1000], inline=False)
        if state.paused:
            lines = [f"#{s.id} <#{s.channel_id}>: {s.paused_reason}" for s in state.paused[:10]]
            embed.add_field(
                name="Paused subscriptions", value="\n".join(lines)[:1024], inline=False
            )
        else:
            embed.add_field(name="Paused subscriptions", value="none", inline=False)
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: TMinusBot) -> None:
    """Load the cog."""
    await bot.add_cog(Status(bot))
