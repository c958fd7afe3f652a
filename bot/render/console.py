"""Console output for ``tminus watch``/``demo``: Discord markup turned into terminal text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::([tTdDfFR]))?>")
_MENTION = re.compile(r"<@&?(\d+)>")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_EMPHASIS = re.compile(r"(\*\*|~~|__)(.+?)\1")
_TERMINAL_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_ESCAPED = re.compile(r"\\([\\*_~`|\[\]>])")


def plain_text(text: str) -> str:
    """Turn Discord markup (timestamps, mentions, links, emphasis) into terminal text."""

    def stamp(match: re.Match[str]) -> str:
        when = datetime.fromtimestamp(int(match.group(1)), UTC)
        style = match.group(2) or "f"
        if style in "dD":
            return when.strftime("%Y-%m-%d")
        if style == "R":
            return ""
        return when.strftime("%Y-%m-%d %H:%M UTC")

    text = _TIMESTAMP.sub(stamp, text)
    text = _MENTION.sub(lambda m: f"@role:{m.group(1)}", text)
    text = _LINK.sub(lambda m: f"{m.group(1)} <{m.group(2)}>", text)
    text = _EMPHASIS.sub(lambda m: m.group(2), text)
    text = _ESCAPED.sub(lambda m: m.group(1), text)  # LL2 text escaped for Discord
    return re.sub(r"\s*\(\s*\)", "", text).replace("\u200b", "").strip()


def payload_text(payload: dict[str, Any]) -> str:
    """Render a stored alert (the alert JSON line object) as readable lines for a terminal."""
    message = payload.get("message") or {}
    event = payload.get("event") or payload.get("launch") or {}  # one item per line
    lines = [f"[{payload.get('kind', '?')}] {event.get('name', '?')} (#{event.get('id', '?')})"]
    for embed in message.get("embeds") or []:
        if embed.get("title"):
            lines.append(f"  {plain_text(embed['title'])}")
        if (embed.get("author") or {}).get("name"):
            lines.append(f"    {plain_text(embed['author']['name'])}")
        if embed.get("description"):
            for line in plain_text(embed["description"]).splitlines()[:6]:
                lines.append(f"    {line}")
        for item in embed.get("fields") or []:
            value = " ".join(plain_text(item.get("value", "")).split())
            lines.append(f"    {plain_text(item.get('name', ''))}: {value}")
    for row in message.get("components") or []:
        for button in row.get("components") or []:
            if button.get("url"):
                lines.append(f"    ▶ {button.get('label', 'Watch')}: {button['url']}")
    # LL2 text reaches a terminal here: no control characters (escape sequences) get through.
    return _TERMINAL_CONTROL.sub("", "\n".join(lines))
