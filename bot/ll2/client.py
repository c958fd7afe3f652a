"""The one Launch Library 2 client: versions, filters, budget, retries and typed parsing."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from bot.config import LL2Settings
from bot.core.items import Event, EventType
from bot.core.timeutil import Clock, isoformat_z, utcnow
from bot.ll2.budget import RequestBudget
from bot.ll2.errors import (
    LL2BadResponse,
    LL2Error,
    LL2HTTPError,
    LL2Throttled,
    LL2Unavailable,
)
from bot.ll2.parse import parse_event, parse_items

log = logging.getLogger(__name__)

MAX_LIMIT = 100
_THROTTLE_DETAIL = re.compile(r"available in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class EventFilters:
    """Every event filter LL2 understands (DESIGN.md, "LL2"); None means "not given"."""

    type: str | None = None
    type_ids: Sequence[int] = ()
    program_ids: Sequence[int] = ()
    agency_ids: Sequence[int] = ()
    last_updated_gte: datetime | None = None
    last_updated_lte: datetime | None = None
    date_gte: datetime | None = None
    date_lte: datetime | None = None
    search: str | None = None
    ordering: str | None = None
    limit: int | None = None
    offset: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_params(self) -> dict[str, str]:
        """Return the query parameters for these filters."""
        params: dict[str, str] = {}
        if self.type is not None:
            params["type"] = self.type
        for name, ids in (
            ("type__ids", self.type_ids),
            ("program", self.program_ids),
            ("agency__ids", self.agency_ids),
        ):
            if ids:
                params[name] = ",".join(str(i) for i in ids)
        for name, when in (
            ("last_updated__gte", self.last_updated_gte),
            ("last_updated__lte", self.last_updated_lte),
            ("date__gte", self.date_gte),
            ("date__lte", self.date_lte),
        ):
            if when is not None:
                params[name] = isoformat_z(when)
        if self.search:
            params["search"] = self.search
        if self.ordering:
            params["ordering"] = self.ordering
        if self.limit is not None:
            if not 1 <= self.limit <= MAX_LIMIT:
                raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
            params["limit"] = str(self.limit)
        if self.offset is not None:
            params["offset"] = str(self.offset)
        params.update(self.extra)
        return params


@dataclass(frozen=True)
class EventPage:
    """One page of events, with the items that could not be parsed."""

    events: list[Event]
    rejected: list[tuple[Any, str]]
    count: int | None
    next_url: str | None
    url: str
    raw: dict[int, dict[str, Any]] = field(default_factory=dict)
    size: int = 0  # items in ``results``, parsed or not


@dataclass(frozen=True)
class ThrottleStatus:
    """LL2's own view of our request budget (``/api-throttle/``)."""

    limit: int
    frequency_secs: int
    current_use: int
    next_use_secs: float


def version_of(url: str) -> str:
    """Return the LL2 version named by the URL's last path segment (default 2.2.0)."""
    segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if re.fullmatch(r"\d+\.\d+\.\d+", segment):
        return segment
    return "2.2.0"


def _plural(version: str) -> bool:
    return tuple(int(p) for p in version.split(".")) >= (2, 3, 0)


class LL2Client:
    """Async LL2 client: one ``httpx.AsyncClient``, a request budget, typed results."""

    def __init__(
        self,
        settings: LL2Settings,
        *,
        http: httpx.AsyncClient | None = None,
        budget: RequestBudget | None = None,
        clock: Clock = utcnow,
        sleep: Sleep = asyncio.sleep,
        max_retries: int = 3,
        backoff: float = 1.0,
        timeout: float = 20.0,
    ) -> None:
        self.settings = settings
        self.base_url = settings.url.rstrip("/")
        self.version = version_of(self.base_url)
        self.budget = budget or RequestBudget(settings.requests_per_hour, clock=clock)
        self._clock = clock
        self._sleep = sleep
        self.max_retries = max_retries
        self.backoff = backoff
        headers = {"User-Agent": settings.user_agent, "Accept": "application/json"}
        if settings.api_key:
            headers["Authorization"] = f"Token {settings.api_key.get()}"
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._headers = headers
        self.last_throttle: ThrottleStatus | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    # --- paths ------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        plural = _plural(self.version)
        paths = {
            "events": "/events/" if plural else "/event/",
            "upcoming": "/events/upcoming/" if plural else "/event/upcoming/",
            "previous": "/events/previous/" if plural else "/event/previous/",
            "event_types": "/config/event_types/" if plural else "/config/eventtype/",
            "throttle": "/api-throttle/",
        }
        return self.base_url + paths[name]

    def _same_origin(self, url: str) -> str:
        """Follow ``next`` links on our configured origin (LL2 may echo another scheme/host)."""
        base = urlsplit(self.base_url)
        parts = urlsplit(url)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

    # --- transport --------------------------------------------------------------------------

    async def _get_json(
        self, url: str, params: dict[str, str] | None = None, *, counted: bool = True
    ) -> Any:
        """GET ``url`` within the budget, retrying transient failures; return parsed JSON."""
        attempt = 0
        while True:
            if counted:
                self.budget.acquire()
            attempt += 1
            shown = url
            try:
                response = await self._http.get(url, params=params, headers=self._headers)
            except httpx.TimeoutException:
                cause = "timed out"
            except httpx.TransportError as exc:
                cause = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        return response.json()
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        cause = f"malformed JSON ({exc})"
                        if attempt > self.max_retries:
                            raise LL2BadResponse(shown, cause) from None
                elif status == 429:
                    wait = _retry_after(response)
                    self.budget.block_for(wait)
                    log.warning("LL2 throttled %s; next request possible in %.0fs", shown, wait)
                    raise LL2Throttled(wait, url=shown, detail=_detail(response))
                elif status in _RETRYABLE_STATUS:
                    cause = f"HTTP {status}"
                else:
                    raise LL2HTTPError(status, str(response.url), response.text)
            if attempt > self.max_retries:
                raise LL2Unavailable(shown, cause)
            delay = self.backoff * (2 ** (attempt - 1))
            log.warning(
                "LL2 request to %s failed (%s); retry %d/%d in %.1fs",
                shown,
                cause,
                attempt,
                self.max_retries,
                delay,
            )
            await self._sleep(delay)

    async def _page(self, url: str, params: dict[str, str] | None = None) -> EventPage:
        if params is not None and _plural(self.version):
            # 2.3.0 lists answer in "normal" mode by default, which leaves out agencies and
            # program; lookups and subscriptions filter on both, so ask for the detailed
            # shape (2.2.0's one shape has them). ``next`` links keep the parameter.
            params = {"mode": "detailed", **params}
        data = await self._get_json(url, params)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise LL2BadResponse(url, "expected an object with a results list")
        next_url = data.get("next")
        count = data.get("count")
        expected = _expected_size(url, params, count, has_next=isinstance(next_url, str))
        if expected is not None and len(data["results"]) < expected:
            # A page cut short (a proxy, a truncated body re-wrapped) would silently drop
            # events; the seed's watermark would then pass them (invariant 1).
            raise LL2BadResponse(
                url, f"page holds {len(data['results'])} results where {expected} were due"
            )
        parsed, rejected = parse_items(data["results"])
        events = [event for event, _ in parsed]
        return EventPage(
            events=events,
            rejected=rejected,
            count=count if isinstance(count, int) else None,
            next_url=self._same_origin(next_url) if isinstance(next_url, str) else None,
            url=url,
            raw={event.id: item for event, item in parsed},
            size=len(data["results"]),
        )

    # --- calls ------------------------------------------------------------------------------

    async def events_page(self, filters: EventFilters | None = None) -> EventPage:
        """Fetch one page of ``/event(s)/`` with ``filters``."""
        return await self._page(self._path("events"), (filters or EventFilters()).to_params())

    async def iter_pages(
        self, first_url: str, params: dict[str, str], *, max_pages: int | None = None
    ) -> AsyncIterator[EventPage]:
        """Yield pages from ``first_url``, following ``next`` to the end."""
        page = await self._page(first_url, params)
        pages = 1
        yield page
        while page.next_url and (max_pages is None or pages < max_pages):
            page = await self._page(page.next_url)
            pages += 1
            yield page

    def events_changed_since(
        self,
        since: datetime,
        *,
        filters: EventFilters | None = None,
        page_size: int = MAX_LIMIT,
    ) -> AsyncIterator[EventPage]:
        """Yield every event with ``last_updated >= since``, oldest change first."""
        base = filters or EventFilters()
        params = EventFilters(
            type=base.type,
            type_ids=base.type_ids,
            program_ids=base.program_ids,
            agency_ids=base.agency_ids,
            last_updated_gte=since,
            last_updated_lte=base.last_updated_lte,
            date_gte=base.date_gte,
            date_lte=base.date_lte,
            search=base.search,
            ordering="last_updated",
            limit=page_size,
            extra=base.extra,
        ).to_params()
        return self.iter_pages(self._path("events"), params)

    def upcoming_pages(
        self, filters: EventFilters | None = None, *, max_pages: int | None = None
    ) -> AsyncIterator[EventPage]:
        """Yield pages of upcoming events (LL2 keeps them 24 h past their date)."""
        params = (filters or EventFilters(limit=MAX_LIMIT)).to_params()
        return self.iter_pages(self._path("upcoming"), params, max_pages=max_pages)

    async def upcoming_events(
        self, filters: EventFilters | None = None, *, max_pages: int = 1
    ) -> list[Event]:
        """Return upcoming events from the first ``max_pages`` pages."""
        events: list[Event] = []
        async for page in self.upcoming_pages(filters, max_pages=max_pages):
            events.extend(page.events)
        return events

    async def previous_events(self, filters: EventFilters | None = None) -> list[Event]:
        """Return one page of past events, most recent first."""
        page = await self._page(self._path("previous"), (filters or EventFilters()).to_params())
        return page.events

    async def event(self, event_id: int) -> Event:
        """Return one event by id."""
        url = f"{self._path('events')}{int(event_id)}/"
        data = await self._get_json(url)
        try:
            return parse_event(data)
        except ValueError as exc:
            raise LL2BadResponse(url, str(exc)) from None

    async def search_events(self, query: str, *, limit: int = 10) -> list[Event]:
        """Return events whose name matches ``query``."""
        page = await self.events_page(EventFilters(search=query, limit=limit))
        return page.events

    async def event_types(self) -> list[EventType]:
        """Return every event type LL2 knows (following pagination)."""
        url: str | None = self._path("event_types")
        params: dict[str, str] | None = {"limit": str(MAX_LIMIT)}
        types: list[EventType] = []
        while url:
            data = await self._get_json(url, params)
            params = None
            items = data.get("results") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise LL2BadResponse(url, "expected a list of event types")
            for item in items:
                try:
                    types.append(EventType.model_validate(item))
                except ValueError:
                    log.warning("skipping malformed event type %r", item)
            nxt = data.get("next") if isinstance(data, dict) else None
            url = self._same_origin(nxt) if isinstance(nxt, str) else None
        return types

    async def throttle(self) -> ThrottleStatus:
        """Ask ``/api-throttle/`` (free) and align the budget with LL2's count."""
        url = self._path("throttle")
        data = await self._get_json(url, counted=False)
        # The OpenAPI document says a list; the real service answers one object.
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            raise LL2BadResponse(url, "expected an object")
        try:
            status = ThrottleStatus(
                limit=int(data["your_request_limit"]),
                frequency_secs=int(data.get("limit_frequency_secs", 3600)),
                current_use=int(data.get("current_use", 0)),
                next_use_secs=float(data.get("next_use_secs", 0) or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LL2BadResponse(url, f"unexpected throttle shape: {exc}") from None
        self.budget.align(
            limit=status.limit,
            current_use=status.current_use,
            next_use_secs=status.next_use_secs,
        )
        self.last_throttle = status
        return status


def _expected_size(
    url: str, params: dict[str, str] | None, count: Any, *, has_next: bool
) -> int | None:
    """Return how many results a limit/offset page must hold, when that is known.

    LL2 paginates like Django REST framework: ``results`` is ``[offset:offset+limit]`` of
    ``count`` items and ``next`` is set exactly when more follow.
    """
    if not isinstance(count, int):
        return None
    query = dict(parse_qsl(urlsplit(url).query))
    query.update(params or {})
    try:
        offset = max(0, int(query.get("offset") or 0))
        limit = int(query["limit"]) if query.get("limit") else None
    except ValueError:
        return None
    remaining = max(0, count - offset)
    if limit is None:
        return None if has_next else remaining
    return min(limit, remaining)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    return ""


def _retry_after(response: httpx.Response) -> float:
    """Return the wait LL2 asked for: ``Retry-After`` or the number in its 429 detail."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    match = _THROTTLE_DETAIL.search(_detail(response))
    if match:
        return float(match.group(1))
    return 60.0


__all__ = [
    "EventFilters",
    "EventPage",
    "LL2Client",
    "LL2Error",
    "ThrottleStatus",
    "version_of",
]
