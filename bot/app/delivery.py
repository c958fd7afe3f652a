"""Channel delivery for ``tminus run``: the Discord sink and the outbox drain loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import discord

from bot.app.scheduled_events import ScheduledEventsLoop
from bot.app.sink import UNKNOWN_MESSAGE, classify, message_kwargs, nonce_for
from bot.pipeline.cards import CardGone
from bot.pipeline.claims import ClaimingWorker
from bot.pipeline.delivery import DeliveryWorker
from bot.render import MessagePayload
from storage.models import Delivery, Subscription

if TYPE_CHECKING:
    from bot.app.client import TMinusBot

log = logging.getLogger(__name__)

CONCURRENCY = 25
IDLE_WAKE = 2.0  # seconds between drains when nobody wakes us (retries falling due)


class DiscordSink:
    """Post a delivery's stored message to its channel, with the delivery's nonce.

    One delivery per (channel, alert): its message already mentions every role of the
    channel's matching subscriptions.
    """

    def __init__(self, bot: TMinusBot) -> None:
        self.bot = bot

    async def send(self, delivery: Delivery, subscription: Subscription) -> int | None:
        """Post one alert to its channel; raise a transient or permanent sink error on failure."""
        channel_id = delivery.channel_id
        if channel_id is None:
            raise classify(RuntimeError("delivery has no channel"), None)
        guild_id = delivery.guild_id or subscription.guild_id
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        payload = delivery.payload["message"]
        try:
            # A nonce makes discord.py set enforce_nonce: a resend after a crash between
            # this post and the commit returns the first message instead of a second one.
            # (nonce_key: a row carried over from schema 0001 keeps its old key's nonce.)
            message = await channel.send(
                nonce=nonce_for(delivery.nonce_key), **message_kwargs(payload)
            )
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            raise classify(exc, channel_id) from exc
        return message.id

    async def create_card(
        self, *, guild_id: int | None, channel_id: int, payload: MessagePayload, nonce: str
    ) -> int:
        """Post a new card with its creation nonce; return its message id."""
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            message = await channel.send(nonce=nonce, **message_kwargs(payload))
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            raise _card_error(exc, channel_id) from exc
        return message.id

    async def edit_card(self, *, channel_id: int, message_id: int, payload: MessagePayload) -> None:
        """PATCH a card to its new state (paced with the posts: one global limit)."""
        channel = self.bot.get_partial_messageable(channel_id)
        kwargs = message_kwargs(payload)
        kwargs.setdefault("view", None)  # no buttons now: remove the ones it had
        try:
            await channel.get_partial_message(message_id).edit(**kwargs)
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            raise _card_error(exc, channel_id) from exc

    async def reply(
        self,
        *,
        guild_id: int | None,
        channel_id: int,
        payload: MessagePayload,
        nonce: str,
        reply_to: int,
    ) -> int:
        """Post a card's ping as a reply to the card."""
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        reference = discord.MessageReference(
            message_id=reply_to, channel_id=channel_id, fail_if_not_exists=False
        )
        try:
            message = await channel.send(
                nonce=nonce, reference=reference, **message_kwargs(payload)
            )
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            raise classify(exc, channel_id) from exc
        return message.id


def _card_error(exc: BaseException, channel_id: int) -> Exception:
    """Map a card write's failure: 404 Unknown Message means a person deleted the card."""
    if isinstance(exc, discord.NotFound) and exc.code == UNKNOWN_MESSAGE:
        return CardGone(str(exc))
    return classify(exc, channel_id)


class ChannelDelivery:
    """Drain the outbox into Discord channels until stopped; woken when alerts are enqueued."""

    def __init__(self, bot: TMinusBot) -> None:
        self.bot = bot
        self.wake = asyncio.Event()
        # Posts, card edits and scheduled events are paced with every other request by the
        # bot's HTTP session (TMinusBot.pacer): Discord's 50/s counts them all.
        self.scheduled_events = ScheduledEventsLoop(bot)
        member = bot.cluster
        self.worker = (
            # Several processes drain one outbox: each sends the channels it claimed.
            ClaimingWorker(
                bot.engine,
                DiscordSink(bot),
                owner=member.owner,
                period=member.period,
                serves=lambda s: s.channel_id is not None,
                concurrency=CONCURRENCY,
            )
            if member is not None
            else DeliveryWorker(
                bot.engine,
                DiscordSink(bot),
                serves=lambda s: s.channel_id is not None,
                concurrency=CONCURRENCY,
            )
        )
        bot.metrics.watch_worker(self.worker)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start draining; the pipeline wakes us when it enqueues."""
        self.bot.pipeline.listeners.append(self.wake.set)
        self._task = asyncio.create_task(self._run(), name="tminus-delivery")
        self.scheduled_events.start()

    async def stop(self) -> None:
        """Stop draining; deliveries in flight stay pending and are resent (nonce-safe)."""
        with contextlib.suppress(ValueError):
            self.bot.pipeline.listeners.remove(self.wake.set)
        await self.scheduled_events.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        while not self.bot.is_closed():
            self.wake.clear()
            try:
                report = await self.worker.drain()
                if self.worker.cards is not None:
                    # After the drain: cards just created are current; the rest catch up,
                    # one edit each however many changes came in since (coalescing).
                    edited = await self.worker.cards.refresh()
                    if edited:
                        log.info("edited %d cards", edited)
                if report.sent or report.failed or report.retried:
                    log.info(
                        "delivered %d, retrying %d, failed %d, paused %d",
                        report.sent,
                        report.retried,
                        report.failed,
                        report.paused,
                    )
            except Exception:
                log.exception("delivery drain failed; will run again")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=IDLE_WAKE)
