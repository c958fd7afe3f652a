"""A loopback LL2 that answers event lists with whatever bytes a test sets, garbage included.

The LL2 emulator only serves well-formed events (it normalises what it stores); fuzzing the
pipeline with payloads LL2 could never produce needs a server that sends them verbatim.
``/api-throttle/`` and the event-type list stay well-formed, so only the event answers vary.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from aiohttp import web

THROTTLE = {
    "your_request_limit": 1000,
    "limit_frequency_secs": 3600,
    "current_use": 0,
    "next_use_secs": 0,
}
EVENT_TYPES = {
    "count": 2,
    "next": None,
    "previous": None,
    "results": [{"id": 2, "name": "Docking"}, {"id": 4, "name": "EVA"}],
}


def page(results: list[Any]) -> bytes:
    """Return a one-page LL2 list body holding ``results``."""
    body = {"count": len(results), "next": None, "previous": None, "results": results}
    return json.dumps(body).encode()


class RawLL2:
    """``async with RawLL2() as ll2``: set ``ll2.body`` (and ``ll2.status``) per request."""

    def __init__(self) -> None:
        self.body: bytes = page([])
        self.status = 200
        self.paths: list[str] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def __aenter__(self) -> RawLL2:
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
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, version: str = "2.2.0") -> str:
        """Return the API root, e.g. ``http://127.0.0.1:PORT/2.2.0``."""
        return f"http://127.0.0.1:{self._port}/{version}"

    async def _answer(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if request.path.endswith("/api-throttle/"):
            return web.json_response(THROTTLE)
        if "/config/" in request.path:
            return web.json_response(EVENT_TYPES)
        return web.Response(status=self.status, body=self.body, content_type="application/json")
