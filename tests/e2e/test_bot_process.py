"""`tminus run` as a process: clean stops on SIGTERM/SIGINT, one line for a rejected token."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app.client import run_bot
from bot.core.timeutil import utcnow
from bot.devtools.cluster import BotProcess, run_env
from bot.devtools.discord_emulator import DiscordEmulator, pointed_at
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from tests.faults.bot import (
    add_channel_subscriptions,
    bot_config,
    delivery_states,
    eventually,
    stop_task,
)

DOCKING = 7401


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_stops_the_bot_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    """Connected, synced and having delivered an alert, the bot exits 0 on SIGTERM/SIGINT
    with no traceback and leaves nothing pending."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    now = utcnow().replace(microsecond=0)
    docking = make_event(
        DOCKING,
        "Crew-14 Docking",
        date=now + timedelta(hours=5),
        last_updated=now - timedelta(days=2),
    )
    async with LL2Emulator([docking], requests_per_hour=None) as ll2, DiscordEmulator() as discord:
        guild = discord.add_guild("Space Club")
        channel_id = guild.channel_named("general").id
        add_channel_subscriptions(db_url, guild.id, [channel_id], kinds=["webcast_live"])
        env = run_env(discord=discord, ll2=ll2, db_url=db_url, home=tmp_path)
        bot = await BotProcess.start(env, cwd=tmp_path, log=tmp_path / "bot.log")
        await eventually(lambda: bool(discord.synced_commands()) or bot.returncode is not None)
        await eventually(lambda: bool(discord.gateway.live_sessions()))
        await eventually(lambda: any(r.path.rstrip("/").endswith("/event") for r in ll2.requests))
        ll2.set_webcast_live(DOCKING, True)  # queues one delivery
        await eventually(lambda: delivery_states(db_url)["sent"] == 1, within=30)
        bot.process.send_signal(signum)
        assert await bot.wait(timeout=20) == 0, bot.output()[-2000:]
        messages = discord.messages(channel_id)
    assert "Traceback" not in bot.output()
    assert len(messages) == 1
    assert delivery_states(db_url) == {"pending": 0, "sent": 1, "failed": 0, "dropped": 0}


@pytest.mark.parametrize("source", ["environment", "config file"])
async def test_a_rejected_token_is_one_line_and_exit_2(tmp_path: Path, source: str) -> None:
    """Discord answering 401 gives one clear line, exit 2, blaming where the token came from."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with LL2Emulator(requests_per_hour=None) as ll2, DiscordEmulator() as discord:
        env = run_env(discord=discord, ll2=ll2, db_url=db_url, home=tmp_path, token="not-the-token")
        env["TMINUS_LOG_LEVEL"] = "ERROR"
        args: tuple[str, ...] = ()
        where = "TMINUS_DISCORD_TOKEN"
        if source == "config file":
            del env["TMINUS_DISCORD_TOKEN"]
            config = tmp_path / "bot.toml"
            config.write_text('[discord]\ntoken = "not-the-token"\n')
            args = ("--config", str(config))
            where = str(config)
        bot = await BotProcess.start(env, cwd=tmp_path, log=tmp_path / "bot.log", args=args)
        assert await bot.wait(timeout=30) == 2
    lines = [line for line in bot.output().splitlines() if line.strip()]
    assert lines == [
        f"tminus: Discord rejected the bot token (discord.token from {where}); "
        "check it in the developer portal"
    ]
    assert "not-the-token" not in bot.output()


async def test_dev_guild_ids_sync_commands_to_those_guilds_instantly(tmp_path: Path) -> None:
    """With `discord.dev_guild_ids`, the commands go to that guild, not globally."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with LL2Emulator(requests_per_hour=None) as ll2, DiscordEmulator() as discord:
        guild = discord.add_guild("Dev Server")
        config = bot_config(ll2, discord, db_url)
        config = replace(config, discord=replace(config.discord, dev_guild_ids=(guild.id,)))
        with pointed_at(discord):
            task = asyncio.create_task(run_bot(config))
            try:
                await eventually(lambda: bool(discord.synced_commands(guild.id)) or task.done())
                names = {c["name"] for c in discord.synced_commands(guild.id)}
                assert names == {"events", "launches", "alerts", "status"}
                assert discord.synced_commands() == []
            finally:
                await stop_task(task)
