"""``/alerts why item`` and ``tminus alerts why``: would each subscription alert on an item?

For each subscription of one guild: whether its filters take the item and, if not, which
filter turns it away (feed, type, agency, provider, location, program, exclude); which kinds
it takes; whether it is paused; and what the outbox did for the item — sent (with a jump
link), merged into another subscription's message (one message per channel, docs/architecture.md
invariant 9),
pending, retrying (and when), failed, or skipped (a reminder past its grace period).
Guild-isolated: another guild's subscriptions and deliveries never show.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from bot.app import service
from bot.app.launches import find_launch
from bot.core.alerts import Item
from bot.core.changes import ALL_FEEDS, excluded
from bot.core.launches import Launch
from bot.core.options import UsageError
from storage import explain, subscriptions
from storage.db import session_scope
from storage.models import Delivery, DeliveryState, Subscription

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass
class Outcome:
    """What became of one delivery of the item, from one subscription's side."""

    kind: str
    state: str  # sent, merged, pending, retrying, failed, skipped
    text: str


@dataclass
class Verdict:
    """One subscription's answer for the item."""

    subscription: Subscription
    matches: bool
    reasons: list[str]  # why not (empty when it matches)
    kinds: list[str]  # the kinds it takes (empty: every kind)
    paused: str | None
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class Explanation:
    """The item and every verdict of the guild's subscriptions."""

    item: Item
    verdicts: list[Verdict]


def find_item(engine: Engine, value: str, *, now: datetime) -> Item:
    """Return the event or launch named by an id, UUID, slug or name; raise UsageError."""
    text = value.strip()
    if UUID.match(text):
        return find_launch(engine, text, now=now)
    try:
        return service.find_event(engine, text, now=now)
    except UsageError:
        pass
    try:
        return find_launch(engine, text, now=now)
    except UsageError:
        raise UsageError(f"no event or launch matching '{value[:100]}' in the store") from None


def filter_misses(sub: Subscription, item: Item) -> list[str]:
    """Return each filter of ``sub`` that turns ``item`` away, in words (empty: it matches)."""
    misses: list[str] = []
    noun = "launch" if isinstance(item, Launch) else "event"
    if sub.feed and sub.feed != ALL_FEEDS and item.feed != sub.feed:
        misses.append(
            f"feed: it follows {sub.feed} only, and this is "
            f"{'an' if noun == 'event' else 'a'} {noun}"
        )
    if excluded(item, sub.exclude):
        words = [w for w in sub.exclude if w.strip() and excluded(item, [w])]
        misses.append(f"exclude: '{words[0] if words else sub.exclude[0]}' is in its name")
    if sub.program_ids and not {p.id for p in item.programs} & set(sub.program_ids):
        misses.append("program: the item is in none of its programs")
    if isinstance(item, Launch):
        if sub.type_ids:
            misses.append("type: event types limit it to events")
        provider = item.launch_service_provider.id if item.launch_service_provider else None
        if sub.provider_ids and provider not in sub.provider_ids:
            misses.append("provider: the launch's provider is not one of its providers")
        if sub.agency_ids and provider not in sub.agency_ids:
            misses.append("agency: the launch's provider is not one of its agencies")
        location = item.pad.location.id if item.pad and item.pad.location else None
        if sub.location_ids and location not in sub.location_ids:
            misses.append("location: the launch's pad is not in one of its locations")
    else:
        if sub.provider_ids or sub.location_ids:
            misses.append("provider/location: those filters limit it to launches")
        if sub.type_ids and (item.type is None or item.type.id not in sub.type_ids):
            shown = item.type.name if item.type else "none"
            misses.append(f"type: the event's type ({shown}) is not one of its types")
        if sub.agency_ids and not {a.id for a in item.agencies} & set(sub.agency_ids):
            misses.append("agency: none of the event's agencies is one of its agencies")
    return misses


def _stamp(when: datetime) -> str:
    return f"<t:{int(when.timestamp())}:R>"


def jump_link(guild_id: int | None, channel_id: int | None, message_id: int) -> str:
    """Return the Discord link to a message."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def outcome(delivery: Delivery, sub_id: int, served: Sequence[int]) -> Outcome:
    """Describe one delivery from the side of subscription ``sub_id``."""
    kind = delivery.kind
    if delivery.state == DeliveryState.SENT.value:
        first = served[0] if served else sub_id
        link = (
            jump_link(delivery.guild_id, delivery.channel_id, delivery.message_id)
            if delivery.message_id
            else f"<#{delivery.channel_id}>"
        )
        if first != sub_id:
            return Outcome(kind, "merged", f"merged into subscription #{first}'s message: {link}")
        return Outcome(kind, "sent", f"sent: {link}")
    if delivery.state == DeliveryState.PENDING.value:
        if delivery.attempts:
            error = (delivery.last_error or "").splitlines()[0][:120] if delivery.last_error else ""
            return Outcome(
                kind,
                "retrying",
                f"retrying after {delivery.attempts} failed attempt(s) ({error}); "
                f"next attempt {_stamp(delivery.next_attempt_at)}",
            )
        return Outcome(kind, "pending", f"pending since {_stamp(delivery.created_at)}")
    if delivery.state == DeliveryState.DROPPED.value:
        return Outcome(
            kind, "skipped", f"skipped: {delivery.last_error or 'past the grace period'}"
        )
    return Outcome(kind, "failed", f"failed: {(delivery.last_error or 'unknown error')[:200]}")


def explain_item(engine: Engine, guild_id: int, item: Item) -> Explanation:
    """Return, for each subscription of ``guild_id``, whether it takes ``item``, and what came."""
    with session_scope(engine) as session:
        subs = subscriptions.guild_subscriptions(session=session, guild_id=guild_id)
        found = explain.item_deliveries(
            session=session, guild_id=guild_id, feed=item.feed, item_id=str(item.id)
        )
        for sub in subs:
            session.expunge(sub)
        for delivery, _ in found:
            session.expunge(delivery)
    verdicts = []
    for sub in subs:
        assert sub.id is not None
        misses = filter_misses(sub, item)
        verdict = Verdict(
            subscription=sub,
            matches=not misses,
            reasons=misses,
            kinds=list(sub.kinds),
            paused=sub.paused_reason,
        )
        verdict.outcomes = [
            outcome(delivery, sub.id, served) for delivery, served in found if sub.id in served
        ]
        verdicts.append(verdict)
    return Explanation(item=item, verdicts=verdicts)


def explain_blocks(explanation: Explanation) -> tuple[str, list[str]]:
    """Return the heading line and one block of lines per subscription."""
    item = explanation.item
    noun = "launch" if isinstance(item, Launch) else "event"
    head = f"Alerts for {noun} {item.name} ({item.id}), subscription by subscription:"
    if not explanation.verdicts:
        return head, ["this server has no subscriptions"]
    blocks = []
    for v in explanation.verdicts:
        sub = v.subscription
        where = f"<#{sub.channel_id}>" if sub.channel_id else "console"
        line = f"#{sub.id} {where}: "
        if v.matches:
            line += "matches" + (f" (kinds: {', '.join(v.kinds)})" if v.kinds else " (every kind)")
        else:
            line += "does not match — " + "; ".join(v.reasons)
        if v.paused:
            line += f" · paused: {v.paused}"
        lines = [line] + [f"  · {o.kind}: {o.text}" for o in v.outcomes]
        if v.matches and not v.outcomes:
            lines.append("  · nothing delivered for this item yet")
        blocks.append("\n".join(lines))
    return head, blocks


def explain_text(explanation: Explanation) -> str:
    """Render an explanation as plain lines (the terminal)."""
    head, blocks = explain_blocks(explanation)
    return "\n".join([head, *blocks])
