"""The control API (``/_control/…``): the emulator's methods over HTTP, JSON in and out."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.devtools.ll2_emulator.routes import _json_response

if TYPE_CHECKING:
    from bot.devtools.ll2_emulator.server import LL2Emulator


async def control(emu: LL2Emulator, request: web.Request) -> web.StreamResponse:
    """Answer one ``/_control/…`` request."""
    parts = [p for p in request.path.split("/") if p][1:]
    method = request.method
    try:
        body: Any = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError:
        return _json_response(400, {"detail": "body is not JSON"})
    if body is None:
        body = {}
    try:
        return control_route(emu, method, parts, body)
    except KeyError as exc:
        return _json_response(404, {"detail": str(exc.args[0]) if exc.args else "Not found."})
    except (ValueError, TypeError) as exc:
        return _json_response(400, {"detail": str(exc)})


def control_route(emu: LL2Emulator, method: str, parts: list[str], body: Any) -> web.Response:
    """Run the control call ``method /_control/<parts>`` with its JSON ``body``."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    match parts:
        case ["events"] if method == "GET":
            return _json_response(200, [emu.events[i] for i in sorted(emu.events)])
        case ["events"] if method == "POST":
            return _json_response(201, emu.add_event(body))
        case ["events", eid] if method == "GET":
            return _json_response(200, emu.event(int(eid)))
        case ["events", eid] if method == "PATCH":
            return _json_response(200, emu.edit_event(int(eid), **body))
        case ["events", eid] if method == "DELETE":
            emu.delete_event(int(eid))
            return web.Response(status=204)
        case ["events", eid, "updates"] if method == "POST":
            if "comment" not in body:
                raise ValueError("comment is required")
            return _json_response(
                201,
                emu.add_update(
                    int(eid),
                    str(body["comment"]),
                    body.get("info_url"),
                    body.get("created_by") or "LL2",
                    profile_image=body.get("profile_image"),
                ),
            )
        case ["events", eid, "webcast"] if method == "POST":
            return _json_response(
                200,
                emu.set_webcast_live(
                    int(eid), bool(body.get("live", True)), vid_url=body.get("vid_url")
                ),
            )
        case ["events", eid, "vid_urls"] if method == "POST":
            if "url" not in body:
                raise ValueError("url is required")
            kwargs = {
                k: body[k]
                for k in (
                    "priority",
                    "start_time",
                    "end_time",
                    "title",
                    "publisher",
                    "language",
                    "live",
                )
                if k in body
            }
            return _json_response(201, emu.add_vid_url(int(eid), body["url"], **kwargs))
        case ["events", eid, "date"] if method == "POST":
            if "date" not in body:
                raise ValueError("date is required")
            if "date_precision" in body:
                return _json_response(
                    200,
                    emu.move_date(int(eid), body["date"], date_precision=body["date_precision"]),
                )
            return _json_response(200, emu.move_date(int(eid), body["date"]))
        case ["launches"] if method == "GET":
            return _json_response(200, [emu.launches[i] for i in sorted(emu.launches)])
        case ["launches"] if method == "POST":
            return _json_response(201, emu.add_launch(body))
        case ["launches", lid] if method == "GET":
            return _json_response(200, emu.launch(lid))
        case ["launches", lid] if method == "PATCH":
            return _json_response(200, emu.edit_launch(lid, **body))
        case ["launches", lid] if method == "DELETE":
            emu.delete_launch(lid)
            return web.Response(status=204)
        case ["launches", lid, "status"] if method == "POST":
            if "status" not in body:
                raise ValueError("status is required")
            return _json_response(
                200,
                emu.set_launch_status(
                    lid,
                    body["status"],
                    holdreason=body.get("holdreason"),
                    failreason=body.get("failreason"),
                ),
            )
        case ["launches", lid, "net"] if method == "POST":
            if ("net" in body) == ("by_seconds" in body):
                raise ValueError("give exactly one of net and by_seconds")
            by = timedelta(seconds=float(body["by_seconds"])) if "by_seconds" in body else None
            if "net_precision" in body:
                return _json_response(
                    200,
                    emu.slip_launch(
                        lid, body.get("net"), by=by, net_precision=body["net_precision"]
                    ),
                )
            return _json_response(200, emu.slip_launch(lid, body.get("net"), by=by))
        case ["launches", lid, "webcast"] if method == "POST":
            return _json_response(
                200,
                emu.set_launch_webcast(
                    lid, bool(body.get("live", True)), vid_url=body.get("vid_url")
                ),
            )
        case ["launches", lid, "updates"] if method == "POST":
            if "comment" not in body:
                raise ValueError("comment is required")
            return _json_response(
                201,
                emu.add_launch_update(
                    lid,
                    str(body["comment"]),
                    body.get("info_url"),
                    body.get("created_by") or "LL2",
                    profile_image=body.get("profile_image"),
                ),
            )
        case ["launches", lid, "vid_urls"] if method == "POST":
            if "url" not in body:
                raise ValueError("url is required")
            kwargs = {
                k: body[k]
                for k in ("priority", "start_time", "title", "publisher", "language", "live")
                if k in body
            }
            return _json_response(201, emu.add_launch_vid_url(lid, body["url"], **kwargs))
        case ["requests"] if method == "GET":
            return _json_response(200, [r.to_json() for r in emu._log])
        case ["requests"] if method == "DELETE":
            emu.clear_requests()
            return web.Response(status=204)
        case ["faults"] if method == "GET":
            return _json_response(200, [f.to_json() for f in emu.faults])
        case ["faults"] if method == "POST":
            kind = body.pop("kind", None)
            if kind is None:
                raise ValueError("kind is required")
            if "drop_fields" in body:
                body["drop_fields"] = tuple(body["drop_fields"])
            return _json_response(201, emu.inject_fault(kind, **body).to_json())
        case ["faults", "storm"] if method == "POST":
            if "p" not in body:
                raise ValueError("p is required")
            emu.fault_storm(float(body.pop("p")), **body)
            return web.Response(status=204)
        case ["faults"] if method == "DELETE":
            emu.clear_faults()
            return web.Response(status=204)
        case ["limit"] if method == "GET":
            return _json_response(
                200,
                {
                    "requests_per_hour": emu.requests_per_hour,
                    "buckets": {b: len(emu._window(b, emu._now())) for b in emu._history},
                },
            )
        case ["limit"] if method in ("POST", "PATCH"):
            if "requests_per_hour" in body:
                value = body["requests_per_hour"]
                emu.requests_per_hour = None if value is None else int(value)
            return web.Response(status=204)
        case ["limit", "reset"] if method == "POST":
            emu.reset_limit(ip=body.get("ip"), api_key=body.get("api_key"))
            return web.Response(status=204)
    return _json_response(404, {"detail": "Not found."})
