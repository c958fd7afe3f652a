"""Living cards and scheduled events: an item's current state as one message.

docs/architecture.md, invariant 10.

A card is one message per (channel, item), edited in place: a countdown with Discord
relative timestamps, a slip with the old date struck through, live with watch buttons, the
latest update, and the outcome (docking complete, launch success, failure with its reason).
What a card must remember across states (the date it showed, the dates it slipped from,
whether it was live) is its :class:`CardHistory`; :func:`render_card` is a pure function of
the item, that history and the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.items import Event
from bot.core.launches import Launch
from bot.core.timeutil import as_utc, isoformat_z, parse_datetime
from bot.render.dates import discord_date, plain_date, precision_class
from bot.render.embeds import field, latest_update, render_buttons, set_fields, update_text
from bot.render.launches import launch_buttons
from bot.render.limits import fit_embed, guarded
from bot.render.payload import (
    CONTENT_LIMIT,
    EMBED_TITLE_LIMIT,
    EmbedDict,
    EmbedField,
    MessagePayload,
    allowed_mentions,
)
from bot.render.text import clean_text, escape_markdown, one_line, truncate, valid_url

Item = Event | Launch

# Launch status ids (LL2's API): the ones that end a launch's story.
SUCCESS_IDS = frozenset({3, 9})
FAILURE_IDS = frozenset({4, 7})
HOLD_ID = 5
# Dates a card remembers having slipped from (the latest few are struck through).
SLIPS_SHOWN = 3
# An event without a duration counts as over this long after it started (cards, and the
# end of a scheduled event).
DEFAULT_DURATION = timedelta(hours=2)

COUNTDOWN, SLIPPED, HOLD, LIVE, COMPLETE, SUCCESS, FAILURE = (
    "countdown",
    "slipped",
    "hold",
    "live",
    "complete",
    "success",
    "failure",
)
FINAL_PHASES = frozenset({COMPLETE, SUCCESS, FAILURE})
_COLOURS = {
    COUNTDOWN: 0x3498DB,
    SLIPPED: 0xE67E22,
    HOLD: 0xE67E22,
    LIVE: 0xE74C3C,
    COMPLETE: 0x2ECC71,
    SUCCESS: 0x2ECC71,
    FAILURE: 0x992D22,
}


@dataclass(frozen=True)
class CardHistory:
    """What a card remembers across the states it showed."""

    shown_date: datetime | None = None
    slipped_from: tuple[datetime, ...] = ()
    was_live: bool = False
    # The date whose "starting now" ping was sent (docking/EVA at T-0): one ping per date.
    started: datetime | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CardHistory:
        """Read a stored history (an empty or unreadable one is a fresh card)."""
        data = data or {}
        try:
            shown = data.get("shown_date")
            return cls(
                shown_date=parse_datetime(shown) if shown else None,
                slipped_from=tuple(parse_datetime(d) for d in data.get("slipped_from") or ()),
                was_live=bool(data.get("was_live")),
                started=parse_datetime(data["started"]) if data.get("started") else None,
            )
        except (TypeError, ValueError):
            return cls()

    def to_json(self) -> dict[str, Any]:
        """Return the history as stored."""
        return {
            "shown_date": isoformat_z(self.shown_date) if self.shown_date else None,
            "slipped_from": [isoformat_z(d) for d in self.slipped_from],
            "was_live": self.was_live,
            "started": isoformat_z(self.started) if self.started else None,
        }


def item_date(item: Item) -> datetime | None:
    """Return when the item happens: an event's date, a launch's NET."""
    return item.net if isinstance(item, Launch) else item.date


_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def iso_duration(text: str | None) -> timedelta | None:
    """Parse LL2's ISO 8601 duration (``PT2H30M``, ``P1DT3H``); None when it is not one."""
    found = _ISO_DURATION.match((text or "").strip().upper())
    if found is None or not any(found.groupdict().values()):
        return None
    parts = {k: float(v) for k, v in found.groupdict().items() if v}
    return timedelta(
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def item_duration(item: Item) -> timedelta:
    """Return how long the item lasts: LL2's duration when usable, else a default."""
    parsed = iso_duration(getattr(item, "duration", None))
    if parsed is not None and parsed > timedelta(0):
        return min(parsed, timedelta(days=30))
    if isinstance(item, Launch) and item.window_end and item.net and item.window_end > item.net:
        return max(item.window_end - item.net, timedelta(minutes=30))
    return DEFAULT_DURATION


def advance(history: CardHistory, item: Item) -> CardHistory:
    """Return the history after showing ``item``: a moved date is remembered as a slip."""
    date = item_date(item)
    slipped = history.slipped_from
    if history.shown_date is not None and date is not None and date != history.shown_date:
        slipped = (*slipped, history.shown_date)[-SLIPS_SHOWN:]
    return CardHistory(
        shown_date=date if date is not None else history.shown_date,
        slipped_from=slipped,
        was_live=history.was_live or item.webcast_live,
        started=history.started,
    )


def phase(item: Item, history: CardHistory, *, now: datetime) -> str:
    """Return the state a card shows: countdown, slipped, hold, live or an outcome."""
    if isinstance(item, Launch) and item.status is not None:
        if item.status.id in SUCCESS_IDS:
            return SUCCESS
        if item.status.id in FAILURE_IDS:
            return FAILURE
    if item.webcast_live:
        return LIVE
    date = item_date(item)
    # An event is over once its webcast has ended after its start, or its time is well past.
    if (
        not isinstance(item, Launch)
        and date is not None
        and as_utc(date) <= now
        and (history.was_live or as_utc(date) + item_duration(item) <= now)
    ):
        return COMPLETE
    if isinstance(item, Launch) and item.status is not None and item.status.id == HOLD_ID:
        return HOLD
    return SLIPPED if history.slipped_from else COUNTDOWN


def _kind_word(item: Item) -> str:
    if isinstance(item, Launch):
        return "Launch"
    name = one_line(item.type.name) if item.type else ""
    if name.upper() == "EVA":
        return "Spacewalk"
    return name or "Event"


def _feed_word(item: Item) -> str:
    return "launch" if isinstance(item, Launch) else "event"


def _name(item: Item) -> str:
    return truncate(one_line(item.name) or f"{_kind_word(item)} {item.id}", 200)


def status_line(item: Item, history: CardHistory, *, now: datetime) -> str:
    """Return the card's one-line state: "⏳ T-0 <t:…:R>", "✅ Docking complete", …."""
    state = phase(item, history, now=now)
    date = item_date(item)
    precision = item.net_precision if isinstance(item, Launch) else item.date_precision
    exact = precision_class(precision)[0] == "exact"
    when = f"<t:{int(as_utc(date).timestamp())}:R>" if date is not None and exact else ""
    if state == SUCCESS:
        return "✅ Launch success"
    if state == FAILURE:
        assert isinstance(item, Launch)
        word = "Partial failure" if item.status and item.status.id == 7 else "Launch failure"
        reason = one_line(item.failreason)
        return f"❌ {word}" + (f": {truncate(reason, 300)}" if reason else "")
    if state == COMPLETE:
        return f"✅ {_kind_word(item)} complete"
    if state == LIVE:
        return "🔴 LIVE now — watch below"
    if state == HOLD:
        assert isinstance(item, Launch)
        reason = one_line(item.holdreason)
        return "⏸️ Hold" + (f": {truncate(reason, 300)}" if reason else "")
    if state == SLIPPED:
        return "⏩ Slipped" + (f" — now {when}" if when else "")
    return "⏳ Starts " + (when or discord_date(date, precision))


def date_text(item: Item, history: CardHistory) -> str:
    """Return the date with the dates it slipped from struck through, newest slip last."""
    precision = item.net_precision if isinstance(item, Launch) else item.date_precision
    old = [f"~~{discord_date(d, precision)}~~" for d in history.slipped_from]
    return " → ".join([*old, discord_date(item_date(item), precision)])


def render_card(item: Item, history: CardHistory, *, now: datetime) -> MessagePayload:
    """Render the card for ``item`` as it stands, given what the card showed before.

    ``history`` must already include ``item`` (see :func:`advance`). A card never pings:
    edits re-evaluate mentions, so pings are separate messages (docs/architecture.md, invariant 10).
    """
    state = phase(item, history, now=now)
    line = status_line(item, history, now=now)
    name = _name(item)
    content = truncate(f"**{escape_markdown(name)}** · {line}", CONTENT_LIMIT)
    embed: EmbedDict = {
        "title": truncate(name, EMBED_TITLE_LIMIT),
        "description": line,
        "color": _COLOURS[state],
        "footer": {"text": f"Launch Library 2 · {_feed_word(item)} {item.id} · living card"},
        "timestamp": isoformat_z(item.last_updated),
    }
    url = valid_url(item.url)
    if url:
        embed["url"] = url
    fields: list[EmbedField | None] = [field("📅 Date", date_text(item, history))]
    update = latest_update(item)  # type: ignore[arg-type]  # launches carry the same updates
    if update is not None:
        fields.append(field("📰 Latest update", update_text(update)))
    summary = clean_text(getattr(item, "description", None))
    if summary and state not in FINAL_PHASES:
        fields.append(field("About", truncate(summary, 300)))
    set_fields(embed, fields)
    if isinstance(item, Launch):
        buttons = launch_buttons(item) if state == LIVE else []
    else:
        buttons = render_buttons(item) if state == LIVE else []
    payload: MessagePayload = {
        "content": content,
        "embeds": [fit_embed(embed)],
        # Watch buttons while live; an edit with no components removes them afterwards.
        "components": buttons,
        "allowed_mentions": allowed_mentions(()),
    }
    return guarded(payload, what=f"card for {item.feed} {item.id}")


def render_ping(content: str, role_ids: list[int]) -> MessagePayload:
    """Render a card's ping: a short message (the alert's content line) that replies to it."""
    return {
        "content": truncate(content, CONTENT_LIMIT),
        "embeds": [],
        "components": [],
        "allowed_mentions": allowed_mentions(sorted(set(role_ids))),
    }


# Event types whose start is worth a ping of its own (LL2 type names, compared lower-case).
STARTING_TYPES = frozenset({"docking", "eva"})


def starts_loudly(item: Item) -> bool:
    """Return whether reaching the item's date pings a card subscription (docking, EVA)."""
    if isinstance(item, Launch) or item.type is None:
        return False
    if precision_class(item.date_precision)[0] != "exact":
        return False  # "sometime in March" has no moment to announce
    return one_line(item.type.name).lower() in STARTING_TYPES


def start_ping_text(item: Item) -> str:
    """Return a "starting now" ping's text (roles go in front of it)."""
    return f"🛰️ {_kind_word(item)} starting now · **{escape_markdown(_name(item))}**"


# --- scheduled events -------------------------------------------------------------------------

EVENT_NAME_LIMIT = 100
EVENT_DESCRIPTION_LIMIT = 1000
EVENT_LOCATION_LIMIT = 100


def _stream_url(item: Item) -> str | None:
    videos = sorted(item.vid_urls, key=lambda v: v.priority if v.priority is not None else 1_000)
    for video in videos:
        url = valid_url(video.url, limit=EVENT_LOCATION_LIMIT)
        if url:
            return url
    return valid_url(getattr(item, "video_url", None), limit=EVENT_LOCATION_LIMIT)


def _place(item: Item) -> str:
    if isinstance(item, Launch):
        pad = item.pad
        where = [getattr(pad, "name", None), getattr(getattr(pad, "location", None), "name", None)]
        text = ", ".join(one_line(w) for w in where if w)
    else:
        text = one_line(item.location)
    return text or "Launch Library 2"


def render_scheduled_event(item: Item) -> dict[str, str] | None:
    """Return what a guild scheduled event for ``item`` says (None: it has no date to hold).

    Name ≤ 100, description ≤ 1,000 and location ≤ 100 characters (Discord's limits); the
    location is the best stream URL, else where the item happens; times are ISO 8601 UTC.
    """
    date = item_date(item)
    if date is None:
        return None
    precision = item.net_precision if isinstance(item, Launch) else item.date_precision
    start = as_utc(date)
    description = clean_text(getattr(item, "description", None))
    if isinstance(item, Launch) and item.mission is not None:
        description = clean_text(getattr(item.mission, "description", None)) or description
    when = plain_date(date, precision)
    if precision_class(precision)[0] != "exact":
        when = f"{when} (time not yet exact)"
    body = f"{_kind_word(item)} · {when}\n{description}".strip()
    return {
        "name": truncate(_name(item), EVENT_NAME_LIMIT),
        "description": truncate(body, EVENT_DESCRIPTION_LIMIT),
        "scheduled_start_time": isoformat_z(start),
        "scheduled_end_time": isoformat_z(start + item_duration(item)),
        "location": truncate(_stream_url(item) or _place(item), EVENT_LOCATION_LIMIT),
    }
