"""Message edits, reads and deletes in the Discord emulator behave like Discord."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import discord
import pytest

from bot.devtools.discord_emulator import DiscordEmulator, Guild, pointed_at, running

CARD_EDIT = "/channels/{channel_id}/messages/{message_id}"


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    """Serve a Discord emulator and point discord.py at it for the test."""
    async with DiscordEmulator() as emulator:
        with pointed_at(emulator):
            yield emulator


@pytest.fixture
def guild(emu: DiscordEmulator) -> Guild:
    """Build a guild with two text channels."""
    return emu.add_guild("Space Club", channels=("general", "launches"))


def make_client() -> discord.Client:
    """Build a plain client (no commands needed to post and edit)."""
    return discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)


def _edit_route(channel_id: int, message_id: int) -> discord.http.Route:
    """Build the raw PATCH route, to send bodies discord.py's helpers would not."""
    return discord.http.Route("PATCH", CARD_EDIT, channel_id=channel_id, message_id=message_id)


async def test_edits_are_recorded_in_order_with_the_final_state(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """Each PATCH is kept in order; GET returns the final state, embeds and components too."""
    channel_id = guild.channel_named("launches").id
    async with running(make_client(), emu) as client:
        channel = client.get_channel(channel_id)
        card = await channel.send("Crew-12 docking <t:1:R>", nonce="card-1")
        for text in ("slipped", "live", "docked"):
            await card.edit(content=f"Crew-12 docking: {text}")
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="Watch", url="https://example.com/live"))
        await card.edit(embed=discord.Embed(title="Docked"), view=view)
        fetched = await channel.fetch_message(card.id)
    assert emu.edit_history(card.id) == [
        "Crew-12 docking: slipped",
        "Crew-12 docking: live",
        "Crew-12 docking: docked",
        "Crew-12 docking: docked",
    ]
    assert emu.edits(card.id)[-1]["body"]["embeds"][0]["title"] == "Docked"
    assert fetched.content == "Crew-12 docking: docked" and fetched.edited_at is not None
    assert fetched.embeds[0].title == "Docked"
    assert fetched.components[0].children[0].url == "https://example.com/live"
    final = emu.message(card.id)
    assert final is not None and final["content"] == "Crew-12 docking: docked"
    assert [m["id"] for m in emu.messages(channel_id)] == [str(card.id)]
    assert not emu.validation_errors


async def test_edit_bodies_are_validated_like_posts(emu: DiscordEmulator, guild: Guild) -> None:
    """An edit over Discord's limits is refused with 50035 and leaves the message as it was."""
    channel_id = guild.channel_named("launches").id
    async with running(make_client(), emu) as client:
        card = await client.get_channel(channel_id).send("countdown")
        with pytest.raises(discord.HTTPException) as too_long:
            await card.edit(content="x" * 2001)
        with pytest.raises(discord.HTTPException) as bad_embed:
            await card.edit(embed=discord.Embed(title="t" * 257))
        with pytest.raises(discord.HTTPException) as bad_mentions:
            await client.http.request(
                _edit_route(channel_id, card.id),
                json={"content": "hi", "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}},
            )
    assert (too_long.value.code, bad_embed.value.code) == (50035, 50035)
    assert bad_mentions.value.status == 400
    assert emu.message(card.id)["content"] == "countdown"
    assert emu.edit_history(card.id) == []
    assert [e.path for f in emu.validation_errors for e in f.errors] == [
        ("content",),
        ("embeds", "0", "title"),
    ]


async def test_edit_re_evaluates_allowed_mentions(emu: DiscordEmulator, guild: Guild) -> None:
    """An edit that adds a role mention pings only what its allowed_mentions allow."""
    channel_id = guild.channel_named("launches").id
    pings = emu.add_role(guild.id, "Launch pings", mentionable=True)
    other = emu.add_role(guild.id, "Other", mentionable=True)
    async with running(make_client(), emu) as client:
        card = await client.get_channel(channel_id).send("card")
        edited = await card.edit(
            content=f"<@&{pings.id}> <@&{other.id}> live",
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=[pings]),
        )
    assert [r.id for r in edited.role_mentions] == [pings.id]


async def test_missing_and_deleted_messages_are_unknown(emu: DiscordEmulator, guild: Guild) -> None:
    """GET/PATCH/DELETE of a message that is gone (or never was) answer 404 10008."""
    channel_id = guild.channel_named("launches").id
    async with running(make_client(), emu) as client:
        channel = client.get_channel(channel_id)
        card = await channel.send("card")
        emu.delete_message(channel_id, card.id)  # a moderator removes the card
        codes = []
        for call in (
            channel.fetch_message(card.id),
            card.edit(content="new state"),
            card.delete(),
            client.http.request(_edit_route(channel_id, 1234), json={"content": "x"}),
        ):
            with pytest.raises(discord.NotFound) as gone:
                await call
            codes.append(gone.value.code)
    assert codes == [10008] * 4
    assert emu.is_deleted(card.id) and emu.messages(channel_id) == []


async def test_a_deleted_messages_nonce_answers_unknown_message(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """Within the nonce window a deleted message's nonce gets 404 10008; a fresh nonce posts."""
    channel_id = guild.channel_named("launches").id
    async with running(make_client(), emu) as client:
        channel = client.get_channel(channel_id)
        card = await channel.send("card v1", nonce="card-7")
        emu.delete_message(channel_id, card.id)
        with pytest.raises(discord.NotFound) as refused:
            await channel.send("card v2", nonce="card-7")
        again = await channel.send("card v2", nonce="card-7-r1")
    assert refused.value.code == 10008
    assert [m["content"] for m in emu.messages(channel_id)] == ["card v2"]
    assert again.id != card.id


async def test_a_deleted_nonce_is_forgotten_after_the_window() -> None:
    """After the nonce window, the same nonce simply creates a new message again."""
    async with DiscordEmulator(nonce_window=0.2) as emu:
        guild = emu.add_guild(channels=("launches",))
        channel_id = guild.channel_named("launches").id
        with pointed_at(emu):
            async with running(make_client(), emu) as client:
                channel = client.get_channel(channel_id)
                card = await channel.send("v1", nonce="card-9")
                await card.delete()
                await asyncio.sleep(0.25)
                again = await channel.send("v2", nonce="card-9")
    assert again.id != card.id
    assert [m["content"] for m in emu.messages(channel_id)] == ["v2"]


async def test_edits_in_a_channel_the_bot_cannot_see_are_forbidden(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """After View Channel is denied, editing a card there is 403 50001 Missing Access."""
    channel_id = guild.channel_named("launches").id
    async with running(make_client(), emu) as client:
        card = await client.get_channel(channel_id).send("card")
        emu.deny_bot(channel_id, discord.Permissions(view_channel=True).value)
        with pytest.raises(discord.Forbidden) as hidden:
            await client.http.request(_edit_route(channel_id, card.id), json={"content": "new"})
    assert hidden.value.code == 50001
    assert emu.edit_history(card.id) == []


async def test_edits_have_their_own_bucket_and_count_globally(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """Edits exhaust a per-channel bucket of their own, and the global limit counts them."""
    channel_id = guild.channel_named("launches").id
    async with running(make_client(), emu) as client:
        card = await client.get_channel(channel_id).send("card")
        emu.rate_limits.set_bucket("PATCH", CARD_EDIT, limit=2, per=0.3)
        started = time.monotonic()
        for n in range(3):
            await card.edit(content=f"state {n}")
        waited = time.monotonic() - started
        # discord.py read the bucket's headers (remaining 0) and waited for its reset.
        assert waited >= 0.2
        # The create bucket is a different one: a post right after is not held back.
        started = time.monotonic()
        await client.get_channel(channel_id).send("ping")
        assert time.monotonic() - started < 0.2
        assert [r.status for r in emu.requests_to("PATCH", CARD_EDIT)] == [200] * 3
        emu.rate_limits.global_per_second = 3
        emu.rate_limits.rules.clear()
        emu.rate_limits.default_limit = None
        emu.rate_limits.reset()
        await asyncio.gather(*(card.edit(content=f"burst {n}") for n in range(6)))
    assert emu.counters.rate_limited["global"] > 0
    assert emu.edit_history(card.id)[-1].startswith("burst")
    assert len(emu.edit_history(card.id)) == 9
