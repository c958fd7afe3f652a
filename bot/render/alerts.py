"""Render an alert as the Discord message for one channel, through the alert-kind registry.

The kind (``alert.kind``, from :mod:`bot.core.kinds`) supplies its colour, content line and
the kind-specific part of the embed; this module supplies the markup and the item's own look.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from bot.core.alerts import Alert
from bot.core.items import DatePrecision, Event, EventUpdate, VideoLink
from bot.core.kinds import Markup
from bot.core.launches import Launch
from bot.render.dates import discord_date, lead_text
from bot.render.embeds import (
    Webcasts,
    base_embed,
    event_fields,
    field,
    render_buttons,
    set_fields,
    update_text,
    usable_webcasts,
    webcast_lines,
)
from bot.render.launches import best_streams, launch_base_embed, launch_buttons, launch_fields
from bot.render.limits import fit_embed, guarded
from bot.render.payload import (
    AUTHOR_NAME_LIMIT,
    CONTENT_LIMIT,
    FIELD_VALUE_LIMIT,
    EmbedAuthor,
    EmbedDict,
    EmbedField,
    MessagePayload,
    allowed_mentions,
)
from bot.render.text import escape_markdown, join_within, ll2_url, one_line, truncate


class DiscordMarkup:
    """The :class:`bot.core.kinds.Markup` building blocks, written in Discord markdown."""

    def name(self, event: Event | Launch) -> str:
        """Return the item's name, bold and escaped."""
        return bold_name(event)

    def text(self, text: str | None) -> str:
        """Return LL2 text cleaned and folded to one line."""
        return one_line(text)

    def date(self, when: datetime | None, precision: DatePrecision | None) -> str:
        """Return a Discord timestamp no finer than ``precision``."""
        return discord_date(when, precision)

    def lead(self, lead: timedelta | None) -> str:
        """Return how long until the item starts: ``in 1h``."""
        return lead_text(lead)

    def update(self, update: EventUpdate) -> str:
        """Return an update's comment, time and link as one field value."""
        return update_text(update)

    def webcasts(self, event: Event | Launch) -> str:
        """Return the webcast links, one per line, as many as fit in a field."""
        return join_within(webcast_lines(event), FIELD_VALUE_LIMIT)


MARKUP: Markup = DiscordMarkup()


def bold_name(event: Event | Launch) -> str:
    """Return the item's name (or "Event #id"), cut to 200 characters, bold and escaped."""
    name = truncate(one_line(event.name) or f"Event #{event.id}", 200)
    return f"**{escape_markdown(name)}**"


def alert_embed(
    alert: Alert,
    *,
    webcasts: Webcasts | None = None,
    streams: Sequence[tuple[VideoLink, str]] | None = None,
) -> EmbedDict:
    """Render an alert's embed: the kind's banner and fields, then the item's own.

    ``webcasts`` (an event's) or ``streams`` (a launch's) are the usable webcasts, when the
    caller has them already.
    """
    kind = alert.kind
    look = kind.look(alert, MARKUP)
    item: Event | Launch = alert.event
    if isinstance(item, Launch):
        embed = launch_base_embed(
            item, colour=kind.colour, prefer_video=look.link_webcast, streams=streams
        )
    else:
        embed = base_embed(
            item, colour=kind.colour, prefer_video=look.link_webcast, webcasts=webcasts
        )
    author: EmbedAuthor = {"name": truncate(look.banner, AUTHOR_NAME_LIMIT)}
    icon = ll2_url(look.banner_icon)
    if icon:
        author["icon_url"] = icon
    embed["author"] = author
    fields: list[EmbedField | None] = [field(name, value) for name, value in look.fields]
    if isinstance(item, Launch):
        fields.extend(launch_fields(item, with_date=look.show_date))
    else:
        fields.extend(event_fields(item, with_date=look.show_date))
    set_fields(embed, fields)
    return fit_embed(embed)


def _content(line: str, role_ids: Sequence[int]) -> str:
    prefix = "".join(f"<@&{r}> " for r in role_ids)
    return prefix + truncate(line, CONTENT_LIMIT - len(prefix))


def render_alert(alert: Alert, *, mention_role_ids: Iterable[int | None] = ()) -> MessagePayload:
    """Render an alert as the message to POST to a channel, pinging only ``mention_role_ids``.

    Several subscriptions of one channel may match one alert: the one message mentions the
    union of their roles (sorted, each once), and ``allowed_mentions`` admits exactly those
    (docs/architecture.md, invariants 6 and 9).
    """
    roles = sorted({r for r in mention_role_ids if r is not None})
    item = alert.event
    # The title link and the buttons both come from the webcasts: found once.
    if isinstance(item, Launch):
        streams = best_streams(item)
        embed = alert_embed(alert, streams=streams)
        components = launch_buttons(item, streams=streams)
    else:
        webcasts = usable_webcasts(item)
        embed = alert_embed(alert, webcasts=webcasts)
        components = render_buttons(item, webcasts=webcasts)
    payload: MessagePayload = {
        "content": _content(alert.kind.content(alert, MARKUP), roles),
        "embeds": [embed],
        "components": components,
        "allowed_mentions": allowed_mentions(roles),
    }
    return guarded(payload, what=f"{alert.kind.name} alert for event {alert.event.id}")
