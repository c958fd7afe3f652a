"""URL routing and query-string helpers shared by the emulator's API answers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from aiohttp import web

from bot.devtools.ll2_emulator.model import MAX_LIMIT, JSONDict, parse_ll2_datetime


@dataclass(frozen=True)
class _Route:
    version: str
    kind: Literal["events", "event", "launches", "launch", "types", "throttle"]
    scope: Literal["all", "upcoming", "previous"] = "all"
    event_id: int | None = None
    launch_id: str | None = None


@dataclass
class _Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    is_page: bool = False


@dataclass(frozen=True)
class ServedPage:
    """One list page the emulator just answered, as :attr:`LL2Emulator.after_page` sees it."""

    number: int  # 1-based count of list pages served since the emulator started
    path: str
    query: dict[str, str]
    offset: int
    limit: int
    count: int
    ids: tuple[Any, ...]  # the ids on the page as served: event ints or launch UUID strings


class _BadRequest(Exception):
    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(dict(errors))
        self.errors = dict(errors)


_EVENT_SEGMENT = {"2.2.0": "event", "2.3.0": "events"}
_LAUNCH_SEGMENT = {"2.2.0": "launch", "2.3.0": "launches"}
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_TYPES_SEGMENT = {"2.2.0": "config/eventtype/", "2.3.0": "config/event_types/"}
_ERROR_PAGES = {
    500: "<h1>Server Error (500)</h1>",
    502: "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
    "Gateway</h1></center><hr><center>nginx</center></body></html>",
    503: "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
    "<h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body>"
    "</html>",
    504: "<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 "
    "Gateway Time-out</h1></center><hr><center>nginx</center></body></html>",
}
_ORDER_FIELDS = ("date", "last_updated", "id", "name")
_BOOL_VALUES = {"true": True, "1": True, "false": False, "0": False}
_INT32 = 2_147_483_647


def _match_route(path: str) -> _Route | None:
    m = re.fullmatch(r"/(2\.2\.0|2\.3\.0)/(.*)", path)
    if m is None:
        return None
    version, rest = m.group(1), m.group(2)
    if rest == "api-throttle/":
        return _Route(version, "throttle")
    if rest == _TYPES_SEGMENT[version]:
        return _Route(version, "types")
    m = re.fullmatch(rf"{_LAUNCH_SEGMENT[version]}/(?:(upcoming|previous)/)?(?:({_UUID})/)?", rest)
    if m is not None:
        scope = m.group(1) or "all"
        if m.group(2) is not None:
            return _Route(version, "launch", scope, launch_id=m.group(2).lower())  # type: ignore[arg-type]
        return _Route(version, "launches", scope)  # type: ignore[arg-type]
    m = re.fullmatch(rf"{_EVENT_SEGMENT[version]}/(?:(upcoming|previous)/)?(?:(\d+)/)?", rest)
    if m is None:
        return None
    scope = m.group(1) or "all"
    if m.group(2) is not None:
        return _Route(version, "event", scope, int(m.group(2)))  # type: ignore[arg-type]
    return _Route(version, "events", scope)  # type: ignore[arg-type]


def _json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload, ensure_ascii=False).encode(),
        content_type="application/json",
        headers=dict(headers or {}),
    )


def _any_of(getter: Callable[[JSONDict], set[int]], wanted: set[int]) -> Callable[[JSONDict], bool]:
    return lambda ev: bool(getter(ev) & wanted)


def _date_part(attr: str) -> Callable[[JSONDict], set[int]]:
    def part(ev: JSONDict) -> set[int]:
        return {getattr(parse_ll2_datetime(ev["date"]), attr)} if ev["date"] else set()

    return part


def _search_terms(request: web.Request) -> list[str]:
    # DRF's SearchFilter: terms split on whitespace and commas, every term must match
    raw = request.query.get("search", "").replace("\x00", "").replace(",", " ")
    return [t.lower() for t in raw.split()]


def _bool_param(request: web.Request, name: str) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return False
    try:
        return _BOOL_VALUES[raw.lower()]
    except KeyError:
        raise _BadRequest({name: ["Select a valid choice."]}) from None


def _page_params(request: web.Request, default_limit: int) -> tuple[int, int]:
    errors: dict[str, list[str]] = {}
    limit, offset = default_limit, 0
    if "limit" in request.query:
        try:
            limit = int(request.query["limit"])
            if limit < 1:
                raise ValueError
        except ValueError:
            errors["limit"] = ["A valid positive integer is required."]
    if "offset" in request.query:
        try:
            offset = int(request.query["offset"])
            if offset < 0:
                raise ValueError
        except ValueError:
            errors["offset"] = ["A valid non-negative integer is required."]
    if errors:
        raise _BadRequest(errors)
    return min(limit, MAX_LIMIT), offset  # above 100 is clamped, as LL2 does


def _page_link(request: web.Request, limit: int, offset: int) -> str:
    """An absolute page URL keeping every other query parameter (DRF's LimitOffset links)."""
    pairs = [(k, v) for k, v in request.query.items() if k not in ("limit", "offset")]
    pairs.append(("limit", str(limit)))
    if offset > 0:
        pairs.append(("offset", str(offset)))
    return f"{request.url.with_query(None)}?{urlencode(pairs)}"
