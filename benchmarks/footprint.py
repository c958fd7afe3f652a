"""Footprint: peak RSS of `tminus run` holding 10,000 events and 10,000 subscriptions.

`tminus run` starts as a child process with the production LL2 budget (15 requests/hour,
30 s minimum interval) on a SQLite store pre-filled with 10,000 events and 10,000
subscriptions, in 200 guilds of 25 channels on the Discord emulator (50 subscriptions per
guild, two per channel). It connects, syncs its commands, receives the 200 guilds, polls LL2
(the LL2 emulator serves the same 10,000 events), runs its reminder and delivery loops, and
answers slash commands sent through the emulator's gateway. Peak RSS is the kernel's
high-water mark for the process (``VmHWM`` in ``/proc/<pid>/status``), read just before it is
stopped. The round trip of those slash commands is reported too: it is what a user waits,
event loop and all.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from benchmarks.common import Figure, percentile, tminus_run
from benchmarks.store import SUBS_PER_CHANNEL, SUBS_PER_GUILD, big_store, remap_subscriptions
from bot.devtools.discord_emulator import DiscordEmulator, RateLimitModel
from bot.devtools.ll2_emulator import LL2Emulator

TARGET_MIB = 150.0  # issue 13: peak RSS with 10,000 items and 10,000 subscriptions
DEADLINE_MS = 3000.0
CHANNELS_PER_GUILD = SUBS_PER_GUILD // SUBS_PER_CHANNEL


async def run(*, quick: bool, workdir: Path) -> list[Figure]:
    """Start `tminus run` on the big store, exercise it, and read its memory."""
    store = big_store(workdir.parent, quick=quick)
    url = store.copy_to(workdir / "footprint.db")
    guilds = (store.subscriptions + SUBS_PER_GUILD - 1) // SUBS_PER_GUILD
    limits = RateLimitModel(global_per_second=50)
    limits.set_bucket("POST", "/channels/{channel_id}/messages", 5, 5.0)
    rng = random.Random(3)
    async with (
        LL2Emulator(store.events, requests_per_hour=None) as ll2,
        DiscordEmulator(rate_limits=limits, latency=0.05) as discord,
    ):
        channels: list[tuple[int, int]] = []
        for g in range(guilds):
            names = [f"space-{c}" for c in range(CHANNELS_PER_GUILD)]
            guild = discord.add_guild(f"Space Club {g}", channels=names)
            channels += [(guild.id, guild.channel_named(n).id) for n in names]
        remap_subscriptions(url, channels)
        first_guild, first_channel = channels[0]
        member = discord.add_member(first_guild, "viewer")
        started = time.monotonic()
        async with tminus_run(
            discord=discord,
            ll2_url=ll2.url("2.2.0"),
            db_url=url,
            workdir=workdir,
            requests_per_hour=15,
            min_interval="30s",
        ) as bot:
            ready_after = time.monotonic() - started
            samples: list[int] = []
            latencies: list[float] = []
            names = [e["name"] for e in store.events]
            ids = [str(e["id"]) for e in store.events]
            commands = [
                ("upcoming", {}),
                ("search", {"query": "docking"}),
                ("show", {"event": ids[0]}),
            ]
            deadline = time.monotonic() + (8 if quick else 15)
            while time.monotonic() < deadline:
                samples.append(bot.status_kib("VmRSS") or 0)
                sub, options = rng.choice(commands)
                if sub == "search":
                    options = {"query": rng.choice(names).split()[0]}
                elif sub == "show":
                    options = {"event": rng.choice(ids)}
                t0 = time.perf_counter()
                result = await discord.invoke_command(
                    first_guild, first_channel, member.user.id, "events", options, subcommand=sub
                )
                await result.response(timeout=10)
                latencies.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.1)
            peak = bot.status_kib("VmHWM") or 0
            current = bot.status_kib("VmRSS") or 0
            polls = sum(1 for r in ll2.requests if r.counted)
    peak_mib = peak / 1024
    return [
        Figure(
            "footprint",
            "tminus run peak RSS (VmHWM)",
            peak_mib,
            "MiB",
            TARGET_MIB,
            "150 MiB (issue 13)",
            goal="max",
            target=1.0,
            note=f"{len(store.events):,} events, {store.subscriptions:,} subscriptions, "
            f"{guilds} guilds x {CHANNELS_PER_GUILD} channels; RSS at the end "
            f"{current / 1024:.0f} MiB, median while answering "
            f"{percentile(samples, 50) / 1024:.0f} MiB; ready after {ready_after:.1f} s; "
            f"{polls} LL2 request(s)",
        ),
        Figure(
            "footprint",
            "slash command round trip via the bot, p50",
            percentile(latencies, 50),
            "ms",
            DEADLINE_MS,
            "3,000 ms (interaction deadline)",
            note=f"{len(latencies)} /events commands through the emulator's gateway while "
            "the bot runs (includes the emulator's 50 ms REST latency)",
        ),
        Figure(
            "footprint",
            "slash command round trip via the bot, p99",
            percentile(latencies, 99),
            "ms",
            DEADLINE_MS,
            "3,000 ms (interaction deadline)",
            note=f"max {max(latencies):.0f} ms",
        ),
    ]
