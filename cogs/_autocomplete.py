"""Autocomplete callbacks shared by the cogs: every source is the store, never LL2."""

from __future__ import annotations

from typing import cast

import discord
from discord import app_commands

from bot.app import service
from bot.app.client import TMinusBot
from bot.core.timeutil import utcnow
from storage.models import AgencyRow, EventTypeRow, ProgramRow

Choices = list[app_commands.Choice[str]]


def _bot(interaction: discord.Interaction) -> TMinusBot:
    return cast(TMinusBot, interaction.client)


def as_choices(items: list[service.Choice]) -> Choices:
    """Convert service choices to discord.py's."""
    return [app_commands.Choice(name=c.name, value=c.value) for c in items]


async def event_types(interaction: discord.Interaction, current: str) -> Choices:
    """Offer event types matching what was typed."""
    return as_choices(service.name_choices(_bot(interaction).engine, EventTypeRow, current))


async def agencies(interaction: discord.Interaction, current: str) -> Choices:
    """Offer agencies matching what was typed."""
    return as_choices(service.name_choices(_bot(interaction).engine, AgencyRow, current))


async def programs(interaction: discord.Interaction, current: str) -> Choices:
    """Offer programs matching what was typed."""
    return as_choices(service.name_choices(_bot(interaction).engine, ProgramRow, current))


async def events(interaction: discord.Interaction, current: str) -> Choices:
    """Offer events matching what was typed (upcoming first)."""
    return as_choices(service.event_choices(_bot(interaction).engine, current, now=utcnow()))


async def subscriptions(interaction: discord.Interaction, current: str) -> Choices:
    """Offer this server's subscriptions — and only this server's, to managers only."""
    if interaction.guild_id is None or not interaction.permissions.manage_channels:
        return []
    return as_choices(
        service.subscription_choices(_bot(interaction).engine, interaction.guild_id, current)
    )
