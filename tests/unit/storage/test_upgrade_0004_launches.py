"""An events-only store (schema 0004) upgrades and gains launches without a single old alert.

The store is built by Alembic up to 0004 and filled with Core inserts as an events-only
tminus left it: a channel subscription, the events feed seeded with its watermark. After the
upgrade the subscription follows events only, the launches feed seeds quietly from recorded
launches (one flew 20 hours ago with LL2's live flag still on), and only what changes
afterwards reaches a subscription that asks for launches.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import select

from bot.config import load_config
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock, LL2Emulator
from bot.ll2.client import LL2Client
from bot.pipeline.delivery import ConsoleSink
from bot.pipeline.runner import Pipeline
from storage import outbox, queries, subscriptions
from storage.db import current_revision, head_revision, session_scope, upgrade
from storage.models import Delivery, Subscription
from storage.types import UTCDateTime
from tests.conftest import T0
from tests.scenarios.test_launches import DRAGON, day_launches, on_the_day
from tests.unit.storage.old_store import SUBSCRIPTIONS, store_at

OLD = T0 - timedelta(days=2)
GPS = "98f70f28-397a-4c0d-aeb2-e7f8a88e0323"  # Falcon 9 | GPS III SV09, recorded live


@pytest.fixture
def old_store(db_url: str) -> Iterator[Engine]:
    """Yield a store at schema 0004 holding an events-only subscription and seeded events."""
    engine = store_at(db_url, "0004")
    sync_state = sa.table(
        "sync_state",
        sa.column("feed", sa.String),
        sa.column("seeded", sa.Boolean),
        sa.column("watermark", UTCDateTime()),
    )
    with engine.begin() as connection:
        connection.execute(
            SUBSCRIPTIONS.insert().values(
                guild_id=1,
                channel_id=100,
                type_ids=[],
                agency_ids=[],
                program_ids=[],
                kinds=[],
                reminder_leads=[3600],
                created_at=OLD,
            )
        )
        connection.execute(sync_state.insert().values(feed="events", seeded=True, watermark=OLD))
    yield engine
    engine.dispose()


async def test_an_events_only_store_gains_launches_without_an_old_alert(
    old_store: Engine, clock: FakeClock
) -> None:
    """After the upgrade: old subscription = events; launch seed silent; new changes alert."""
    upgrade(old_store)
    assert current_revision(old_store) == head_revision()
    with session_scope(old_store) as session:
        (old,) = subscriptions.active_subscriptions(session=session)
        assert (old.feed, old.provider_ids, old.location_ids, old.exclude) == ("events", [], [], [])
        # A subscription made after the upgrade follows every feed.
        fresh = subscriptions.add_subscription(
            session=session, subscription=Subscription(created_at=T0, reminder_leads=[3600])
        )
        assert fresh.feed == "all"
        fresh_id = fresh.id
    events = [make_event(5001, "Crew-13 Docking", date=T0 + timedelta(hours=3), last_updated=OLD)]
    # The day's launches, and one that flew 20 hours ago with LL2's live flag still on.
    flown = on_the_day(GPS, T0 - timedelta(hours=20), status=6, webcast_live=True)
    launches = [*day_launches(), flown]
    async with LL2Emulator(
        events, launches=launches, clock=clock, requests_per_hour=None
    ) as emulator:
        config = load_config(None, env={}, overrides={("ll2", "url"): emulator.url("2.2.0")})
        async with LL2Client(config.ll2, clock=clock) as client:
            out = io.StringIO()
            pipeline = Pipeline(
                config=config,
                engine=old_store,
                client=client,
                sink=ConsoleSink(fmt="json", stream=out),
                clock=clock,
            )
            await pipeline.cycle()
            with session_scope(old_store) as session:
                assert queries.count_launches(session=session) == 4
                assert [r.id for r in queries.live_launches(session=session)] == [GPS]
                assert queries.sync_state(session=session, feed="launches").seeded
                rows = session.exec(select(Delivery)).all()
                assert [(d.feed, d.kind) for d in rows if d.feed == "launches"] == []
            # From now on launches are news, for the subscription that asked for them only.
            clock.advance(minutes=1)
            changed = DRAGON
            emulator.set_launch_status(changed, "Hold")
            await pipeline.cycle()
    with session_scope(old_store) as session:
        launch_rows = [d for d in session.exec(select(Delivery)).all() if d.feed == "launches"]
        assert [(d.kind, d.item_id) for d in launch_rows] == [("status", changed)]
        served = outbox.delivery_subscription_ids(
            session=session, delivery_ids=[d.id for d in launch_rows if d.id is not None]
        )
        assert list(served.values()) == [[fresh_id]]
