"""The one Launch Library 2 client: versions, filters, budget, retries and typed parsing."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import logging
import math
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from bot.config import LL2Settings
from bot.core.items import Event, EventType
from bot.core.launches import Launch
from bot.core.timeutil import Clock, utcnow
from bot.ll2.budget import RequestBudget
from bot.ll2.errors import (
    MAX_WAIT_SECONDS,
    LL2BadResponse,
    LL2DeadlineExceeded,
    LL2Error,
    LL2HTTPError,
    LL2Throttled,
    LL2Unavailable,
)

# The client's public types live in bot.ll2.pages and are re-exported here.
from bot.ll2.pages import (  # noqa: F401
    MAX_LIMIT,
    EventFilters,
    EventPage,
    ItemT,
    LaunchFilters,
    LaunchPage,
    PageLike,
    PageT,
    Rows,
    ThrottleStatus,
    plural_paths,
    version_of,
)
from bot.ll2.parse import (
    clean_text,
    parse_event,
    parse_items,
    parse_launch,
    parse_launch_items,
    storable_json,
)

log = logging.getLogger(__name__)

_THROTTLE_DETAIL = re.compile(r"available in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
# Seconds httpx waits for a connection or for each read. A server trickling one byte per
# read never trips it, so every request also has an overall deadline: DEADLINE_FACTOR times
# this, covering connect, headers and the whole body.
DEFAULT_TIMEOUT = 20.0
DEADLINE_FACTOR = 2.0
# A request that overran its deadline is tried once more, not max_retries times: a server
# that trickles rarely recovers within seconds, and each try holds the poll for a deadline.
DEADLINE_RETRIES = 1
# The most requests per hour any LL2 tier grants, with room to spare; a throttle answer
# claiming more (``your_request_limit: 1e400``) is nonsense, read as this.
MAX_REQUEST_LIMIT = 1_000_000
DEFAULT_RETRY_AFTER = 60.0

Sleep = Callable[[float], Awaitable[None]]


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
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = settings.url.rstrip("/")
        self.version = version_of(self.base_url)
        self.budget = budget or RequestBudget(settings.requests_per_hour, clock=clock)
        self._clock = clock
        self._sleep = sleep
        self.max_retries = max_retries
        self.backoff = backoff
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.deadline = timeout * DEADLINE_FACTOR if deadline is None else deadline
        headers = {"User-Agent": settings.user_agent, "Accept": "application/json"}
        if settings.api_key:
            headers["Authorization"] = f"Token {settings.api_key.get()}"
        self._owns_http = http is None
        if http is None:
            # Our own client carries the headers, and keeps no cookies (LL2 sets none that
            # matter; reading a response's for a jar was a tenth of an idle poll's HTTP work).
            http = httpx.AsyncClient(timeout=timeout, headers=headers, cookies=_NoCookies())
            self._headers: dict[str, str] | None = None
        else:
            self._headers = headers
        self._http = http
        self.last_throttle: ThrottleStatus | None = None
        # LL2's own count is read at start-up and after every 429 (``/api-throttle/`` is
        # free): a long-running process otherwise never learns what others on its IP spent.
        self.alignment_due = True
        self._oddities: set[str] = set()
        # Told ``(url, outcome)`` once per HTTP attempt (ok, throttled, http_error, timeout,
        # transport_error, bad_response): the bot's metrics count LL2 requests with these.
        self.observers: list[Callable[[str, str], None]] = []

    def _odd(self, key: str, message: str, *args: object) -> None:
        """Log an absurd value LL2 sent, once per kind per client (a hostile server repeats)."""
        if key not in self._oddities:
            self._oddities.add(key)
            log.warning(message, *args)

    def _observe(self, url: str, outcome: str) -> None:
        for observer in self.observers:
            try:
                observer(url, outcome)
            except Exception:  # an observer's bug must not fail the request
                log.exception("LL2 request observer failed")

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
        plural = plural_paths(self.version)
        paths = {
            "events": "/events/" if plural else "/event/",
            "upcoming": "/events/upcoming/" if plural else "/event/upcoming/",
            "previous": "/events/previous/" if plural else "/event/previous/",
            "event_types": "/config/event_types/" if plural else "/config/eventtype/",
            "launches": "/launches/" if plural else "/launch/",
            "launches_upcoming": "/launches/upcoming/" if plural else "/launch/upcoming/",
            "launches_previous": "/launches/previous/" if plural else "/launch/previous/",
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
        """GET ``url`` within the budget and the deadline, retrying transient failures."""
        data, _ = await self._get_body(url, params, counted=counted)
        return data

    async def _get_body(
        self, url: str, params: dict[str, str] | None = None, *, counted: bool = True
    ) -> tuple[Any, bytes]:
        """GET ``url`` as :meth:`_get_json` does; return the decoded JSON and the body's bytes."""
        attempt = 0
        deadline_hits = 0
        while True:
            if counted:
                self.budget.acquire()
            attempt += 1
            shown = url
            try:
                # The whole exchange, body included, within one deadline: httpx's timeout
                # is per read, and a server sending a byte every few seconds never trips it.
                async with asyncio.timeout(self.deadline):
                    response = await self._http.get(_with_query(url, params), headers=self._headers)
            except TimeoutError:
                self._observe(url, "timeout")
                deadline_hits += 1
                if deadline_hits > DEADLINE_RETRIES or attempt > self.max_retries:
                    log.warning("LL2 request to %s overran its %gs deadline", shown, self.deadline)
                    raise LL2DeadlineExceeded(shown, self.deadline) from None
                cause = f"no complete answer within {self.deadline:g}s"
            except httpx.TimeoutException:
                self._observe(url, "timeout")
                cause = "timed out"
            except httpx.TransportError as exc:
                self._observe(url, "transport_error")
                cause = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        data = response.json()
                    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
                        self._observe(url, "bad_response")
                        cause = f"malformed JSON ({type(exc).__name__}: {str(exc)[:200]})"
                        if attempt > self.max_retries:
                            raise LL2BadResponse(shown, cause) from None
                    else:
                        self._observe(url, "ok")
                        return data, response.content
                elif status == 429:
                    self._observe(url, "throttled")
                    wait = self._retry_after(response)
                    self.budget.block_for(wait)
                    self.alignment_due = True
                    log.warning("LL2 throttled %s; next request possible in %.0fs", shown, wait)
                    raise LL2Throttled(wait, url=shown, detail=_detail(response)[:200])
                elif status in _RETRYABLE_STATUS:
                    self._observe(url, "http_error")
                    cause = f"HTTP {status}"
                else:
                    self._observe(url, "http_error")
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
        if params is not None and plural_paths(self.version):
            # 2.3.0 lists answer in "normal" mode by default, which leaves out agencies and
            # program; lookups and subscriptions filter on both, so ask for the detailed
            # shape (2.2.0's one shape has them). ``next`` links keep the parameter.
            params = {"mode": "detailed", **params}
        rows = await self._rows(url, params, parse_items, "events")
        return EventPage(
            events=rows.items,
            rejected=rows.rejected,
            count=rows.count,
            next_url=rows.next_url,
            url=url,
            raw=rows.raw,
            size=rows.size,
            limit=rows.limit,
            duplicates=rows.duplicates,
        )

    async def _launch_page(self, url: str, params: dict[str, str] | None = None) -> LaunchPage:
        # Launches are read in ``detailed`` mode on both versions (LaunchFilters adds it; a
        # ``next`` link keeps it).
        rows = await self._rows(url, params, parse_launch_items, "launches")
        return LaunchPage(
            launches=rows.items,
            rejected=rows.rejected,
            count=rows.count,
            next_url=rows.next_url,
            url=url,
            raw=rows.raw,
            size=rows.size,
            limit=rows.limit,
            duplicates=rows.duplicates,
        )

    async def _rows(
        self,
        url: str,
        params: dict[str, str] | None,
        parse: Callable[..., tuple[list[tuple[ItemT, dict[str, Any]]], list[tuple[Any, str]]]],
        what: str,
    ) -> Rows[ItemT]:
        data, body = await self._get_body(url, params)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise LL2BadResponse(url, "expected an object with a results list")
        next_url = data.get("next")
        count = data.get("count")
        expected = _expected_size(url, params, count, has_next=isinstance(next_url, str))
        if expected is not None and len(data["results"]) < expected:
            # A page cut short (a proxy, a truncated body re-wrapped) would silently drop
            # items; the seed's watermark would then pass them (docs/architecture.md, invariant 1).
            raise LL2BadResponse(
                url, f"page holds {len(data['results'])} results where {expected} were due"
            )
        size = len(data["results"])
        limit = _query_int(url, params, "limit")
        # Most bodies hold nothing a store refuses: one scan of the bytes spares walking
        # every decoded string of every item.
        parsed, rejected = parse(data["results"], storable=storable_json(body))
        # A row repeated on one page (a server padding past ``limit``) is one item: keep its
        # newest version, and say how many rows were repeats so the walk is not misled.
        unique: dict[Any, tuple[ItemT, dict[str, Any]]] = {}
        for item, raw in parsed:
            seen = unique.get(item.id)
            if seen is None or item.last_updated > seen[0].last_updated:
                unique[item.id] = (item, raw)
        duplicates = len(parsed) - len(unique)
        if duplicates or (limit is not None and size > limit):
            log.warning(
                "LL2 page %s holds %d rows for limit %s (%d repeated ids); read as %d %s",
                url,
                size,
                limit,
                duplicates,
                len(unique),
                what,
            )
        return Rows(
            items=[item for item, _ in unique.values()],
            raw={item.id: raw for item, raw in unique.values()},
            rejected=rejected,
            count=count if isinstance(count, int) else None,
            next_url=self._same_origin(next_url) if isinstance(next_url, str) else None,
            size=size,
            limit=limit,
            duplicates=duplicates,
        )

    # --- calls ------------------------------------------------------------------------------

    async def events_page(self, filters: EventFilters | None = None) -> EventPage:
        """Fetch one page of ``/event(s)/`` with ``filters``."""
        return await self._page(self._path("events"), (filters or EventFilters()).to_params())

    def iter_pages(
        self, first_url: str, params: dict[str, str], *, max_pages: int | None = None
    ) -> AsyncIterator[EventPage]:
        """Yield event pages from ``first_url``, following ``next`` to the end (or to a loop)."""
        return self._walk(first_url, params, self._page, "events", max_pages=max_pages)

    def iter_launch_pages(
        self, first_url: str, params: dict[str, str], *, max_pages: int | None = None
    ) -> AsyncIterator[LaunchPage]:
        """Yield launch pages from ``first_url``, following ``next`` (or stopping at a loop)."""
        return self._walk(first_url, params, self._launch_page, "launches", max_pages=max_pages)

    async def _walk(
        self,
        first_url: str,
        params: dict[str, str],
        fetch: Callable[[str, dict[str, str] | None], Awaitable[PageT]],
        what: str,
        *,
        max_pages: int | None = None,
    ) -> AsyncIterator[PageT]:
        page = await fetch(first_url, params)
        pages = 1
        guard = _NextGuard(first_url, params)
        seen = set(page.item_ids)
        yield page
        while page.next_url and (max_pages is None or pages < max_pages):
            loop = guard.loops(page.next_url)
            if loop:
                # A ``next`` pointing back (or nowhere further) would be followed until the
                # hour's budget is gone, every hour: stop with what was read.
                log.warning(
                    "LL2's next link %s %s; stopping after %d pages", page.next_url, loop, pages
                )
                return
            page = await fetch(page.next_url, None)
            pages += 1
            ids = page.item_ids
            if ids and ids <= seen:
                log.warning(
                    "LL2 page %s repeats only %s already read; stopping after %d pages",
                    page.url,
                    what,
                    pages,
                )
                return
            seen |= ids
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
        guard = _NextGuard(self._path("event_types"), params)
        while url:
            data = await self._get_json(url, params)
            params = None
            items = data.get("results") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise LL2BadResponse(url, "expected a list of event types")
            for item in items:
                try:
                    kind = EventType.model_validate(item)
                except ValueError:
                    log.warning("skipping malformed event type %.200r", item)
                    continue
                types.append(kind.model_copy(update={"name": clean_text(kind.name)}))
            nxt = data.get("next") if isinstance(data, dict) else None
            url = self._same_origin(nxt) if isinstance(nxt, str) else None
            if url is not None and (loop := guard.loops(url)):
                log.warning("LL2's next link %s %s; keeping the types read", url, loop)
                url = None
        return types

    # --- launches ---------------------------------------------------------------------------

    async def launches_page(self, filters: LaunchFilters | None = None) -> LaunchPage:
        """Fetch one page of ``/launch/`` (2.2.0) or ``/launches/`` (2.3.0), detailed."""
        return await self._launch_page(
            self._path("launches"), (filters or LaunchFilters()).to_params()
        )

    def launches_changed_since(
        self,
        since: datetime,
        *,
        filters: LaunchFilters | None = None,
        page_size: int = MAX_LIMIT,
    ) -> AsyncIterator[LaunchPage]:
        """Yield every launch with ``last_updated >= since``, oldest change first."""
        base = filters or LaunchFilters()
        params = LaunchFilters(
            last_updated_gte=since,
            last_updated_lte=base.last_updated_lte,
            net_gte=base.net_gte,
            net_lte=base.net_lte,
            lsp_ids=base.lsp_ids,
            location_ids=base.location_ids,
            program_ids=base.program_ids,
            status_ids=base.status_ids,
            search=base.search,
            ordering="last_updated",
            limit=page_size,
            extra=base.extra,
        ).to_params()
        return self.iter_launch_pages(self._path("launches"), params)

    def upcoming_launch_pages(
        self, filters: LaunchFilters | None = None, *, max_pages: int | None = None
    ) -> AsyncIterator[LaunchPage]:
        """Yield pages of upcoming launches (the seed passes ``hide_recent_previous=True``)."""
        params = (filters or LaunchFilters(limit=MAX_LIMIT)).to_params()
        return self.iter_launch_pages(self._path("launches_upcoming"), params, max_pages=max_pages)

    async def upcoming_launches(
        self, filters: LaunchFilters | None = None, *, max_pages: int = 1
    ) -> list[Launch]:
        """Return upcoming launches from the first ``max_pages`` pages."""
        launches: list[Launch] = []
        async for page in self.upcoming_launch_pages(filters, max_pages=max_pages):
            launches.extend(page.launches)
        return launches

    async def launch(self, launch_id: str) -> Launch:
        """Return one launch by its UUID, in detailed mode."""
        url = f"{self._path('launches')}{_uuid_segment(launch_id)}/"
        data = await self._get_json(url, {"mode": "detailed"})
        try:
            return parse_launch(data)
        except ValueError as exc:
            raise LL2BadResponse(url, str(exc)) from None

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
            limit = self._sane(
                "your_request_limit", data["your_request_limit"], 0, MAX_REQUEST_LIMIT
            )
            frequency = self._sane(
                "limit_frequency_secs", data.get("limit_frequency_secs", 3600), 1, 86_400
            )
            status = ThrottleStatus(
                limit=int(limit),
                frequency_secs=int(frequency),
                # Past the limit, a larger count says nothing more (and is not allocated).
                current_use=int(self._sane("current_use", data.get("current_use", 0), 0, limit)),
                next_use_secs=self._sane(
                    "next_use_secs", data.get("next_use_secs", 0) or 0, 0, MAX_WAIT_SECONDS
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LL2BadResponse(url, f"unexpected throttle shape: {exc}") from None
        self.budget.align(
            limit=status.limit,
            current_use=status.current_use,
            next_use_secs=status.next_use_secs,
        )
        self.last_throttle = status
        self.alignment_due = False
        return status

    def _sane(self, name: str, value: Any, low: float, high: float) -> float:
        """Return a number LL2 sent clamped to ``[low, high]``, logging an absurd one once."""
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError(f"{name} is not a number")
        number = float(value)  # ValueError for text; "1e400" and 1e400 become inf
        if math.isnan(number):
            raise ValueError(f"{name} is not a number")
        if low <= number <= high:
            return number
        clamped = min(max(number, low), high)
        self._odd(name, "LL2 sent an absurd %s (%.6g); reading it as %g", name, number, clamped)
        return clamped

    def _retry_after(self, response: httpx.Response) -> float:
        """Return the wait LL2 asked for, clamped to an hour: ``Retry-After`` or its detail."""
        header = response.headers.get("Retry-After", "").strip()
        wait: float | None = None
        if header:
            try:
                wait = float(header)
            except ValueError:
                try:
                    when = parsedate_to_datetime(header)  # the HTTP-date form
                except (TypeError, ValueError, IndexError, OverflowError):
                    self._odd("retry-after", "LL2 sent an unreadable Retry-After %.40r", header)
                else:
                    if when.tzinfo is not None:
                        wait = (when - self._clock()).total_seconds()
        if wait is None:
            match = _THROTTLE_DETAIL.search(_detail(response))
            if match:
                wait = float(match.group(1))
        if wait is None or math.isnan(wait):
            return DEFAULT_RETRY_AFTER
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            self._odd("retry-after", "LL2 asked to wait %.6gs; waiting at most an hour", wait)
        return min(max(0.0, wait), MAX_WAIT_SECONDS)


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing: the LL2 client sends no cookies back."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        """Keep none of the response's cookies."""


def _with_query(url: str, params: dict[str, str] | None) -> str:
    """Return ``url`` with ``params`` as its query, encoded as httpx encodes them.

    httpx merges the parameters into a URL that has a query already; such a URL (a
    ``next`` link) comes without parameters here, and any that does not is left to httpx.
    """
    if not params or "?" in url:
        return url if not params else str(httpx.URL(url, params=params))
    return f"{url}?{urlencode(params)}"


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


def _uuid_segment(launch_id: str) -> str:
    """Return ``launch_id`` as a path segment, refusing anything but a UUID (no path games)."""
    return str(uuid.UUID(str(launch_id)))


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    return ""


def _query_int(url: str, params: dict[str, str] | None, name: str) -> int | None:
    """Return the integer query parameter ``name`` of a request (URL query, then params)."""
    query = dict(parse_qsl(urlsplit(url).query))
    query.update(params or {})
    try:
        return int(query[name]) if query.get(name) else None
    except ValueError:
        return None


class _NextGuard:
    """Tell when a ``next`` link leads back to a page already read, or does not move on."""

    def __init__(self, first_url: str, params: dict[str, str] | None) -> None:
        self._visited = {_page_key(first_url, params)}
        self._offset = _query_int(first_url, params, "offset") or 0

    def loops(self, next_url: str) -> str | None:
        """Return why following ``next_url`` would loop, or None when it moves on."""
        key = _page_key(next_url, None)
        if key in self._visited:
            return "leads back to a page already read"
        offset = _query_int(next_url, None, "offset")
        if offset is not None and offset <= self._offset:
            return f"does not move past offset {self._offset}"
        self._visited.add(key)
        if offset is not None:
            self._offset = offset
        return None


def _page_key(url: str, params: dict[str, str] | None) -> tuple[str, frozenset[tuple[str, str]]]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params or {})
    query.pop("mode", None)  # added to the first request only; ``next`` links carry it
    return parts.path, frozenset(query.items())


__all__ = [
    "EventFilters",
    "EventPage",
    "LL2Client",
    "LaunchFilters",
    "LaunchPage",
    "LL2Error",
    "ThrottleStatus",
    "version_of",
]
