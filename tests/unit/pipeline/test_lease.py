"""The poller lease, channel claims and the shared pacer on a real PostgreSQL store."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine

from bot.app.cluster import cluster_lines, cluster_view
from bot.app.shared_rate import SharedPacer, StoreClock
from bot.devtools.pgschema import postgres_schema
from bot.pipeline.lease import Lease, LeasePeriodError, lease_period
from storage import cluster, outbox
from storage.db import make_engine, session_scope, upgrade

POSTGRES = os.environ.get("TMINUS_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES, reason="needs PostgreSQL: set TMINUS_TEST_POSTGRES_URL"
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    """A migrated store in a fresh PostgreSQL schema."""
    assert POSTGRES is not None
    with postgres_schema(POSTGRES, prefix="lease") as url:
        made = make_engine(url)
        upgrade(made)
        try:
            yield made
        finally:
            made.dispose()


def test_lease_period_from_the_environment() -> None:
    """Default 15 s; TMINUS_CLUSTER_LEASE sets it; nonsense is one clear error."""
    assert lease_period({}) == timedelta(seconds=15)
    assert lease_period({"TMINUS_CLUSTER_LEASE": "2s"}) == timedelta(seconds=2)
    with pytest.raises(LeasePeriodError, match="between 1s and 10m"):
        lease_period({"TMINUS_CLUSTER_LEASE": "0s"})
    with pytest.raises(LeasePeriodError, match="duration"):
        lease_period({"TMINUS_CLUSTER_LEASE": "soon"})


@needs_postgres
def test_one_holder_at_a_time_and_a_frozen_one_knows_it_lost(engine: Engine) -> None:
    """A second process cannot take a live lease; once it expires it can, and the first
    (frozen past its period) reads ``held`` false before it would poll again."""
    clock = [1000.0]
    period = timedelta(seconds=1)
    a = Lease(engine, owner="a", period=period, monotonic=lambda: clock[0])
    b = Lease(engine, owner="b", period=period)
    assert a.step() and a.held
    assert not b.step() and not b.held
    clock[0] += 1.01  # a freezes past its period…
    assert not a.held  # …and knows it without asking the store
    time.sleep(1.05)
    assert b.step() and b.held  # the database's expiry passed: b takes over
    assert not a.step()  # a wakes: the lease is b's now
    with session_scope(engine) as session:
        assert cluster.lease_state(session=session, name="poller").holder == "b"


@needs_postgres
def test_claims_split_channels_and_expire(engine: Engine) -> None:
    """Two claimers never share a channel; a claim not renewed returns to the pool."""
    from bot.core.timeutil import utcnow

    now = utcnow()
    with session_scope(engine) as session:
        outbox.enqueue_deliveries(
            session=session,
            rows=[
                {
                    "dedupe_key": f"k{c}",
                    "guild_id": 1,
                    "channel_id": c,
                    "feed": "events",
                    "item_id": "1",
                    "kind": "update",
                    "payload": {},
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for c in range(1, 7)
            ],
        )
    period = timedelta(seconds=1)
    with session_scope(engine) as session:
        first = cluster.claim_channels(session=session, owner="a", now=now, period=period, limit=4)
    with session_scope(engine) as session:
        second = cluster.claim_channels(session=session, owner="b", now=now, period=period, limit=4)
    assert first == [1, 2, 3, 4] and second == [5, 6]
    time.sleep(1.05)
    with session_scope(engine) as session:
        again = cluster.claim_channels(session=session, owner="b", now=now, period=period, limit=9)
    assert again == [1, 2, 3, 4, 5, 6]  # a's claims expired; b's own are b's to keep


@needs_postgres
def test_shared_pacer_spaces_slots_across_callers(engine: Engine) -> None:
    """Slots come 1/rate apart whoever asks; a lone caller gets every slot."""
    with session_scope(engine) as session:
        delays = [
            cluster.take_rate_slot(session=session, name="d", interval=0.1).delay for _ in range(5)
        ]
    assert delays[0] == pytest.approx(0.0, abs=0.02)
    assert all(b - a == pytest.approx(0.1, abs=0.02) for a, b in pairwise(delays))


@needs_postgres
def test_status_view_names_the_poller_and_the_shards(engine: Engine) -> None:
    """/status on PostgreSQL: who polls, each process's shards, and a shard that is down."""
    from bot.core.timeutil import utcnow

    Lease(engine, owner="h:1:aa", period=timedelta(seconds=5)).step()
    with session_scope(engine) as session:
        for owner, shards, leader in (("h:1:aa", [0], True), ("h:2:bb", [1], False)):
            cluster.heartbeat(
                session=session,
                owner=owner,
                host="h",
                pid=int(owner.split(":")[1]),
                shard_count=3,
                shard_ids=shards,
                shards_up=shards,
                leader=leader,
                started_at=utcnow(),
            )
    view = cluster_view(engine, period=timedelta(seconds=5))
    poller, members = cluster_lines(view, me="h:1:aa")
    assert poller.startswith("`h:1:aa` (this process)")
    assert "`h:1:aa` ★: shards 0 (up: 0)" in members
    assert "`h:2:bb`: shards 1 (up: 1)" in members
    assert "shards up: 2 of 3 — ⚠️ down: 2" in members


class SlowStorePacer(SharedPacer):
    """The shared pacer whose store answers ``before`` + ``after`` seconds late (a queue for
    a thread or a connection, a slow commit), keeping every slot it was given."""

    def __init__(self, engine: Engine, *, before: float, after: float) -> None:
        super().__init__(engine, per_second=20.0, name="slow")
        self.before, self.after = before, after
        self.slots: list[cluster.RateSlot] = []

    def _take(self) -> cluster.RateSlot:
        time.sleep(self.before)
        slot = super()._take()
        time.sleep(self.after)
        self.slots.append(slot)
        return slot


def test_the_store_clock_trusts_the_quickest_round_trip() -> None:
    clock = StoreClock()
    assert clock.offset == 0.0
    clock.sample(10.0, 10.2, 15.19)  # the store answered late in a slow round trip
    clock.sample(11.0, 11.002, 16.001)
    clock.sample(12.0, 12.1, 17.01)
    assert clock.offset == pytest.approx(5.0)


@needs_postgres
@pytest.mark.parametrize(("before", "after"), [(0.08, 0.0), (0.0, 0.08), (0.04, 0.04)])
async def test_a_slow_store_round_trip_neither_lapses_slots_nor_sends_them_early(
    engine: Engine, before: float, after: float
) -> None:
    """80 ms of queue or commit around each slot (more than the 50 ms a slot may be late):
    every request still goes on its first slot, never before it, and not a round trip late."""
    pacer = SlowStorePacer(engine, before=before, after=after)
    await pacer.wait()  # learns how long the store takes: later slots are reserved that far ahead
    pacer.slots.clear()
    releases: list[float] = []
    for _ in range(6):
        await asyncio.gather(pacer.wait(), pacer.wait())  # two callers: one of them waits
        releases.append(time.time())
    # No slot given up as late (a busy machine may still wake one caller late now and
    # then; before slots were reserved ahead, every one of them lapsed, five times over).
    assert len(pacer.slots) <= 14
    # The store is on this machine: its clock is ours, so each slot's time can be checked.
    last = max(slot.at for slot in pacer.slots)
    assert releases[-1] >= last - 0.005  # not early
    assert releases[-1] - last < 0.075  # not a round trip late
