"""Repo-wide smoke test: every extension loads; commands are unique and described."""

from __future__ import annotations

from pathlib import Path

from discord import app_commands

from bot.app.client import EXTENSIONS, TMinusBot
from bot.config import load_config
from bot.ll2.client import LL2Client
from bot.pipeline.runner import Pipeline
from storage.db import make_engine, upgrade


def _walk(commands: list[app_commands.Command | app_commands.Group]) -> list[object]:
    found: list[object] = []
    for command in commands:
        found.append(command)
        if isinstance(command, app_commands.Group):
            found.extend(_walk(command.commands))  # type: ignore[arg-type]
    return found


async def test_every_extension_loads_and_every_command_is_unique_and_described(
    tmp_path: Path,
) -> None:
    """Load all cogs into a bot: no load error, no duplicate names, every description set."""
    config = load_config(None, env={}, overrides={("storage", "url"): f"sqlite:///{tmp_path}/s.db"})
    engine = make_engine(config.storage.url)
    upgrade(engine)
    async with LL2Client(config.ll2) as client:
        pipeline = Pipeline(config=config, engine=engine, client=client, sink=None)
        bot = TMinusBot(config=config, engine=engine, ll2=client, pipeline=pipeline)
        for name in EXTENSIONS:
            await bot.load_extension(name)
        assert set(bot.extensions) == set(EXTENSIONS)
        top = bot.tree.get_commands()
        names = [c.name for c in top]
        assert len(names) == len(set(names)) == 4  # events, launches, alerts, status
        for command in _walk(top):  # type: ignore[arg-type]
            assert command.description, command.qualified_name  # type: ignore[attr-defined]
            for parameter in getattr(command, "parameters", []):
                assert parameter.description and parameter.description != "…", parameter.name
        for name in EXTENSIONS:
            await bot.unload_extension(name)
    engine.dispose()
