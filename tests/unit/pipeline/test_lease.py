"""The poller lease, channel claims and the shared pacer on a real PostgreSQL store."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine

from bot.app.cluster import cluster_lines, cluster_view
from bot.app.shared_rate import SharedPacer
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
        delays = [cluster.take_rate_slot(session=session, name="d", interval=0.1) for _ in range(5)]
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
    """The shared pacer over a store that takes ``rtt`` seconds to answer, counting takes."""

    def __init__(self, engine: Engine, rtt: float) -> None:
        super().__init__(engine, per_second=20.0, name="slow")
        self.rtt = rtt
        self.takes = 0

    def _take(self) -> float:
        self.takes += 1
        time.sleep(self.rtt / 2)
        delay = super()._take()
        time.sleep(self.rtt / 2)
        return delay


@needs_postgres
async def test_a_slow_store_round_trip_neither_lapses_slots_nor_sends_them_late(
    engine: Engine,
) -> None:
    """A 80 ms round trip (more than the 50 ms a slot may be late): every request still
    goes on its first slot, and the releases keep the pacer's spacing."""
    pacer = SlowStorePacer(engine, rtt=0.08)
    releases: list[float] = []
    for _ in range(8):
        await pacer.wait()
        releases.append(time.monotonic())
    assert pacer.takes == 8  # no slot given up as late
    # One caller: each slot is taken after the last release, so it is "now" at the store.
    gaps = [b - a for a, b in pairwise(releases)]
    assert all(gap < 0.08 + 0.05 + 0.05 for gap in gaps), gaps
