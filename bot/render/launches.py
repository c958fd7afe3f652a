"""Launch views: one launch in full (lookups and alerts) and a compact list of launches.

A launch embed shows the rocket, the provider, the mission and its orbit, the pad and its
location, the status (the embed's colour follows it), the probability, the launch window and
NET as Discord timestamps no finer than ``net_precision`` ("NET November 2026"), hold and
failure reasons, the image as a thumbnail, and watch buttons for the best streams. Every
message goes through :func:`bot.render.limits.guarded` before it leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlsplit

from bot.core.items import VideoLink
from bot.core.launches import (
    STATUS_FAILURE,
    STATUS_GO,
    STATUS_HOLD,
    STATUS_IN_FLIGHT,
    STATUS_PARTIAL_FAILURE,
    STATUS_PAYLOAD_DEPLOYED,
    STATUS_SUCCESS,
    STATUS_TBC,
    STATUS_TBD,
    Launch,
)
from bot.core.timeutil import as_utc, isoformat_z
from bot.render.dates import discord_date, precision_class
from bot.render.embeds import field, set_fields
from bot.render.limits import embed_length, fit_embed, guarded
from bot.render.payload import (
    ACTION_ROW_TYPE,
    BUTTON_LABEL_LIMIT,
    BUTTON_TYPE,
    BUTTON_URL_LIMIT,
    BUTTONS_PER_ROW,
    EMBED_DESCRIPTION_LIMIT,
    EMBED_TITLE_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    LINK_BUTTON_STYLE,
    ActionRow,
    EmbedDict,
    EmbedField,
    LinkButton,
    MessagePayload,
    allowed_mentions,
)
from bot.render.text import (
    clean_text,
    escape_markdown,
    join_within,
    ll2_url,
    masked_link,
    one_line,
    truncate,
    valid_url,
)

# The embed colour and emoji of each LL2 launch status (LL2 status ids 1…9).
STATUS_LOOKS: dict[int, tuple[str, int]] = {
    STATUS_GO: ("🟢", 0x2ECC71),
    STATUS_TBD: ("⚪", 0x95A5A6),
    STATUS_SUCCESS: ("✅", 0x57F287),
    STATUS_FAILURE: ("💥", 0xED4245),
    STATUS_HOLD: ("⏸️", 0xE67E22),
    STATUS_IN_FLIGHT: ("🚀", 0x3498DB),
    STATUS_PARTIAL_FAILURE: ("⚠️", 0xA84300),
    STATUS_TBC: ("🟡", 0xF1C40F),
    STATUS_PAYLOAD_DEPLOYED: ("🛰️", 0x1ABC9C),
}
# A status LL2 added later, or none at all: still a valid, neutral look.
UNKNOWN_STATUS_LOOK = ("❔", 0x5865F2)

# English streams first among equals: the bot's own text is English. Then by language
# name, so the order does not depend on the order LL2 happened to list them in.
_PREFERRED_LANGUAGE = "en"


def status_colour(launch: Launch) -> int:
    """Return the embed colour for the launch's status (a neutral blurple when unknown)."""
    return STATUS_LOOKS.get(launch.status_id or -1, UNKNOWN_STATUS_LOOK)[1]


def status_text(launch: Launch) -> str:
    """Return "🟢 Go for Launch": the status emoji and LL2's name for it ("Unknown" if none)."""
    emoji = STATUS_LOOKS.get(launch.status_id or -1, UNKNOWN_STATUS_LOOK)[0]
    if launch.status is None:
        return f"{emoji} Unknown"
    name = one_line(launch.status.name) or one_line(launch.status.abbrev) or "Unknown"
    return f"{emoji} {truncate(name, 100)}"


def net_text(launch: Launch) -> str:
    """Return NET as Discord timestamps, or "NET November 2026" for a coarse precision."""
    return discord_date(launch.net, launch.net_precision)


def compact_net(launch: Launch) -> str:
    """Return a list line's NET: ``<t:…:f> (<t:…:R>)`` or "NET November 2026"."""
    if launch.net is not None and precision_class(launch.net_precision)[0] == "exact":
        unix = int(as_utc(launch.net).timestamp())
        return f"<t:{unix}:f> (<t:{unix}:R>)"
    return net_text(launch)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours}h {minutes}m"
    return f"{hours}h" if hours else f"{minutes}m"


def window_text(launch: Launch) -> str:
    """Return the launch window as timestamps, or "" when unknown or NET is coarse.

    A window is only as exact as NET: for "NET Q1 2027" LL2's window bounds are placeholders.
    """
    start, end = launch.window_start, launch.window_end
    if start is None or end is None or precision_class(launch.net_precision)[0] != "exact":
        return ""
    start, end = as_utc(start), as_utc(end)
    if end < start:
        return ""
    opens = int(start.timestamp())
    if end == start:
        return f"Instantaneous, <t:{opens}:t>"
    return f"<t:{opens}:t> – <t:{int(end.timestamp())}:t> ({_span(end - start)})"


def _stream_order(video: VideoLink) -> tuple[int, int, str]:
    priority = video.priority if video.priority is not None else 1_000
    code = (video.language_code or "").strip().lower()
    name = (video.language_name or "").strip().lower()
    if code == _PREFERRED_LANGUAGE or name == "english":
        return priority, 0, name
    return priority, 1 if (code or name) else 2, name


def best_streams(launch: Launch) -> list[tuple[VideoLink, str]]:
    """Return ``(video, url)`` for each usable stream: by priority, then language, no repeats."""
    seen: set[str] = set()
    found: list[tuple[VideoLink, str]] = []
    for video in sorted(launch.vid_urls, key=_stream_order):
        url = ll2_url(video.url)
        if url and url not in seen:
            seen.add(url)
            found.append((video, url))
    return found


def _source(video: VideoLink, url: str) -> str:
    for candidate in (video.publisher, video.source):
        text = one_line(candidate)
        if text:
            return text
    return urlsplit(url).hostname or "Webcast"


def _button_label(video: VideoLink, url: str) -> str:
    language = one_line(video.language_code) or one_line(video.language_name)
    suffix = f" ({truncate(language, 20)})" if language else ""
    head = "🔴 Live · " if video.live else "Watch · "
    room = BUTTON_LABEL_LIMIT - len(head) - len(suffix)
    return head + truncate(_source(video, url), room) + suffix


def launch_buttons(
    launch: Launch, *, streams: Sequence[tuple[VideoLink, str]] | None = None
) -> list[ActionRow]:
    """Return one action row of watch buttons for the best streams (up to five), or none.

    ``streams`` is ``best_streams(launch)`` when the caller has it already.
    """
    buttons: list[LinkButton] = []
    for video, url in best_streams(launch) if streams is None else streams:
        if len(buttons) == BUTTONS_PER_ROW:
            break
        if valid_url(url, limit=BUTTON_URL_LIMIT) is None:
            continue
        buttons.append(
            {
                "type": BUTTON_TYPE,
                "style": LINK_BUTTON_STYLE,
                "label": _button_label(video, url),
                "url": url,
            }
        )
    return [{"type": ACTION_ROW_TYPE, "components": buttons}] if buttons else []


def stream_lines(launch: Launch) -> list[str]:
    """Return one markdown line per usable stream: "🔴 [NASA (English)](url) · title"."""
    lines = []
    for video, url in best_streams(launch):
        language = one_line(video.language_name) or one_line(video.language_code)
        label = f"{_source(video, url)} ({language})" if language else _source(video, url)
        line = masked_link(label, url)
        if video.live:
            line = "🔴 " + line
        title = one_line(video.title)
        if title:
            line += " · " + truncate(escape_markdown(title), 120)
        lines.append(line)
    return lines


def _rocket(launch: Launch) -> str:
    if launch.rocket is None:
        return ""
    return one_line(launch.rocket.full_name) or one_line(launch.rocket.name)


def _provider(launch: Launch) -> str:
    provider = launch.launch_service_provider
    if provider is None:
        return ""
    name = one_line(provider.name)
    abbrev = one_line(provider.abbrev)
    return f"{name} ({abbrev})" if abbrev and abbrev != name else name


def _mission(launch: Launch) -> str:
    if launch.mission is None:
        return ""
    parts = [one_line(launch.mission.name), one_line(launch.mission.type)]
    return " · ".join(p for p in parts if p)


def _orbit(launch: Launch) -> str:
    orbit = launch.mission.orbit if launch.mission else None
    if orbit is None:
        return ""
    name, abbrev = one_line(orbit.name), one_line(orbit.abbrev)
    return f"{name} ({abbrev})" if abbrev and abbrev != name else name


def _pad(launch: Launch) -> str:
    pad = one_line(launch.pad.name) if launch.pad else ""
    location = one_line(launch.location)
    return "\n".join(p for p in (pad, location) if p)


def launch_fields(
    launch: Launch, *, with_date: bool = True, with_status: bool = True
) -> list[EmbedField | None]:
    """Return the launch's own fields: NET, status, probability, window, rocket, mission …"""
    probability = f"{launch.probability}%" if launch.probability is not None else ""
    programs = ", ".join(n for n in (one_line(p.name) for p in launch.programs) if n)
    return [
        field("📅 NET", net_text(launch)) if with_date else None,
        field("🚦 Status", status_text(launch), inline=True) if with_status else None,
        field("🎲 Probability", probability, inline=True),
        field("🪟 Window", window_text(launch), inline=True),
        field("🚀 Rocket", _rocket(launch), inline=True),
        field("🏢 Provider", _provider(launch), inline=True),
        field("🎯 Mission", _mission(launch), inline=True),
        field("🛰️ Orbit", _orbit(launch), inline=True),
        field("📍 Pad", _pad(launch), inline=True),
        field("⏸️ Hold reason", clean_text(launch.holdreason)),
        field("💥 Failure reason", clean_text(launch.failreason)),
        field("Programs", truncate(programs, FIELD_VALUE_LIMIT)),
    ]


def _title_url(
    launch: Launch, *, prefer_video: bool, streams: Sequence[tuple[VideoLink, str]] | None = None
) -> str | None:
    urls = [url for _, url in (best_streams(launch) if streams is None else streams)]
    candidates: list[str | None] = list(urls) if prefer_video else []
    candidates.extend(launch.info_urls)
    candidates.extend(urls)
    candidates.append(launch.url)
    for candidate in candidates:
        url = ll2_url(candidate)
        if url:
            return url
    return None


def launch_base_embed(
    launch: Launch,
    *,
    colour: int,
    prefer_video: bool = False,
    streams: Sequence[tuple[VideoLink, str]] | None = None,
) -> EmbedDict:
    """Return the embed every view of a launch starts from: title, link, mission text, image.

    ``streams`` is ``best_streams(launch)`` when the caller has it already.
    """
    embed: EmbedDict = {
        "title": truncate(one_line(launch.name) or f"Launch {launch.id}", EMBED_TITLE_LIMIT),
        "color": colour,
        "footer": {"text": f"Launch Library 2 · launch {launch.id}"},
        "timestamp": isoformat_z(launch.last_updated),
    }
    url = _title_url(launch, prefer_video=prefer_video, streams=streams)
    if url:
        embed["url"] = url
    mission = launch.mission.description if launch.mission else None
    description = truncate(clean_text(mission), EMBED_DESCRIPTION_LIMIT)
    if description:
        embed["description"] = description
    image = ll2_url(launch.image_url)
    if image:
        embed["thumbnail"] = {"url": image}
    return embed


def render_launch_embed(launch: Launch) -> EmbedDict:
    """Render the lookup view of one launch, coloured by its status."""
    embed = launch_base_embed(launch, colour=status_colour(launch))
    fields = launch_fields(launch)
    lines = stream_lines(launch)
    if lines:
        fields.append(field("📺 Webcasts", join_within(lines, FIELD_VALUE_LIMIT)))
    set_fields(embed, fields)
    return fit_embed(embed)


def render_launch_message(launch: Launch) -> MessagePayload:
    """Render the lookup view of one launch as a whole message, watch buttons included."""
    payload: MessagePayload = {
        "content": "",
        "embeds": [render_launch_embed(launch)],
        "components": launch_buttons(launch),
        "allowed_mentions": allowed_mentions(),
    }
    return guarded(payload, what=f"lookup of launch {launch.id}")


def _list_line(index: int, launch: Launch) -> str:
    name = truncate(one_line(launch.name) or f"Launch {launch.id}", 80)
    parts = [f"`{index}.` **{escape_markdown(name)}**", status_text(launch)]
    provider = one_line(launch.provider_name)
    if provider:
        parts.append(escape_markdown(truncate(provider, 40)))
    parts.append(compact_net(launch))
    if launch.webcast_live:
        parts.append("🔴 live")
    return " · ".join(parts)


def render_launch_list(launches: Sequence[Launch], *, title: str) -> MessagePayload:
    """Render a compact list of launches (one line each) for ``/launches upcoming``."""
    embed: EmbedDict = {
        "title": truncate(clean_text(title) or "Launches", EMBED_TITLE_LIMIT),
        "color": 0x5865F2,
        "footer": {"text": "Launch Library 2 · /launches show <launch> for details"},
    }
    budget = min(EMBED_DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_length(embed))
    lines = [_list_line(i, launch) for i, launch in enumerate(launches, start=1)]
    embed["description"] = join_within(lines, budget) if lines else "No launches found."
    payload: MessagePayload = {
        "content": "",
        "embeds": [fit_embed(embed)],
        "components": [],
        "allowed_mentions": allowed_mentions(),
    }
    return guarded(payload, what="launch list")
