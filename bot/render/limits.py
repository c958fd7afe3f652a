"""Discord's message limits: measure, fit, check, and guard every payload tminus renders.

Rendering already cuts LL2 text to fit; :func:`guarded` is the last line: a payload that
would still break a limit (a rendering bug meeting hostile LL2 text) is logged and reduced
to what Discord accepts, because a 400 Invalid Form Body loses the alert for good.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeGuard

from bot.render.payload import (
    ACTION_ROW_TYPE,
    ACTION_ROWS_LIMIT,
    AUTHOR_NAME_LIMIT,
    BUTTON_LABEL_LIMIT,
    BUTTON_TYPE,
    BUTTON_URL_LIMIT,
    BUTTONS_PER_ROW,
    COLOUR_MAX,
    CONTENT_LIMIT,
    EMBED_DESCRIPTION_LIMIT,
    EMBED_FIELDS_LIMIT,
    EMBED_TITLE_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_TEXT_LIMIT,
    LINK_BUTTON_STYLE,
    URL_LIMIT,
    EmbedDict,
    MessagePayload,
)
from bot.render.text import truncate, valid_url

log = logging.getLogger(__name__)


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    # Rendered payloads are plain dicts: skip the slower ABC check for them.
    return type(value) is dict or isinstance(value, Mapping)


def embed_length(embed: Mapping[str, Any]) -> int:
    """Count the characters Discord adds up against the 6000 total for one embed."""
    return _head_length(embed) + _fields_length(embed.get("fields"))


def _head_length(embed: Mapping[str, Any]) -> int:
    """Count the title, description, footer text and author name."""
    total = 0
    for key in ("title", "description"):
        value = embed.get(key)
        if isinstance(value, str):
            total += len(value)
    for key, inner in (("footer", "text"), ("author", "name")):
        part = embed.get(key)
        if part is not None and _is_mapping(part):
            value = part.get(inner)
            if isinstance(value, str):
                total += len(value)
    return total


def _fields_length(fields: object) -> int:
    """Count the fields' names and values."""
    total = 0
    if isinstance(fields, list):
        for field in fields:
            if _is_mapping(field):
                name = field.get("name")
                if isinstance(name, str):
                    total += len(name)
                value = field.get("value")
                if isinstance(value, str):
                    total += len(value)
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


# A problem is said at ``where`` + ``what`` ("embeds[0]" + ".title"), joined only when there
# is one to say: most payloads have none.
def _check_url(where: str, what: str, url: object, limit: int, problems: list[str]) -> None:
    if valid_url(url, limit=limit) is None:
        problems.append(
            f"{where}{what}: not a valid http(s) URL of at most {limit} chars: {url!r:.80}"
        )


def _check_text(
    where: str,
    what: str,
    value: object,
    limit: int,
    problems: list[str],
    *,
    required: bool = False,
) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        problems.append(f"{where}{what}: expected a string, got {type(value).__name__}")
    elif len(value) > limit:
        problems.append(f"{where}{what}: {len(value)} chars > {limit}")
    elif required and not value.strip():
        problems.append(f"{where}{what}: must not be empty")


def _check_embed(i: int, embed: object, problems: list[str]) -> None:
    where = f"embeds[{i}]"
    if not _is_mapping(embed):
        problems.append(f"{where}: not an object")
        return
    _check_text(where, ".title", embed.get("title"), EMBED_TITLE_LIMIT, problems)
    _check_text(where, ".description", embed.get("description"), EMBED_DESCRIPTION_LIMIT, problems)
    if embed.get("url") is not None:
        _check_url(where, ".url", embed["url"], URL_LIMIT, problems)
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
    for key, what in (("image", ".image.url"), ("thumbnail", ".thumbnail.url")):
        media = embed.get(key)
        if media is not None:
            url = media.get("url") if _is_mapping(media) else None
            _check_url(where, what, url, URL_LIMIT, problems)
    footer = embed.get("footer")
    if footer is not None:
        if _is_mapping(footer):
            _check_text(where, ".footer.text", footer.get("text"), FOOTER_TEXT_LIMIT, problems)
            if footer.get("icon_url") is not None:
                _check_url(where, ".footer.icon_url", footer["icon_url"], URL_LIMIT, problems)
        else:
            problems.append(f"{where}.footer: not an object")
    author = embed.get("author")
    if author is not None:
        if _is_mapping(author):
            _check_text(where, ".author.name", author.get("name"), AUTHOR_NAME_LIMIT, problems)
            for key, what in (("url", ".author.url"), ("icon_url", ".author.icon_url")):
                if author.get(key) is not None:
                    _check_url(where, what, author[key], URL_LIMIT, problems)
        else:
            problems.append(f"{where}.author: not an object")
    fields = embed.get("fields")
    # The fields' characters, counted while checking them; None once one needs the full check.
    counted: int | None = 0
    if fields is not None:
        if not isinstance(fields, list):
            problems.append(f"{where}.fields: not a list")
        else:
            if len(fields) > EMBED_FIELDS_LIMIT:
                problems.append(f"{where}.fields: {len(fields)} > {EMBED_FIELDS_LIMIT}")
            for j, field in enumerate(fields):
                if type(field) is dict and counted is not None:
                    # The common case, nothing to report: a name and a value, plain strings
                    # of 1…limit characters, not all blank (``isspace`` is ``not strip()``
                    # of a non-empty string, without the copy).
                    name, value = field.get("name"), field.get("value")
                    if (
                        type(name) is str
                        and type(value) is str
                        and 0 < len(name) <= FIELD_NAME_LIMIT
                        and 0 < len(value) <= FIELD_VALUE_LIMIT
                        and not name.isspace()
                        and not value.isspace()
                    ):
                        counted += len(name) + len(value)
                        continue
                counted = None
                at = f"{where}.fields[{j}]"
                if not _is_mapping(field):
                    problems.append(f"{at}: not an object")
                    continue
                _check_text(
                    at, ".name", field.get("name"), FIELD_NAME_LIMIT, problems, required=True
                )
                _check_text(
                    at, ".value", field.get("value"), FIELD_VALUE_LIMIT, problems, required=True
                )
    total = _head_length(embed) + (_fields_length(fields) if counted is None else counted)
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
        if not _is_mapping(row) or row.get("type") != ACTION_ROW_TYPE:
            problems.append(f"{where}: not an action row")
            continue
        buttons = row.get("components")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS_PER_ROW:
            problems.append(f"{where}.components: needs 1…{BUTTONS_PER_ROW} items")
            continue
        for j, button in enumerate(buttons):
            at = f"{where}.components[{j}]"
            if not _is_mapping(button) or button.get("type") != BUTTON_TYPE:
                problems.append(f"{at}: not a button")
                continue
            _check_text(at, ".label", button.get("label"), BUTTON_LABEL_LIMIT, problems)
            if button.get("style") == LINK_BUTTON_STYLE:
                _check_url(at, ".url", button.get("url"), BUTTON_URL_LIMIT, problems)
                if button.get("custom_id") is not None:
                    problems.append(f"{at}: a link button cannot have a custom_id")
            if not button.get("label") and not button.get("emoji"):
                problems.append(f"{at}: needs a label or an emoji")


def check_limits(payload: Mapping[str, Any]) -> list[str]:
    """Return every way ``payload`` breaks Discord's message limits (empty when it is valid)."""
    problems: list[str] = []
    content = payload.get("content")
    _check_text("content", "", content, CONTENT_LIMIT, problems)
    embeds = payload.get("embeds") or []
    if not isinstance(embeds, list):
        problems.append("embeds: not a list")
        embeds = []
    if len(embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"embeds: {len(embeds)} > {EMBEDS_PER_MESSAGE}")
    for i, embed in enumerate(embeds):
        _check_embed(i, embed, problems)
    if len(embeds) > 1:
        combined = sum(embed_length(e) for e in embeds if _is_mapping(e))
        if combined > EMBED_TOTAL_LIMIT:
            problems.append(f"embeds: {combined} chars across embeds > {EMBED_TOTAL_LIMIT}")
    components = payload.get("components")
    if components is not None:
        _check_components(components, problems)
    mentions = payload.get("allowed_mentions")
    if mentions is not None:
        if not _is_mapping(mentions):
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


def guarded(payload: MessagePayload, *, what: str) -> MessagePayload:
    """Return ``payload`` if Discord would accept it; else log why and return a reduced one.

    The reduction keeps the pings and the embed's title, colour and description (cut to
    fit) and drops the rest; if even that fails, the content line alone is sent.
    """
    problems = check_limits(payload)
    if not problems:
        return payload
    log.error(
        "rendered %s breaks Discord's limits, sending it reduced: %s",
        what,
        "; ".join(problems[:5]),
    )
    reduced: MessagePayload = {
        "content": truncate(payload["content"], CONTENT_LIMIT),
        "embeds": [b for e in payload["embeds"][:EMBEDS_PER_MESSAGE] if (b := _bare(e))],
        "components": [],
        "allowed_mentions": payload["allowed_mentions"],
    }
    if check_limits(reduced):
        reduced["embeds"] = []
        reduced["content"] = reduced["content"] or truncate(f"({what})", CONTENT_LIMIT)
    return reduced


def _bare(embed: EmbedDict) -> EmbedDict:
    bare: EmbedDict = {}
    title = embed.get("title")
    if isinstance(title, str) and title.strip():
        bare["title"] = truncate(title, EMBED_TITLE_LIMIT)
    description = embed.get("description")
    if isinstance(description, str) and description.strip():
        bare["description"] = truncate(description, EMBED_DESCRIPTION_LIMIT)
    colour = embed.get("color")
    if isinstance(colour, int) and not isinstance(colour, bool) and 0 <= colour <= COLOUR_MAX:
        bare["color"] = colour
    return fit_embed(bare)
