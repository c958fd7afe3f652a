"""The Discord emulator behaves like Discord where tminus relies on it (real discord.py)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from bot.devtools.discord_emulator import (
    ChannelType,
    CommandNotPermitted,
    CommandNotSynced,
    DiscordEmulator,
    Guild,
    load_spec,
    permissions,
    pointed_at,
    running,
)

EVENT_NAMES = ["Crew-12 docking", "Crew-12 hatch open", "Starship static fire"]


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    """Serve a Discord emulator and point discord.py at it for the test."""
    async with DiscordEmulator() as emulator:
        with pointed_at(emulator):
            yield emulator


@pytest.fixture
def guild(emu: DiscordEmulator) -> Guild:
    """Build a guild with text, announcement and thread channels."""
    g = emu.add_guild("Space Club", channels=("general", "launches"))
    news = emu.add_channel(g.id, "space-news", type=ChannelType.ANNOUNCEMENT)
    emu.add_thread(g.id, news.id, "crew-12")
    return g


def first_channel(guild: Guild, name: str) -> int:
    """Return the id of the guild's channel with that name."""
    return guild.channel_named(name).id


def make_bot() -> commands.Bot:
    """Build a bot with the slash commands the tests invoke."""
    bot = commands.Bot(
        command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1
    )

    @bot.tree.command(description="Answer privately")
    async def ping(
        interaction: discord.Interaction, word: str, where: discord.TextChannel | None = None
    ) -> None:
        perms = interaction.permissions
        await interaction.response.send_message(
            f"pong {word} in {where.name if where else '-'} manage={perms.manage_channels}",
            ephemeral=True,
        )

    @bot.tree.command(description="Think, then answer")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await asyncio.sleep(0.05)
        await interaction.followup.send("done thinking", embed=discord.Embed(title="Result"))

    @bot.tree.command(description="Defer publicly, then edit")
    async def edit(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="edited answer")

    @bot.tree.command(description="Pick an event")
    async def pick(interaction: discord.Interaction, event: str) -> None:
        await interaction.response.send_message(event)

    @pick.autocomplete("event")
    async def pick_event(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        matches = [n for n in EVENT_NAMES if current.lower() in n.lower()]
        return [app_commands.Choice(name=n, value=n) for n in matches]

    alerts = app_commands.Group(
        name="alerts",
        description="Manage alerts",
        default_permissions=discord.Permissions(manage_channels=True),
    )

    @alerts.command(name="add", description="Subscribe a channel")
    async def alerts_add(
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        mention: discord.Role | None = None,
        count: int = 1,
    ) -> None:
        target = channel.name if channel else "here"
        role = mention.name if mention else "nobody"
        await interaction.response.send_message(f"{target} {role} {count}", ephemeral=True)

    bot.tree.add_command(alerts)
    return bot


async def sync_to(bot: commands.Bot, guild: Guild) -> None:
    """Sync every command to the guild, as tminus does for dev guilds."""
    target = discord.Object(guild.id)
    bot.tree.copy_global_to(guild=target)
    await bot.tree.sync(guild=target)


async def test_client_connects_and_caches_the_configured_guild(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """READY + GUILD_CREATE fill discord.py's cache with channels, threads, roles and owner."""
    async with running(make_bot(), emu) as bot:
        cached = bot.get_guild(guild.id)
        assert cached is not None and cached.owner_id == guild.owner_id
        assert {c.name for c in cached.text_channels} == {"general", "launches", "space-news"}
        assert cached.get_channel(first_channel(guild, "space-news")).is_news()
        assert [t.name for t in cached.threads] == ["crew-12"]
        assert cached.me.guild_permissions.embed_links
        assert not cached.me.guild_permissions.mention_everyone
        assert bot.user.id == emu.bot_user.id and bot.application_id == emu.application_id
    assert emu.gateway.identifies == 1
    [query] = emu.gateway.connects
    assert query["v"] == "10" and query["encoding"] == "json"
    assert query.get("compress") in ("zlib-stream", "zstd-stream")


async def test_heartbeats_are_acknowledged() -> None:
    """With a short heartbeat_interval discord.py beats repeatedly and every beat is ACKed."""
    async with DiscordEmulator(heartbeat_interval=50) as emulator:
        emulator.add_guild()
        with pointed_at(emulator):
            async with running(make_bot(), emulator) as bot:
                await asyncio.sleep(0.3)
                assert bot.latency < 1
    assert emulator.gateway.heartbeats >= 4


async def test_autosharded_client_finds_the_gateway_through_gateway_bot(
    emu: DiscordEmulator, guild: Guild, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AutoShardedClient asks /gateway/bot and connects to the emulator without DEFAULT_GATEWAY."""
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL("wss://x.invalid")
    )
    client = discord.AutoShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.1)
    async with running(client, emu):
        assert client.shard_count == 1
        assert [g.id for g in client.guilds] == [guild.id]
    assert emu.requests_to("GET", "/gateway/bot")


async def test_tree_sync_is_stored_with_stable_ids(emu: DiscordEmulator, guild: Guild) -> None:
    """Syncing stores commands with snowflake ids that survive a re-sync."""
    async with running(make_bot(), emu) as bot:
        synced = await bot.tree.sync()
        await sync_to(bot, guild)
        first_ids = {c["name"]: c["id"] for c in emu.synced_commands(guild.id)}
        await sync_to(bot, guild)
    assert {c.name for c in synced} == {"ping", "slow", "edit", "pick", "alerts"}
    assert {c["name"] for c in emu.synced_commands()} == {c.name for c in synced}
    assert {c["name"]: c["id"] for c in emu.synced_commands(guild.id)} == first_ids
    alerts = next(c for c in emu.synced_commands(guild.id) if c["name"] == "alerts")
    assert alerts["default_member_permissions"] == str(permissions.MANAGE_CHANNELS)
    assert alerts["guild_id"] == str(guild.id)
    assert not emu.validation_errors


async def test_slash_command_gets_an_ephemeral_answer(emu: DiscordEmulator, guild: Guild) -> None:
    """A slash command with a channel option reaches the bot and its ephemeral reply is seen."""
    async with running(make_bot(), emu) as bot:
        await sync_to(bot, guild)
        result = await emu.invoke_command(
            guild.id,
            first_channel(guild, "general"),
            guild.owner_id,
            "ping",
            {"word": "hi", "where": first_channel(guild, "launches")},
        )
        reply = await result.response(timeout=5)
    assert reply.content == "pong hi in launches manage=True"
    assert not emu.validation_errors
    assert reply.ephemeral and reply.type == 4
    assert emu.messages(first_channel(guild, "general")) == []  # ephemeral: not in the channel


async def test_deferred_command_answers_with_a_followup(emu: DiscordEmulator, guild: Guild) -> None:
    """defer(ephemeral) then followup.send replaces the thinking message, still ephemeral."""
    async with running(make_bot(), emu) as bot:
        await sync_to(bot, guild)
        channel_id = first_channel(guild, "general")
        slow = await emu.invoke_command(guild.id, channel_id, guild.owner_id, "slow")
        slow_reply = await slow.response(timeout=5)
        edit = await emu.invoke_command(guild.id, channel_id, guild.owner_id, "edit")
        edit_reply = await edit.response(timeout=5)
    assert slow_reply.deferred and slow_reply.ephemeral
    assert slow_reply.content == "done thinking"
    assert slow_reply.embeds[0]["title"] == "Result"
    assert edit_reply.deferred and not edit_reply.ephemeral
    assert edit_reply.content == "edited answer"
    assert [m["content"] for m in emu.messages(channel_id)] == ["edited answer"]
    assert not emu.validation_errors


async def test_autocomplete_offers_matching_choices(emu: DiscordEmulator, guild: Guild) -> None:
    """An autocomplete interaction gets the bot's choices back (callback type 8)."""
    async with running(make_bot(), emu) as bot:
        await sync_to(bot, guild)
        result = await emu.autocomplete(
            guild.id,
            first_channel(guild, "general"),
            guild.owner_id,
            "pick",
            {"event": "crew"},
            focused="event",
        )
        reply = await result.response(timeout=5)
    assert reply.type == 8
    assert [c["value"] for c in reply.choices or []] == EVENT_NAMES[:2]


async def test_default_member_permissions_hide_the_command(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """Members without Manage Channels cannot invoke /alerts; moderators can, options resolved."""
    role = emu.add_role(guild.id, "Launch pings", mentionable=True)
    member = emu.add_member(guild.id, "viewer")
    moderator = emu.add_moderator(guild.id)
    async with running(make_bot(), emu) as bot:
        await sync_to(bot, guild)
        channel_id = first_channel(guild, "general")
        with pytest.raises(CommandNotPermitted):
            await emu.invoke_command(
                guild.id, channel_id, member.user.id, "alerts", {}, subcommand="add"
            )
        with pytest.raises(CommandNotSynced):
            await emu.invoke_command(guild.id, channel_id, moderator.user.id, "nope", {})
        result = await emu.invoke_command(
            guild.id,
            channel_id,
            moderator.user.id,
            "alerts",
            {"channel": first_channel(guild, "launches"), "mention": role, "count": 3},
            subcommand="add",
        )
        reply = await result.response(timeout=5)
    assert reply.content == "launches Launch pings 3"
    sent = result.payload
    assert int(sent["member"]["permissions"]) & permissions.MANAGE_CHANNELS
    assert str(role.id) in sent["data"]["resolved"]["roles"]


async def test_nonce_with_enforce_nonce_posts_once(emu: DiscordEmulator, guild: Guild) -> None:
    """Sending twice with the same nonce returns the first message and creates nothing new."""
    channel_id = first_channel(guild, "launches")
    async with running(make_bot(), emu) as bot:
        channel = bot.get_channel(channel_id)
        first = await channel.send("T-10 minutes", nonce="delivery-42")
        second = await channel.send("T-10 minutes", nonce="delivery-42")
        other = await channel.send("T-10 minutes", nonce="delivery-43")
    assert first.id == second.id != other.id
    assert [m["nonce"] for m in emu.messages(channel_id)] == ["delivery-42", "delivery-43"]
    assert not emu.validation_errors
    assert emu.requests_to("POST", "/channels/{channel_id}/messages")[0].json["enforce_nonce"]


async def test_multipart_upload_edit_and_delete(emu: DiscordEmulator, guild: Guild) -> None:
    """A file upload is validated via payload_json and stored; edits and deletes apply."""
    channel_id = first_channel(guild, "launches")
    async with running(make_bot(), emu) as bot:
        channel = bot.get_channel(channel_id)
        upload = await channel.send("patch", file=discord.File(io.BytesIO(b"T-0"), "countdown.txt"))
        note = await channel.send("draft")
        edited = await note.edit(content="final", embed=discord.Embed(title="Liftoff"))
        await upload.delete()
        fetched = await channel.fetch_message(note.id)
    assert [a.filename for a in upload.attachments] == ["countdown.txt"]
    assert edited.content == fetched.content == "final" and fetched.edited_at is not None
    assert [m["content"] for m in emu.messages(channel_id)] == ["final"]
    assert emu.messages(channel_id)[0]["embeds"][0]["title"] == "Liftoff"
    assert not emu.validation_errors


async def test_overlong_embed_title_is_rejected(emu: DiscordEmulator, guild: Guild) -> None:
    """An embed title over 256 characters gets 400 50035 and a recorded validation error."""
    channel_id = first_channel(guild, "launches")
    async with running(make_bot(), emu) as bot:
        with pytest.raises(discord.HTTPException) as caught:
            await bot.get_channel(channel_id).send(embed=discord.Embed(title="x" * 257))
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "embeds.0.title" in caught.value.text
    [failure] = emu.validation_errors
    assert failure.messages() == ["embeds.0.title: Must be 256 or fewer in length."]
    assert emu.messages(channel_id) == []


async def test_total_embed_size_and_urls_are_checked(emu: DiscordEmulator, guild: Guild) -> None:
    """Limits the schema leaves out (6000 total, http(s) URLs, 2000 content) answer 50035."""
    channel_id = first_channel(guild, "launches")
    big = [discord.Embed(description="d" * 4000) for _ in range(2)]
    async with running(make_bot(), emu) as bot:
        channel = bot.get_channel(channel_id)
        for kwargs in (
            {"embeds": big},
            {"embed": discord.Embed(title="t", url="ftp://example.com")},
            {"content": "c" * 2001},
        ):
            with pytest.raises(discord.HTTPException) as caught:
                await channel.send(**kwargs)
            assert caught.value.code == 50035
    codes = [e.code for f in emu.validation_errors for e in f.errors]
    assert codes == ["MAX_EMBED_SIZE_EXCEEDED", "URL_TYPE_INVALID_SCHEME", "BASE_TYPE_MAX_LENGTH"]


async def test_rate_limit_burst_with_via_is_waited_out(emu: DiscordEmulator, guild: Guild) -> None:
    """Two 429s (with Via) make discord.py wait and retry; the message arrives once."""
    channel_id = first_channel(guild, "launches")
    emu.rate_limit_next("POST /channels/{channel_id}/messages", times=2, retry_after=0.1)
    async with running(make_bot(), emu) as bot:
        started = time.monotonic()
        await bot.get_channel(channel_id).send("liftoff")
        waited = time.monotonic() - started
    assert waited >= 0.2
    assert [m["content"] for m in emu.messages(channel_id)] == ["liftoff"]
    assert emu.counters.rate_limited["injected"] == 2
    assert [r.status for r in emu.requests_to("POST", "/channels/{channel_id}/messages")] == [
        429,
        429,
        200,
    ]


async def test_cloudflare_429_without_via_is_not_retried(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """A 429 without Via is a Cloudflare ban to discord.py: HTTPException, no retry."""
    channel_id = first_channel(guild, "launches")
    emu.fail_next("POST /channels/{channel_id}/messages", 429, via=False)
    async with running(make_bot(), emu) as bot:
        with pytest.raises(discord.HTTPException) as caught:
            await bot.get_channel(channel_id).send("liftoff")
    assert caught.value.status == 429
    assert len(emu.requests_to("POST", "/channels/{channel_id}/messages")) == 1


async def test_permission_and_channel_faults_surface_as_typed_errors(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """403/404/503 faults become Forbidden/NotFound/DiscordServerError; deletion is permanent."""
    launches = first_channel(guild, "launches")
    general = first_channel(guild, "general")
    route = "POST /channels/{channel_id}/messages"
    emu.fail_next(route, 403, channel_id=launches)
    emu.fail_next(route, 403, code=50001, channel_id=launches)
    emu.fail_next(route, 404, channel_id=launches)
    emu.fail_next(route, 503, channel_id=launches)
    caught: list[tuple[type, int]] = []
    async with running(make_bot(), emu) as bot:
        channel = bot.get_channel(launches)
        for _ in range(4):
            with pytest.raises(discord.HTTPException) as exc:
                await channel.send("x")
            caught.append((type(exc.value), exc.value.code))
        await channel.send("recovered")
        emu.delete_channel(general)
        for _ in range(2):
            with pytest.raises(discord.NotFound) as gone:
                await bot.get_partial_messageable(general).send("x")
            assert gone.value.code == 10003
    assert caught == [
        (discord.Forbidden, 50013),
        (discord.Forbidden, 50001),
        (discord.NotFound, 10003),
        (discord.DiscordServerError, 0),
    ]
    assert [m["content"] for m in emu.messages(launches)] == ["recovered"]


async def test_overwrites_deny_the_bot_like_discord(emu: DiscordEmulator, guild: Guild) -> None:
    """A member overwrite denying Send Messages gives 50013; denying View Channel gives 50001."""
    muted = emu.add_channel(guild.id, "read-only", bot_can_send=False)
    hidden = emu.add_channel(guild.id, "staff", bot_can_view=False)
    admin = emu.add_member(guild.id, "admin", permissions=permissions.ADMINISTRATOR)
    assert emu.permissions(guild.id, muted.id, emu.bot_user.id) & permissions.SEND_MESSAGES == 0
    assert emu.permissions(guild.id, hidden.id, emu.bot_user.id) == 0
    assert emu.permissions(guild.id, hidden.id, admin.user.id) == permissions.ALL
    assert emu.permissions(guild.id, None, guild.owner_id) == permissions.ALL
    async with running(make_bot(), emu) as bot:
        with pytest.raises(discord.Forbidden) as no_send:
            await bot.get_channel(muted.id).send("x")
        with pytest.raises(discord.Forbidden) as no_view:
            await bot.http.send_message(hidden.id, params=_params("x"))
    assert (no_send.value.code, no_view.value.code) == (50013, 50001)


def _params(content: str) -> discord.http.MultipartParameters:
    """Build raw message parameters for HTTPClient.send_message."""
    return discord.http.handle_message_parameters(content=content)


async def test_allowed_mentions_decide_who_is_pinged(emu: DiscordEmulator, guild: Guild) -> None:
    """Only allowed, mentionable roles are pinged; @everyone needs permission and parse."""
    channel_id = first_channel(guild, "launches")
    pingable = emu.add_role(guild.id, "Launch pings", mentionable=True)
    locked = emu.add_role(guild.id, "Staff")
    async with running(make_bot(), emu) as bot:
        channel = bot.get_channel(channel_id)
        text = f"<@&{pingable.id}> <@&{locked.id}> @everyone"
        only_role = await channel.send(
            text, allowed_mentions=discord.AllowedMentions(everyone=False, roles=[pingable, locked])
        )
        defaults = await channel.send(text)
    assert [r.id for r in only_role.role_mentions] == [pingable.id]
    assert [r.id for r in defaults.role_mentions] == [pingable.id]
    assert not only_role.mention_everyone and not defaults.mention_everyone


async def test_gateway_drop_resumes_and_replays_missed_events(
    emu: DiscordEmulator, guild: Guild
) -> None:
    """After the socket drops the client RESUMEs and gets events sent while it was away."""
    async with running(make_bot(), emu) as bot:
        resumed = asyncio.Event()

        async def on_resumed() -> None:
            resumed.set()

        bot.add_listener(on_resumed)
        await emu.drop_connections(4000)
        late = emu.add_channel(guild.id, "late-news")
        await asyncio.wait_for(resumed.wait(), timeout=5)
        assert bot.get_channel(late.id) is not None
    assert emu.gateway.resumes == 1 and emu.gateway.identifies == 1


async def test_pushed_events_update_the_cache(emu: DiscordEmulator, guild: Guild) -> None:
    """GUILD_CREATE of a new guild, CHANNEL_DELETE and GUILD_DELETE reach discord.py's cache."""
    async with running(make_bot(), emu) as bot:
        joined = asyncio.Event()
        removed = asyncio.Event()

        async def on_guild_join(g: discord.Guild) -> None:
            joined.set()

        async def on_guild_remove(g: discord.Guild) -> None:
            removed.set()

        bot.add_listener(on_guild_join)
        bot.add_listener(on_guild_remove)
        second = emu.add_guild("Rocket Lab fans")
        await asyncio.wait_for(joined.wait(), timeout=5)
        emu.delete_channel(first_channel(guild, "launches"))
        emu.remove_guild(second.id)
        await asyncio.wait_for(removed.wait(), timeout=5)
        assert bot.get_guild(second.id) is None
        assert bot.get_channel(first_channel(guild, "general")) is not None
        assert "launches" not in {c.name for c in bot.get_guild(guild.id).channels}
        with pytest.raises(discord.Forbidden) as gone:
            await bot.http.send_message(next(iter(second.channels)), params=_params("x"))
    assert gone.value.code == 50001


async def test_bad_token_is_a_login_failure(emu: DiscordEmulator, guild: Guild) -> None:
    """A wrong token gets 401 on /users/@me, which discord.py raises as LoginFailure."""
    with pytest.raises(discord.LoginFailure):
        async with running(make_bot(), emu, token="not-the-token"):
            pass
    assert emu.requests[-1].status == 401
    assert emu.requests[-1].response == {"message": "401: Unauthorized", "code": 0}


async def test_raw_http_shapes_and_route_buckets(emu: DiscordEmulator, guild: Guild) -> None:
    """Unknown routes 404 in Discord's shape; a message bucket exhausts into a 429 with headers."""
    emu.rate_limits.set_bucket("POST", "/channels/{channel_id}/messages", limit=2, per=30)
    url = f"{emu.api_base}/channels/{first_channel(guild, 'launches')}/messages"
    headers = {"Authorization": f"Bot {emu.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{emu.api_base}/no/such/route") as resp:
            assert resp.status == 404
            assert await resp.json() == {"message": "404: Not Found", "code": 0}
        async with http.get(f"{emu.api_base}/gateway/bot") as resp:
            body = await resp.json()
            assert body["url"] == emu.gateway_url and body["shards"] == 1
        seen = []
        for n in range(3):
            async with http.post(url, json={"content": f"#{n}"}) as resp:
                seen.append((resp.status, resp.headers.get("X-RateLimit-Remaining")))
                last = resp
                data = await resp.json()
    assert seen == [(200, "1"), (200, "0"), (429, "0")]
    assert last.headers["Via"] == "1.1 google" and last.headers["X-RateLimit-Scope"] == "user"
    assert float(last.headers["X-RateLimit-Reset-After"]) > 0 and last.headers["X-RateLimit-Bucket"]
    assert data["global"] is False and data["retry_after"] > 0
    assert emu.counters.rate_limited["route"] == 1


async def test_global_limit_throttles_concurrent_sends(emu: DiscordEmulator, guild: Guild) -> None:
    """Past the global limit discord.py gets global 429s, waits, and every message lands once."""
    emu.rate_limits.global_per_second = 8
    emu.rate_limits.default_limit = None
    emu.rate_limits.rules.clear()
    channel_ids = [c.id for c in guild.channel_list()]
    async with running(make_bot(), emu) as bot:
        sends = [bot.get_channel(cid).send(f"{cid}-{n}") for cid in channel_ids for n in range(4)]
        await asyncio.gather(*sends)
    assert emu.counters.rate_limited["global"] > 0
    assert sum(len(emu.messages(cid)) for cid in channel_ids) == len(channel_ids) * 4


async def test_late_interaction_callback_is_unknown(emu: DiscordEmulator, guild: Guild) -> None:
    """A callback after the 3 s deadline (shortened here) gets 404 10062 Unknown interaction."""
    emu.interaction_deadline = 0.0
    async with running(make_bot(), emu) as bot:
        await sync_to(bot, guild)
        result = await emu.invoke_command(
            guild.id, first_channel(guild, "general"), guild.owner_id, "ping", {"word": "late"}
        )
        await asyncio.sleep(0.3)
    callbacks = emu.requests_to(
        "POST", "/interactions/{interaction_id}/{interaction_token}/callback"
    )
    assert [(r.status, r.response["code"]) for r in callbacks] == [(404, 10062)]
    assert not result.acknowledged


def test_spec_is_loaded_once_and_validates_quickly() -> None:
    """The OpenAPI document is parsed once per process and validation is sub-millisecond."""
    spec = load_spec()
    assert load_spec() is spec
    template = spec.match("/channels/1/messages")
    body = {"content": "hi", "embeds": [{"title": "t", "fields": [{"name": "a", "value": "b"}]}]}
    started = time.perf_counter()
    for _ in range(200):
        assert spec.validate_body(template, "POST", body) == []
    assert time.perf_counter() - started < 1.0
    assert spec.match("/users/@me") == "/users/@me"
    assert spec.match("/webhooks/1/t/messages/@original").endswith("@original")
