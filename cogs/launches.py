"""``/launches …``: look launches up in the store (never in LL2), with autocomplete."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import launches as lookups
from bot.app.client import TMinusBot
from bot.app.sink import send_payload_response
from bot.core.timeutil import utcnow
from bot.render import render_launch_list, render_launch_message
from cogs import _autocomplete as autocomplete

log = logging.getLogger(__name__)

# The filter options /launches next and /launches upcoming share, described once.
FILTER_DOCS = {
    "provider": "Launch service provider (name, abbreviation or LL2 id), e.g. SpaceX",
    "location": "Launch site (name or LL2 id), e.g. Kennedy Space Center",
    "program": "Program (name or LL2 id), e.g. Artemis",
}
NOTHING_UPCOMING = "No upcoming launch matches in the store."


class Launches(commands.Cog):
    """Answer questions about launches straight from the store."""

    launches = app_commands.Group(name="launches", description="Look up rocket launches")

    def __init__(self, bot: TMinusBot) -> None:
        self.bot = bot

    @launches.command(
        name="next", description="The next launch (optionally by provider, location or program)"
    )
    @app_commands.describe(**FILTER_DOCS)
    @app_commands.autocomplete(
        provider=autocomplete.providers,
        location=autocomplete.locations,
        program=autocomplete.programs,
    )
    async def next_launch(
        self,
        interaction: discord.Interaction,
        provider: str | None = None,
        location: str | None = None,
        program: str | None = None,
    ) -> None:
        """Show the next matching launch."""
        filters = lookups.resolve_launch_filters(
            self.bot.engine, provider=provider, location=location, program=program
        )
        found = lookups.upcoming_launches(self.bot.engine, filters, now=utcnow(), count=1)
        if not found:
            await interaction.response.send_message(NOTHING_UPCOMING, ephemeral=True)
            return
        await send_payload_response(interaction, render_launch_message(found[0]))

    @launches.command(name="upcoming", description="The next launches by NET")
    @app_commands.describe(count="How many (1-25, default 10)", **FILTER_DOCS)
    @app_commands.autocomplete(
        provider=autocomplete.providers,
        location=autocomplete.locations,
        program=autocomplete.programs,
    )
    async def upcoming(
        self,
        interaction: discord.Interaction,
        provider: str | None = None,
        location: str | None = None,
        program: str | None = None,
        count: app_commands.Range[int, 1, 25] = 10,
    ) -> None:
        """List upcoming launches."""
        filters = lookups.resolve_launch_filters(
            self.bot.engine, provider=provider, location=location, program=program
        )
        found = lookups.upcoming_launches(self.bot.engine, filters, now=utcnow(), count=count)
        if not found:
            await interaction.response.send_message(NOTHING_UPCOMING, ephemeral=True)
            return
        await send_payload_response(
            interaction, render_launch_list(found, title=f"Next {len(found)} launches")
        )

    @launches.command(name="search", description="Find launches by name or mission")
    @app_commands.describe(query="Part of the launch's name or mission, e.g. Starlink")
    async def search(self, interaction: discord.Interaction, query: str) -> None:
        """Search launches by name or mission."""
        found = lookups.search_launches(self.bot.engine, query, now=utcnow())
        if not found:
            await interaction.response.send_message(
                f"No launch in the store matches '{discord.utils.escape_markdown(query[:100])}'.",
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        if len(found) == 1:
            await send_payload_response(interaction, render_launch_message(found[0]))
            return
        await send_payload_response(
            interaction, render_launch_list(found, title=f"Launches matching “{query[:80]}”")
        )

    @launches.command(name="show", description="One launch in full")
    @app_commands.describe(launch="The launch (pick from the list or type its name)")
    @app_commands.autocomplete(launch=autocomplete.launches)
    async def show(self, interaction: discord.Interaction, launch: str) -> None:
        """Show one launch."""
        found = lookups.find_launch(self.bot.engine, launch, now=utcnow())
        await send_payload_response(interaction, render_launch_message(found))

    @launches.command(name="live", description="Launches whose webcast is live now")
    async def live(self, interaction: discord.Interaction) -> None:
        """Show the launches with a live webcast."""
        found = lookups.live_launches(self.bot.engine)
        if not found:
            await interaction.response.send_message("No launch webcast is live right now.")
            return
        if len(found) == 1:
            await send_payload_response(interaction, render_launch_message(found[0]))
            return
        await send_payload_response(
            interaction, render_launch_list(found[:25], title="🔴 Live now")
        )


async def setup(bot: TMinusBot) -> None:
    """Load the cog."""
    await bot.add_cog(Launches(bot))
