"""Three `tminus run` processes on PostgreSQL: one poller, shared deliveries, one rate budget.

Each process connects one shard of three (IDENTIFY [shard, 3]) to the Discord emulator,
which enforces Discord's global 50 requests/s; the lease period is 2 s.
"""

# ruff: noqa: ASYNC109

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.cluster import (
    DOCKING,
    LEASE_SECONDS,
    MESSAGES,
    Store,
    busiest_second,
    docking,
    fleet_of,
    guilds_over_shards,
    until,
)
from bot.devtools.cluster import discord_limits as limits
from bot.devtools.discord_emulator import DiscordEmulator
from bot.devtools.ll2_emulator import LL2Emulator
from tests.cluster.harness import needs_postgres, pg_store
from tests.faults.bot import add_channel_subscriptions

pytestmark = [pytest.mark.slow, needs_postgres]


def subscribe(db_url: str, guilds: list[Any], kinds: list[str]) -> list[int]:
    """Subscribe every alert channel; return their ids."""
    channel_ids: list[int] = []
    for guild, ids in guilds:
        add_channel_subscriptions(db_url, guild.id, ids, kinds=kinds)
        channel_ids += ids
    return channel_ids


def accepted_times(discord: DiscordEmulator) -> list[float]:
    """Return when the emulator accepted each bot request (interaction callbacks exempt)."""
    return [
        r.time
        for r in discord.requests
        if r.status is not None and r.status != 429 and "/interactions/" not in r.path
    ]


@pytest.mark.timeout(120)
async def test_three_processes_fan_out_once_per_channel_under_the_global_limit(
    tmp_path: Path,
) -> None:
    """300 channels in 12 guilds over 3 shards/processes: one message each, <= 50/s together."""
    with pg_store() as db_url:
        async with (
            LL2Emulator([docking()], requests_per_hour=None) as ll2,
            DiscordEmulator(rate_limits=limits()) as discord,
        ):
            guilds = guilds_over_shards(discord, 12, 25)
            channel_ids = subscribe(db_url, guilds, ["webcast_live"])
            assert len(channel_ids) == 300
            store = Store(db_url)
            try:
                async with fleet_of(discord, ll2, db_url, tmp_path) as fleet:
                    await until(lambda: store.events() == 1, 20, fleet, "seeded")
                    pollers = {store.poller_pid()}
                    ll2.set_webcast_live(DOCKING, True)
                    await until(
                        lambda: all(discord.messages(c) for c in channel_ids), 40, fleet, "fan-out"
                    )
                    await until(lambda: store.pending() == 0, 15, fleet, "outbox empty")
                    pollers.add(store.poller_pid())
            finally:
                store.close()
    assert [len(discord.messages(c)) for c in channel_ids] == [1] * 300
    assert [r for r in discord.requests if r.status == 429] == []
    assert busiest_second(accepted_times(discord)) <= 50
    assert len(pollers) == 1 and None not in pollers  # one poller throughout
    posts = sorted(
        r.time for r in discord.requests if r.method == "POST" and r.template == MESSAGES
    )
    rate = (len(posts) - 1) / (posts[-1] - posts[0])
    shown = f"3-process fan-out: {len(posts)} posts at {rate:.1f}/s ({rate / 50:.2f} of 50/s)"
    print(shown)  # noqa: T201 - the benchmark line (pytest -s shows it)


@pytest.mark.timeout(180)
async def test_kill_9_of_the_poller_mid_fan_out_hands_polling_over(tmp_path: Path) -> None:
    """10 trials: the poller dies mid fan-out; another polls within two lease periods, every
    channel still gets exactly one message per alert, and LL2's budget holds."""
    trials = 10
    with pg_store() as db_url:
        async with (
            LL2Emulator([docking()], requests_per_hour=3600) as ll2,
            DiscordEmulator(rate_limits=limits()) as discord,
        ):
            guilds = guilds_over_shards(discord, 12, 5)
            channel_ids = subscribe(db_url, guilds, ["update"])
            store = Store(db_url)
            takeovers: list[float] = []
            try:
                async with fleet_of(discord, ll2, db_url, tmp_path) as fleet:
                    await until(lambda: store.events() == 1, 20, fleet, "seeded")
                    for trial in range(1, trials + 1):
                        await until(lambda: store.poller_pid() is not None, 10, fleet, "a poller")
                        pid = store.poller_pid()
                        assert pid is not None
                        shard = fleet.shard_of_pid(pid)
                        assert shard is not None, f"the poller {pid} is not one of ours"
                        ll2.add_update(DOCKING, f"Update {trial}")
                        sent_before = sum(len(discord.messages(c)) for c in channel_ids)
                        await until(
                            lambda b=sent_before: (
                                sum(len(discord.messages(c)) for c in channel_ids) > b
                            ),
                            15,
                            fleet,
                            f"trial {trial}: fan-out started",
                        )
                        fleet.kill(shard)
                        # A request the dead poller had already sent may still be being
                        # answered: count the ones that arrive after this instant.
                        killed_at = time.monotonic() + 0.05
                        await until(
                            lambda k=killed_at: any(r.monotonic > k for r in ll2.requests),
                            3 * LEASE_SECONDS,
                            fleet,
                            f"trial {trial}: another process polls",
                        )
                        first = min(r.monotonic for r in ll2.requests if r.monotonic > killed_at)
                        takeovers.append(first - killed_at)
                        await fleet.start(shard)  # the shard needs a process again
                        await until(
                            lambda t=trial: all(len(discord.messages(c)) >= t for c in channel_ids),
                            30,
                            fleet,
                            f"trial {trial}: every channel has its message",
                        )
                    await until(lambda: store.pending() == 0, 15, fleet, "outbox empty")
                    counted = sum(1 for r in ll2.requests if r.counted)
                    recorded = store.budget_sent()
            finally:
                store.close()
    assert [len(discord.messages(c)) for c in channel_ids] == [trials] * len(channel_ids)
    assert max(takeovers) <= 2 * LEASE_SECONDS, takeovers
    assert [r for r in ll2.requests if r.status == 429] == []
    assert recorded >= counted  # the shared hour record counts every leader's requests
    assert [r for r in discord.requests if r.status == 429] == []


@pytest.mark.timeout(120)
async def test_kill_9_of_a_delivering_process_leaves_its_channels_to_the_others(
    tmp_path: Path,
) -> None:
    """A process that is not the poller dies holding channel claims; the others send them."""
    with pg_store() as db_url:
        async with (
            LL2Emulator([docking()], requests_per_hour=None) as ll2,
            DiscordEmulator(rate_limits=limits()) as discord,
        ):
            guilds = guilds_over_shards(discord, 12, 25)
            channel_ids = subscribe(db_url, guilds, ["webcast_live"])
            store = Store(db_url)
            try:
                async with fleet_of(discord, ll2, db_url, tmp_path) as fleet:
                    await until(lambda: store.events() == 1, 20, fleet, "seeded")
                    poller = store.poller_pid()
                    others = [s for s, p in fleet.procs.items() if p.process.pid != poller]
                    ll2.set_webcast_live(DOCKING, True)
                    victim_claims: list[int] = []

                    def victim_claiming() -> bool:
                        for shard in others:
                            claims = store.claims_of_pid(fleet.procs[shard].process.pid)
                            if claims:
                                victim_claims[:] = claims
                                fleet.kill(shard)
                                return True
                        return False

                    await until(victim_claiming, 30, fleet, "a non-poller holding claims")
                    await until(
                        lambda: all(discord.messages(c) for c in channel_ids), 40, fleet, "fan-out"
                    )
                    await until(lambda: store.pending() == 0, 15, fleet, "outbox empty")
            finally:
                store.close()
    assert victim_claims
    assert [len(discord.messages(c)) for c in victim_claims] == [1] * len(victim_claims)
    assert [len(discord.messages(c)) for c in channel_ids] == [1] * len(channel_ids)
