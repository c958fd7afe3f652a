"""Parse LL2 answers into the core's items: lenient per item, one bad item never a page."""

from __future__ import annotations

import json
import logging
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.core.items import Event
from bot.core.launches import Launch

log = logging.getLogger(__name__)

# What no store can hold: PostgreSQL refuses NUL in text (``psycopg.DataError``), and a lone
# surrogate (JSON ``"\ud800"``) cannot be encoded to UTF-8 (SQLite: ``UnicodeEncodeError``).
# JSON decoding already joins valid surrogate pairs, so any surrogate left in a str is lone.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


# What JSON text must hold for a decoded string to carry either: an escape (``\u0000``,
# ``\ud800``-``\udfff``), or a surrogate encoded in UTF-8 bytes (``json.loads`` decodes bytes
# with "surrogatepass"); a raw NUL is not valid JSON. A false alarm (``\\u0000`` in text, an
# escaped emoji's pair) only costs the full walk.
_UNSTORABLE_SOURCE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]")


def storable_json(body: bytes) -> bool:
    """Return whether every string decoded from the JSON ``body`` is storable as it is.

    One scan of the bytes instead of a walk over every decoded string: true for a UTF-8 body
    without a NUL or surrogate escape and without encoded surrogates (LL2's answers, which
    send text as UTF-8, not escapes).
    """
    if json.detect_encoding(body) not in ("utf-8", "utf-8-sig"):
        return False  # UTF-16/32: the bytes say nothing simple; walk the strings
    return _UNSTORABLE_SOURCE.search(body) is None


def _replace(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


def clean_text(value: str) -> str:
    """Return ``value`` without NUL characters and with lone surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub(_replace, value) if _UNSTORABLE.search(value) else value


def clean(value: Any) -> Any:
    """Return a copy of decoded JSON whose every string (keys included) a store can hold.

    Values without anything to clean are returned as they are (no copy).
    """
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        items = [clean(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        pairs = [(clean(k), clean(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    return value


def parse_event(raw: Any) -> Event:
    """Parse one LL2 event object (cleaned first); raise ``ValueError`` when it is unusable."""
    try:
        return _validate(clean(raw), Event)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def parse_launch(raw: Any) -> Launch:
    """Parse one LL2 launch object (cleaned first); raise ``ValueError`` when it is unusable."""
    try:
        return _validate(clean(raw), Launch)
    except RecursionError:
        raise ValueError("nested too deeply") from None


_Item = TypeVar("_Item", bound=BaseModel)


def _validate(item: Any, model: type[_Item]) -> _Item:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        raise ValueError(_summarise(exc, "launch" if model is Launch else "event")) from None


def parse_items(
    results: Any, *, storable: bool = False
) -> tuple[list[tuple[Event, dict[str, Any]]], list[tuple[Any, str]]]:
    """Parse a page's ``results``: ``(event, cleaned raw item)`` pairs, and ``(id, reason)``.

    The raw item handed back is the cleaned one. ``storable``: the caller checked the body
    (:func:`storable_json`), so the strings are not walked for what no store can hold.
    """
    return _parse_all(results, Event, "event", storable)


def parse_launch_items(
    results: Any, *, storable: bool = False
) -> tuple[list[tuple[Launch, dict[str, Any]]], list[tuple[Any, str]]]:
    """Parse a launch page's ``results``: ``(launch, cleaned raw item)`` pairs, ``(id, reason)``."""
    return _parse_all(results, Launch, "launch", storable)


def _parse_all(
    results: Any, model: type[_Item], what: str, storable: bool = False
) -> tuple[list[tuple[_Item, dict[str, Any]]], list[tuple[Any, str]]]:
    """Parse each item of ``results`` as ``model``: one bad item never costs the page."""
    parsed: list[tuple[_Item, dict[str, Any]]] = []
    rejected: list[tuple[Any, str]] = []
    if not isinstance(results, list):
        return parsed, [(None, "results is not a list")]
    for item in results:
        item_id = clean(item.get("id")) if isinstance(item, dict) else None
        try:
            cleaned = item if storable else clean(item)
            if cleaned is not item:
                log.info("LL2 %s id=%s: removed characters no store can hold", what, item_id)
            parsed.append((_validate(cleaned, model), cleaned))
        except RecursionError:
            log.warning("skipping malformed LL2 %s id=%s: nested too deeply", what, item_id)
            rejected.append((item_id, "nested too deeply"))
        except ValueError as exc:
            log.warning("skipping malformed LL2 %s id=%s: %s", what, item_id, exc)
            rejected.append((item_id, str(exc)))
    return parsed, rejected


def parse_events(results: Any) -> tuple[list[Event], list[tuple[Any, str]]]:
    """Parse a page's ``results``: return the good events and ``(id, reason)`` for bad items."""
    parsed, rejected = parse_items(results)
    return [event for event, _ in parsed], rejected


def parse_launches(results: Any) -> tuple[list[Launch], list[tuple[Any, str]]]:
    """Parse a page's ``results``: return the good launches and ``(id, reason)`` for bad items."""
    parsed, rejected = parse_launch_items(results)
    return [launch for launch, _ in parsed], rejected


def _summarise(exc: ValidationError, what: str = "event") -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or what
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
