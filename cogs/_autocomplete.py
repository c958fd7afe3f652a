"""Autocomplete callbacks shared by the cogs: every source is the store, never LL2."""

from __future__ import annotations

from typing import cast

import discord
from discord import app_commands

from bot.app import launches as launch_lookups
from bot.app import service
from bot.app import subscriptions as subscription_store
from bot.app.client import TMinusBot
from bot.core.kinds import ALL_KINDS
from bot.core.timeutil import utcnow

Choices = list[app_commands.Choice[str]]

# Discord's limits on one autocomplete choice (name and value) and on the list.
_CHOICE_TEXT_LIMIT = 100
_CHOICES_LIMIT = 25


def _bot(interaction: discord.Interaction) -> TMinusBot:
    return cast(TMinusBot, interaction.client)


def as_choices(items: list[service.Choice]) -> Choices:
    """Convert service choices to discord.py's."""
    return [app_commands.Choice(name=c.name, value=c.value) for c in items]


async def event_types(interaction: discord.Interaction, current: str) -> Choices:
    """Offer event types matching what was typed."""
    return as_choices(service.named_choices(_bot(interaction).engine, "type", current))


async def agencies(interaction: discord.Interaction, current: str) -> Choices:
    """Offer agencies matching what was typed."""
    return as_choices(service.named_choices(_bot(interaction).engine, "agency", current))


async def programs(interaction: discord.Interaction, current: str) -> Choices:
    """Offer programs matching what was typed."""
    return as_choices(service.named_choices(_bot(interaction).engine, "program", current))


async def events(interaction: discord.Interaction, current: str) -> Choices:
    """Offer events matching what was typed (upcoming first)."""
    return as_choices(service.event_choices(_bot(interaction).engine, current, now=utcnow()))


async def providers(interaction: discord.Interaction, current: str) -> Choices:
    """Offer launch service providers matching what was typed."""
    return as_choices(launch_lookups.provider_choices(_bot(interaction).engine, current))


async def locations(interaction: discord.Interaction, current: str) -> Choices:
    """Offer launch locations matching what was typed."""
    return as_choices(launch_lookups.location_choices(_bot(interaction).engine, current))


async def launches(interaction: discord.Interaction, current: str) -> Choices:
    """Offer launches matching what was typed (upcoming first)."""
    return as_choices(
        launch_lookups.launch_choices(_bot(interaction).engine, current, now=utcnow())
    )


async def subscriptions(interaction: discord.Interaction, current: str) -> Choices:
    """Offer this server's subscriptions — and only this server's, to managers only."""
    if interaction.guild_id is None or not interaction.permissions.manage_channels:
        return []
    return as_choices(
        subscription_store.subscription_choices(
            _bot(interaction).engine, interaction.guild_id, current
        )
    )


def kind_choices(current: str) -> list[tuple[str, str]]:
    """Return ``(name, value)`` completions of a ``kinds`` comma list, from the kind registry.

    What was typed before the last comma is kept; the last word is completed with every
    registered kind it starts (or is part of) that is not listed yet, and ``all`` when nothing
    is listed.
    """
    *done, last = [part.strip().lower() for part in current.split(",")]
    done = [part for part in done if part]
    if "all" in done:
        return []  # "all" stands alone
    word = last.strip()
    offered: list[tuple[str, str]] = []
    if not done and "all".startswith(word):
        offered.append(("all — every kind", "all"))
    starts = [k for k in ALL_KINDS if k.name.startswith(word)]
    within = [k for k in ALL_KINDS if word in k.name and k not in starts]
    for kind in starts + within:
        if kind.name in done:
            continue
        value = ",".join([*done, kind.name])
        if len(value) > _CHOICE_TEXT_LIMIT:
            continue
        name = f"{value} — {kind.when}"
        if len(name) > _CHOICE_TEXT_LIMIT:
            name = name[: _CHOICE_TEXT_LIMIT - 1] + "…"
        offered.append((name, value))
    return offered[:_CHOICES_LIMIT]


async def kinds(interaction: discord.Interaction, current: str) -> Choices:
    """Offer alert kinds for the comma list being typed (the registry's names)."""
    return [app_commands.Choice(name=n, value=v) for n, v in kind_choices(current)]
