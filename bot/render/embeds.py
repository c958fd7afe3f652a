"""The parts of an item's embed: title and link, the item's fields, webcasts and buttons."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.core.items import Event, EventUpdate, VideoLink
from bot.core.launches import Launch
from bot.core.timeutil import as_utc, isoformat_z
from bot.render.dates import format_event_date
from bot.render.payload import (
    ACTION_ROW_TYPE,
    BUTTON_LABEL_LIMIT,
    BUTTON_TYPE,
    BUTTON_URL_LIMIT,
    BUTTONS_PER_ROW,
    EMBED_DESCRIPTION_LIMIT,
    EMBED_FIELDS_LIMIT,
    EMBED_TITLE_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    LINK_BUTTON_STYLE,
    ActionRow,
    EmbedDict,
    EmbedField,
    LinkButton,
)
from bot.render.text import (
    clean_text,
    ll2_url,
    masked_link,
    one_line,
    truncate,
    valid_url,
)


def _video_source(video: VideoLink) -> str:
    for candidate in (video.publisher, video.source):
        text = one_line(candidate)
        if text:
            return text
    host = urlsplit(video.url).hostname if ll2_url(video.url) else None
    return host or "Webcast"


def video_label(video: VideoLink) -> str:
    """Return "NASA (English)": the publisher and the language's name."""
    language = one_line(video.language_name) or one_line(video.language_code)
    source = _video_source(video)
    return f"{source} ({language})" if language else source


Webcasts = Sequence[tuple[VideoLink | None, str]]


def usable_webcasts(event: Event | Launch) -> list[tuple[VideoLink | None, str]]:
    """Return ``(video, url)`` for every usable webcast link, best first, deduplicated."""
    seen: set[str] = set()
    found: list[tuple[VideoLink | None, str]] = []
    for video in event.videos_by_priority():
        url = ll2_url(video.url)
        if url and url not in seen:
            seen.add(url)
            found.append((video, url))
    # 2.2.0 events' single ``video_url``; a launch has none (its streams are all in vid_urls).
    fallback = ll2_url(getattr(event, "video_url", None))
    if fallback and fallback not in seen:
        found.append((None, fallback))
    return found


def _button_label(video: VideoLink | None, url: str) -> str:
    if video is None:
        source = urlsplit(url).hostname or "webcast"
        language = ""
    else:
        source = _video_source(video)
        language = one_line(video.language_code) or one_line(video.language_name)
    suffix = f" ({truncate(language, 20)})" if language else ""
    head = "Watch · "
    return head + truncate(source, BUTTON_LABEL_LIMIT - len(head) - len(suffix)) + suffix


def render_buttons(event: Event, *, webcasts: Webcasts | None = None) -> list[ActionRow]:
    """Return one action row of up to five webcast link buttons, best first (or none).

    ``webcasts`` is ``usable_webcasts(event)`` when the caller has it already.
    """
    buttons: list[LinkButton] = []
    for video, url in usable_webcasts(event) if webcasts is None else webcasts:
        if len(buttons) == BUTTONS_PER_ROW:
            break
        if valid_url(url, limit=BUTTON_URL_LIMIT) is None:
            continue
        label = _button_label(video, url)
        buttons.append(
            {"type": BUTTON_TYPE, "style": LINK_BUTTON_STYLE, "label": label, "url": url}
        )
    return [{"type": ACTION_ROW_TYPE, "components": buttons}] if buttons else []


def webcast_lines(event: Event | Launch) -> list[str]:
    """Return one markdown line per usable webcast: "🔴 [NASA (English)](url) · title"."""
    lines = []
    for video, url in usable_webcasts(event):
        if video is None:
            lines.append(masked_link(urlsplit(url).hostname or "Webcast", url))
            continue
        line = masked_link(video_label(video), url)
        if video.live:
            line = "🔴 " + line
        title = one_line(video.title)
        if title:
            line += " · " + truncate(title, 120)
        lines.append(line)
    return lines


def _title_url(
    event: Event, *, prefer_video: bool = False, webcasts: Webcasts | None = None
) -> str | None:
    """Pick the link behind the embed title: a page about the event, else LL2's own record."""
    streams = [url for _, url in (usable_webcasts(event) if webcasts is None else webcasts)]
    candidates: list[str | None] = []
    if prefer_video:
        candidates.extend(streams)
    candidates.append(event.news_url)
    candidates.extend(event.info_urls)
    candidates.extend(streams)
    candidates.append(event.url)
    for candidate in candidates:
        url = ll2_url(candidate)
        if url:
            return url
    return None


def field(name: str, value: str, *, inline: bool = False) -> EmbedField | None:
    """Return an embed field cut to Discord's limits, or None when ``value`` is empty."""
    value = truncate(value.strip(), FIELD_VALUE_LIMIT)
    if not value:
        return None
    return {"name": truncate(name, FIELD_NAME_LIMIT), "value": value, "inline": inline}


def _names(items: Iterable[str]) -> str:
    names = [one_line(item) for item in items]
    return truncate(", ".join(n for n in names if n), FIELD_VALUE_LIMIT)


def event_fields(event: Event, *, with_date: bool = True) -> list[EmbedField | None]:
    """Return the item's own fields: date, type, location, agencies, programs."""
    return [
        field("📅 Date", format_event_date(event)) if with_date else None,
        field("Type", one_line(event.type.name) if event.type else "", inline=True),
        field("Location", one_line(event.location), inline=True),
        field("Agencies", _names(a.name for a in event.agencies)),
        field("Programs", _names(p.name for p in event.programs)),
    ]


def base_embed(
    event: Event, *, colour: int, prefer_video: bool = False, webcasts: Webcasts | None = None
) -> EmbedDict:
    """Return the embed every view of an item starts from: title, link, text, image, footer.

    ``webcasts`` is ``usable_webcasts(event)`` when the caller has it already.
    """
    embed: EmbedDict = {
        "title": truncate(one_line(event.name) or f"Event #{event.id}", EMBED_TITLE_LIMIT),
        "color": colour,
        "footer": {"text": f"Launch Library 2 · event #{event.id}"},
        "timestamp": isoformat_z(event.last_updated),
    }
    url = _title_url(event, prefer_video=prefer_video, webcasts=webcasts)
    if url:
        embed["url"] = url
    description = truncate(clean_text(event.description), EMBED_DESCRIPTION_LIMIT)
    if description:
        embed["description"] = description
    image = ll2_url(event.image_url)
    if image:
        embed["image"] = {"url": image}
    return embed


def update_text(update: EventUpdate) -> str:
    """Return an update as one field value: the comment, then its time and link."""
    comment = clean_text(update.comment) or "(no comment)"
    tail = []
    if update.created_on is not None:
        tail.append(f"<t:{int(as_utc(update.created_on).timestamp())}:f>")
    info = ll2_url(update.info_url)
    if info:
        tail.append(masked_link("More info", info))
    # Keep the links and time whole: truncate only the comment.
    suffix = ("\n" + " · ".join(tail)) if tail else ""
    return truncate(comment, FIELD_VALUE_LIMIT - len(suffix)) + suffix


def latest_update(event: Event) -> EventUpdate | None:
    """Return the item's newest update, if it has any."""
    if not event.updates:
        return None
    floor = datetime.min.replace(tzinfo=UTC)
    return max(event.updates, key=lambda u: (u.created_on or floor, u.id))


def set_fields(embed: EmbedDict, fields: Iterable[EmbedField | None]) -> None:
    """Put the non-empty fields on ``embed``, at most Discord's 25."""
    kept = [f for f in fields if f is not None][:EMBED_FIELDS_LIMIT]
    if kept:
        embed["fields"] = kept
