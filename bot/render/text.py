"""Text and URL hygiene: LL2 text is user-edited, so it is cleaned before Discord sees it.

Control characters are dropped, mentions defused, text cut with an ellipsis rather than
rejected, and every URL validated before use; what cannot be made valid is left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from bot.render.payload import URL_LIMIT

ELLIPSIS = "…"
ZWSP = "\u200b"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Every character clean_text may change: control characters (\r among them), "@" and "<".
# Text without any (most of it) only needs stripping.
_UNCLEAN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff@<]")
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
# The shape nearly every LL2 URL has: http(s)://host then a path, query or fragment, the
# host plain name characters (no user, port or IPv6 brackets), no bracket or stray "%"
# after it. urlsplit would find such a URL usable, at ten times the cost; any other URL
# is decided the long way.
_PLAIN_URL = re.compile(
    r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.\-]+"
    r"(?:[/?#](?:[A-Za-z0-9\-._~:/?#@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)?"
)


def clean_text(text: str | None) -> str:
    """Return LL2 text made safe to show: no control characters, mentions defused, stripped."""
    if not text:
        return ""
    if _UNCLEAN.search(text) is None:
        return text.strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    # allowed_mentions already stops pings (docs/architecture.md, invariant 6); this also
    # stops the *look* of one.
    text = _MASS_MENTION.sub(lambda m: "@" + ZWSP + m.group(1), text)
    text = text.replace("<@", "<@" + ZWSP)
    return text.strip()


# Names, agencies, places and publishers recur across items and polls (issue 13): short
# ones are cleaned once, a bounded number remembered.
_REMEMBERED_LINE = 256


def one_line(text: str | None) -> str:
    """Return cleaned LL2 text folded onto one line."""
    if type(text) is str and len(text) <= _REMEMBERED_LINE:
        return _one_line(text)
    return " ".join(clean_text(text).split())


@lru_cache(maxsize=4096)
def _one_line(text: str) -> str:
    return " ".join(clean_text(text).split())


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
    # The same few URLs (a webcast, an image, LL2's own record) come back on every render:
    # the verdict on a plain string is remembered, bounded (issue 13).
    usable = _usable_url(url) if type(url) is str else _usable_url.__wrapped__(url)
    return url if usable else None


@lru_cache(maxsize=4096)
def _usable_url(url: str) -> bool:
    """Return whether ``url`` (non-empty, within the length limit) is an absolute http(s) URL."""
    if _PLAIN_URL.fullmatch(url):
        return True
    # RFC 3986 characters only: whitespace, control characters, quotes and angle brackets
    # would break Discord's validation or the markdown the URL is placed in.
    if not _URL_CHARS.fullmatch(url) or _BAD_PERCENT.search(url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or not parts.hostname:
        return False
    # Brackets are only legal around an IPv6 host.
    return not any(c in part for part in (parts.path, parts.query, parts.fragment) for c in "[]")


def ll2_url(candidate: object, *, limit: int = URL_LIMIT) -> str | None:
    """Return an LL2 URL usable as is once surrounding whitespace is stripped, else None."""
    return valid_url(candidate.strip(), limit=limit) if isinstance(candidate, str) else None


def escape_markdown(text: str) -> str:
    """Escape Discord markdown so LL2 text shows as typed."""
    return _MARKDOWN.sub(r"\\\1", text)


def masked_link(label: str, url: str) -> str:
    """Return a masked markdown link; ``url`` must already be valid."""
    label = escape_markdown(" ".join(label.split())) or "link"
    return f"[{label}]({url.replace('(', '%28').replace(')', '%29')})"


def join_within(lines: Sequence[str], limit: int, *, more: str = "…and {n} more") -> str:
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
