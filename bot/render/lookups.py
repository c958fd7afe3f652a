"""Lookup views for ``/events`` and ``tminus events``: one event in full, or a compact list."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.items import Event
from bot.render.dates import compact_date
from bot.render.embeds import (
    base_embed,
    event_fields,
    field,
    latest_update,
    render_buttons,
    set_fields,
    update_text,
    webcast_lines,
)
from bot.render.limits import embed_length, fit_embed, guarded
from bot.render.payload import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_TITLE_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    EmbedDict,
    MessagePayload,
    allowed_mentions,
)
from bot.render.text import clean_text, escape_markdown, join_within, one_line, truncate

LOOKUP_COLOUR = 0x5865F2


def render_event_embed(event: Event) -> EmbedDict:
    """Render the lookup view of one event (the alerts' look without a kind banner)."""
    embed = base_embed(event, colour=LOOKUP_COLOUR)
    fields = event_fields(event)
    lines = webcast_lines(event)
    if lines:
        fields.append(field("📺 Webcasts", join_within(lines, FIELD_VALUE_LIMIT)))
    latest = latest_update(event)
    if latest is not None:
        who = one_line(latest.created_by)
        fields.append(field(f"📰 Latest update{f' by {who}' if who else ''}", update_text(latest)))
    set_fields(embed, fields)
    return fit_embed(embed)


def render_event_message(event: Event) -> MessagePayload:
    """Render the lookup view of one event as a whole message, webcast buttons included."""
    payload: MessagePayload = {
        "content": "",
        "embeds": [render_event_embed(event)],
        "components": render_buttons(event),
        "allowed_mentions": allowed_mentions(),
    }
    return guarded(payload, what=f"lookup of event {event.id}")


def _list_line(index: int, event: Event) -> str:
    name = truncate(one_line(event.name) or f"Event #{event.id}", 80)
    parts = [f"`{index}.` **{escape_markdown(name)}**"]
    if event.type is not None and one_line(event.type.name):
        parts.append(escape_markdown(truncate(one_line(event.type.name), 30)))
    parts.append(compact_date(event))
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
    embed["description"] = join_within(lines, budget) if lines else "No events found."
    payload: MessagePayload = {
        "content": "",
        "embeds": [fit_embed(embed)],
        "components": [],
        "allowed_mentions": allowed_mentions(),
    }
    return guarded(payload, what="event list")
