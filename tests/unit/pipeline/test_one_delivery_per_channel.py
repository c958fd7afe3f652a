"""One message per channel per alert: overlapping subscriptions share one delivery.

The real sync (against the LL2 emulator) fills the outbox on a real database; the real
delivery worker drains it into a recording sink.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from bot.config import load_config
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock, LL2Emulator
from bot.ll2.client import LL2Client
from bot.pipeline.delivery import DeliveryWorker, PermanentSinkError
from bot.pipeline.sync import Syncer
from storage import outbox, queries, subscriptions
from storage.db import session_scope
from storage.models import Delivery, DeliveryState, Subscription
from tests.conftest import T0

HOUR = timedelta(hours=1)
DOCKING = 2  # the factory's LL2 type id for Docking
EVENT = 7001


@dataclass
class RecordingSink:
    """Record what would be posted; refuse channels listed in ``refuse``."""

    sent: list[tuple[int | None, str, dict[str, Any]]] = field(default_factory=list)
    refuse: set[int] = field(default_factory=set)

    async def send(self, delivery: Delivery, subscription: Subscription) -> int | None:
        """Record one delivery, or refuse it like Discord's 403 Missing Access."""
        if delivery.channel_id in self.refuse:
            raise PermanentSinkError("403 50001", pause_reason="Missing Access")
        self.sent.append((delivery.channel_id, delivery.dedupe_key, delivery.payload["message"]))
        return len(self.sent)


@dataclass
class World:
    """An emulator with one docking, a seeded store and the syncer between them."""

    emulator: LL2Emulator
    engine: Engine
    clock: FakeClock
    syncer: Syncer

    def subscribe(self, channel: int | None, **values: Any) -> int:
        """Store a subscription (a console one when ``channel`` is None); return its id."""
        with session_scope(self.engine) as session:
            sub = subscriptions.add_subscription(
                session=session,
                subscription=Subscription(
                    guild_id=1 if channel else None,
                    channel_id=channel,
                    created_at=self.clock(),
                    **values,
                ),
            )
            assert sub.id is not None
            return sub.id

    async def go_live(self) -> None:
        """Flip the docking's webcast live in LL2 and poll the change."""
        self.clock.advance(minutes=1)
        self.emulator.set_webcast_live(EVENT, True)
        self.clock.advance(seconds=5)
        with session_scope(self.engine) as session:
            watermark = queries.sync_state(session=session).watermark
        await self.syncer.poll_changes(watermark)

    def deliveries(self) -> list[tuple[Delivery, list[int]]]:
        """Return every outbox row with the subscriptions it serves, by id."""
        with session_scope(self.engine) as session:
            rows = list(session.exec(select(Delivery).order_by(col(Delivery.id))).all())
            links = outbox.delivery_subscription_ids(
                session=session, delivery_ids=[r.id for r in rows if r.id is not None]
            )
        return [(r, links[r.id]) for r in rows if r.id is not None]


@pytest.fixture
async def world(engine: Engine, clock: FakeClock) -> AsyncIterator[World]:
    """Yield a seeded store with one upcoming docking (webcast not live yet)."""
    docking = make_event(
        EVENT, "Crew-13 Docking", date=T0 + 3 * HOUR, last_updated=T0 - timedelta(days=1)
    )
    async with LL2Emulator([docking], clock=clock, requests_per_hour=1000) as emulator:
        config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url("2.2.0")})
        async with LL2Client(config.ll2, clock=clock) as client:
            syncer = Syncer(client=client, engine=engine, alerts=config.alerts, clock=clock)
            await syncer.seed()
            yield World(emulator, engine, clock, syncer)


async def test_overlapping_subscriptions_of_a_channel_share_one_delivery(world: World) -> None:
    """A docking going live matches two subscriptions of #10 (type, kind): one row for #10
    mentioning both roles; #11 and each console subscription get their own."""
    by_type = world.subscribe(10, type_ids=[DOCKING], mention_role_id=501)
    by_kind = world.subscribe(10, kinds=["webcast_live"], mention_role_id=502)
    other = world.subscribe(11, kinds=["webcast_live"], mention_role_id=503)
    unrelated = world.subscribe(10, kinds=["update"], mention_role_id=504)
    console_a = world.subscribe(None)
    console_b = world.subscribe(None, type_ids=[DOCKING])
    await world.go_live()

    rows = {row.dedupe_key: (row, served) for row, served in world.deliveries()}
    live = f"events:{EVENT}:webcast_live:"
    assert sorted(k.split(live)[0] for k in rows) == sorted(
        ["channel:10:", "channel:11:", f"console:{console_a}:", f"console:{console_b}:"]
    )
    (space_key,) = [k for k in rows if k.startswith("channel:10:")]
    space, served = rows[space_key]
    assert served == sorted([by_type, by_kind])  # not the `update`-only subscription
    assert unrelated not in served
    assert (space.feed, space.item_id, space.guild_id) == ("events", str(EVENT), 1)
    message = space.payload["message"]
    assert message["allowed_mentions"] == {"parse": [], "roles": ["501", "502"]}
    assert "<@&501>" in message["content"] and "<@&502>" in message["content"]
    assert "<@&504>" not in message["content"]
    (eleven_key,) = [k for k in rows if k.startswith("channel:11:")]
    assert rows[eleven_key][1] == [other]
    assert "<@&501>" not in rows[eleven_key][0].payload["message"]["content"]

    # The worker posts one message per channel; the same alert polled again adds nothing.
    sink = RecordingSink()
    worker = DeliveryWorker(
        world.engine, sink, clock=world.clock, serves=lambda s: bool(s.channel_id)
    )
    report = await worker.drain()
    assert report.sent == 2
    assert sorted(channel for channel, _key, _msg in sink.sent if channel) == [10, 11]
    await world.go_live()  # LL2 says live again with no change: no new alert
    assert len(world.deliveries()) == 4


async def test_a_refused_channel_pauses_all_its_subscriptions(world: World) -> None:
    """A 403 on #10's one delivery pauses both of #10's subscriptions, not #11's."""
    first = world.subscribe(10, type_ids=[DOCKING], mention_role_id=501)
    second = world.subscribe(10, kinds=["webcast_live"], mention_role_id=502)
    elsewhere = world.subscribe(11, kinds=["webcast_live"])
    await world.go_live()
    sink = RecordingSink(refuse={10})
    worker = DeliveryWorker(
        world.engine, sink, clock=world.clock, serves=lambda s: bool(s.channel_id)
    )
    report = await worker.drain()
    assert (report.sent, report.failed, report.paused) == (1, 1, 2)
    assert [channel for channel, _key, _msg in sink.sent] == [11]
    with session_scope(world.engine) as session:
        paused = {s.id for s in subscriptions.paused_subscriptions(session=session)}
        assert paused == {first, second}
        assert [s.id for s in subscriptions.active_subscriptions(session=session)] == [elsewhere]


async def test_reminder_leads_count_only_for_the_subscriptions_that_asked(
    world: World,
) -> None:
    """#10 has a 3h-lead subscription (role 501) and a 10m-lead one (role 502): the 3h
    reminder mentions only 501 and serves only the first; the 10m one only the second."""
    long_lead = world.subscribe(10, reminder_leads=[3 * 3600], mention_role_id=501)
    short_lead = world.subscribe(10, reminder_leads=[600], mention_role_id=502)
    world.clock.advance(seconds=1)  # the docking is 3 h away: its 3h reminder is due now
    assert world.syncer.enqueue_reminders() == 1
    world.clock.advance(hours=2, minutes=50)
    assert world.syncer.enqueue_reminders() == 1
    (three_hours, served_3h), (ten_minutes, served_10m) = world.deliveries()
    assert ":reminder:3h@" in three_hours.dedupe_key and served_3h == [long_lead]
    assert ":reminder:10m@" in ten_minutes.dedupe_key and served_10m == [short_lead]
    assert three_hours.payload["message"]["content"].count("<@&") == 1
    assert "<@&501>" in three_hours.payload["message"]["content"]
    assert "<@&502>" in ten_minutes.payload["message"]["content"]
    assert "<@&501>" not in ten_minutes.payload["message"]["content"]


async def test_removing_one_subscription_keeps_the_shared_delivery(world: World) -> None:
    """A pending delivery serving two subscriptions survives removing one; removing the
    other too deletes it (nothing left to send to)."""
    first = world.subscribe(10, type_ids=[DOCKING])
    second = world.subscribe(10, kinds=["webcast_live"])
    await world.go_live()
    with session_scope(world.engine) as session:
        assert subscriptions.remove_subscription(session=session, guild_id=1, subscription_id=first)
    ((row, served),) = world.deliveries()
    assert row.state == DeliveryState.PENDING.value and served == [second]
    with session_scope(world.engine) as session:
        assert subscriptions.remove_subscription(
            session=session, guild_id=1, subscription_id=second
        )
    assert world.deliveries() == []
