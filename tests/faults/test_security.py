"""Security: no surprise pings, no peeking at another guild, no secret in any log line.

* Invariant 6: LL2 text stuffed with `@everyone`, `@here`, role and user mentions fans out to
  channels where the bot may mention everyone; every message request allows at most the
  subscription's own role, and Discord (the emulator) records no other ping.
* A guild only ever sees its own subscriptions: list, remove, test and autocomplete.
* The Discord token and the LL2 API key never reach a log line: the bot in-process at DEBUG
  (caplog) and `tminus run --log-level DEBUG` as a subprocess (its stderr), through slash
  commands, an alert, an LL2 429 and a refused login.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app.client import run_bot
from bot.config import Secret
from bot.core.timeutil import utcnow
from bot.devtools.cluster import BotProcess, run_env
from bot.devtools.discord_emulator import DiscordEmulator, Guild, Member, pointed_at
from bot.devtools.discord_emulator import permissions as perms
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FaultKind, LL2Emulator
from storage import queries, subscriptions
from storage.db import make_engine, session_scope
from tests.faults.bot import add_channel_subscriptions, bot_config, eventually, running_bot

pytestmark = pytest.mark.slow

DOCKING = 7301
MESSAGES = "/channels/{channel_id}/messages"
# Shaped like the real things, and found nowhere else.
DISCORD_TOKEN = "MTMwOTk5ODg3NzY2NTU0NDMyMQ.GsEcRt.tminusSecretDiscordToken_8f3kQz91xLw"
WRONG_TOKEN = "MTMwOTk5ODg3NzY2NTU0NDMyMQ.GwRoNg.tminusRejectedDiscordToken_Zp4"
LL2_KEY = "ll2key0c0ffee5ecret7e57a1b2c3d4e5f6"
SUBSCRIPTION_NUMBER = re.compile(r"\*\*#(\d+)\*\*")


def docking(name: str = "Crew-14 Docking") -> dict[str, Any]:
    """Return a docking five hours out, last edited two days ago."""
    now = utcnow().replace(microsecond=0)
    return make_event(
        DOCKING, name, date=now + timedelta(hours=5), last_updated=now - timedelta(days=2)
    )


def stored_subscriptions(db_url: str, guild_id: int) -> list[int]:
    """Return the ids of a guild's subscriptions."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return [
                s.id
                for s in subscriptions.guild_subscriptions(session=session, guild_id=guild_id)
                if s.id is not None
            ]
    finally:
        engine.dispose()


def seeded(db_url: str) -> bool:
    """Return whether the bot has stored LL2's events."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return queries.count_events(session=session) > 0
    finally:
        engine.dispose()


# --- no surprise pings -------------------------------------------------------------------------


@dataclass
class PingWorld:
    """A guild whose bot may mention everyone, 12 subscribed channels, half with a role."""

    ll2: LL2Emulator
    discord: DiscordEmulator
    guild: Guild
    roles: dict[int, int | None]  # channel id → the subscription's role (None: no mention)
    member: Member
    other_role: int
    db_url: str


@pytest.fixture
async def ping_world(tmp_path: Path) -> AsyncIterator[PingWorld]:
    """Yield the bot running with an LL2 event whose every text field tries to ping."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with DiscordEmulator() as discord:
        guild = discord.add_guild(
            "Ping Club",
            channels=[f"alerts-{i}" for i in range(12)],
            bot_permissions=perms.DEFAULT_BOT | perms.MENTION_EVERYONE,
        )
        member = discord.add_member(guild.id, "viewer")
        other = discord.add_role(guild.id, "everyone-else", mentionable=True)
        channels = [c.id for c in guild.channel_list()]
        roles: dict[int, int | None] = {c: None for c in channels}
        for i, channel_id in enumerate(channels[:6]):
            roles[channel_id] = discord.add_role(guild.id, f"pings-{i}", mentionable=i % 2 == 0).id
        noise = f"@everyone @here <@&{other.id}> <@&{guild.id}> <@{member.user.id}> @EVERYONE"
        event = docking(f"{noise} Crew-14 Docking")
        event["description"] = f"Docking {noise}"
        for video in event["vid_urls"]:
            video["title"] = f"{noise} stream"
        add_channel_subscriptions(
            db_url,
            guild.id,
            channels,
            mention_role_ids={c: r for c, r in roles.items() if r is not None},
        )
        async with (
            LL2Emulator([event], requests_per_hour=None) as ll2,
            running_bot(bot_config(ll2, discord, db_url), discord),
        ):
            yield PingWorld(ll2, discord, guild, roles, member, other.id, db_url)


@pytest.mark.timeout(60)
async def test_no_alert_can_ping_everyone_here_or_another_role(ping_world: PingWorld) -> None:
    """Live, update, slip and a test alert in 12 channels: only the own role ever pings."""
    world = ping_world
    noise = f"@everyone @here <@&{world.other_role}> <@{world.member.user.id}>"
    world.ll2.set_webcast_live(DOCKING, True)
    await eventually(lambda: all(world.discord.messages(c) for c in world.roles))
    world.ll2.add_update(DOCKING, f"{noise} hatch open")
    world.ll2.move_date(DOCKING, utcnow().replace(microsecond=0) + timedelta(hours=9))
    await eventually(lambda: all(len(world.discord.messages(c)) == 3 for c in world.roles))
    channel_id = next(iter(world.roles))
    tested = await world.discord.invoke_command(
        world.guild.id,
        channel_id,
        world.discord.add_moderator(world.guild.id).user.id,
        "alerts",
        {"subscription": str(stored_subscriptions(world.db_url, world.guild.id)[0])},
        subcommand="test",
    )
    assert "Sent a test alert" in ((await tested.response(timeout=5)).content or "")

    posts = world.discord.requests_to("POST", MESSAGES)
    assert len(posts) == 3 * len(world.roles) + 1
    for post in posts:
        own = world.roles[int(post.path.split("/")[2])]
        mentions = post.json["allowed_mentions"]
        assert mentions.get("parse", []) == [], post.json
        # Only the own role may ever ping; it may also be left out, since a role is pinged
        # at most once per item per poll (the update and the slip can share a poll).
        assert [str(r) for r in mentions.get("roles", [])] in ([], [str(own)] if own else [])
        assert mentions.get("users", []) == [] and not mentions.get("replied_user")
    for channel_id, own in world.roles.items():
        for message in world.discord.messages(channel_id):
            assert message["mention_everyone"] is False, message["content"]
            assert message["mentions"] == []
            assert message["mention_roles"] in ([], [str(own)] if own else [])
        first = world.discord.messages(channel_id)[0]  # webcast live, alone in its poll
        assert first["mention_roles"] == ([str(own)] if own else []), "own role: pinged"


# --- one guild, one guild's subscriptions ------------------------------------------------------


@dataclass
class TwoGuilds:
    """Guilds Alpha and Bravo, each with one subscription made through `/alerts add`."""

    discord: DiscordEmulator
    alpha: Guild
    bravo: Guild
    alpha_mod: Member
    bravo_mod: Member
    alpha_sub: int
    bravo_sub: int
    db_url: str

    def channel(self, guild: Guild) -> int:
        """Return the guild's #launches."""
        return guild.channel_named("launches").id

    async def ask(self, guild: Guild, user: Member, sub: str, **options: Any) -> Any:
        """Invoke `/alerts <sub>` in the guild's #launches; return the answer."""
        result = await self.discord.invoke_command(
            guild.id, self.channel(guild), user.user.id, "alerts", options, subcommand=sub
        )
        return await result.response(timeout=5)

    async def autocomplete(self, guild: Guild, user: Member, sub: str, typed: str) -> list[str]:
        """Return the `subscription` choices offered for what was typed."""
        result = await self.discord.autocomplete(
            guild.id,
            self.channel(guild),
            user.user.id,
            "alerts",
            {"subscription": typed},
            focused="subscription",
            subcommand=sub,
        )
        return [str(c["value"]) for c in (await result.response(timeout=5)).choices or []]


@pytest.fixture
async def two_guilds(tmp_path: Path) -> AsyncIterator[TwoGuilds]:
    """Yield the bot in two guilds, each having subscribed its #launches to dockings."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with (
        LL2Emulator([docking()], requests_per_hour=None) as ll2,
        DiscordEmulator() as discord,
    ):
        alpha = discord.add_guild("Alpha", channels=("general", "launches"))
        bravo = discord.add_guild("Bravo", channels=("general", "launches"))
        alpha_mod, bravo_mod = discord.add_moderator(alpha.id), discord.add_moderator(bravo.id)
        async with running_bot(bot_config(ll2, discord, db_url), discord):
            await eventually(lambda: seeded(db_url))
            world = TwoGuilds(discord, alpha, bravo, alpha_mod, bravo_mod, 0, 0, db_url)
            for guild, mod in ((alpha, alpha_mod), (bravo, bravo_mod)):
                reply = await world.ask(guild, mod, "add", type="Docking")
                assert "Subscribed" in (reply.content or "")
            (world.alpha_sub,) = stored_subscriptions(db_url, alpha.id)
            (world.bravo_sub,) = stored_subscriptions(db_url, bravo.id)
            yield world


@pytest.mark.timeout(60)
async def test_a_guild_cannot_read_or_change_another_guilds_subscriptions(
    two_guilds: TwoGuilds,
) -> None:
    """Bravo's moderator lists, removes, tests and autocompletes: Alpha's #n never shows."""
    w = two_guilds
    alpha_id = str(w.alpha_sub)
    listed = await w.ask(w.bravo, w.bravo_mod, "list")
    assert SUBSCRIPTION_NUMBER.findall(listed.content or "") == [str(w.bravo_sub)]
    for typed in (alpha_id, f"#{alpha_id}", f" {alpha_id} ", f"#{alpha_id} · type: Docking"):
        for action in ("remove", "test"):
            reply = await w.ask(w.bravo, w.bravo_mod, action, subscription=typed)
            assert reply.ephemeral and f"no subscription #{alpha_id}" in (reply.content or "")
    for typed in ("", alpha_id, f"#{alpha_id}", "Docking", "#"):
        for action in ("remove", "test"):
            assert await w.autocomplete(w.bravo, w.bravo_mod, action, typed) in (
                [],
                [str(w.bravo_sub)],
            ), (action, typed)
    assert stored_subscriptions(w.db_url, w.alpha.id) == [w.alpha_sub]
    assert stored_subscriptions(w.db_url, w.bravo.id) == [w.bravo_sub]
    assert w.discord.messages(w.channel(w.alpha)) == []  # no test alert reached Alpha
    assert await w.autocomplete(w.alpha, w.alpha_mod, "test", "") == [alpha_id]


# --- secrets -----------------------------------------------------------------------------------


def fragments(secret: str) -> list[str]:
    """Return the secret and each long piece of it (a log could show one part of a token)."""
    return [secret, *(part for part in secret.split(".") if len(part) >= 8)]


def leaks(text: str) -> list[str]:
    """Return the secret fragments found in ``text``."""
    return [f for s in (DISCORD_TOKEN, WRONG_TOKEN, LL2_KEY) for f in fragments(s) if f in text]


@dataclass
class SecretWorld:
    """Emulators that accept only the secrets, one subscribed channel and a store."""

    ll2: LL2Emulator
    discord: DiscordEmulator
    guild: Guild
    channel_id: int
    moderator: Member
    db_url: str
    workdir: Path

    async def traffic(self) -> None:
        """Seed (after a 429), answer three commands and deliver one alert."""
        await eventually(lambda: seeded(self.db_url), within=20)
        assert any(r.status == 429 for r in self.ll2.requests)
        for name, sub in (("status", None), ("events", "upcoming"), ("alerts", "list")):
            result = await self.discord.invoke_command(
                self.guild.id, self.channel_id, self.moderator.user.id, name, {}, subcommand=sub
            )
            assert (await result.response(timeout=5)).ephemeral or name == "events"
        self.ll2.add_update(DOCKING, "Hatch open")
        await eventually(lambda: bool(self.discord.messages(self.channel_id)))


@pytest.fixture
async def secret_world(tmp_path: Path) -> AsyncIterator[SecretWorld]:
    """Yield emulators keyed to the secrets, LL2 set to throttle the first event request."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with (
        LL2Emulator(
            [docking()], requests_per_hour=None, api_keys={LL2_KEY: None}, reject_unknown_keys=True
        ) as ll2,
        DiscordEmulator(token=DISCORD_TOKEN) as discord,
    ):
        guild = discord.add_guild("Secret Club", channels=("general", "launches"))
        channel_id = guild.channel_named("launches").id
        add_channel_subscriptions(db_url, guild.id, [channel_id], type_ids=[2])
        ll2.inject_fault(FaultKind.THROTTLE, path="/event/", retry_after=1)
        yield SecretWorld(
            ll2, discord, guild, channel_id, discord.add_moderator(guild.id), db_url, tmp_path
        )


@pytest.mark.timeout(60)
async def test_token_and_ll2_key_never_reach_the_debug_log_in_process(
    secret_world: SecretWorld,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """At DEBUG, through commands, an alert, an LL2 429 and a refused login: no secret logged."""
    w = secret_world
    caplog.set_level(logging.DEBUG)
    config = bot_config(
        w.ll2, w.discord, w.db_url, token=DISCORD_TOKEN, api_key=LL2_KEY, log_level="DEBUG"
    )
    async with running_bot(config, w.discord):
        await w.traffic()
    refused = replace(config, discord=replace(config.discord, token=Secret(WRONG_TOKEN)))
    with pointed_at(w.discord):
        assert await run_bot(refused) == 2
    printed = capsys.readouterr()
    logged = caplog.text + "".join(f"{r.args!r}{r.exc_text}" for r in caplog.records)
    assert leaks(logged + printed.out + printed.err) == []
    assert "rejected the bot token" in printed.err
    # The secrets were really in use, and DEBUG really was on.
    assert {r.ident for r in w.ll2.requests} == {f"token:***{LL2_KEY[-4:]}"}
    assert any(r.name.startswith("discord.") and r.levelno == logging.DEBUG for r in caplog.records)


@pytest.mark.timeout(90)
async def test_token_and_ll2_key_never_reach_tminus_run_debug_stderr(
    secret_world: SecretWorld,
) -> None:
    """`tminus run --log-level DEBUG` (env secrets) and a refused login print no secret."""
    w = secret_world

    def env(token: str) -> dict[str, str]:
        return run_env(
            discord=w.discord,
            ll2=w.ll2,
            db_url=w.db_url,
            home=w.workdir,
            token=token,
            extra={"TMINUS_LL2_API_KEY": LL2_KEY},
        )

    debug = ("--log-level", "DEBUG")
    bot = await BotProcess.start(
        env(DISCORD_TOKEN), cwd=w.workdir, log=w.workdir / "run.log", args=debug
    )
    try:
        await w.traffic()
    finally:
        assert await bot.stop() == 0, bot.output()[-2000:]
    refused = await BotProcess.start(
        env(WRONG_TOKEN), cwd=w.workdir, log=w.workdir / "refused.log", args=debug
    )
    assert await refused.wait(timeout=30) == 2
    output = bot.output() + refused.output()
    assert leaks(output) == []
    assert "DEBUG" in bot.output() and "rejected the bot token" in refused.output()
    assert {r.ident for r in w.ll2.requests} == {f"token:***{LL2_KEY[-4:]}"}
