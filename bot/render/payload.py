"""The shapes of what tminus sends Discord (TypedDicts) and Discord's limits on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, NotRequired, TypedDict

# Discord's limits (https://discord.com/developers/docs/resources/message).
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
    thumbnail: EmbedMedia
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


def allowed_mentions(role_ids: Sequence[int] = ()) -> AllowedMentions:
    """Return ``allowed_mentions`` admitting exactly ``role_ids``, never @everyone.

    LL2 text never pings (docs/architecture.md, invariant 6).
    """
    if not role_ids:
        return {"parse": []}
    return {"parse": [], "roles": [str(r) for r in role_ids]}
