"""Turn rendered payloads into discord.py calls, and Discord failures into sink errors."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from typing import Any

import aiohttp
import discord

from bot.pipeline.delivery import PermanentSinkError, TransientSinkError
from bot.render import MessagePayload

log = logging.getLogger(__name__)

# Discord error codes that mean "this channel will not work until a person acts".
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008  # a card a person deleted (or its nonce, for a few minutes after)
CANNOT_SEND_IN_THREAD = 50083  # archived thread


def allowed_mentions(payload: MessagePayload | dict[str, Any]) -> discord.AllowedMentions:
    """Return discord.py's AllowedMentions for a payload (only the listed roles can ping)."""
    spec = payload.get("allowed_mentions") or {}
    roles = [discord.Object(id=int(r)) for r in spec.get("roles", [])]
    return discord.AllowedMentions(
        everyone=False, users=False, roles=roles or False, replied_user=False
    )


def link_view(payload: MessagePayload | dict[str, Any]) -> discord.ui.View | None:
    """Return a view of the payload's link buttons (webcasts), or None."""
    buttons = [
        component
        for row in payload.get("components") or []
        for component in row.get("components") or []
        if component.get("style") == 5 and component.get("url")
    ]
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:25]:
        view.add_item(
            discord.ui.Button(
                style=discord.ButtonStyle.link, label=button.get("label"), url=button["url"]
            )
        )
    return view


def message_kwargs(payload: MessagePayload | dict[str, Any]) -> dict[str, Any]:
    """Return keyword arguments for ``send``/``send_message`` carrying the whole payload."""
    kwargs: dict[str, Any] = {
        "content": payload.get("content") or None,
        "embeds": [discord.Embed.from_dict(dict(e)) for e in payload.get("embeds") or []],
        "allowed_mentions": allowed_mentions(payload),
    }
    view = link_view(payload)
    if view is not None:
        kwargs["view"] = view
    return kwargs


async def send_payload_response(
    interaction: discord.Interaction, payload: MessagePayload, *, ephemeral: bool = False
) -> None:
    """Answer an interaction with a rendered payload (initial response or follow-up)."""
    kwargs = message_kwargs(payload)
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=ephemeral, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=ephemeral, **kwargs)


def nonce_for(dedupe_key: str) -> str:
    """Return the Discord message nonce for a delivery (≤ 25 chars, stable across restarts)."""
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:25]


# Discord allows 50 requests/s per bot and counts them as they arrive, in any one-second
# window. The pacer keeps its own releases to GLOBAL_RATE in any one-second window and at
# least MIN_GAP apart; the difference to 50 absorbs the jitter between a release and its
# arrival (a release window of 1 s holds at most GLOBAL_RATE requests, so arrivals bunch
# past 50 only if their delays differ by more than (50 - GLOBAL_RATE) * MIN_GAP: 40 ms at
# 48/s). A process's own full garbage collections were the largest such delays; the bot now
# keeps start-up's objects out of them (``settle_heap``). The cluster's shared pacer keeps
# more room (bot/app/shared_rate.py).
GLOBAL_RATE = 48.0
MIN_GAP = 1 / 50


class GlobalPacer:
    """Keep this process's requests under Discord's global limit (discord.py does not pace it).

    A sliding window over the real release times, not a fixed slot per request: a release
    the event loop delayed (a busy machine, a store commit holding the GIL) does not push
    every later slot back, and the time lost is made up at no more than ``1 / MIN_GAP`` per
    second until the window is full again — never in a burst.
    """

    def __init__(self, per_second: float, *, min_gap: float = MIN_GAP) -> None:
        self.interval = 1.0 / per_second
        self.per_window = max(1, int(per_second))
        self.min_gap = min(min_gap, self.interval)
        self._released: deque[float] = deque()
        self._lock = asyncio.Lock()

    def _due(self, now: float) -> float:
        """Return when the next request may go, given the releases so far."""
        released = self._released
        while released and released[0] <= now - 1.0:
            released.popleft()
        due = now
        if released:
            due = max(due, released[-1] + self.min_gap)
        if len(released) >= self.per_window:
            due = max(due, released[-self.per_window] + 1.0)
        return due

    async def wait(self) -> None:
        """Return when the next request may go."""
        async with self._lock:
            now = time.monotonic()
            due = self._due(now)
            while due > now:
                await asyncio.sleep(due - now)
                now = time.monotonic()
                due = self._due(now)
            self._released.append(now)


# Discord exempts interaction answers (the callback and its webhook follow-ups) from the
# global limit: a command answered during a fan-out must not queue behind it.
GLOBAL_EXEMPT = ("/interactions/", "/webhooks/")


def counts_against_global(url: str) -> bool:
    """Return whether a request to ``url`` counts against Discord's global rate limit."""
    base = discord.http.Route.BASE
    if not url.startswith(base):
        return False  # the gateway's websocket, a CDN: not the REST API
    return not any(part in url[len(base) :] for part in GLOBAL_EXEMPT)


def paced(trace: aiohttp.TraceConfig, pacer: GlobalPacer) -> aiohttp.TraceConfig:
    """Hold every REST request the bot's HTTP session makes until ``pacer`` lets it go.

    The hook runs as aiohttp starts the request, after discord.py's own per-route buckets
    and JSON encoding: every request counts — posts, card edits, scheduled events, start-up
    calls, command syncs and discord.py's own retries after a 429 — and its slot is taken
    as close to the wire as the client allows (docs/architecture.md, invariant 3).
    """

    async def on_request_start(
        _session: aiohttp.ClientSession,
        _context: Any,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        if counts_against_global(str(params.url)):
            await pacer.wait()

    trace.on_request_start.append(on_request_start)
    return trace


def classify(exc: BaseException, channel_id: int | None) -> Exception:
    """Map a Discord/transport failure to a transient or permanent sink error."""
    where = f"<#{channel_id}>" if channel_id else "the channel"
    if isinstance(exc, discord.Forbidden):
        if exc.code == MISSING_PERMISSIONS:
            reason = (
                f"Missing Permissions: the bot cannot post in {where} "
                "(needs View Channel, Send Messages and Embed Links)"
            )
        elif exc.code == MISSING_ACCESS:
            reason = f"Missing Access: the bot cannot see {where}"
        else:
            reason = f"Discord refused posting in {where} (403, code {exc.code})"
        return PermanentSinkError(f"403 {exc.code}: {exc.text}", pause_reason=reason)
    if isinstance(exc, discord.NotFound):
        if exc.code == UNKNOWN_CHANNEL:
            return PermanentSinkError(
                f"404 {exc.code}: {exc.text}", pause_reason=f"channel {where} no longer exists"
            )
        return PermanentSinkError(f"404 {exc.code}: {exc.text}", pause_reason=f"{where} not found")
    if isinstance(exc, discord.DiscordServerError):
        return TransientSinkError(f"Discord {exc.status}: {exc.text}")
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429:
            return TransientSinkError("rate limited by Discord", retry_after=5.0)
        if exc.code == CANNOT_SEND_IN_THREAD:
            return PermanentSinkError(
                f"{exc.status} {exc.code}: {exc.text}", pause_reason=f"thread {where} is archived"
            )
        # 400s: the payload itself; retrying will not help, pausing the channel would be wrong.
        return PermanentSinkError(f"Discord {exc.status} {exc.code}: {exc.text}")
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ClientError | OSError):
        return TransientSinkError(f"{type(exc).__name__}: {exc}")
    return TransientSinkError(f"{type(exc).__name__}: {exc}")
