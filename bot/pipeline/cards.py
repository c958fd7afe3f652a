"""Living cards (docs/architecture.md, invariant 10): one message per (channel, item).

The delivery worker hands a card subscription's deliveries here. The first one for an item
creates the card (a nonce derived from the card and its generation, so a resend after a
crash returns the same message) and stores its message id in the transaction that records
the delivery. Later changes do not queue edits: :meth:`CardKeeper.refresh` compares each
open card's written version (the item's ``last_updated``) with the stored item and edits
the card once to the item's current state, so a burst of changes is one edit and an older
state never overwrites a newer one. Pings (webcast live, reminders of 1 h or less, a launch
result) are short separate messages replying to the card.

A docking or EVA reaching its date (T-0) pings the card once more ("starting now"): the
ping's nonce is derived from the card and the date, and the date is stored in the card's
history after the ping, so neither a retry nor a restart posts it twice.

Items are read per feed through :data:`ITEM_LOADERS` (events and launches).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.core.alerts import Alert, AlertKind
from bot.core.changes import subscription_matches
from bot.core.items import Event
from bot.core.launches import Launch
from bot.core.timeutil import Clock, as_utc, isoformat_z, parse_duration, utcnow
from bot.pipeline.crashpoints import crashpoint
from bot.render.cards import (
    FINAL_PHASES,
    CardHistory,
    advance,
    item_date,
    phase,
    render_card,
    render_ping,
    start_ping_text,
    starts_loudly,
)
from bot.render.payload import MessagePayload
from storage import cards as card_queries
from storage import subscriptions
from storage.db import session_scope
from storage.models import CardMessage, Delivery, LaunchRow, Subscription

log = logging.getLogger(__name__)

Item = Event | Launch
CARD_STYLE = "card"
# Reminders this close to the start still ping a card subscription; longer ones only edit.
LOUD_REMINDER = timedelta(hours=1)
RESULT_STATUS_IDS = frozenset({3, 4, 7, 9})
# How long one process holds a card while it edits it (PostgreSQL: several processes).
CLAIM = timedelta(seconds=30)
# A "starting now" ping later than this after T-0 is dropped, not sent late (as reminders).
START_GRACE = timedelta(minutes=10)


class CardGone(Exception):
    """The card's message no longer exists (a person deleted it: 404 Unknown Message)."""


@runtime_checkable
class CardSink(Protocol):
    """A sink that can keep cards: create, edit, and reply to one."""

    async def create_card(
        self, *, guild_id: int | None, channel_id: int, payload: MessagePayload, nonce: str
    ) -> int:
        """Post a new card with ``nonce``; return its message id (raise CardGone on 10008)."""
        ...

    async def edit_card(self, *, channel_id: int, message_id: int, payload: MessagePayload) -> None:
        """Replace the card's content; raise CardGone when the message is gone."""
        ...

    async def reply(
        self,
        *,
        guild_id: int | None,
        channel_id: int,
        payload: MessagePayload,
        nonce: str,
        reply_to: int,
    ) -> int:
        """Post a short message replying to a card; return its id."""
        ...


ItemLoader = Callable[[Session, Sequence[str]], dict[str, tuple[datetime, Item]]]


def _load_events(session: Session, item_ids: Sequence[str]) -> dict[str, tuple[datetime, Item]]:
    ids = [int(i) for i in item_ids if i.lstrip("-").isdigit()]
    found: dict[str, tuple[datetime, Item]] = {}
    for event_id, (version, snapshot) in card_queries.event_states(
        session=session, event_ids=ids
    ).items():
        try:
            found[str(event_id)] = (version, Event.model_validate(snapshot))
        except ValidationError:
            log.warning("event %s: stored snapshot unreadable; its cards wait", event_id)
    return found


def _load_launches(session: Session, item_ids: Sequence[str]) -> dict[str, tuple[datetime, Item]]:
    # LL2 launch ids are UUIDs, stored lower-case (storage.queries.get_launch).
    ids = sorted({i.lower() for i in item_ids})
    if not ids:
        return {}
    rows = session.exec(
        select(LaunchRow.id, LaunchRow.last_updated, LaunchRow.snapshot).where(
            col(LaunchRow.id).in_(ids)
        )
    ).all()
    found: dict[str, tuple[datetime, Item]] = {}
    for launch_id, version, snapshot in rows:
        try:
            found[launch_id] = (version, Launch.model_validate(snapshot))
        except ValidationError:
            log.warning("launch %s: stored snapshot unreadable; its cards wait", launch_id)
    return found


# One loader per feed: (session, item ids) -> {item id: (version, item)}.
ITEM_LOADERS: dict[str, ItemLoader] = {"events": _load_events, "launches": _load_launches}


def load_items(
    session: Session, feed: str, item_ids: Sequence[str]
) -> dict[str, tuple[datetime, Item]]:
    """Return the stored state of items of one feed (those the store has)."""
    loader = ITEM_LOADERS.get(feed)
    return loader(session, item_ids) if loader is not None else {}


# The history key holding a digest of the item state a card shows. LL2's last_updated has
# whole seconds: two changes in one second (live, then an update) share a version, and
# only the digest tells the card is behind.
SHOWN = "shown"


def shown_state(item: Item) -> str:
    """Return a digest of an item's state, as a card records what it shows."""
    return hashlib.blake2b(item.model_dump_json().encode(), digest_size=8).hexdigest()


def behind(
    card_version: datetime | None,
    card_history: dict[str, Any] | None,
    version: datetime,
    digest: Callable[[], str],
) -> bool:
    """Return whether a card showing (``card_version``, its history) is older than ``item``.

    A newer version is newer; the same version is newer only when the card recorded a digest
    of what it shows and the item's differs (cards written before digests keep their state).
    """
    if card_version is None or version > card_version:
        return True
    if version < card_version:
        return False
    recorded = (card_history or {}).get(SHOWN)
    return recorded is not None and recorded != digest()


def card_nonce(channel_id: int, feed: str, item_id: str, generation: int) -> str:
    """Return the creation nonce of a card (a fresh one for each re-creation)."""
    key = f"card:{channel_id}:{feed}:{item_id}:{generation}"
    return hashlib.sha256(key.encode()).hexdigest()[:25]


def item_wanted(sub: Subscription, item: Item) -> bool:
    """Return whether a subscription's filters (feed, type, agency, provider, …) match an item.

    Kinds do not take part: a card or a scheduled event is about the item, not one alert.
    """
    # subscription_matches judges an alert; any kind will do once kinds are left out.
    return subscription_matches(
        kinds=(),
        type_ids=sub.type_ids or (),
        agency_ids=sub.agency_ids or (),
        program_ids=sub.program_ids or (),
        alert=Alert(AlertKind.UPDATE, item, "match"),
        feed=sub.feed or "all",
        provider_ids=sub.provider_ids or (),
        location_ids=sub.location_ids or (),
        exclude=sub.exclude or (),
    )


def start_nonce(channel_id: int, feed: str, item_id: str, date: datetime) -> str:
    """Return the nonce of a card's "starting now" ping for one date (a retry reuses it)."""
    key = f"card-start:{channel_id}:{feed}:{item_id}:{isoformat_z(date)}"
    return hashlib.sha256(key.encode()).hexdigest()[:25]


def start_due(item: Item, history: CardHistory, *, now: datetime) -> bool:
    """Return whether a card owes its "starting now" ping: a docking/EVA at T-0, not yet sent."""
    date = item_date(item)
    if date is None or not starts_loudly(item):
        return False
    date = as_utc(date)
    if history.started is not None and as_utc(history.started) == date:
        return False
    return date <= now < date + START_GRACE


def is_card(subscription: Subscription) -> bool:
    """Return whether a subscription keeps cards."""
    return getattr(subscription, "style", "feed") == CARD_STYLE


def is_loud(delivery: Delivery) -> bool:
    """Return whether a card subscription pings for this alert (architecture invariant 10)."""
    if delivery.kind == "webcast_live":
        return True
    if delivery.kind == "reminder":
        discriminator = delivery.dedupe_key.rsplit(":reminder:", 1)[-1]
        try:
            return parse_duration(discriminator.split("@", 1)[0]) <= LOUD_REMINDER
        except ValueError:
            return False
    if delivery.kind == "status":
        status = ((delivery.payload or {}).get("launch") or {}).get("status") or {}
        return status.get("id") in RESULT_STATUS_IDS
    return False


@dataclass
class Written:
    """A card write to record: the message and the state it now shows."""

    card_id: int
    message_id: int
    version: datetime | None
    history: dict[str, Any]
    done: bool
    generation: int

    def record(self, session: Session, now: datetime) -> bool:
        """Record the write (ignored if a newer state was recorded meanwhile)."""
        return card_queries.record_card_written(
            session=session,
            card_id=self.card_id,
            message_id=self.message_id,
            version=self.version,
            history=self.history,
            done=self.done,
            now=now,
            generation=self.generation,
        )


class CardKeeper:
    """Create, edit and re-create cards through a :class:`CardSink`."""

    def __init__(
        self,
        engine: Engine,
        sink: CardSink,
        *,
        clock: Clock = utcnow,
        serves: Callable[[Subscription], bool] = lambda _s: True,
        concurrency: int = 25,
    ) -> None:
        self.engine = engine
        self.sink = sink
        self.clock = clock
        self.serves = serves
        self.concurrency = max(1, concurrency)
        # Claims matter only where several processes share the store (PostgreSQL); SQLite
        # has one process (the store lock), and a claim would outlive a killed process.
        self.claims = engine.dialect.name == "postgresql"
        self.edits = 0
        self.creations = 0

    # --- claims ------------------------------------------------------------------------------

    def _claim(self, card_id: int) -> bool:
        if not self.claims:
            return True
        now = self.clock()
        with session_scope(self.engine) as session:
            return card_queries.claim_card(
                session=session, card_id=card_id, now=now, until=now + CLAIM
            )

    def _release(self, card_id: int) -> None:
        if self.claims:
            with session_scope(self.engine) as session:
                card_queries.release_card(session=session, card_id=card_id)

    # The store is asked in a worker thread: a commit must not hold the event loop, where
    # the pacer releases requests (SQLite needs no claims: no thread hop for nothing).

    async def _claimed(self, card_id: int) -> bool:
        return await asyncio.to_thread(self._claim, card_id) if self.claims else True

    async def _released(self, card_id: int) -> None:
        if self.claims:
            await asyncio.to_thread(self._release, card_id)

    def _record(self, written: Written) -> None:
        with session_scope(self.engine) as session:
            written.record(session, self.clock())

    # --- writing one card ----------------------------------------------------------------------

    async def _write(self, card: CardMessage, version: datetime, item: Item) -> Written:
        """Create the card (no message yet) or edit it to ``item``; return what to record."""
        assert card.id is not None
        now = self.clock()
        history = advance(CardHistory.from_json(card.history), item)
        payload = render_card(item, history, now=now)
        done = phase(item, history, now=now) in FINAL_PHASES
        shown = shown_state(item)
        generation = card.generation
        if card.message_id is not None:
            try:
                await self.sink.edit_card(
                    channel_id=card.channel_id, message_id=card.message_id, payload=payload
                )
                self.edits += 1
                return Written(
                    card.id,
                    card.message_id,
                    version,
                    {**history.to_json(), SHOWN: shown},
                    done,
                    generation,
                )
            except CardGone:
                log.info(
                    "card %s in channel %s was deleted; re-creating it",
                    card.message_id,
                    card.channel_id,
                )
                with session_scope(self.engine) as session:
                    card_queries.forget_card_message(
                        session=session, card_id=card.id, generation=generation
                    )
                generation += 1
                # A fresh card starts a fresh history: no slips it never showed.
                history = advance(CardHistory(), item)
                payload = render_card(item, history, now=now)
        nonce = card_nonce(card.channel_id, card.feed, card.item_id, generation)
        try:
            message_id = await self.sink.create_card(
                guild_id=card.guild_id, channel_id=card.channel_id, payload=payload, nonce=nonce
            )
        except CardGone:
            # This generation's nonce points at a deleted message (made, then deleted before
            # we recorded it): move on to a fresh nonce and try again soon.
            with session_scope(self.engine) as session:
                card_queries.forget_card_message(
                    session=session, card_id=card.id, generation=generation
                )
            raise
        self.creations += 1
        crashpoint("after_card_create")
        return Written(
            card.id, message_id, version, {**history.to_json(), SHOWN: shown}, done, generation
        )

    async def ensure_card(self, delivery: Delivery) -> tuple[int, Written | None]:
        """Return the card message of a delivery's item, creating the card if need be.

        When it was just created, the :class:`Written` to record comes back too, for the
        caller to record in the transaction that marks the delivery sent.
        """
        card, states = await asyncio.to_thread(self._slot, delivery)
        if states is None:
            assert card.message_id is not None
            return card.message_id, None
        if delivery.item_id not in states:
            raise LookupError(f"{delivery.feed} {delivery.item_id} is not in the store")
        assert card.id is not None
        if not await self._claimed(card.id):
            raise TimeoutError("another process is creating this card")
        try:
            version, item = states[delivery.item_id]
            written = await self._write(card, version, item)
        finally:
            await self._released(card.id)
        return written.message_id, written

    def _slot(
        self, delivery: Delivery
    ) -> tuple[CardMessage, dict[str, tuple[datetime, Item]] | None]:
        """Return the delivery's card row, and its item's state when the card is still to make."""
        assert delivery.channel_id is not None
        with session_scope(self.engine) as session:
            card = card_queries.card_slot(
                session=session,
                guild_id=delivery.guild_id,
                channel_id=delivery.channel_id,
                feed=delivery.feed,
                item_id=delivery.item_id,
                now=self.clock(),
            )
            session.expunge(card)
            if card.message_id is not None:
                return card, None
            # Only a card still to be made needs its item (parsing a snapshot is not free).
            return card, load_items(session, delivery.feed, [delivery.item_id])

    # --- keeping cards up to date --------------------------------------------------------------

    def _open_cards(self) -> tuple[list[CardMessage], dict[int, list[Subscription]]]:
        """Return the open cards of served channels, and each channel's card subscriptions."""
        with session_scope(self.engine) as session:
            subs = [s for s in card_queries.card_subscriptions(session=session) if self.serves(s)]
            by_channel: dict[int, list[Subscription]] = defaultdict(list)
            for sub in subs:
                if sub.channel_id is not None:
                    session.expunge(sub)
                    by_channel[sub.channel_id].append(sub)
            if not by_channel:
                return [], {}
            cards = card_queries.open_cards(session=session, channel_ids=sorted(by_channel))
            for card in cards:
                session.expunge(card)
        return cards, dict(by_channel)

    def stale_cards(self) -> list[tuple[CardMessage, datetime, Item]]:
        """Return open cards whose item moved on (a newer version, an outcome now due, or a
        docking/EVA that reached T-0 and still owes its "starting now" ping)."""
        return [(card, version, item) for card, version, item, _ in self._stale()]

    def _stale(self) -> list[tuple[CardMessage, datetime, Item, list[Subscription]]]:
        cards, subs = self._open_cards()
        by_feed: dict[str, set[str]] = defaultdict(set)
        for card in cards:
            by_feed[card.feed].add(card.item_id)
        states: dict[tuple[str, str], tuple[datetime, Item]] = {}
        with session_scope(self.engine) as session:
            for feed, ids in by_feed.items():
                for item_id, state in load_items(session, feed, sorted(ids)).items():
                    states[(feed, item_id)] = state
        now = self.clock()
        stale = []
        digests: dict[tuple[str, str], str] = {}  # open cards share items: one digest each
        for card in cards:
            found = states.get((card.feed, card.item_id))
            if found is None:
                continue
            version, item = found
            where = (card.feed, card.item_id)

            def digest(where: tuple[str, str] = where, item: Item = item) -> str:
                if where not in digests:
                    digests[where] = shown_state(item)
                return digests[where]

            history = CardHistory.from_json(card.history)
            if (
                behind(card.version, card.history, version, digest)
                # Time alone can end an event (its time well past): show the outcome once.
                or phase(item, history, now=now) in FINAL_PHASES
                or start_due(item, history, now=now)
            ):
                stale.append((card, version, item, subs.get(card.channel_id, [])))
        return stale

    async def refresh(self) -> int:
        """Edit every stale card once to its item's current state; return how many were."""
        stale = await asyncio.to_thread(self._stale)
        if not stale:
            return 0
        semaphore = asyncio.Semaphore(self.concurrency)
        done = 0

        async def one(
            card: CardMessage, version: datetime, item: Item, subs: list[Subscription]
        ) -> None:
            nonlocal done
            assert card.id is not None
            async with semaphore:
                if not await self._claimed(card.id):
                    return
                try:
                    if await self._bring_up_to_date(card.id, version, item, subs):
                        done += 1
                except Exception as exc:
                    await self._failed(card, exc)
                finally:
                    await self._released(card.id)

        await asyncio.gather(*(one(*entry) for entry in stale))
        return done

    async def _bring_up_to_date(
        self, card_id: int, version: datetime, item: Item, subs: Sequence[Subscription]
    ) -> bool:
        """Edit one claimed card to ``item`` if it shows less, then send a due start ping.

        Returns whether the card was edited.
        """
        # Re-read under the claim: another process may have written it already.
        fresh = await asyncio.to_thread(self._fresh, card_id)
        if fresh is None:
            return False
        if fresh.version is not None and fresh.version > version:
            return False  # a newer state is on the card: an older one never replaces it
        now = self.clock()
        history = CardHistory.from_json(fresh.history)
        edit = (
            behind(fresh.version, fresh.history, version, lambda: shown_state(item))
            or phase(item, history, now=now) in FINAL_PHASES
        )
        if edit:
            written = await self._write(fresh, version, item)
            crashpoint("after_card_edit")
            await asyncio.to_thread(self._record, written)
        else:
            assert fresh.id is not None and fresh.message_id is not None
            written = Written(
                fresh.id,
                fresh.message_id,
                fresh.version,
                fresh.history,
                fresh.done,
                fresh.generation,
            )
        date = item_date(item)
        if date is not None and start_due(item, CardHistory.from_json(written.history), now=now):
            await self._start_ping(fresh, written.message_id, item, subs, as_utc(date))
            # Recorded after the ping: a crash in between resends it with the same nonce.
            written.history = {**written.history, "started": isoformat_z(as_utc(date))}
            await asyncio.to_thread(self._record, written)
        return edit

    def _fresh(self, card_id: int) -> CardMessage | None:
        """Return the card as stored now, or None when it has no message or is done."""
        with session_scope(self.engine) as session:
            fresh = session.get(CardMessage, card_id)
            if fresh is None or fresh.message_id is None or fresh.done:
                return None
            session.expunge(fresh)
            return fresh

    async def _start_ping(
        self,
        card: CardMessage,
        message_id: int,
        item: Item,
        subs: Sequence[Subscription],
        date: datetime,
    ) -> None:
        """Post a docking/EVA's "starting now" ping replying to its card.

        It pings the roles of the channel's card subscriptions that match the item and take
        reminders (the start is the T-0 reminder).
        """
        wanting = [
            s for s in subs if item_wanted(s, item) and (not s.kinds or "reminder" in s.kinds)
        ]
        if not wanting:
            return  # nobody here asked for reminders: the card alone tells the story
        roles = sorted({s.mention_role_id for s in wanting if s.mention_role_id is not None})
        mentions = " ".join(f"<@&{r}>" for r in roles)
        content = f"{mentions} {start_ping_text(item)}".strip()
        await self.sink.reply(
            guild_id=card.guild_id,
            channel_id=card.channel_id,
            payload=render_ping(content, roles),
            nonce=start_nonce(card.channel_id, card.feed, card.item_id, date),
            reply_to=message_id,
        )
        log.info("card %s: %s %s starting ping sent", message_id, card.feed, card.item_id)

    async def _failed(self, card: CardMessage, exc: Exception) -> None:
        """Log a failed card write; a channel that refuses the bot pauses its subscriptions."""
        # A PermanentSinkError with a pause reason (delivery.py's, duck-typed: it imports us).
        reason = getattr(exc, "pause_reason", None)
        if isinstance(reason, str) and reason:
            with session_scope(self.engine) as session:
                paused = subscriptions.pause_subscriptions(
                    session=session, reason=reason, channel_id=card.channel_id
                )
            log.warning("paused subscriptions %s (channel %s): %s", paused, card.channel_id, exc)
            return
        log.warning(
            "card for %s %s in channel %s not updated (%s); will try again",
            card.feed,
            card.item_id,
            card.channel_id,
            exc,
        )

    async def ping(self, delivery: Delivery, card_message_id: int) -> int:
        """Post a delivery's short ping, replying to the card (the delivery's own nonce)."""
        assert delivery.channel_id is not None
        message = (delivery.payload or {}).get("message") or {}
        roles = [int(r) for r in (message.get("allowed_mentions") or {}).get("roles") or ()]
        payload = render_ping(str(message.get("content") or ""), roles)
        return await self.sink.reply(
            guild_id=delivery.guild_id,
            channel_id=delivery.channel_id,
            payload=payload,
            # The nonce the delivery's own message would have had (bot/app/sink.py nonce_for).
            nonce=hashlib.sha256(delivery.nonce_key.encode()).hexdigest()[:25],
            reply_to=card_message_id,
        )
