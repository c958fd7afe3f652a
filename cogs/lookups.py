"""``/events …``: look events up in the store (never in LL2), with autocomplete."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import service
from bot.app.client import TMinusBot
from bot.app.sink import send_payload_response
from bot.core.timeutil import utcnow
from bot.render import render_event_list, render_event_message
from cogs import _autocomplete as autocomplete

log = logging.getLogger(__name__)


class Lookups(commands.Cog):
    """Answer questions about events straight from the store."""

    events = app_commands.Group(name="events", description="Look up spaceflight events")

    def __init__(self, bot: TMinusBot) -> None:
        self.bot = bot

    # --- commands ---------------------------------------------------------------------------

    @events.command(
        name="next", description="The next event (optionally of a type, agency or program)"
    )
    @app_commands.describe(
        type="Event type (name or LL2 id), e.g. Docking",
        agency="Agency (name, abbreviation or LL2 id)",
        program="Program (name or LL2 id)",
    )
    @app_commands.autocomplete(
        type=autocomplete.event_types, agency=autocomplete.agencies, program=autocomplete.programs
    )
    async def next_event(
        self,
        interaction: discord.Interaction,
        type: str | None = None,
        agency: str | None = None,
        program: str | None = None,
    ) -> None:
        """Show the next matching event."""
        filters = service.resolve_filters(
            self.bot.engine, type=type, agency=agency, program=program
        )
        found = service.upcoming(self.bot.engine, filters, now=utcnow(), count=1)
        if not found:
            await interaction.response.send_message(
                "No upcoming event matches in the store.", ephemeral=True
            )
            return
        await send_payload_response(interaction, render_event_message(found[0]))

    @events.command(name="upcoming", description="The next events by date")
    @app_commands.describe(
        type="Event type (name or LL2 id), e.g. Docking",
        agency="Agency (name, abbreviation or LL2 id)",
        program="Program (name or LL2 id)",
        count="How many (1-25, default 10)",
    )
    @app_commands.autocomplete(
        type=autocomplete.event_types, agency=autocomplete.agencies, program=autocomplete.programs
    )
    async def upcoming(
        self,
        interaction: discord.Interaction,
        type: str | None = None,
        agency: str | None = None,
        program: str | None = None,
        count: app_commands.Range[int, 1, 25] = 10,
    ) -> None:
        """List upcoming events."""
        filters = service.resolve_filters(
            self.bot.engine, type=type, agency=agency, program=program
        )
        found = service.upcoming(self.bot.engine, filters, now=utcnow(), count=count)
        if not found:
            await interaction.response.send_message(
                "No upcoming event matches in the store.", ephemeral=True
            )
            return
        await send_payload_response(
            interaction, render_event_list(found, title=f"Next {len(found)} events")
        )

    @events.command(name="search", description="Find events by name")
    @app_commands.describe(query="Part of the event's name, e.g. Soyuz")
    async def search(self, interaction: discord.Interaction, query: str) -> None:
        """Search events by name."""
        found = service.search(self.bot.engine, query, now=utcnow())
        if not found:
            await interaction.response.send_message(
                f"No event in the store matches '{discord.utils.escape_markdown(query[:100])}'.",
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        if len(found) == 1:
            await send_payload_response(interaction, render_event_message(found[0]))
            return
        await send_payload_response(
            interaction, render_event_list(found, title=f"Events matching “{query[:80]}”")
        )

    @events.command(name="show", description="One event in full")
    @app_commands.describe(event="The event (pick from the list or type its name)")
    @app_commands.autocomplete(event=autocomplete.events)
    async def show(self, interaction: discord.Interaction, event: str) -> None:
        """Show one event."""
        found = service.find_event(self.bot.engine, event, now=utcnow())
        await send_payload_response(interaction, render_event_message(found))

    @events.command(name="live", description="Events whose webcast is live now")
    async def live(self, interaction: discord.Interaction) -> None:
        """List live webcasts."""
        found = service.live(self.bot.engine)
        if not found:
            await interaction.response.send_message("No webcast is live right now.")
            return
        if len(found) == 1:
            await send_payload_response(interaction, render_event_message(found[0]))
            return
        await send_payload_response(interaction, render_event_list(found[:25], title="🔴 Live now"))


async def setup(bot: TMinusBot) -> None:
    """Load the cog."""
    await bot.add_cog(Lookups(bot))
