"""End to end: /launches through the real `tminus run` against the loopback Discord emulator.

Lookups answer from the store (docs/architecture.md, invariant 7): the store is filled with
recorded launches, moved to the coming days, exactly as sync saves them; the bot then runs
against both emulators, and every request it sends must match Discord's OpenAPI document.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from bot.core.timeutil import isoformat_z, utcnow
from bot.devtools.discord_emulator import DiscordEmulator, Guild, Member
from bot.devtools.ll2_emulator import LL2Emulator
from bot.ll2.parse import parse_launch
from bot.pipeline.records import launch_record
from storage import queries
from storage.db import make_engine, session_scope, upgrade
from tests.e2e.test_bot import e2e_events
from tests.faults.bot import bot_config, running_bot

pytestmark = pytest.mark.slow

STARLINK = "6f2868b8-1000-48e5-893b-700c1371b4fb"
UUID_PATH = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/?$")
ARTEMIS = "41699701-2ef4-4b0c-ac9d-6757820cde87"


def upcoming_launches() -> list[dict[str, Any]]:
    """Return the recorded launches with NETs moved into the coming days, in recorded order."""
    path = files("bot").joinpath("data", "ll2", "launches-selection.2.2.0.json")
    raws = json.loads(path.read_text(encoding="utf-8"))["results"]
    start = utcnow().replace(microsecond=0) + timedelta(hours=6)
    moved = []
    for day, raw in enumerate(raws):
        raw = copy.deepcopy(raw)
        net = start + timedelta(days=day)
        raw["net"] = raw["window_start"] = isoformat_z(net)
        raw["window_end"] = isoformat_z(net + timedelta(hours=2))
        moved.append(raw)
    return moved


@dataclass
class Stack:
    """The running bot, its emulators and the guild the commands come from."""

    ll2: LL2Emulator
    discord: DiscordEmulator
    guild: Guild
    channel_id: int
    member: Member

    async def command(self, sub: str, **options: Any) -> Any:
        """Invoke ``/launches <sub>`` as an ordinary member and return the reply."""
        result = await self.discord.invoke_command(
            self.guild.id, self.channel_id, self.member.user.id, "launches", options, subcommand=sub
        )
        return await result.response(timeout=5)

    async def autocomplete(self, sub: str, focused: str, text: str) -> list[dict[str, Any]]:
        """Type ``text`` into ``focused`` of ``/launches <sub>``; return the choices offered."""
        result = await self.discord.autocomplete(
            self.guild.id,
            self.channel_id,
            self.member.user.id,
            "launches",
            {focused: text},
            focused=focused,
            subcommand=sub,
        )
        return (await result.response()).choices or []

    def ll2_lookups(self, since: int) -> list[str]:
        """Return the LL2 requests since ``since`` that a lookup would have made.

        The bot polls on its own schedule (feeds by ``last_updated``); a lookup would instead
        ask for one launch by id or slug, or search.
        """
        return [
            r.path
            for r in self.ll2.requests[since:]
            if "search" in r.query or UUID_PATH.search(r.path) or "slug" in r.query
        ]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """Yield the bot running in one guild over a store that holds the recorded launches."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    with session_scope(engine) as session:
        records = [launch_record(parse_launch(raw), raw) for raw in upcoming_launches()]
        queries.save_launches(session=session, records=records, now=utcnow())
    engine.dispose()
    async with (
        LL2Emulator(e2e_events(), requests_per_hour=None) as ll2,
        DiscordEmulator() as discord,
    ):
        guild = discord.add_guild("Space Club", channels=("general", "launches"))
        member = discord.add_member(guild.id, "viewer")
        config = bot_config(ll2, discord, db_url)
        async with running_bot(config, discord):
            yield Stack(ll2, discord, guild, guild.channel_named("launches").id, member)
        # Whatever the test did, every request the bot sent matched Discord's OpenAPI document.
        assert [f.messages() for f in discord.validation_errors] == []


def field(embed: dict[str, Any], name: str) -> str:
    """Return the value of the embed field whose name contains ``name``."""
    for item in embed.get("fields", []):
        if name in item["name"]:
            return str(item["value"])
    raise AssertionError(f"no field {name!r} in {[f['name'] for f in embed.get('fields', [])]}")


async def test_next_show_search_and_live_answer_from_the_store(stack: Stack) -> None:
    """/launches next, show, search and live answer with the right launches, asking LL2 nothing."""
    before = len(stack.ll2.requests)

    nxt = await stack.command("next", provider="SpaceX")
    assert not nxt.ephemeral
    (embed,) = nxt.embeds
    assert embed["title"] == "Falcon 9 Block 5 | Starlink Group 10-48"
    assert field(embed, "Status").endswith("Go for Launch")
    assert field(embed, "NET").startswith("<t:")
    assert embed["thumbnail"]["url"].startswith("https://")
    buttons = nxt.components[0]["components"]
    assert buttons[0]["style"] == 5 and buttons[0]["url"].startswith("https://")

    show = await stack.command("show", launch=ARTEMIS)
    assert show.embeds[0]["title"] == "SLS Block 1 | Artemis II"
    assert field(show.embeds[0], "Pad") == "Launch Complex 39B\nKennedy Space Center, FL, USA"

    by_slug = await stack.command("show", launch="falcon-9-block-5-dragon-crs-2-spx-34")
    assert by_slug.embeds[0]["title"] == "Falcon 9 Block 5 | Dragon CRS-2 SpX-34"
    assert field(by_slug.embeds[0], "NET").startswith("NET ")  # Month: no fake exact time

    found = await stack.command("search", query="Falcon 9")
    listed = found.embeds[0]["description"].splitlines()
    assert len(listed) == 4
    assert "Starlink Group 10-48" in listed[0]

    one = await stack.command("search", query="Progress MS-33")
    assert one.embeds[0]["title"] == "Soyuz 2.1a | Progress MS-33 (94P)"

    live = await stack.command("live")
    assert live.embeds[0]["title"] == "🔴 Live now"
    assert len(live.embeds[0]["description"].splitlines()) == 3

    assert stack.ll2_lookups(before) == []


async def test_upcoming_lists_by_net_with_filters(stack: Stack) -> None:
    """/launches upcoming count:5 lists five; location:Kennedy narrows to Artemis II."""
    five = await stack.command("upcoming", count=5)
    lines = five.embeds[0]["description"].splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("`1.` **Falcon 9 Block 5 \\| Starlink")
    kennedy = await stack.command("upcoming", location="Kennedy Space Center, FL, USA")
    assert "Artemis II" in kennedy.embeds[0]["description"]
    assert len(kennedy.embeds[0]["description"].splitlines()) == 1


async def test_unknown_launch_and_provider_get_ephemeral_answers(stack: Stack) -> None:
    """A launch or provider the store does not know is a short ephemeral answer, not an error."""
    missing = await stack.command("show", launch="Apollo 11")
    assert missing.ephemeral
    assert "no launch matching 'Apollo 11'" in (missing.content or "")
    typo = await stack.command("next", provider="SpaceY")
    assert typo.ephemeral
    assert "SpaceX" in (typo.content or "")


async def test_provider_location_and_launch_options_autocomplete(stack: Stack) -> None:
    """provider, location and launch offer what the store holds; a launch's value is its UUID."""
    providers = await stack.autocomplete("next", "provider", "spac")
    assert providers[0] == {"name": "SpaceX (SpX)", "value": "121"}
    sites = await stack.autocomplete("upcoming", "location", "kennedy")
    assert [c["value"] for c in sites] == ["27"]
    picked = await stack.autocomplete("show", "launch", "artemis")
    assert [c["value"] for c in picked] == [ARTEMIS]
    first = await stack.autocomplete("show", "launch", "")
    assert first[0]["value"] == STARLINK
    assert all(len(c["name"]) <= 100 for c in first)
