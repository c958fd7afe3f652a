"""Cluster: three `tminus run` processes on PostgreSQL fan one alert out to 300 channels.

Three real `tminus run` children share a fresh PostgreSQL schema; the gateway has three
shards, one per process (IDENTIFY ``[shard, 3]``). The Discord emulator is configured like
Discord and like ``benchmarks/fanout.py``: a global limit of 50 requests/s per bot, a bucket
of 5 messages per 5 s per channel on ``POST /channels/{id}/messages``, 50 ms latency on every
request. 300 channels in 12 guilds (25 each, four guilds per shard) follow webcasts; one
event's webcast flips live in the LL2 emulator, the process holding the poller lease sees it
and enqueues 300 deliveries, and all three processes claim and send them while sharing one
50/s budget through the database.

Figures: the delivery rate (messages over the window from the first message request
reaching Discord to the last message stored) against 50/s, target ≥ 0.9 (issue 12); the
most requests the three sent together in any sliding one-second window, over the whole run
from start-up (interaction callbacks excluded, as Discord exempts them), target ≤ 50; 429s
(none allowed); channels holding exactly one message; how the messages split over the
processes (from each process's ``/metrics``). Without ``--quick`` the same fan-out also runs
with one process connecting all three shards, for comparison.

Without a PostgreSQL server (``TMINUS_TEST_POSTGRES_URL`` or the local default) the figures
are reported as not measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import Figure, postgres_base_url, settle_emulators, wait_for
from bot.devtools.cluster import (
    DOCKING,
    MESSAGES,
    Fleet,
    Store,
    busiest_second,
    docking,
    fleet_of,
    guilds_over_shards,
    scraped_value,
    subscribe_channels,
    until,
)
from bot.devtools.cluster import discord_limits as limits
from bot.devtools.discord_emulator import DiscordEmulator
from bot.devtools.ll2_emulator import LL2Emulator
from bot.devtools.pgschema import postgres_schema
from storage.models import DeliveryState

GLOBAL_PER_SECOND = 50
LATENCY = 0.05
CEILING = float(GLOBAL_PER_SECOND)  # messages/s: one request per message
TARGET = 0.9  # issue 12: >= 0.9 of the 50/s ceiling
SHARDS = 3
GUILDS = 12
CHANNELS_PER_GUILD = 25
CHANNELS = GUILDS * CHANNELS_PER_GUILD
BENCH = "cluster"


@dataclass
class Run:
    """What one fan-out through a fleet measured."""

    processes: int
    channels: int
    posts_ok: int = 0
    window: float = float("inf")
    first_message: float = float("inf")
    last_message: float = float("inf")
    busiest_sent: int = 0
    busiest_accepted: int = 0
    requests: int = 0
    limited: int = 0
    exactly_one: int = 0
    served: int = 0
    pending: int = 0
    failed: int = 0
    finished: bool = False
    poller: int | None = None
    sent_by: dict[int, float] = field(default_factory=dict)
    shards_by: dict[int, list[int]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Messages per second over the delivery window."""
        return self.posts_ok / self.window if self.posts_ok else 0.0


def _directory(path: Path) -> Path:
    """Create ``path`` (the processes' home and logs); return it."""
    path.mkdir(parents=True, exist_ok=True)
    return path


async def fan_out(db_url: str, home: Path, *, processes: int) -> Run:
    """Run ``processes`` processes over three shards; flip one webcast live; measure."""
    run = Run(processes=processes, channels=CHANNELS)
    async with (
        LL2Emulator([docking()], requests_per_hour=None) as ll2,
        DiscordEmulator(rate_limits=limits(), latency=LATENCY) as discord,
    ):
        guilds = guilds_over_shards(discord, GUILDS, CHANNELS_PER_GUILD, shards=SHARDS)
        channel_ids = subscribe_channels(db_url, guilds, ["webcast_live"])
        store = Store(db_url)
        try:
            async with fleet_of(
                discord, ll2, db_url, home, shards=SHARDS, processes=processes, metrics=True
            ) as fleet:
                await until(lambda: store.events() == 1, 60, fleet, "the store seeded")
                await _measure(run, fleet, store, discord, ll2, channel_ids)
        finally:
            store.close()
    return run


async def _measure(
    run: Run,
    fleet: Fleet,
    store: Store,
    discord: DiscordEmulator,
    ll2: LL2Emulator,
    channel_ids: list[int],
) -> None:
    requests_before = len(discord.requests)
    flipped = time.time()
    settle_emulators()
    ll2.set_webcast_live(DOCKING, True)
    waiting = set(channel_ids)

    def delivered() -> bool:
        # Only the channels still waiting are looked at, every 20 ms: this loop shares the
        # process with the Discord emulator (see benchmarks/fanout.py).
        waiting.difference_update([c for c in waiting if discord.messages(c)])
        return not waiting

    run.finished = await wait_for(delivered, len(channel_ids) / 20 + 60, 0.02)
    await wait_for(lambda: store.pending() == 0, 15, 0.1)
    await wait_for(lambda: False, 1.5)  # anything doubled would show up now
    poller = store.poller_pid()
    run.poller = None if poller is None else fleet.shard_of_pid(poller)
    for slot in fleet.procs:
        samples = await fleet.scrape(slot)
        run.sent_by[slot] = scraped_value(samples, "tminus_deliveries_total", outcome="sent")
        run.shards_by[slot] = fleet.shards_of(slot)
    run.pending = store.pending()
    run.failed = store.deliveries(DeliveryState.FAILED)

    bot_requests = [r for r in discord.requests if "/interactions/" not in r.path]
    run.requests = len(bot_requests)
    run.busiest_sent = busiest_second([r.time for r in bot_requests])
    run.busiest_accepted = busiest_second(
        [r.time for r in bot_requests if r.status is not None and r.status != 429]
    )
    run.limited = sum(1 for r in discord.requests if r.status == 429)
    ok_posts = [
        r
        for r in discord.requests[requests_before:]
        if r.method == "POST" and r.template == MESSAGES and r.status == 200
    ]
    counts = [len(discord.messages(c)) for c in channel_ids]
    run.exactly_one = sum(1 for c in counts if c == 1)
    run.served = sum(1 for c in counts if c)
    run.posts_ok = len(ok_posts)
    if ok_posts:
        # A request is recorded on arrival; the emulator stores its message LATENCY later.
        first = min(r.time for r in ok_posts)
        last = max(r.time for r in ok_posts)
        run.window = last - first + LATENCY
        run.first_message = first + LATENCY - flipped
        run.last_message = last + LATENCY - flipped


def _who(run: Run) -> str:
    """Describe the processes: their shards, the poller, what each sent."""
    parts = []
    for slot in sorted(run.sent_by):
        shards = ",".join(map(str, run.shards_by.get(slot, [])))
        poller = ", the poller" if slot == run.poller else ""
        parts.append(f"process {slot} (shard {shards}{poller}): {run.sent_by[slot]:.0f}")
    return "; ".join(parts)


def figures_of(run: Run) -> list[Figure]:
    """Return the figures of the three-process run."""
    name = f"{run.processes} processes, {run.channels} channels"
    note = (
        f"{run.posts_ok} messages in {run.window:.2f} s (ideal {run.channels / CEILING:.2f} s); "
        f"LL2 flip -> first message {run.first_message:.2f} s, -> last {run.last_message:.2f} s "
        f"(includes the poller's next poll, every 1-2 s here); "
        f"pending {run.pending}, failed {run.failed}"
    )
    if not run.finished:
        note += f"; TIMED OUT with {run.served}/{run.channels} channels served"
    total = sum(run.sent_by.values())
    return [
        Figure(
            BENCH,
            f"{name}: delivery rate",
            run.rate,
            "msg/s",
            CEILING,
            "50 msg/s (global limit)",
            goal="min",
            target=TARGET,
            note=note,
        ),
        Figure(
            BENCH,
            f"{name}: most requests in one second",
            run.busiest_sent,
            "requests",
            CEILING,
            "50 requests/s (per bot)",
            goal="max",
            target=1.0,
            note=f"sliding 1 s window over all {run.requests} requests the processes sent "
            f"from start-up (interaction callbacks excluded); of those answered without 429: "
            f"{run.busiest_accepted}",
        ),
        Figure(
            BENCH,
            f"{name}: 429s from the emulator",
            run.limited,
            "",
            ceiling_label="0 allowed",
            ok_override=run.limited == 0,
        ),
        Figure(
            BENCH,
            f"{name}: channels with exactly one message",
            run.exactly_one,
            "channels",
            float(run.channels),
            f"{run.channels:,} channels",
            ok_override=run.exactly_one == run.channels and run.pending == 0 and run.failed == 0,
        ),
        Figure(
            BENCH,
            f"{name}: messages sent by the busiest process",
            max(run.sent_by.values(), default=0.0),
            "messages",
            total or None,
            f"{total:.0f} messages (all processes)",
            note=f"from each process's /metrics (tminus_deliveries sent): {_who(run)}",
        ),
    ]


def comparison(one: Run, three: Run) -> Figure:
    """Return the one-process run's rate, with the three-process one beside it."""
    ratio = three.rate / one.rate if one.rate else float("nan")
    return Figure(
        BENCH,
        f"1 process (3 shards), {one.channels} channels: delivery rate",
        one.rate,
        "msg/s",
        CEILING,
        "50 msg/s (global limit)",
        note=f"{one.posts_ok} messages in {one.window:.2f} s; 3 processes / 1 process: "
        f"{ratio:.2f}; most requests in one second {one.busiest_sent}, "
        f"{one.limited} x 429, {one.exactly_one}/{one.channels} channels with one message",
    )


async def run(*, quick: bool, workdir: Path) -> list[Figure]:
    """Fan out through three processes (and, without ``quick``, through one)."""
    base = postgres_base_url()
    if base is None:
        return [
            Figure(
                BENCH,
                "3 processes on PostgreSQL: not measured",
                0,
                "",
                note="no server at TMINUS_TEST_POSTGRES_URL or 127.0.0.1:5432",
            )
        ]
    with postgres_schema(base, prefix="bench") as url:
        three = await fan_out(url, _directory(workdir / "three"), processes=3)
    figures = figures_of(three)
    if not quick:
        with postgres_schema(base, prefix="bench") as url:
            one = await fan_out(url, _directory(workdir / "one"), processes=1)
        figures.append(comparison(one, three))
    return figures
