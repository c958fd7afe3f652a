"""CardKeeper against a real store and the Discord emulator through the real Discord sink.

Created once (the nonce), edited in order (an older state never replaces a newer one), a
burst of changes coalesced into one edit, a deleted card re-created once with a fresh nonce,
a channel that refuses the bot paused, and a docking's "starting now" ping sent once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import discord
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.app.delivery import DiscordSink
from bot.core.timeutil import isoformat_z
from bot.devtools.discord_emulator import DiscordEmulator, pointed_at, running
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import FakeClock
from bot.ll2.parse import parse_event
from bot.pipeline.cards import (
    CardKeeper,
    card_nonce,
    is_loud,
    load_items,
    start_due,
    start_nonce,
)
from bot.pipeline.records import event_record
from bot.render.cards import CardHistory
from storage import cards as card_queries
from storage import queries, subscriptions
from storage.db import session_scope
from storage.models import CardMessage, Delivery, Subscription
from tests.conftest import T0

DOCKING = 4242
MESSAGES = "/channels/{channel_id}/messages"
EDIT = "/channels/{channel_id}/messages/{message_id}"
DATE = T0 + timedelta(days=2)


@dataclass
class World:
    """A store, the Discord emulator, a client on it, and a CardKeeper with the real sink."""

    engine: Engine
    discord: DiscordEmulator
    guild_id: int
    channel_id: int
    clock: FakeClock
    keeper: CardKeeper
    subscription_id: int

    def store(self, *, date: datetime = DATE, minutes: int = 0, **changes: Any) -> None:
        """Store the docking as LL2 sent it ``minutes`` after T0 (its version)."""
        raw = make_event(
            DOCKING,
            "Crew-14 Docking",
            date=date,
            last_updated=T0 + timedelta(minutes=minutes),
            type_name=changes.pop("type_name", "Docking"),
            webcast_live=changes.pop("webcast_live", False),
        )
        raw.update(changes)
        with session_scope(self.engine) as session:
            queries.save_events(
                session=session, records=[event_record(parse_event(raw), raw)], now=self.clock()
            )

    def delivery(self, kind: str = "rescheduled", discriminator: str = "x") -> Delivery:
        """Return a (not stored) delivery of the docking to the channel."""
        key = f"channel:{self.channel_id}:events:{DOCKING}:{kind}:{discriminator}"
        return Delivery(
            dedupe_key=key,
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            feed="events",
            item_id=str(DOCKING),
            kind=kind,
            payload={"message": {"content": f"ping {kind}", "allowed_mentions": {"roles": []}}},
            created_at=T0,
            next_attempt_at=T0,
        )

    async def create(self) -> int:
        """Create the card as the delivery worker does (and record it); return its id."""
        message_id, written = await self.keeper.ensure_card(self.delivery())
        assert written is not None
        with session_scope(self.engine) as session:
            assert written.record(session, self.clock())
        return message_id

    def card(self) -> CardMessage:
        """Return the one stored card."""
        with session_scope(self.engine) as session:
            (card,) = session.exec(select(CardMessage)).all()
            session.expunge(card)
        return card

    def posts(self) -> int:
        """Return how many messages the bot posted (accepted POSTs)."""
        return len([r for r in self.discord.requests_to("POST", MESSAGES) if r.status == 200])

    def patches(self) -> int:
        """Return how many edits the bot sent."""
        return len(self.discord.requests_to("PATCH", EDIT))


@pytest.fixture
async def world(engine: Engine) -> AsyncIterator[World]:
    """Yield a card subscription in one channel, the docking stored, a client on the emulator."""
    clock = FakeClock(T0)
    async with DiscordEmulator() as emu:
        guild = emu.add_guild("Space Club", channels=("general", "launches"))
        channel_id = guild.channel_named("launches").id
        role = emu.add_role(guild.id, "Docking pings", mentionable=True)
        with session_scope(engine) as session:
            sub = subscriptions.add_subscription(
                session=session,
                subscription=Subscription(
                    guild_id=guild.id,
                    channel_id=channel_id,
                    style="card",
                    mention_role_id=role.id,
                    created_at=T0,
                ),
            )
            assert sub.id is not None
            sub_id = sub.id
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)
        with pointed_at(emu):
            async with running(client, emu):
                # The real sink: a plain client has everything it uses (REST, partial channels).
                sink = DiscordSink(cast(Any, client))
                keeper = CardKeeper(engine, sink, clock=clock)
                w = World(engine, emu, guild.id, channel_id, clock, keeper, sub_id)
                w.store()
                yield w
        assert [f.messages() for f in emu.validation_errors] == []


async def test_a_card_is_created_once(world: World) -> None:
    """The first delivery creates the card; later ones reuse it; a resend returns the same."""
    message_id = await world.create()
    assert world.posts() == 1
    again, written = await world.keeper.ensure_card(world.delivery("update", "y"))
    assert (again, written) == (message_id, None)
    assert world.posts() == 1
    card = world.card()
    assert (card.message_id, card.generation, card.version) == (message_id, 0, T0)
    assert "Crew-14 Docking" in world.discord.messages(world.channel_id)[0]["content"]


async def test_a_crash_before_recording_the_card_does_not_make_a_second_one(world: World) -> None:
    """Created, then the process died before the commit: the retry's nonce returns the card."""
    _, lost = await world.keeper.ensure_card(world.delivery())
    assert lost is not None  # never recorded: as if killed here
    message_id = await world.create()
    assert message_id == lost.message_id
    assert len(world.discord.messages(world.channel_id)) == 1


async def test_a_burst_of_changes_is_one_edit_to_the_newest_state(world: World) -> None:
    """Five changes before the next refresh: one PATCH, showing the last; then nothing more."""
    message_id = await world.create()
    for minute in range(1, 6):
        world.store(date=DATE + timedelta(hours=minute), minutes=minute)
    assert await world.keeper.refresh() == 1
    assert world.patches() == 1
    last = DATE + timedelta(hours=5)
    (text,) = world.discord.edit_history(message_id)
    assert "Slipped" in text and f"<t:{int(last.timestamp())}:R>" in text
    assert world.card().version == T0 + timedelta(minutes=5)
    # Up to date: a second refresh edits nothing (idempotent).
    assert await world.keeper.refresh() == 0
    assert world.patches() == 1


async def test_an_older_state_never_overwrites_a_newer_one(world: World) -> None:
    """A writer holding an older state (a retry, another process) neither edits nor records."""
    await world.create()
    world.store(date=DATE + timedelta(hours=1), minutes=1)
    with session_scope(world.engine) as session:
        ((old_version, old_item),) = load_items(session, "events", [str(DOCKING)]).values()
    world.store(date=DATE + timedelta(hours=3), minutes=3)
    assert await world.keeper.refresh() == 1
    card = world.card()
    assert card.version == T0 + timedelta(minutes=3)
    edited = world.patches()
    # The older state arrives late: no PATCH, and the store keeps the newer state.
    assert card.id is not None
    assert not await world.keeper._bring_up_to_date(card.id, old_version, old_item, [])
    assert world.patches() == edited
    with session_scope(world.engine) as session:
        assert not card_queries.record_card_written(
            session=session,
            card_id=card.id,
            message_id=card.message_id or 0,
            version=old_version,
            history={},
            done=False,
            now=world.clock(),
        )
    assert world.card().version == T0 + timedelta(minutes=3)
    assert world.card().history == card.history


async def test_a_deleted_card_is_recreated_once_with_a_fresh_nonce(world: World) -> None:
    """A person deletes the card: the next change re-creates it once, with generation 1."""
    first = await world.create()
    world.discord.delete_message(world.channel_id, first)
    world.store(date=DATE + timedelta(hours=1), minutes=1)
    assert await world.keeper.refresh() == 1
    card = world.card()
    assert card.message_id is not None and card.message_id != first
    assert card.generation == 1
    (remade,) = world.discord.messages(world.channel_id)
    assert int(remade["id"]) == card.message_id
    assert remade["nonce"] == card_nonce(world.channel_id, "events", str(DOCKING), 1)
    assert remade["nonce"] != card_nonce(world.channel_id, "events", str(DOCKING), 0)
    # A fresh card starts a fresh history: it shows no slip it never showed.
    assert "Slipped" not in remade["content"]
    # Nothing more to do: no third card.
    assert await world.keeper.refresh() == 0
    assert world.posts() == 2


async def test_a_channel_that_refuses_the_bot_pauses_its_subscription(world: World) -> None:
    """403 Missing Access on an edit pauses the channel's subscriptions with the reason."""
    await world.create()
    world.discord.set_channel_fault(world.channel_id, 403, 50001)
    world.store(date=DATE + timedelta(hours=1), minutes=1)
    assert await world.keeper.refresh() == 0
    with session_scope(world.engine) as session:
        sub = session.get(Subscription, world.subscription_id)
        assert sub is not None
        assert sub.paused_reason and "Missing Access" in sub.paused_reason
    world.discord.clear_faults()
    # Paused: its cards are no longer kept.
    assert await world.keeper.refresh() == 0
    assert world.patches() == 1


async def test_a_docking_reaching_t0_pings_the_card_once(world: World) -> None:
    """At T-0 a short ping replies to the card, mentioning the role; never a second one."""
    message_id = await world.create()
    world.clock.set(DATE + timedelta(seconds=5))
    await world.keeper.refresh()
    messages = world.discord.messages(world.channel_id)
    assert len(messages) == 2
    ping = messages[1]
    assert str(ping["message_reference"]["message_id"]) == str(message_id)
    assert "Docking starting now" in ping["content"] and "<@&" in ping["content"]
    assert ping["nonce"] == start_nonce(world.channel_id, "events", str(DOCKING), DATE)
    history = CardHistory.from_json(world.card().history)
    assert history.started == DATE
    world.clock.set(DATE + timedelta(minutes=1))
    await world.keeper.refresh()
    assert len(world.discord.messages(world.channel_id)) == 2


async def test_a_start_ping_lost_before_its_record_is_not_posted_twice(world: World) -> None:
    """Ping sent, process killed before recording it: the retry's nonce returns the same one."""
    message_id = await world.create()
    world.clock.set(DATE + timedelta(seconds=5))
    card = world.card()
    with session_scope(world.engine) as session:
        ((_, item),) = load_items(session, "events", [str(DOCKING)]).values()
        (sub,) = card_queries.card_subscriptions(session=session)
        session.expunge(sub)
    await world.keeper._start_ping(card, message_id, item, [sub], DATE)  # not recorded
    await world.keeper.refresh()
    assert len(world.discord.messages(world.channel_id)) == 2


def test_start_pings_only_for_exact_dockings_and_evas_within_the_grace() -> None:
    """Docking/EVA with an exact date, at or just after T-0, not sent for that date yet."""

    def item(type_name: str, precision: str | None = "Minute") -> Any:
        raw = make_event(1, "X", date=DATE, last_updated=T0, type_name=type_name)
        if precision is None:
            raw["date_precision"] = {"id": 7, "name": "Month", "abbrev": "M"}
        return parse_event(raw)

    fresh = CardHistory()
    at = DATE + timedelta(seconds=1)
    assert start_due(item("Docking"), fresh, now=at)
    assert start_due(item("EVA"), fresh, now=at)
    assert not start_due(item("Press Event"), fresh, now=at)
    assert not start_due(item("Docking", None), fresh, now=at)
    assert not start_due(item("Docking"), fresh, now=DATE - timedelta(seconds=1))
    assert not start_due(item("Docking"), fresh, now=DATE + timedelta(minutes=11))
    assert not start_due(item("Docking"), CardHistory(started=DATE), now=at)
    # A slip re-arms it: the ping belongs to a date.
    assert start_due(item("Docking"), CardHistory(started=DATE - timedelta(hours=1)), now=at)


def test_which_deliveries_ping_a_card_subscription() -> None:
    """Webcast live, reminders of 1 h or less and launch results ping; the rest only edit."""

    def delivery(kind: str, discriminator: str = "x", payload: Any = None) -> Delivery:
        return Delivery(
            dedupe_key=f"channel:1:events:1:{kind}:{discriminator}",
            feed="events",
            item_id="1",
            kind=kind,
            payload=payload or {},
            created_at=T0,
            next_attempt_at=T0,
        )

    at = isoformat_z(DATE)
    assert is_loud(delivery("webcast_live"))
    assert is_loud(delivery("reminder", f"1h@{at}"))
    assert is_loud(delivery("reminder", f"10m@{at}"))
    assert not is_loud(delivery("reminder", f"24h@{at}"))
    assert not is_loud(delivery("update"))
    assert not is_loud(delivery("rescheduled"))
    for status_id, loud in ((3, True), (4, True), (7, True), (1, False), (5, False)):
        payload = {"launch": {"status": {"id": status_id}}}
        assert is_loud(delivery("status", "s", payload)) is loud, status_id


async def test_a_change_in_the_same_second_as_the_last_still_reaches_the_card(world: World) -> None:
    """LL2's last_updated has whole seconds: live, then an update in that same second share
    a version. The card records a digest of what it shows, so it is still edited, once."""
    message_id = await world.create()
    world.store(webcast_live=True)  # same last_updated (T0) as the state the card shows
    assert await world.keeper.refresh() == 1
    assert "LIVE" in world.discord.edit_history(message_id)[-1]
    assert await world.keeper.refresh() == 0  # up to date: nothing more
    assert world.patches() == 1
