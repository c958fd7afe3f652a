"""Bad input never crashes tminus and always gets a clear answer.

* LL2 payloads drawn by hypothesis — well-formed events with hostile text, events with a
  field spoiled, arbitrary JSON, raw bytes — served verbatim on loopback to the real
  `watch` pipeline: every cycle returns (seeding and polling), well-formed events are stored,
  items that are no object are rejected, garbage stores nothing and moves no watermark, and
  no drawn date (up to 2080) moves a watermark past now plus the clock-skew allowance.
* Slash-command options drawn by hypothesis — over-long, unicode, mentions, markdown,
  nonsense ids — sent through the Discord emulator to one running bot: an answer always
  arrives, errors are one ephemeral line, nothing is 'Something went wrong', no request the
  bot makes fails Discord's OpenAPI document, and nothing in an answer pings.
* Broken config files: `tminus --config bad.toml watch` exits 2 with one stderr line.

Hypothesis drives async code from a worker thread: each example is a coroutine submitted to
the test's event loop, where the emulators and the bot run.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.config import load_config
from bot.core.timeutil import parse_datetime, utcnow
from bot.devtools.discord_emulator import Channel, DiscordEmulator, Guild, Member, Role
from bot.devtools.ll2_emulator import LL2Emulator
from bot.ll2.client import LL2Client
from bot.pipeline.runner import console_pipeline
from bot.pipeline.sync import CLOCK_SKEW
from bot.render import check_limits
from storage import queries
from storage.db import make_engine, session_scope, upgrade
from storage.models import EventRow
from tests.faults.bot import bot_config, eventually, running_bot
from tests.faults.raw_ll2 import RawLL2, page
from tests.strategies import raw_events

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COMMAND_EXAMPLES = settings(EXAMPLES, max_examples=50)  # one round trip each: cheap


def on_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the test's event loop from hypothesis's thread; return its result."""
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)


# --- LL2 payloads ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = (
    "id", "name", "last_updated", "date", "date_precision", "type", "updates", "vid_urls",
    "webcast_live", "agencies", "program", "feature_image", "slug", "url", "description",
)  # fmt: skip


@st.composite
def spoiled_events(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a well-formed 2.2.0 event with one field replaced by arbitrary JSON."""
    event = draw(raw_events("2.2.0"))
    event[draw(st.sampled_from(FIELDS))] = draw(json_values)
    return event


@dataclass(frozen=True)
class Body:
    """A drawn LL2 answer: its bytes, what it holds, and what must come of it."""

    kind: str  # good | mixed | page-garbage | json | bytes
    data: bytes
    good: list[dict[str, Any]]  # well-formed events that must all be stored (kind "good")
    items: list[Any]  # every item of ``results`` (empty when there is no page)

    @property
    def garbage(self) -> bool:
        """Return whether no event list can be read from the answer at all."""
        return self.kind in ("json", "bytes")

    @property
    def certainly_bad(self) -> int:
        """Return how many items are no object at all (each must be rejected)."""
        return sum(1 for item in self.items if not isinstance(item, dict))


@st.composite
def ll2_bodies(draw: st.DrawFn) -> Body:
    """Draw a response body and the well-formed events in it (which must all be stored)."""
    kind = draw(st.sampled_from(["good", "mixed", "page-garbage", "json", "bytes"]))
    if kind == "bytes":
        return Body(kind, draw(st.binary(max_size=300)), [], [])
    if kind == "json":
        return Body(kind, json.dumps(draw(json_values)).encode(), [], [])
    good = draw(st.lists(raw_events("2.2.0"), max_size=5, unique_by=lambda e: e["id"]))
    if kind == "good":
        return Body(kind, page(good), good, list(good))
    bad = draw(st.lists(st.one_of(spoiled_events(), json_values), min_size=1, max_size=4))
    items = draw(st.permutations(good + bad))
    if kind == "mixed":
        return Body(kind, page(items), [], items)  # a spoiled item may share a good one's id
    body = {"results": items}
    for key in ("count", "next", "previous"):
        if draw(st.booleans()):
            body[key] = draw(json_values)
    return Body(kind, json.dumps(body).encode(), [], items)


def item_ids(items: list[Any]) -> set[Any]:
    """Return the ``id`` of every object among ``items`` (a list or object id is no id)."""
    return {
        item.get("id")
        for item in items
        if isinstance(item, dict) and not isinstance(item.get("id"), list | dict)
    }


@pytest.fixture(scope="module")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a migrated, empty SQLite file to copy for each example (migrating is slow)."""
    path = tmp_path_factory.mktemp("template") / "empty.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.mark.timeout(180)
async def test_hypothesis_ll2_payloads_never_crash_the_pipeline(
    migrated_store: Path, tmp_path: Path
) -> None:
    """Seed and poll cycles on drawn LL2 bodies return; well-formed events get stored."""
    loop = asyncio.get_running_loop()
    counter = iter(range(10**6))

    async with RawLL2() as ll2:

        async def one_example(body: Body) -> None:
            db = tmp_path / f"example-{next(counter)}.db"
            shutil.copy(migrated_store, db)
            engine = make_engine(f"sqlite:///{db}")
            config = load_config(None, env={}, overrides={("ll2", "url"): ll2.url()})
            out = io.StringIO()
            try:
                async with LL2Client(config.ll2, max_retries=0) as client:
                    pipeline = console_pipeline(
                        config=config, engine=engine, client=client, fmt="json", stream=out
                    )
                    ll2.body = body.data
                    for _ in ("seed", "poll"):
                        report = await pipeline.cycle()
                        if body.good:
                            assert report.error is None and report.throttled is None, report
                            assert report.sync is not None and report.sync.rejected == 0
                        if body.garbage:
                            # Nothing to read: the cycle fails, it does not guess.
                            assert report.error is not None and report.sync is None, report
                        if report.sync is not None:
                            assert report.sync.rejected >= body.certainly_bad, report.sync
                checked_at = utcnow()
                with session_scope(engine) as session:
                    state = queries.sync_state(session=session)
                    stored = set(session.exec(select(EventRow.id)).all())
                    count = queries.count_events(session=session)
                    for event in body.good:
                        assert queries.get_event(session=session, event_id=event["id"])
            finally:
                engine.dispose()
            # Stored: exactly the good events, or (mixed pages) only what the answer held.
            if body.good or body.kind == "good":
                assert count == len(body.good)
            else:
                assert stored <= item_ids(body.items) and count <= len(body.items)
            # The watermark: never moved by garbage, never past now + the skew allowance
            # (drawn dates reach 2080), and at least the newest plausible change stored.
            if body.garbage:
                assert (state.watermark, state.seeded, count) == (None, False, 0)
                assert state.last_error is not None
            if state.watermark is not None:
                assert state.watermark <= checked_at + CLOCK_SKEW
            plausible = [
                parse_datetime(e["last_updated"])
                for e in body.good
                if parse_datetime(e["last_updated"]) <= checked_at
            ]
            if plausible:
                assert state.watermark is not None and state.watermark >= max(plausible)
            for line in out.getvalue().splitlines():
                assert check_limits(json.loads(line)["message"]) == []

        @EXAMPLES
        @given(drawn=ll2_bodies())
        def one_payload(drawn: Body) -> None:
            on_loop(loop, one_example(drawn))

        await asyncio.to_thread(one_payload)


# --- slash commands ----------------------------------------------------------------------------


@dataclass
class Server:
    """The running bot's guild: who invokes, where, and what options can point at."""

    discord: DiscordEmulator
    guild: Guild
    moderator: Member
    member: Member
    channels: list[Channel]
    roles: list[Role]
    ids: dict[str, int]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """Yield a bot seeded from the recorded LL2 events, in a guild with odd corners."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with (
        LL2Emulator(requests_per_hour=None) as ll2,
        DiscordEmulator() as discord,
    ):
        guild = discord.add_guild("Space Club", channels=("general", "launches"))
        launches = guild.channel_named("launches")
        muted = discord.add_channel(guild.id, "no-bot-posts", bot_can_send=False)
        news = discord.add_channel(guild.id, "news", type=5)
        thread = discord.add_thread(guild.id, launches.id, "launch-thread")
        moderator = discord.add_moderator(guild.id)
        member = discord.add_member(guild.id, "viewer")
        pings = discord.add_role(guild.id, "launch-pings", mentionable=True)
        quiet = discord.add_role(guild.id, "quiet", mentionable=False)
        bot_role = guild.roles[guild.bot_role_id]
        engine = make_engine(db_url)
        config = bot_config(ll2, discord, db_url)
        async with running_bot(config, discord):

            def seeded() -> bool:
                with session_scope(engine) as session:
                    return queries.count_events(session=session) > 0 and bool(
                        queries.event_types(session=session)
                    )

            await eventually(seeded)
            engine.dispose()
            yield Server(
                discord,
                guild,
                moderator,
                member,
                [guild.channel_named("general"), launches, muted, news, thread],
                [guild.everyone_role, pings, quiet, bot_role],
                {
                    "role": pings.id,
                    "user": member.user.id,
                    "channel": launches.id,
                    "guild": guild.id,
                },
            )


HOSTILE = (
    "@everyone", "@here", "@everyone <@&{role}> <@{user}>", "<@&{guild}>", "<#{channel}>",
    "**bold** _it_ ~~strike~~", "`code`", "```block```", "||spoiler||", "# Heading",
    "> quote", "[link](https://example.com)", "\\", "'", '"', "%", "_", "%_%", "🚀🛰️",
    "Ωμέγα", "\u200b", "\u202etxet", "ﷺ", "Docking", "docking", "DOCKING", "2", "0", "-1",
    "#1", "#", "1e3", "99999999999999999999", "9223372036854775808", "all", "none",
    "24h,1h,10m", "1 hour", "99999999999999d", "0s", "-5m", ",,,", "update,webcast", "ALL",
    "Soyuz", "NASA", "ISS", "   ",
)  # fmt: skip


def option_text(ids: dict[str, int]) -> st.SearchStrategy[str]:
    """Draw a string option as a Discord client could send it (1…6000 characters).

    Control characters are left out: Discord's input field cannot hold them.
    """
    hostile = st.sampled_from(HOSTILE).map(lambda t: t.format(**ids))
    plain = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=80)
    piece = hostile | plain
    long = st.tuples(piece, st.integers(30, 700)).map(lambda p: (p[0] * p[1])[:6000])
    mixed = st.lists(piece, min_size=2, max_size=4).map(" ".join)
    return st.one_of(hostile, plain, long, mixed)


@st.composite
def events_commands(draw: st.DrawFn, ids: dict[str, int]) -> tuple[str, dict[str, Any]]:
    """Draw `/events search|show|next|upcoming` with its options."""
    sub = draw(st.sampled_from(["search", "show", "next", "upcoming"]))
    text = option_text(ids)
    if sub == "search":
        return sub, {"query": draw(text)}
    if sub == "show":
        return sub, {"event": draw(text | st.integers(-5, 10**20).map(str))}
    options = {k: draw(text) for k in ("type", "agency", "program") if draw(st.booleans())}
    if sub == "upcoming" and draw(st.booleans()):
        options["count"] = draw(st.integers(1, 25))
    return sub, options


@st.composite
def alerts_commands(draw: st.DrawFn, world: Server) -> tuple[str, dict[str, Any]]:
    """Draw `/alerts add|remove|test` with its options."""
    sub = draw(st.sampled_from(["add", "add", "remove", "test"]))
    text = option_text(world.ids)
    if sub != "add":
        number = st.integers(0, 80).map(str) | st.integers(0, 80).map(lambda i: f"#{i}")
        return sub, {"subscription": draw(text | number)}
    keys = ("type", "agency", "program", "kinds", "reminders")
    options: dict[str, Any] = {k: draw(text) for k in keys if draw(st.booleans())}
    if draw(st.booleans()):
        options["channel"] = draw(st.sampled_from(world.channels))
    if draw(st.booleans()):
        options["mention"] = draw(st.sampled_from(world.roles))
    return sub, options


async def ask(world: Server, name: str, sub: str, options: dict[str, Any]) -> None:
    """Invoke one command and check the answer is clear, valid and pings no one."""
    user = world.moderator if name == "alerts" else world.member
    result = await world.discord.invoke_command(
        world.guild.id, world.channels[1].id, user.user.id, name, options, subcommand=sub
    )
    reply = await result.response(timeout=5)
    content = reply.content or ""
    shown = f"/{name} {sub} {options!r} → {content[:300]!r}"
    assert content or reply.embeds, shown
    assert "Something went wrong" not in content, shown
    if content.startswith("❌"):
        assert reply.ephemeral and "\n" not in content and len(content) <= 2000, shown
    message = reply.message or {}
    assert not message.get("mention_everyone") and not message.get("mention_roles"), shown
    assert not message.get("mentions"), shown
    assert world.discord.validation_errors == [], world.discord.validation_errors


def failed_commands(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the errors the bot logged while answering (e.g. 'command /x failed')."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.timeout(120)
async def test_hypothesis_events_options_always_get_a_clear_answer(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """`/events search|show|next|upcoming` with drawn options: a clear answer every time."""
    loop = asyncio.get_running_loop()

    @COMMAND_EXAMPLES
    @given(drawn=events_commands(server.ids))
    @example(drawn=("show", {"event": "9223372036854775808"}))  # past SQLite's integers
    def one_command(drawn: tuple[str, dict[str, Any]]) -> None:
        on_loop(loop, ask(server, "events", *drawn))

    await asyncio.to_thread(one_command)
    assert failed_commands(caplog) == []
    assert len(server.discord.interactions()) >= 50


@pytest.mark.timeout(120)
async def test_hypothesis_alerts_options_always_get_a_clear_answer(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """`/alerts add|remove|test` with drawn options: a clear answer every time."""
    loop = asyncio.get_running_loop()

    @COMMAND_EXAMPLES
    @given(drawn=alerts_commands(server))
    @example(drawn=("add", {"reminders": "99999999999999d"}))  # once an OverflowError
    @example(drawn=("add", {"kinds": "@everyone", "mention": server.roles[0]}))
    def one_command(drawn: tuple[str, dict[str, Any]]) -> None:
        on_loop(loop, ask(server, "alerts", *drawn))

    await asyncio.to_thread(one_command)
    assert failed_commands(caplog) == []
    assert len(server.discord.interactions()) >= 50


# --- config files ------------------------------------------------------------------------------

BROKEN_CONFIGS: dict[str, tuple[bytes | None, str]] = {
    "syntax.toml": (b'[ll2\nurl = "https://ll.thespacedevs.com/2.2.0"\n', "not valid TOML"),
    "latin1.toml": (b'[ll2]\nuser_agent = "caf\xe9"\n', "not UTF-8"),
    "zero-rate.toml": (b"[ll2]\nrequests_per_hour = 0\n", "ll2.requests_per_hour must be > 0"),
    "forever.toml": (b"[ll2]\nmin_interval = inf\n", "ll2.min_interval must be a duration"),
    "huge-lead.toml": (
        b'[alerts]\nreminders = ["24h", "99999999999999999d"]\n',
        "alerts.reminders must be a duration",
    ),
    "ftp.toml": (b'[ll2]\nurl = "ftp://ll.thespacedevs.com/2.2.0"\n', "ll2.url must be an http"),
    "loud.toml": (b'[log]\nlevel = "LOUD"\n', "log.level must be one of"),
    "typo.toml": (b'[discrod]\ntoken = "abc"\n', "unknown section [discrod]"),
    "token.toml": (b"[discord]\ntoken = 424242\n", "discord.token must be a string"),
    "folder.toml": (None, "is a directory"),
}


async def watch_with(config: Path, cwd: Path) -> tuple[int, str, str]:
    """Run `tminus --config PATH watch`; return exit status, stdout and stderr."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "watch",
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.timeout(120)
async def test_every_broken_config_file_gets_one_line_and_exit_2(tmp_path: Path) -> None:
    """Ten broken files: each exits 2 with one `tminus: …` line naming the problem and file."""
    for name, (content, _) in BROKEN_CONFIGS.items():
        if content is None:
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(content)
    runs = await asyncio.gather(*(watch_with(tmp_path / n, tmp_path) for n in BROKEN_CONFIGS))
    for (name, (_, expected)), (status, out, err) in zip(BROKEN_CONFIGS.items(), runs, strict=True):
        lines = err.splitlines()
        assert (status, out, len(lines)) == (2, "", 1), (name, status, err)
        assert lines[0].startswith("tminus: ") and expected in lines[0], (name, lines[0])
        assert name in lines[0] and "Traceback" not in err, (name, lines[0])
    assert "424242" not in runs[list(BROKEN_CONFIGS).index("token.toml")][2]  # a secret key
