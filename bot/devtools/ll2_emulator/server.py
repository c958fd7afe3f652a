"""The LL2 emulator's HTTP server: lifecycle, budget, faults and the API answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.devtools.ll2_emulator.control import control
from bot.devtools.ll2_emulator.faults import (
    Fault,
    FaultKind,
    RecordedRequest,
    _mask_authorization,
    _Storm,
)
from bot.devtools.ll2_emulator.launch_store import LaunchStore
from bot.devtools.ll2_emulator.launches import load_recorded_launches, normalize_launch
from bot.devtools.ll2_emulator.model import (
    CONFIG_DEFAULT_LIMIT,
    DEFAULT_LIMIT,
    EVENT_TYPES,
    LIMIT_WINDOW_SECS,
    UNLIMITED_REPORTED_LIMIT,
    VERSIONS,
    Clock,
    JSONDict,
    _utcnow,
    normalize_event,
)
from bot.devtools.ll2_emulator.query import EventQuery, TieOrder
from bot.devtools.ll2_emulator.render import load_recorded_events, render_event
from bot.devtools.ll2_emulator.routes import (
    _ERROR_PAGES,
    ServedPage,
    _BadRequest,
    _json_response,
    _match_route,
    _page_link,
    _page_params,
    _Reply,
    _Route,
    _search_terms,
)
from bot.devtools.ll2_emulator.store import EventStore

log = logging.getLogger(__name__)


class LL2Emulator(EventStore, EventQuery, LaunchStore):
    """A loopback LL2 server with scriptable events and launches, budget and faults.

    Use ``async with LL2Emulator(...) as emu`` (or ``await start()``/``await close()``).
    ``events=None`` loads the bundled recordings; pass ``[]`` for an empty store; the same
    for ``launches`` (recorded detailed 2.2.0 launches, in either version's shape).
    ``api_keys`` maps an API key to its own hourly limit (``None``: unlimited); other keys
    get ``requests_per_hour`` in a bucket of their own, or 401 with ``reject_unknown_keys``.
    ``tie_order`` orders events that tie on the requested ordering (``"id"``, ``"reversed"``
    or ``"shuffled"`` by ``tie_seed``); ``after_page`` is called with a :class:`ServedPage`
    after each list page is answered.
    """

    def __init__(
        self,
        events: Iterable[Mapping[str, Any]] | None = None,
        *,
        clock: Clock | None = None,
        requests_per_hour: int | None = 15,
        api_keys: Mapping[str, int | None] | None = None,
        reject_unknown_keys: bool = False,
        send_retry_after: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        tie_order: TieOrder = "id",
        tie_seed: int = 0,
        after_page: Callable[[ServedPage], None] | None = None,
        launches: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        """Prepare the emulator; nothing listens until :meth:`start`."""
        self.clock: Clock = clock or _utcnow
        self.requests_per_hour = requests_per_hour
        self.api_keys: dict[str, int | None] = dict(api_keys or {})
        self.reject_unknown_keys = reject_unknown_keys
        self.send_retry_after = send_retry_after
        self.host = host
        self._requested_port = port
        self.events: dict[int, JSONDict] = {}
        # exact (microsecond) last_updated per event; see the module docstring
        self._exact_updated: dict[int, datetime] = {}
        # id -> (served text, exact stamp, parsed value): a list request filters every
        # stored item by ``last_updated``, and parsing 10,000 strings again on each request
        # was most of a big store's answer (~15 ms, on the CPUs the bot is measured on).
        self._parsed_updated: dict[Any, tuple[str, datetime | None, datetime]] = {}
        self._last_stamp: datetime | None = None
        for raw in load_recorded_events() if events is None else events:
            ev = normalize_event(raw)
            self.events[ev["id"]] = ev
        self.launches: dict[str, JSONDict] = {}
        for raw in load_recorded_launches() if launches is None else launches:
            launch = normalize_launch(raw)
            self.launches[launch["id"]] = launch
        # LL2 keeps one table of updates for events and launches: one counter for both.
        self._next_update_id = 1 + max(
            (
                u["id"]
                for item in (*self.events.values(), *self.launches.values())
                for u in item["updates"]
            ),
            default=0,
        )
        self._history: dict[str, deque[datetime]] = {}
        self._faults: list[Fault] = []
        self._storm: _Storm | None = None
        self._log: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = asyncio.Event()
        # LL2 promises no order among events that tie on the ordering field; "id" is what
        # its database happens to do today, "reversed"/"shuffled" let tests not rely on it
        self.tie_order: TieOrder = tie_order
        self.tie_seed = tie_seed
        # runs after each list page is answered and before the next request is read, so a
        # test can change LL2 between two pages of one walk
        self.after_page = after_page
        self._pages_served = 0

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> LL2Emulator:
        """Start serving and return the emulator."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop serving."""
        await self.close()

    async def start(self) -> None:
        """Bind the socket and start answering."""
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # slow faults wake up on close, so a short shutdown timeout loses nothing
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = sock.getsockname()[1]
        self._closing.clear()

    async def close(self) -> None:
        """Stop answering and release the port."""
        self._closing.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def port(self) -> int:
        """The TCP port the emulator listens on."""
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (no version)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, version: str = "2.2.0") -> str:
        """Return the API root for ``version``, e.g. ``http://127.0.0.1:PORT/2.2.0``."""
        if version not in VERSIONS:
            raise ValueError(f"unsupported LL2 version {version!r}; use one of {VERSIONS}")
        return f"{self.base_url}/{version}"

    # -- request log -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """The API requests answered so far, oldest first (control calls excluded)."""
        return list(self._log)

    def clear_requests(self) -> None:
        """Forget the request log."""
        self._log.clear()

    # -- faults ------------------------------------------------------------------------

    def inject_fault(
        self,
        kind: FaultKind | str,
        *,
        count: int | None = 1,
        path: str | None = None,
        status: int | None = None,
        delay: float = 5.0,
        retry_after: int = 60,
        drop_fields: Sequence[str] = ("type", "date", "last_updated"),
    ) -> Fault:
        """Spoil the next ``count`` API responses (whose path contains ``path``) with ``kind``.

        ``status`` is for ``error`` (500/502/503/504, default 503). Rules queue up: each
        response takes the first rule that matches. Without ``path``, ``/api-throttle/``
        is never spoiled.
        """
        kind = FaultKind(kind)
        if kind is FaultKind.ERROR:
            status = 503 if status is None else status
            if not 500 <= status <= 599:
                raise ValueError(f"error faults need a 5xx status, got {status}")
        fault = Fault(
            kind,
            count=count,
            path=path,
            status=status or 503,
            delay=delay,
            retry_after=retry_after,
            drop_fields=tuple(drop_fields),
        )
        self._faults.append(fault)
        return fault

    def fault_storm(
        self,
        p: float,
        *,
        kinds: Sequence[FaultKind | str] = tuple(FaultKind),
        seed: int = 0,
        statuses: Sequence[int] = (500, 502, 503),
        delay: float = 0.05,
        retry_after: int = 5,
        path: str | None = None,
    ) -> None:
        """Spoil a seeded-random fraction ``p`` of API responses with a mix of ``kinds``.

        Queued :meth:`inject_fault` rules go first. ``p=0`` or :meth:`clear_faults` ends it.
        """
        if not 0.0 <= p <= 1.0:
            raise ValueError("p must be within [0, 1]")
        self._storm = (
            _Storm(
                p,
                tuple(FaultKind(k) for k in kinds),
                random.Random(seed),
                tuple(statuses),
                delay,
                retry_after,
                path,
            )
            if p > 0
            else None
        )

    def clear_faults(self) -> None:
        """Drop every queued fault rule and stop any storm."""
        self._faults.clear()
        self._storm = None

    @property
    def faults(self) -> list[Fault]:
        """The queued fault rules that still have uses left."""
        return [f for f in self._faults if f.count is None or f.count > 0]

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(path):
                if fault.count is not None:
                    fault.count -= 1
                fault.fired += 1
                return fault
        return self._storm.draw(path) if self._storm is not None else None

    # -- hourly limit ------------------------------------------------------------------

    def _bucket(self, remote: str, api_key: str | None) -> tuple[str, int | None]:
        if api_key is None:
            return remote, self.requests_per_hour
        return f"token:{api_key}", self.api_keys.get(api_key, self.requests_per_hour)

    def _window(self, bucket: str, now: datetime) -> deque[datetime]:
        history = self._history.setdefault(bucket, deque())
        horizon = now - timedelta(seconds=LIMIT_WINDOW_SECS)
        while history and history[0] <= horizon:
            history.popleft()
        return history

    def _wait_secs(self, history: deque[datetime], limit: int | None, now: datetime) -> int:
        if limit is None or len(history) < limit:
            return 0
        # the slot frees up when the oldest request in the window is an hour old (DRF)
        oldest = history[-limit] if limit > 0 else now
        remaining = LIMIT_WINDOW_SECS - (now - oldest).total_seconds()
        return max(1, math.ceil(remaining))

    def current_use(self, *, ip: str = "127.0.0.1", api_key: str | None = None) -> int:
        """Return how many counted requests the bucket made in the last hour."""
        bucket, _ = self._bucket(ip, api_key)
        return len(self._window(bucket, self._now()))

    def reset_limit(self, *, ip: str | None = None, api_key: str | None = None) -> None:
        """Forget counted requests: of one bucket (by IP or API key), or of all."""
        if ip is None and api_key is None:
            self._history.clear()
            return
        self._history.pop(self._bucket(ip or "", api_key)[0], None)

    # -- HTTP --------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/_control" or request.path.startswith("/_control/"):
            return await control(self, request)
        arrived_mono = time.monotonic()
        arrived = self._now()
        auth = request.headers.get("Authorization")
        api_key: str | None = None
        if auth and auth.partition(" ")[0].lower() == "token":
            api_key = auth.partition(" ")[2].strip() or None
        bucket, limit = self._bucket(request.remote or "unknown", api_key)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            query_string=request.query_string,
            headers={
                k.lower(): (_mask_authorization(v) if k.lower() == "authorization" else v)
                for k, v in request.headers.items()
            },
            status=0,
            time=arrived,
            monotonic=arrived_mono,
            ident=bucket if api_key is None else f"token:***{api_key[-4:]}",
        )
        self._log.append(record)
        try:
            response = await self._answer(request, record, bucket, limit, api_key, arrived)
        except BaseException:
            record.status = 499  # the client went away or the server is closing
            raise
        record.status = response.status
        return response

    async def _answer(
        self,
        request: web.Request,
        record: RecordedRequest,
        bucket: str,
        limit: int | None,
        api_key: str | None,
        now: datetime,
    ) -> web.StreamResponse:
        route = _match_route(request.path)
        if route is None:
            if _match_route(request.path + "/") is not None:
                # Django's APPEND_SLASH: a permanent redirect to the slashed path
                target = request.path + "/"
                if request.query_string:
                    target += "?" + request.query_string
                return web.Response(status=301, headers={"Location": target})
            return _json_response(404, {"detail": "Not found."})
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            return _json_response(
                405,
                {"detail": f'Method "{request.method}" not allowed.'},
                {"Allow": "GET, HEAD, OPTIONS"},
            )
        if api_key is not None and self.reject_unknown_keys and api_key not in self.api_keys:
            return _json_response(401, {"detail": "Invalid token."}, {"WWW-Authenticate": "Token"})
        history = self._window(bucket, now)
        if route.kind != "throttle":  # /api-throttle/ is free
            if limit is not None and len(history) >= limit:
                return self._throttled(self._wait_secs(history, limit, now))
            history.append(now)
            record.counted = True

        fault = self._take_fault(request.path)
        if fault is not None:
            record.fault = str(fault.kind)
            if fault.kind is FaultKind.ERROR:
                return web.Response(
                    status=fault.status,
                    content_type="text/html",
                    text=_ERROR_PAGES.get(fault.status, _ERROR_PAGES[500]),
                )
            if fault.kind is FaultKind.THROTTLE:
                return self._throttled(fault.retry_after)
            if fault.kind is FaultKind.SLOW:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), timeout=fault.delay)

        try:
            if route.kind == "throttle":
                reply = _Reply(200, self._throttle_body(route, request, history, limit, now))
            else:
                reply = self._api_reply(request, route, now)
        except _BadRequest as exc:
            reply = _Reply(400, exc.errors)
        if fault is not None and reply.status == 200:
            if fault.kind is FaultKind.MALFORMED:
                body = json.dumps(reply.payload, ensure_ascii=False).encode()
                return web.Response(
                    status=200, body=body[: max(len(body) // 2, 1)], content_type="application/json"
                )
            if fault.kind is FaultKind.TRUNCATED_PAGE and reply.is_page:
                results = reply.payload["results"]
                reply.payload["results"] = results[: len(results) // 2]
            elif fault.kind in (FaultKind.MISSING_FIELDS, FaultKind.TRUNCATED_PAGE):
                items = reply.payload["results"][:1] if reply.is_page else [reply.payload]
                for item in items:
                    for name in fault.drop_fields:
                        item.pop(name, None)
        response = _json_response(reply.status, reply.payload, reply.headers)
        if reply.is_page and reply.status == 200 and route.kind != "types":
            self._page_served(request, reply.payload)
        return response

    def _page_served(self, request: web.Request, payload: JSONDict) -> None:
        self._pages_served += 1
        if self.after_page is None:
            return
        limit, offset = _page_params(request, DEFAULT_LIMIT)
        self.after_page(
            ServedPage(
                number=self._pages_served,
                path=request.path,
                query=dict(request.query),
                offset=offset,
                limit=limit,
                count=payload["count"],
                ids=tuple(r["id"] for r in payload["results"]),
            )
        )

    def _throttled(self, wait: int) -> web.Response:
        unit = "second" if wait == 1 else "seconds"
        headers = {"Retry-After": str(wait)} if self.send_retry_after else {}
        return _json_response(
            429, {"detail": f"Request was throttled. Expected available in {wait} {unit}."}, headers
        )

    def _throttle_body(
        self,
        route: _Route,
        request: web.Request,
        history: deque[datetime],
        limit: int | None,
        now: datetime,
    ) -> JSONDict:
        body: JSONDict = {
            "your_request_limit": UNLIMITED_REPORTED_LIMIT if limit is None else limit,
            "limit_frequency_secs": LIMIT_WINDOW_SECS,
            "current_use": len(history),
            "next_use_secs": self._wait_secs(history, limit, now),
        }
        if route.version == "2.2.0":  # only the 2.2.0 recording carries ident
            body["ident"] = request.remote or "unknown"
        return body

    # -- API answers -----------------------------------------------------------------------

    def _api_reply(self, request: web.Request, route: _Route, now: datetime) -> _Reply:
        if route.kind == "types":
            return self._types_reply(request)
        if route.kind in ("launches", "launch"):
            return self._launch_reply(request, route, now)
        mode = request.query.get("mode", "")
        if route.version == "2.3.0":
            default = "detailed" if route.kind == "event" else "normal"
            # LL2 falls back to its default for an unknown mode rather than failing
            mode = mode if mode in ("list", "normal", "detailed") else default
        base = str(request.url.origin())
        if route.kind == "event":
            ev = self.events.get(route.event_id or -1)
            if ev is None or (route.scope != "all" and ev not in self._scoped(route, request, now)):
                return _Reply(404, {"detail": "Not found."})
            return _Reply(200, render_event(ev, route.version, base=base, mode=mode))
        events = self._scoped(route, request, now)
        events = self._filtered(events, request)
        events = self._ordered(events, request, route)
        limit, offset = _page_params(request, DEFAULT_LIMIT)
        page = events[offset : offset + limit]
        return _Reply(
            200,
            {
                "count": len(events),
                "next": _page_link(request, limit, offset + limit)
                if offset + limit < len(events)
                else None,
                "previous": _page_link(request, limit, max(offset - limit, 0))
                if offset > 0
                else None,
                "results": [render_event(ev, route.version, base=base, mode=mode) for ev in page],
            },
            is_page=True,
        )

    def _types_reply(self, request: web.Request) -> _Reply:
        types = [dict(t) for t in EVENT_TYPES]
        terms = _search_terms(request)
        types = [t for t in types if all(term in t["name"].lower() for term in terms)]
        ordering = request.query.get("ordering", "id")
        key = ordering.lstrip("-")
        if key in ("id", "name"):
            types.sort(key=lambda t: t[key], reverse=ordering.startswith("-"))
        limit, offset = _page_params(request, CONFIG_DEFAULT_LIMIT)
        return _Reply(
            200,
            {
                "count": len(types),
                "next": _page_link(request, limit, offset + limit)
                if offset + limit < len(types)
                else None,
                "previous": _page_link(request, limit, max(offset - limit, 0))
                if offset > 0
                else None,
                "results": types[offset : offset + limit],
            },
            is_page=True,
        )


async def serve(
    port: int,
    host: str = "127.0.0.1",
    *,
    events: Iterable[Mapping[str, Any]] | None = None,
    clock: Clock | None = None,
    requests_per_hour: int | None = 15,
    api_keys: Mapping[str, int | None] | None = None,
    send_retry_after: bool = True,
    on_ready: Callable[[LL2Emulator], Awaitable[None] | None] | None = None,
    launches: Iterable[Mapping[str, Any]] | None = None,
) -> None:
    """Serve the emulator on ``host:port`` until cancelled (``None``: the recordings)."""
    async with LL2Emulator(
        events,
        launches=launches,
        clock=clock,
        requests_per_hour=requests_per_hour,
        api_keys=api_keys,
        send_retry_after=send_retry_after,
        host=host,
        port=port,
    ) as emu:
        log.info(
            "LL2 emulator serving %s (2.2.0) and %s (2.3.0)", emu.url("2.2.0"), emu.url("2.3.0")
        )
        if on_ready is not None:
            result = on_ready(emu)
            if result is not None:
                await result
        await asyncio.Event().wait()
