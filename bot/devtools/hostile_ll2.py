"""A hostile LL2 on loopback: a small, correct event feed that misbehaves on request.

The LL2 emulator models the real service (and normalises what it stores); this server is
for the answers no honest LL2 sends: a body trickled one byte at a time, pages padded with
repeated rows past ``limit``, ``next`` links that point back, absurd ``Retry-After`` and
``/api-throttle/`` bodies. Events are served as given, so poison strings, future dates and
malformed nested items reach the client verbatim. Tests edit ``events`` to make the
"normal change after the bad input" that must still be alerted.

Paths answer for 2.2.0 (singular) and 2.3.0 (plural) alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.core.timeutil import Clock, isoformat_z, parse_datetime, utcnow

log = logging.getLogger(__name__)

THROTTLE_OK = {
    "your_request_limit": 100_000,
    "limit_frequency_secs": 3600,
    "current_use": 0,
    "next_use_secs": 0,
}
EVENT_TYPES = [
    {"id": 2, "name": "Docking"},
    {"id": 3, "name": "Press Event"},
    {"id": 4, "name": "EVA"},
]


@dataclass
class Trickle:
    """Send the next ``times`` matching answers one byte every ``every`` seconds."""

    every: float
    times: int
    path: str  # a substring of the request path ("/upcoming/", "/event", …)


@dataclass
class Throttle429:
    """Answer the next ``times`` event requests 429 with these header and detail texts."""

    retry_after: str | None
    detail_seconds: str | None
    times: int


@dataclass
class Misbehaviour:
    """What the server does wrong, case by case (all off by default)."""

    trickles: list[Trickle] = field(default_factory=list)
    repeat_rows: int = 0  # rows repeated after each page's ``limit`` rows
    next_loop: str | None = None  # "self" (next = this page) or "first" (back to page 1)
    next_loop_path: str = "/upcoming/"
    ignore_offset: bool = False  # every page the first ``limit`` rows, ``next`` still moving
    throttled: list[Throttle429] = field(default_factory=list)
    throttle_body: bytes | None = None  # raw /api-throttle/ body (1e400 is not a Python float)


class HostileLL2:
    """``async with HostileLL2(events) as ll2``: serve ``ll2.events``; set ``ll2.bad`` cases."""

    def __init__(self, events: list[dict[str, Any]] | None = None, *, clock: Clock = utcnow):
        self.events: dict[int, dict[str, Any]] = {e["id"]: e for e in events or []}
        self.bad = Misbehaviour()
        self.clock = clock
        self.requests: list[str] = []  # "path?query" of every request, in order
        self.answers: list[tuple[str, int]] = []  # (path, status) as each answer completes
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # --- the server -------------------------------------------------------------------------

    async def __aenter__(self) -> HostileLL2:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self._port = sock.getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()  # trickles stop at their next byte
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, version: str = "2.2.0") -> str:
        """Return the API root, e.g. ``http://127.0.0.1:PORT/2.2.0``."""
        return f"http://127.0.0.1:{self._port}/{version}"

    # --- editing LL2 ------------------------------------------------------------------------

    def edit(self, event_id: int, **fields: Any) -> dict[str, Any]:
        """Change an event's fields and bump its ``last_updated`` to now (as LL2 does)."""
        event = self.events[event_id]
        event.update(fields)
        event["last_updated"] = isoformat_z(self.clock())
        return event

    def trickle(self, every: float, *, times: int = 1, path: str = "/event") -> None:
        """Trickle the next ``times`` answers whose path contains ``path``."""
        self.bad.trickles.append(Trickle(every=every, times=times, path=path))

    def throttle_next(
        self, *, retry_after: str | None = None, detail_seconds: str | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` event requests 429 with these absurd (or sane) waits."""
        self.bad.throttled.append(Throttle429(retry_after, detail_seconds, times))

    # --- answers ----------------------------------------------------------------------------

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append(f"{path}?{request.query_string}" if request.query_string else path)
        if path.endswith("/api-throttle/"):
            body = self.bad.throttle_body or json.dumps(THROTTLE_OK).encode()
            return self._done(path, web.Response(body=body, content_type="application/json"))
        if "/config/" in path:
            return await self._send(request, self._page(request, list(EVENT_TYPES), events=False))
        for throttle in self.bad.throttled:
            if throttle.times > 0:
                throttle.times -= 1
                return self._done(path, self._throttled(throttle))
        tail = path.rstrip("/").rsplit("/", 1)[-1]
        if tail.isdigit():
            event = self.events.get(int(tail))
            if event is None:
                return self._done(path, web.json_response({"detail": "Not found."}, status=404))
            return await self._send(request, event)
        return await self._send(request, self._list(request))

    def _done(self, path: str, response: web.StreamResponse) -> web.StreamResponse:
        self.answers.append((path, response.status))
        return response

    def _throttled(self, throttle: Throttle429) -> web.Response:
        headers = {"Retry-After": throttle.retry_after} if throttle.retry_after else {}
        seconds = throttle.detail_seconds or "60"
        detail = f"Request was throttled. Expected available in {seconds} seconds."
        return web.json_response({"detail": detail}, status=429, headers=headers)

    def _list(self, request: web.Request) -> dict[str, Any]:
        query = request.query
        rows = list(self.events.values())
        if "/upcoming/" in request.path:
            rows = [e for e in rows if e.get("date")]
            rows.sort(key=lambda e: (_when(e.get("date")), e["id"]))
        if since := query.get("last_updated__gte"):
            rows = [e for e in rows if _when(e.get("last_updated")) >= parse_datetime(since)]
        ordering = query.get("ordering")
        if ordering in ("last_updated", "-last_updated"):
            rows.sort(
                key=lambda e: (_when(e.get("last_updated")), e["id"]),
                reverse=ordering.startswith("-"),
            )
        return self._page(request, rows, events=True)

    def _page(self, request: web.Request, rows: list[Any], *, events: bool) -> dict[str, Any]:
        query = request.query
        limit = int(query.get("limit") or 10)
        offset = int(query.get("offset") or 0)
        start = 0 if self.bad.ignore_offset else offset
        results = rows[start : start + limit]
        following = offset + limit < len(rows)
        next_url = None
        if following:
            next_url = self._link(request, offset=offset + limit)
        if self.bad.next_loop is not None and self.bad.next_loop_path in request.path:
            if self.bad.next_loop == "self":
                next_url = self._link(request, offset=offset)
            else:
                # Page 1 → page 2 → page 1 …: a cycle of two distinct URLs.
                next_url = self._link(request, offset=0 if offset else limit)
        if events and self.bad.repeat_rows and results:
            # Repeats of the page's own rows, past ``limit``: a page longer than asked.
            repeats = [results[i % len(results)] for i in range(self.bad.repeat_rows)]
            results = results + repeats
        return {"count": len(rows), "next": next_url, "previous": None, "results": results}

    def _link(self, request: web.Request, offset: int) -> str:
        query = dict(request.query)
        query["offset"] = str(offset)
        return f"{request.url.scheme}://{request.host}{request.path}?{urlencode(query)}"

    async def _send(self, request: web.Request, body: Any) -> web.StreamResponse:
        data = json.dumps(body).encode()
        trickle = next(
            (t for t in self.bad.trickles if t.times > 0 and t.path in request.path), None
        )
        if trickle is None:
            return self._done(
                request.path, web.Response(body=data, content_type="application/json")
            )
        trickle.times -= 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(data)
        await response.prepare(request)
        # One byte, then a pause: each read completes well within any per-read timeout.
        with contextlib.suppress(ConnectionError):
            for index in range(len(data)):
                await response.write(data[index : index + 1])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), trickle.every)
                if self._closing.is_set():
                    break
        self.answers.append((request.path, -1))  # a trickle never counts as answered
        return response


def _when(value: Any) -> datetime:
    return parse_datetime(value) if isinstance(value, str) else datetime.min.replace(tzinfo=UTC)
