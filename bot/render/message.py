"""Render events and alerts into Discord message payloads and terminal text.

Everything here is a pure function of its arguments: no I/O, no clock. LL2 text is
user-edited, so it is cleaned (control characters dropped, mentions defused), truncated with
an ellipsis to Discord's limits rather than rejected, and every URL is validated before it is
used; what cannot be made valid is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal, NotRequired, TypedDict
from urllib.parse import urlsplit

from bot.core.alerts import Alert, AlertKind
from bot.core.items import DatePrecision, Event, EventUpdate, VideoLink
from bot.core.timeutil import as_utc, isoformat_z

# --- Discord's limits (https://discord.com/developers/docs/resources/message) ---------------

CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_TEXT_LIMIT = 2048
AUTHOR_NAME_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000  # per embed, and across all embeds of one message
URL_LIMIT = 2048
ACTION_ROWS_LIMIT = 5
BUTTONS_PER_ROW = 5
BUTTON_LABEL_LIMIT = 80
BUTTON_URL_LIMIT = 512
COLOUR_MAX = 0xFFFFFF

LINK_BUTTON_STYLE: Final = 5
ACTION_ROW_TYPE: Final = 1
BUTTON_TYPE: Final = 2

ELLIPSIS = "…"
ZWSP = "\u200b"

# One colour per alert kind, plus the lookup view's.
KIND_COLOURS: dict[AlertKind, int] = {
    AlertKind.UPDATE: 0x3498DB,
    AlertKind.WEBCAST_LIVE: 0xE74C3C,
    AlertKind.RESCHEDULED: 0xE67E22,
    AlertKind.NEW_EVENT: 0x2ECC71,
    AlertKind.REMINDER: 0xF1C40F,
}
LOOKUP_COLOUR = 0x5865F2

KIND_LABELS: dict[AlertKind, str] = {
    AlertKind.UPDATE: "UPDATE",
    AlertKind.WEBCAST_LIVE: "LIVE",
    AlertKind.RESCHEDULED: "RESCHEDULED",
    AlertKind.NEW_EVENT: "NEW EVENT",
    AlertKind.REMINDER: "REMINDER",
}


# --- Payload shapes ------------------------------------------------------------------------


class EmbedField(TypedDict):
    """One embed field."""

    name: str
    value: str
    inline: bool


class EmbedFooter(TypedDict):
    """An embed footer."""

    text: str


class EmbedAuthor(TypedDict):
    """An embed author line (used as the alert kind's banner)."""

    name: str
    icon_url: NotRequired[str]


class EmbedMedia(TypedDict):
    """An embed image or thumbnail."""

    url: str


class EmbedDict(TypedDict, total=False):
    """A Discord embed object as sent in a message."""

    title: str
    url: str
    description: str
    color: int
    author: EmbedAuthor
    fields: list[EmbedField]
    image: EmbedMedia
    footer: EmbedFooter
    timestamp: str


class LinkButton(TypedDict):
    """A link button (component type 2, style 5)."""

    type: Literal[2]
    style: Literal[5]
    label: str
    url: str


class ActionRow(TypedDict):
    """An action row (component type 1) of up to five buttons."""

    type: Literal[1]
    components: list[LinkButton]


class AllowedMentions(TypedDict):
    """Which mentions in the message may ping."""

    parse: list[str]
    roles: NotRequired[list[str]]


class MessagePayload(TypedDict):
    """The JSON body of ``POST /channels/{id}/messages`` (minus the nonce)."""

    content: str
    embeds: list[EmbedDict]
    components: list[ActionRow]
    allowed_mentions: AllowedMentions


# --- Text and URL hygiene ------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")


def clean_text(text: str | None) -> str:
    """Return LL2 text made safe to show: no control characters, mentions defused, stripped."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    # allowed_mentions already stops pings (invariant 6); this also stops the *look* of one.
    text = _MASS_MENTION.sub(lambda m: "@" + ZWSP + m.group(1), text)
    text = text.replace("<@", "<@" + ZWSP)
    return text.strip()


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    if limit == 1:
        return ELLIPSIS
    return text[: limit - 1].rstrip() + ELLIPSIS


def valid_url(url: object, *, limit: int = URL_LIMIT) -> str | None:
    """Return ``url`` when it is a usable absolute http(s) URL within ``limit``, else None."""
    if not isinstance(url, str) or not url or len(url) > limit:
        return None
    # RFC 3986 characters only: whitespace, control characters, quotes and angle brackets
    # would break Discord's validation or the markdown the URL is placed in.
    if not _URL_CHARS.fullmatch(url) or _BAD_PERCENT.search(url):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or not parts.hostname:
        return None
    # Brackets are only legal around an IPv6 host.
    if any(c in part for part in (parts.path, parts.query, parts.fragment) for c in "[]"):
        return None
    return url


def _url(candidate: object, *, limit: int = URL_LIMIT) -> str | None:
    """Return an LL2 URL usable as is once surrounding whitespace is stripped, else None."""
    return valid_url(candidate.strip(), limit=limit) if isinstance(candidate, str) else None


def _escape_markdown(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def _link(label: str, url: str) -> str:
    """Return a masked markdown link; ``url`` must already be valid."""
    label = _escape_markdown(" ".join(label.split())) or "link"
    return f"[{label}]({url.replace('(', '%28').replace(')', '%29')})"


def _one_line(text: str | None) -> str:
    return " ".join(clean_text(text).split())


def _join_within(lines: Sequence[str], limit: int, *, more: str = "…and {n} more") -> str:
    """Join whole lines up to ``limit`` characters, summarising what did not fit."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        extra = len(line) + (1 if out else 0)
        remaining = len(lines) - index - 1
        tail = len(more.format(n=remaining)) + 1 if remaining else 0
        if used + extra + tail > limit:
            note = more.format(n=len(lines) - index)
            if used + len(note) + (1 if out else 0) <= limit:
                out.append(note)
            elif not out:
                out.append(truncate(line, limit))
            break
        out.append(line)
        used += extra
    return "\n".join(out)


# --- Dates ---------------------------------------------------------------------------------

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

PrecisionClass = Literal[
    "exact", "day", "morning", "afternoon", "week", "month", "quarter", "half", "year",
    "fiscal_year", "decade", "unknown",
]  # fmt: skip


def precision_class(precision: DatePrecision | None) -> tuple[PrecisionClass, int | None]:
    """Classify an LL2 ``date_precision``; the int is the quarter or half number if known."""
    if precision is None:
        return "exact", None
    name = precision.name.strip().lower()
    abbrev = (precision.abbrev or "").strip().upper()
    if name in ("second", "minute", "hour") or abbrev in ("SEC", "MIN", "HR"):
        return "exact", None
    if "fiscal" in name or abbrev == "FY":
        return "fiscal_year", None
    if "quarter" in name or re.fullmatch(r"Q[1-4]", abbrev):
        return "quarter", _ordinal(abbrev, name, 4)
    if "half" in name or re.fullmatch(r"H[12]", abbrev):
        return "half", _ordinal(abbrev, name, 2)
    if "decade" in name:
        return "decade", None
    if "year" in name or abbrev == "Y":
        return "year", None
    if "month" in name or abbrev == "M":
        return "month", None
    if "week" in name or abbrev == "W":
        return "week", None
    if name == "morning" or abbrev == "AM":
        return "morning", None
    if name == "afternoon" or abbrev == "PM":
        return "afternoon", None
    if name == "day" or abbrev == "DAY":
        return "day", None
    return "unknown", None


def _ordinal(abbrev: str, name: str, top: int) -> int | None:
    match = re.search(rf"[1-{top}]", abbrev) or re.search(rf"[1-{top}]", name)
    return int(match.group()) if match else None


def _noon(day: date) -> int:
    # A date shown with <t:…:D> is converted to each reader's zone; noon UTC keeps the same
    # calendar day everywhere from UTC-12 to UTC+11, midnight would show the day before in
    # the Americas.
    return int(datetime.combine(day, time(12, tzinfo=UTC)).timestamp())


def _coarse_text(kind: PrecisionClass, number: int | None, when: datetime) -> str | None:
    """Return the "NET …" text for precisions coarser than a week, else None."""
    if kind == "month":
        return f"NET {_MONTHS[when.month - 1]} {when.year}"
    if kind == "quarter":
        return f"NET Q{number or (when.month - 1) // 3 + 1} {when.year}"
    if kind == "half":
        return f"NET H{number or (1 if when.month <= 6 else 2)} {when.year}"
    if kind == "year":
        return f"NET {when.year}"
    if kind == "fiscal_year":
        return f"NET FY{when.year}"
    if kind == "decade":
        return f"NET {when.year // 10 * 10}s"
    return None


def _day_suffix(kind: PrecisionClass) -> str:
    return {"morning": " (morning)", "afternoon": " (afternoon)"}.get(kind, "")


def discord_date(when: datetime | None, precision: DatePrecision | None) -> str:
    """Render a date as Discord timestamp markup, never finer than ``precision`` allows."""
    if when is None:
        return "TBD"
    when = as_utc(when)
    kind, number = precision_class(precision)
    if kind == "exact":
        unix = int(when.timestamp())
        return f"<t:{unix}:F> (<t:{unix}:R>)"
    coarse = _coarse_text(kind, number, when)
    if coarse is not None:
        return coarse
    if kind == "week":
        monday = when.date() - timedelta(days=when.weekday())
        return f"NET week of <t:{_noon(monday)}:D>"
    return f"<t:{_noon(when.date())}:D>{_day_suffix(kind)}"


def plain_date(when: datetime | None, precision: DatePrecision | None) -> str:
    """Render a date as plain UTC text, never finer than ``precision`` allows."""
    if when is None:
        return "TBD"
    when = as_utc(when)
    kind, number = precision_class(precision)
    if kind == "exact":
        if precision is not None and precision.name.strip().lower() == "second":
            return when.strftime("%Y-%m-%d %H:%M:%S UTC")
        return when.strftime("%Y-%m-%d %H:%M UTC")
    coarse = _coarse_text(kind, number, when)
    if coarse is not None:
        return coarse
    if kind == "week":
        monday = when.date() - timedelta(days=when.weekday())
        return f"NET week of {monday.isoformat()}"
    return when.date().isoformat() + _day_suffix(kind)


def format_event_date(event: Event) -> str:
    """Return the event's date as Discord markup: ``<t:…:F> (<t:…:R>)`` or "NET November 2026"."""
    return discord_date(event.date, event.date_precision)


def format_event_date_plain(event: Event) -> str:
    """Return the event's date as terminal text: "2026-11-27 12:38 UTC" or "NET November 2026"."""
    return plain_date(event.date, event.date_precision)


def _compact_date(event: Event) -> str:
    if event.date is None:
        return "TBD"
    kind, _ = precision_class(event.date_precision)
    if kind == "exact":
        unix = int(as_utc(event.date).timestamp())
        return f"<t:{unix}:f> (<t:{unix}:R>)"
    return format_event_date(event)


def _lead_text(lead: timedelta | None) -> str:
    if lead is None:
        return "soon"
    seconds = int(lead.total_seconds())
    if seconds > 0 and seconds % 3600 == 0:
        return f"in {seconds // 3600}h"
    if seconds > 0 and seconds % 60 == 0:
        return f"in {seconds // 60}m"
    return f"in {max(seconds, 0)}s"


# --- Webcasts ------------------------------------------------------------------------------


def _video_source(video: VideoLink) -> str:
    for candidate in (video.publisher, video.source):
        text = _one_line(candidate)
        if text:
            return text
    host = urlsplit(video.url).hostname if _url(video.url) else None
    return host or "Webcast"


def video_label(video: VideoLink) -> str:
    """Return "NASA (English)": the publisher and the language's name."""
    language = _one_line(video.language_name) or _one_line(video.language_code)
    source = _video_source(video)
    return f"{source} ({language})" if language else source


def _webcasts(event: Event) -> list[tuple[VideoLink | None, str]]:
    """Return ``(video, url)`` for every usable webcast link, best first, deduplicated."""
    seen: set[str] = set()
    found: list[tuple[VideoLink | None, str]] = []
    for video in event.videos_by_priority():
        url = _url(video.url)
        if url and url not in seen:
            seen.add(url)
            found.append((video, url))
    fallback = _url(event.video_url)  # 2.2.0's single ``video_url``
    if fallback and fallback not in seen:
        found.append((None, fallback))
    return found


def _button_label(video: VideoLink | None, url: str) -> str:
    if video is None:
        source = urlsplit(url).hostname or "webcast"
        language = ""
    else:
        source = _video_source(video)
        language = _one_line(video.language_code) or _one_line(video.language_name)
    suffix = f" ({truncate(language, 20)})" if language else ""
    head = "Watch · "
    return head + truncate(source, BUTTON_LABEL_LIMIT - len(head) - len(suffix)) + suffix


def render_buttons(event: Event) -> list[ActionRow]:
    """Return one action row of up to five webcast link buttons, best first (or none)."""
    buttons: list[LinkButton] = []
    for video, url in _webcasts(event):
        if len(buttons) == BUTTONS_PER_ROW:
            break
        if valid_url(url, limit=BUTTON_URL_LIMIT) is None:
            continue
        label = _button_label(video, url)
        buttons.append(
            {"type": BUTTON_TYPE, "style": LINK_BUTTON_STYLE, "label": label, "url": url}
        )
    return [{"type": ACTION_ROW_TYPE, "components": buttons}] if buttons else []


def _webcast_lines(event: Event) -> list[str]:
    lines = []
    for video, url in _webcasts(event):
        if video is None:
            lines.append(_link(urlsplit(url).hostname or "Webcast", url))
            continue
        line = _link(video_label(video), url)
        if video.live:
            line = "🔴 " + line
        title = _one_line(video.title)
        if title:
            line += " · " + truncate(title, 120)
        lines.append(line)
    return lines


# --- Embeds --------------------------------------------------------------------------------


def _title_url(event: Event, *, prefer_video: bool = False) -> str | None:
    """Pick the link behind the embed title: a page about the event, else LL2's own record."""
    webcasts = [url for _, url in _webcasts(event)]
    candidates: list[str | None] = []
    if prefer_video:
        candidates.extend(webcasts)
    candidates.append(event.news_url)
    candidates.extend(event.info_urls)
    candidates.extend(webcasts)
    candidates.append(event.url)
    for candidate in candidates:
        url = _url(candidate)
        if url:
            return url
    return None


def _field(name: str, value: str, *, inline: bool = False) -> EmbedField | None:
    value = truncate(value.strip(), FIELD_VALUE_LIMIT)
    if not value:
        return None
    return {"name": truncate(name, FIELD_NAME_LIMIT), "value": value, "inline": inline}


def _names(items: Iterable[str]) -> str:
    names = [_one_line(item) for item in items]
    return truncate(", ".join(n for n in names if n), FIELD_VALUE_LIMIT)


def _event_fields(event: Event, *, with_date: bool = True) -> list[EmbedField | None]:
    return [
        _field("📅 Date", format_event_date(event)) if with_date else None,
        _field("Type", _one_line(event.type.name) if event.type else "", inline=True),
        _field("Location", _one_line(event.location), inline=True),
        _field("Agencies", _names(a.name for a in event.agencies)),
        _field("Programs", _names(p.name for p in event.programs)),
    ]


def _base_embed(event: Event, *, colour: int, prefer_video: bool = False) -> EmbedDict:
    embed: EmbedDict = {
        "title": truncate(_one_line(event.name) or f"Event #{event.id}", EMBED_TITLE_LIMIT),
        "color": colour,
        "footer": {"text": f"Launch Library 2 · event #{event.id}"},
        "timestamp": isoformat_z(event.last_updated),
    }
    url = _title_url(event, prefer_video=prefer_video)
    if url:
        embed["url"] = url
    description = truncate(clean_text(event.description), EMBED_DESCRIPTION_LIMIT)
    if description:
        embed["description"] = description
    image = _url(event.image_url)
    if image:
        embed["image"] = {"url": image}
    return embed


def _update_text(update: EventUpdate) -> str:
    comment = clean_text(update.comment) or "(no comment)"
    tail = []
    if update.created_on is not None:
        tail.append(f"<t:{int(as_utc(update.created_on).timestamp())}:f>")
    info = _url(update.info_url)
    if info:
        tail.append(_link("More info", info))
    # Keep the links and time whole: truncate only the comment.
    suffix = ("\n" + " · ".join(tail)) if tail else ""
    return truncate(comment, FIELD_VALUE_LIMIT - len(suffix)) + suffix


def _latest_update(event: Event) -> EventUpdate | None:
    if not event.updates:
        return None
    floor = datetime.min.replace(tzinfo=UTC)
    return max(event.updates, key=lambda u: (u.created_on or floor, u.id))


def _set_fields(embed: EmbedDict, fields: Iterable[EmbedField | None]) -> None:
    kept = [f for f in fields if f is not None][:EMBED_FIELDS_LIMIT]
    if kept:
        embed["fields"] = kept


def _alert_embed(alert: Alert) -> EmbedDict:
    event = alert.event
    kind = alert.kind
    embed = _base_embed(
        event, colour=KIND_COLOURS[kind], prefer_video=kind is AlertKind.WEBCAST_LIVE
    )
    fields: list[EmbedField | None] = []
    author: EmbedAuthor
    if kind is AlertKind.UPDATE:
        update = alert.update
        who = _one_line(update.created_by) if update else ""
        author = {"name": f"📰 Update by {who}" if who else "📰 Update"}
        icon = _url(update.profile_image) if update else None
        if icon:
            author["icon_url"] = icon
        if update is not None:
            fields.append(_field("📰 Update", _update_text(update)))
        fields.extend(_event_fields(event))
    elif kind is AlertKind.WEBCAST_LIVE:
        author = {"name": "🔴 LIVE"}
        lines = _webcast_lines(event)
        fields.append(_field("🔴 Watch live", _join_within(lines, FIELD_VALUE_LIMIT)))
        fields.extend(_event_fields(event))
    elif kind is AlertKind.RESCHEDULED:
        author = {"name": "🗓️ Rescheduled"}
        old = discord_date(alert.previous_date, event.date_precision)
        fields.append(_field("🗓️ Rescheduled", f"~~{old}~~\n→ **{format_event_date(event)}**"))
        fields.extend(_event_fields(event, with_date=False))
    elif kind is AlertKind.REMINDER:
        author = {"name": f"⏰ Reminder · {_lead_text(alert.lead)}"}
        fields.extend(_event_fields(event))
    else:
        author = {"name": "✨ New event"}
        fields.extend(_event_fields(event))
    author["name"] = truncate(author["name"], AUTHOR_NAME_LIMIT)
    embed["author"] = author
    _set_fields(embed, fields)
    return fit_embed(embed)


def render_event_embed(event: Event) -> EmbedDict:
    """Render the lookup view of one event (the alerts' look without a kind banner)."""
    embed = _base_embed(event, colour=LOOKUP_COLOUR)
    fields = _event_fields(event)
    lines = _webcast_lines(event)
    if lines:
        fields.append(_field("📺 Webcasts", _join_within(lines, FIELD_VALUE_LIMIT)))
    latest = _latest_update(event)
    if latest is not None:
        who = _one_line(latest.created_by)
        fields.append(
            _field(f"📰 Latest update{f' by {who}' if who else ''}", _update_text(latest))
        )
    _set_fields(embed, fields)
    return fit_embed(embed)


# --- Limits --------------------------------------------------------------------------------


def embed_length(embed: Mapping[str, Any]) -> int:
    """Count the characters Discord adds up against the 6000 total for one embed."""
    total = 0
    for key in ("title", "description"):
        if isinstance(embed.get(key), str):
            total += len(embed[key])
    for key, inner in (("footer", "text"), ("author", "name")):
        part = embed.get(key)
        if isinstance(part, Mapping) and isinstance(part.get(inner), str):
            total += len(part[inner])
    fields = embed.get("fields")
    if isinstance(fields, list):
        for field in fields:
            if isinstance(field, Mapping):
                total += sum(
                    len(field[k]) for k in ("name", "value") if isinstance(field.get(k), str)
                )
    return total


def fit_embed(embed: EmbedDict) -> EmbedDict:
    """Shrink an embed's LL2 text until the whole embed is within Discord's total limit."""
    excess = embed_length(embed) - EMBED_TOTAL_LIMIT
    if excess <= 0:
        return embed
    # The description goes first (down to a readable floor), then the longest field values;
    # finally fields are dropped from the end. Field *names* and the footer are ours and short.
    description = embed.get("description", "")
    if description:
        keep = max(len(description) - excess, min(len(description), 512))
        embed["description"] = truncate(description, keep)
        excess = embed_length(embed) - EMBED_TOTAL_LIMIT
    fields = embed.get("fields", [])
    while excess > 0 and fields:
        longest = max(fields, key=lambda f: len(f["value"]))
        if len(longest["value"]) <= 64:
            break
        longest["value"] = truncate(longest["value"], max(len(longest["value"]) - excess, 64))
        excess = embed_length(embed) - EMBED_TOTAL_LIMIT
    if excess > 0 and "description" in embed:
        kept = truncate(embed["description"], len(embed["description"]) - excess)
        if kept:
            embed["description"] = kept
        else:
            del embed["description"]
        excess = embed_length(embed) - EMBED_TOTAL_LIMIT
    while excess > 0 and fields:
        fields.pop()
        excess = embed_length(embed) - EMBED_TOTAL_LIMIT
    if "fields" in embed and not fields:
        del embed["fields"]
    if excess > 0:
        embed["title"] = truncate(embed.get("title", ""), len(embed.get("title", "")) - excess)
    return embed


def _check_url(where: str, url: object, limit: int, problems: list[str]) -> None:
    if valid_url(url, limit=limit) is None:
        problems.append(f"{where}: not a valid http(s) URL of at most {limit} chars: {url!r:.80}")


def _check_text(
    where: str, value: object, limit: int, problems: list[str], *, required: bool = False
) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, got {type(value).__name__}")
    elif len(value) > limit:
        problems.append(f"{where}: {len(value)} chars > {limit}")
    elif required and not value.strip():
        problems.append(f"{where}: must not be empty")


def _check_embed(i: int, embed: object, problems: list[str]) -> None:
    where = f"embeds[{i}]"
    if not isinstance(embed, Mapping):
        problems.append(f"{where}: not an object")
        return
    _check_text(f"{where}.title", embed.get("title"), EMBED_TITLE_LIMIT, problems)
    _check_text(f"{where}.description", embed.get("description"), EMBED_DESCRIPTION_LIMIT, problems)
    if embed.get("url") is not None:
        _check_url(f"{where}.url", embed["url"], URL_LIMIT, problems)
    colour = embed.get("color")
    if colour is not None and (
        not isinstance(colour, int) or isinstance(colour, bool) or not 0 <= colour <= COLOUR_MAX
    ):
        problems.append(f"{where}.color: {colour!r} is not 0…0xFFFFFF")
    timestamp = embed.get("timestamp")
    if timestamp is not None:
        try:
            datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"{where}.timestamp: not ISO-8601: {timestamp!r:.40}")
    for key in ("image", "thumbnail"):
        media = embed.get(key)
        if media is not None:
            url = media.get("url") if isinstance(media, Mapping) else None
            _check_url(f"{where}.{key}.url", url, URL_LIMIT, problems)
    footer = embed.get("footer")
    if footer is not None:
        if isinstance(footer, Mapping):
            _check_text(f"{where}.footer.text", footer.get("text"), FOOTER_TEXT_LIMIT, problems)
            if footer.get("icon_url") is not None:
                _check_url(f"{where}.footer.icon_url", footer["icon_url"], URL_LIMIT, problems)
        else:
            problems.append(f"{where}.footer: not an object")
    author = embed.get("author")
    if author is not None:
        if isinstance(author, Mapping):
            _check_text(f"{where}.author.name", author.get("name"), AUTHOR_NAME_LIMIT, problems)
            for key in ("url", "icon_url"):
                if author.get(key) is not None:
                    _check_url(f"{where}.author.{key}", author[key], URL_LIMIT, problems)
        else:
            problems.append(f"{where}.author: not an object")
    fields = embed.get("fields")
    if fields is not None:
        if not isinstance(fields, list):
            problems.append(f"{where}.fields: not a list")
        else:
            if len(fields) > EMBED_FIELDS_LIMIT:
                problems.append(f"{where}.fields: {len(fields)} > {EMBED_FIELDS_LIMIT}")
            for j, field in enumerate(fields):
                at = f"{where}.fields[{j}]"
                if not isinstance(field, Mapping):
                    problems.append(f"{at}: not an object")
                    continue
                _check_text(
                    f"{at}.name", field.get("name"), FIELD_NAME_LIMIT, problems, required=True
                )
                _check_text(
                    f"{at}.value", field.get("value"), FIELD_VALUE_LIMIT, problems, required=True
                )
    total = embed_length(embed)
    if total > EMBED_TOTAL_LIMIT:
        problems.append(f"{where}: {total} chars in total > {EMBED_TOTAL_LIMIT}")


def _check_components(components: object, problems: list[str]) -> None:
    if not isinstance(components, list):
        problems.append("components: not a list")
        return
    if len(components) > ACTION_ROWS_LIMIT:
        problems.append(f"components: {len(components)} action rows > {ACTION_ROWS_LIMIT}")
    for i, row in enumerate(components):
        where = f"components[{i}]"
        if not isinstance(row, Mapping) or row.get("type") != ACTION_ROW_TYPE:
            problems.append(f"{where}: not an action row")
            continue
        buttons = row.get("components")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS_PER_ROW:
            problems.append(f"{where}.components: needs 1…{BUTTONS_PER_ROW} items")
            continue
        for j, button in enumerate(buttons):
            at = f"{where}.components[{j}]"
            if not isinstance(button, Mapping) or button.get("type") != BUTTON_TYPE:
                problems.append(f"{at}: not a button")
                continue
            _check_text(f"{at}.label", button.get("label"), BUTTON_LABEL_LIMIT, problems)
            if button.get("style") == LINK_BUTTON_STYLE:
                _check_url(f"{at}.url", button.get("url"), BUTTON_URL_LIMIT, problems)
                if button.get("custom_id") is not None:
                    problems.append(f"{at}: a link button cannot have a custom_id")
            if not button.get("label") and not button.get("emoji"):
                problems.append(f"{at}: needs a label or an emoji")


def check_limits(payload: Mapping[str, Any]) -> list[str]:
    """Return every way ``payload`` breaks Discord's message limits (empty when it is valid)."""
    problems: list[str] = []
    content = payload.get("content")
    _check_text("content", content, CONTENT_LIMIT, problems)
    embeds = payload.get("embeds") or []
    if not isinstance(embeds, list):
        problems.append("embeds: not a list")
        embeds = []
    if len(embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"embeds: {len(embeds)} > {EMBEDS_PER_MESSAGE}")
    for i, embed in enumerate(embeds):
        _check_embed(i, embed, problems)
    combined = sum(embed_length(e) for e in embeds if isinstance(e, Mapping))
    if len(embeds) > 1 and combined > EMBED_TOTAL_LIMIT:
        problems.append(f"embeds: {combined} chars across embeds > {EMBED_TOTAL_LIMIT}")
    components = payload.get("components")
    if components is not None:
        _check_components(components, problems)
    mentions = payload.get("allowed_mentions")
    if mentions is not None:
        if not isinstance(mentions, Mapping):
            problems.append("allowed_mentions: not an object")
        else:
            parse = mentions.get("parse") or []
            for kind in ("roles", "users"):
                if kind in parse and mentions.get(kind):
                    problems.append(f"allowed_mentions: {kind} both in parse and listed")
            unknown = set(parse) - {"roles", "users", "everyone"}
            if unknown:
                problems.append(f"allowed_mentions.parse: unknown {sorted(unknown)}")
    if not content and not embeds and not components:
        problems.append("message: needs content, embeds or components")
    return problems


# --- Messages ------------------------------------------------------------------------------


def _allowed_mentions(role_ids: Sequence[int] = ()) -> AllowedMentions:
    if not role_ids:
        return {"parse": []}
    return {"parse": [], "roles": [str(r) for r in role_ids]}


def _content(line: str, role_ids: Sequence[int] = ()) -> str:
    prefix = "".join(f"<@&{r}> " for r in role_ids)
    return prefix + truncate(line, CONTENT_LIMIT - len(prefix))


def _bold_name(event: Event) -> str:
    name = truncate(_one_line(event.name) or f"Event #{event.id}", 200)
    return f"**{_escape_markdown(name)}**"


def _content_line(alert: Alert) -> str:
    name = _bold_name(alert.event)
    kind = alert.kind
    if kind is AlertKind.UPDATE:
        return f"📰 New update · {name}"
    if kind is AlertKind.WEBCAST_LIVE:
        return f"🔴 LIVE now · {name}"
    if kind is AlertKind.RESCHEDULED:
        return f"🗓️ Rescheduled · {name} → {format_event_date(alert.event)}"
    if kind is AlertKind.REMINDER:
        return f"⏰ {_lead_text(alert.lead).capitalize()} · {name}"
    return f"✨ New event · {name}"


def render_alert(alert: Alert, *, mention_role_ids: Iterable[int | None] = ()) -> MessagePayload:
    """Render an alert as the message to POST to a channel, pinging only ``mention_role_ids``.

    Several subscriptions of one channel may match one alert: the one message mentions the
    union of their roles (sorted, each once), and ``allowed_mentions`` admits exactly those.
    """
    roles = sorted({r for r in mention_role_ids if r is not None})
    return {
        "content": _content(_content_line(alert), roles),
        "embeds": [_alert_embed(alert)],
        "components": render_buttons(alert.event),
        "allowed_mentions": _allowed_mentions(roles),
    }


def render_event_message(event: Event) -> MessagePayload:
    """Render the lookup view of one event as a whole message, webcast buttons included."""
    return {
        "content": "",
        "embeds": [render_event_embed(event)],
        "components": render_buttons(event),
        "allowed_mentions": _allowed_mentions(),
    }


def _list_line(index: int, event: Event) -> str:
    name = truncate(_one_line(event.name) or f"Event #{event.id}", 80)
    parts = [f"`{index}.` **{_escape_markdown(name)}**"]
    if event.type is not None and _one_line(event.type.name):
        parts.append(_escape_markdown(truncate(_one_line(event.type.name), 30)))
    parts.append(_compact_date(event))
    parts.append(f"`#{event.id}`")
    return " · ".join(parts)


def render_event_list(events: Sequence[Event], *, title: str) -> MessagePayload:
    """Render a compact list of events (one line each) for ``/events upcoming``."""
    embed: EmbedDict = {
        "title": truncate(clean_text(title) or "Events", EMBED_TITLE_LIMIT),
        "color": LOOKUP_COLOUR,
        "footer": {"text": "Launch Library 2 · /events show <id> for details"},
    }
    budget = min(EMBED_DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_length(embed))
    lines = [_list_line(i, event) for i, event in enumerate(events, start=1)]
    embed["description"] = _join_within(lines, budget) if lines else "No events found."
    return {
        "content": "",
        "embeds": [fit_embed(embed)],
        "components": [],
        "allowed_mentions": _allowed_mentions(),
    }


# --- Console output ------------------------------------------------------------------------


def alert_json(
    alert: Alert, *, key: str, subscription_id: int | None, message: MessagePayload
) -> dict[str, Any]:
    """Return DESIGN.md's alert JSON line object for one rendered alert."""
    event = alert.event
    return {
        "kind": alert.kind.value,
        "key": key,
        "event": {
            "id": event.id,
            "name": event.name,
            "slug": event.slug,
            "type": {"id": event.type.id, "name": event.type.name} if event.type else None,
            "date": isoformat_z(event.date) if event.date is not None else None,
        },
        "subscription": subscription_id,
        "message": message,
    }


def _plain(text: str | None, limit: int) -> str:
    # Terminal output: no control characters (no escape sequences from LL2), one line.
    return truncate(" ".join(_CONTROL.sub("", text or "").split()), limit)
