"""Pure rendering: Discord payloads, console text and the alert JSON line.

Everything here is a pure function of its arguments: no I/O, no clock. One module per
concern: ``payload`` (shapes and Discord's limits), ``text`` (cleaning LL2 text and URLs),
``dates``, ``embeds`` (an item's embed parts), ``limits`` (measure, fit, check, guard),
``alerts`` (alerts, through the kind registry), ``lookups``, ``launches`` (launch views),
``console``, ``jsonline``.
"""

from __future__ import annotations

from bot.render.alerts import render_alert
from bot.render.console import payload_text, plain_text
from bot.render.dates import (
    discord_date,
    format_event_date,
    format_event_date_plain,
    plain_date,
    precision_class,
)
from bot.render.embeds import render_buttons, video_label
from bot.render.jsonline import alert_json
from bot.render.launches import (
    best_streams,
    launch_buttons,
    net_text,
    render_launch_embed,
    render_launch_list,
    render_launch_message,
    status_colour,
    status_text,
)
from bot.render.limits import check_limits, embed_length, fit_embed, guarded
from bot.render.lookups import (
    LOOKUP_COLOUR,
    render_event_embed,
    render_event_list,
    render_event_message,
)
from bot.render.payload import (
    BUTTON_LABEL_LIMIT,
    CONTENT_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    ActionRow,
    AllowedMentions,
    EmbedDict,
    EmbedField,
    LinkButton,
    MessagePayload,
)
from bot.render.text import clean_text, truncate, valid_url

__all__ = [
    "BUTTON_LABEL_LIMIT",
    "CONTENT_LIMIT",
    "EMBED_TOTAL_LIMIT",
    "FIELD_VALUE_LIMIT",
    "LOOKUP_COLOUR",
    "ActionRow",
    "AllowedMentions",
    "EmbedDict",
    "EmbedField",
    "LinkButton",
    "MessagePayload",
    "alert_json",
    "best_streams",
    "check_limits",
    "clean_text",
    "discord_date",
    "embed_length",
    "fit_embed",
    "format_event_date",
    "format_event_date_plain",
    "guarded",
    "launch_buttons",
    "net_text",
    "payload_text",
    "plain_date",
    "plain_text",
    "precision_class",
    "render_alert",
    "render_buttons",
    "render_event_embed",
    "render_event_list",
    "render_event_message",
    "render_launch_embed",
    "render_launch_list",
    "render_launch_message",
    "status_colour",
    "status_text",
    "truncate",
    "valid_url",
    "video_label",
]
