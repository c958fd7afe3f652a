"""A loopback emulator of the Launch Library 2 API, for ``tminus demo``, developers and tests.

It serves the event endpoints of LL2 2.2.0 (singular paths) and 2.3.0 (plural paths) in
each version's real shape, with LL2's filters, ordering and limit/offset pagination, the
hourly request budget (HTTP 429 with LL2's body), ``/api-throttle/``, injectable faults and
a control API (``/_control/…`` over HTTP, the same as methods on :class:`LL2Emulator`) to
script changes: a new update, a webcast going live, a slip, a new or deleted event.

``last_updated`` and ordering: every mutation stamps ``last_updated`` with the clock, kept
to the microsecond and strictly increasing from one mutation to the next. Answers serialise
it the way LL2 does, to the second (``2025-11-27T12:46:33Z``), while filtering
(``last_updated__gte``/``__lte``) and ``ordering=last_updated`` use the exact value, like
the database behind LL2. So several events can show the same second yet come back in their
true order, and ``last_updated__gte=<a value you were served>`` always includes the event
you were served it from (and every other one changed in that same second): poll with
``__gte`` and expect to see the watermark's own second again; ``__gt`` on a served value
can skip changes made later within that second.

Control API (JSON; never logged, never counted, never faulted):
``GET|POST /_control/events`` (list | add one, any shape), ``GET|PATCH|DELETE
/_control/events/{id}``, ``POST /_control/events/{id}/updates`` {comment, info_url,
created_by}, ``POST …/webcast`` {live, vid_url?}, ``POST …/vid_urls`` {url, priority?,
start_time?, …}, ``POST …/date`` {date, date_precision?}, ``GET|DELETE /_control/requests``,
``GET|POST|DELETE /_control/faults`` {kind, count, path, status, delay, retry_after,
drop_fields}, ``POST /_control/faults/storm`` {p, kinds, seed, statuses, delay, path},
``GET|POST /_control/limit`` {requests_per_hour}, ``POST /_control/limit/reset`` {ip?,
api_key?}. Unknown event: 404; bad body: 400 ``{"detail": …}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import logging
import math
import random
import re
import socket
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from importlib import resources
from typing import Any, Literal
from urllib.parse import urlencode

from aiohttp import web

__all__ = [
    "DATE_PRECISIONS",
    "EVENT_TYPES",
    "VERSIONS",
    "Clock",
    "FakeClock",
    "Fault",
    "FaultKind",
    "LL2Emulator",
    "RecordedRequest",
    "format_ll2_datetime",
    "load_recorded_events",
    "normalize_event",
    "parse_ll2_datetime",
    "render_event",
    "serve",
    "synthetic_events",
]

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Clock = Callable[[], datetime]

VERSIONS: tuple[str, ...] = ("2.2.0", "2.3.0")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
CONFIG_DEFAULT_LIMIT = 100  # the recorded /config/eventtype/ answer has all 25 types, next null
LIMIT_WINDOW_SECS = 3600
UPCOMING_GRACE = timedelta(hours=24)
UNLIMITED_REPORTED_LIMIT = 1_000_000  # what /api-throttle/ reports when there is no limit

# The event types LL2 knows, from a public recording of GET /2.2.0/config/eventtype/.
# Id 3 was named "EVA" in that (older) recording; the project calls it "EVA / Spacewalk".
EVENT_TYPES: tuple[JSONDict, ...] = tuple(
    {"id": i, "name": n}
    for i, n in (
        (1, "Unknown"),
        (2, "Docking"),
        (3, "EVA / Spacewalk"),
        (4, "Berthing"),
        (5, "Static Fire"),
        (6, "Spacecraft Event"),
        (7, "Moon Landing"),
        (8, "Undocking"),
        (9, "Landing"),
        (10, "Abort Test"),
        (11, "Celestial Event"),
        (12, "Hatch Opening"),
        (13, "Release"),
        (14, "Test Flight"),
        (15, "Change of Command"),
        (16, "Orbital Insertion"),
        (17, "Farewell Ceremony"),
        (18, "Rehearsal"),
        (19, "Ambient Pressure Test"),
        (20, "Press Event"),
        (21, "Cryoproof Test"),
        (22, "Wet Dress Rehearsal"),
        (23, "Flyby"),
        (24, "Launch"),
        (25, "Relocation"),
    )
)
_TYPE_NAMES = {t["id"]: t["name"] for t in EVENT_TYPES}

# LL2's NetPrecision table (ids and names as in the recordings: Second 0, Minute 1, Day 5,
# Month 7, Year 14).
DATE_PRECISIONS: dict[int, JSONDict] = {
    p[0]: {"id": p[0], "name": p[1], "abbrev": p[2], "description": p[3]}
    for p in (
        (0, "Second", "SEC", "The T-0 is accurate to the second."),
        (1, "Minute", "MIN", "The T-0 is accurate to the minute."),
        (2, "Hour", "HR", "The T-0 is accurate to the hour."),
        (3, "Morning", "AM", "The T-0 is accurate to the morning."),
        (4, "Afternoon", "PM", "The T-0 is accurate to the afternoon."),
        (5, "Day", "DAY", "The T-0 is accurate to the day."),
        (6, "Week", "W", "The T-0 is accurate to the week."),
        (7, "Month", "M", "The T-0 is accurate to the month."),
        (8, "Quarter 1", "Q1", "The T-0 is accurate to the first quarter."),
        (9, "Quarter 2", "Q2", "The T-0 is accurate to the second quarter."),
        (10, "Quarter 3", "Q3", "The T-0 is accurate to the third quarter."),
        (11, "Quarter 4", "Q4", "The T-0 is accurate to the fourth quarter."),
        (12, "Half 1", "H1", "The T-0 is accurate to the first half of the year."),
        (13, "Half 2", "H2", "The T-0 is accurate to the second half of the year."),
        (14, "Year", "Y", "The T-0 is accurate to the year."),
        (15, "Fiscal Year", "FY", "The T-0 is accurate to the fiscal year."),
        (16, "Decade", "D", "The T-0 is accurate to the decade."),
    )
}

_AGENCY_TYPE_IDS = {
    "Government": 1,
    "Multinational": 2,
    "Commercial": 3,
    "Educational": 4,
    "Private": 5,
    "Unknown": 6,
}

# Agencies and programs the synthetic events use, also used to fill in what the recorder
# trimmed from the 2.3.0 recordings ({id, name, abbrev} only).
_AGENCIES: dict[int, JSONDict] = {
    a[0]: {"id": a[0], "name": a[1], "abbrev": a[2], "type": a[3], "country_code": a[4]}
    for a in (
        (16, "Canadian Space Agency", "CSA", "Government", "CAN"),
        (27, "European Space Agency", "ESA", "Multinational", "EUR"),
        (31, "Indian Space Research Organization", "ISRO", "Government", "IND"),
        (37, "Japan Aerospace Exploration Agency", "JAXA", "Government", "JPN"),
        (44, "National Aeronautics and Space Administration", "NASA", "Government", "USA"),
        (63, "Russian Federal Space Agency (ROSCOSMOS)", "RFSA", "Government", "RUS"),
        (66, "Soviet Space Program", "CCCP", "Government", "SUN"),
        (80, "Boeing", "BA", "Commercial", "USA"),
        (121, "SpaceX", "SpX", "Commercial", "USA"),
        (141, "Blue Origin", "BO", "Commercial", "USA"),
        (147, "Rocket Lab", "RL", "Commercial", "USA"),
        (257, "Northrop Grumman Space Systems", "NGSS", "Commercial", "USA"),
    )
}
_HUMAN_SPACEFLIGHT = {"id": 2, "name": "Human Spaceflight"}
_PROGRAMS: dict[int, JSONDict] = {
    p[0]: {"id": p[0], "name": p[1], "agency_ids": p[2], "type": p[3], "start_date": p[4]}
    for p in (
        (5, "Commercial Crew Program", (44, 80, 121), _HUMAN_SPACEFLIGHT, "2011-04-18T00:00:00Z"),
        (8, "Soyuz", (63, 66), _HUMAN_SPACEFLIGHT, "1966-11-28T11:02:00Z"),
        (
            17,
            "International Space Station",
            (16, 27, 37, 44, 63),
            _HUMAN_SPACEFLIGHT,
            "1998-11-20T06:40:00Z",
        ),
        (23, "Artemis", (44, 27, 37, 16), _HUMAN_SPACEFLIGHT, "2017-12-11T00:00:00Z"),
        (
            29,
            "Commercial Resupply Services",
            (44, 121, 257),
            {"id": 3, "name": "Cargo"},
            "2008-12-23T00:00:00Z",
        ),
    )
}
_ISS = {
    "id": 4,
    "name": "International Space Station",
    "status": {"id": 1, "name": "Active"},
    "founded": "1998-11-20",
    "description": "The International Space Station (ISS) is a habitable space station in low "
    "Earth orbit, continuously inhabited since November 2000.",
    "orbit": "Low Earth Orbit",
    "image_url": "https://thespacedevs-dev.nyc3.digitaloceanspaces.com/media/images/"
    "international2520space2520station_image_20190220215716.jpeg",
}
_UNKNOWN_LICENSE = {"id": 1, "name": "Unknown", "priority": 9, "link": None}


# --------------------------------------------------------------------------------------
# time


def format_ll2_datetime(value: datetime) -> str:
    """Format a tz-aware datetime the way LL2 does: UTC, to the second, ``Z`` suffix."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ll2_datetime(value: str | datetime) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` or offset; naive means UTC) into aware UTC."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class FakeClock:
    """A settable clock for tests: ``clock()`` returns the current fake time (UTC)."""

    def __init__(self, start: datetime) -> None:
        """Start the fake clock at ``start`` (must be tz-aware)."""
        self._now = _aware_utc(start)

    def __call__(self) -> datetime:
        """Return the fake current time."""
        return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move the clock forward by ``seconds`` (and/or timedelta kwargs); return the time."""
        self._now += timedelta(seconds=seconds, **delta)
        return self._now

    def set(self, when: datetime) -> None:
        """Jump the clock to ``when`` (tz-aware)."""
        self._now = _aware_utc(when)


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"clock times must be tz-aware, got {value!r}")
    return value.astimezone(UTC)


# --------------------------------------------------------------------------------------
# normalising LL2 shapes into the emulator's one internal shape
#
# Internal event: id, slug, name, type{id,name}, description, webcast_live, location,
# news_url, info_urls[InfoURL], vid_urls[VidURL incl. live], image{Image}|None, date,
# date_precision{id,name,abbrev,description}|None, duration, updates[Update] (oldest
# first), last_updated, agencies[2.2.0-style agency], launches[], expeditions[],
# spacestations[], program[2.2.0-style program], astronauts[]. All JSON-serialisable;
# timestamps are LL2-formatted strings.


def _slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "event"


def _image_from_url(url: str | None, name: str) -> JSONDict | None:
    if not url:
        return None
    return {
        "id": zlib.crc32(url.encode()) % 100_000,
        "name": name,
        "image_url": url,
        "thumbnail_url": url,
        "credit": None,
        "license": dict(_UNKNOWN_LICENSE),
        "single_use": False,
        "variants": [],
    }


def _norm_image(raw: Any, name: str) -> JSONDict | None:
    if isinstance(raw, str):
        return _image_from_url(raw, name)
    if not isinstance(raw, Mapping) or not raw.get("image_url"):
        return None
    license_raw = raw.get("license") if isinstance(raw.get("license"), Mapping) else None
    license_ = {**_UNKNOWN_LICENSE, **(license_raw or {})}
    return {
        "id": raw.get("id", zlib.crc32(str(raw["image_url"]).encode()) % 100_000),
        "name": raw.get("name") or name,
        "image_url": raw["image_url"],
        "thumbnail_url": raw.get("thumbnail_url") or raw["image_url"],
        "credit": raw.get("credit"),
        "license": license_,
        "single_use": bool(raw.get("single_use", False)),
        "variants": list(raw.get("variants") or []),
    }


def _norm_type(raw: Any) -> JSONDict:
    if isinstance(raw, Mapping):
        type_id = int(raw.get("id", 1))
        return {"id": type_id, "name": raw.get("name") or _TYPE_NAMES.get(type_id, "Unknown")}
    if isinstance(raw, int):
        return {"id": raw, "name": _TYPE_NAMES.get(raw, "Unknown")}
    if isinstance(raw, str):
        for t in EVENT_TYPES:
            if t["name"].lower() == raw.lower():
                return dict(t)
        raise ValueError(f"unknown event type {raw!r}")
    return {"id": 1, "name": "Unknown"}


def _norm_precision(raw: Any) -> JSONDict | None:
    """Turn an id, a name/abbrev or a (possibly partial) NetPrecision object into one."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(f"not a date precision: {raw!r}")
    if isinstance(raw, int):
        if raw not in DATE_PRECISIONS:
            raise ValueError(f"unknown date_precision id {raw}")
        return dict(DATE_PRECISIONS[raw])
    if isinstance(raw, str):
        for p in DATE_PRECISIONS.values():
            if raw.lower() in (p["name"].lower(), p["abbrev"].lower()):
                return dict(p)
        raise ValueError(f"unknown date_precision {raw!r}")
    if isinstance(raw, Mapping):
        known = DATE_PRECISIONS.get(raw.get("id", -1), {})
        merged = {**known, **{k: v for k, v in raw.items() if v is not None}}
        if "id" not in merged:
            raise ValueError(f"date_precision without id: {raw!r}")
        merged.setdefault("name", "Unknown")
        merged.setdefault("abbrev", "")
        merged.setdefault("description", "")
        return {k: merged[k] for k in ("id", "name", "abbrev", "description")}
    raise ValueError(f"not a date precision: {raw!r}")


def _norm_time(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    return format_ll2_datetime(parse_ll2_datetime(raw))


def _norm_update(raw: Mapping[str, Any]) -> JSONDict:
    return {
        "id": int(raw["id"]),
        "profile_image": raw.get("profile_image"),
        "comment": raw.get("comment"),
        "info_url": raw.get("info_url"),
        "created_by": raw.get("created_by"),
        "created_on": _norm_time(raw.get("created_on")),
    }


def _norm_link(raw: Mapping[str, Any], *, video: bool) -> JSONDict:
    link: JSONDict = {
        "priority": int(raw.get("priority", 10)),
        "source": raw.get("source"),
    }
    if video:
        link["publisher"] = raw.get("publisher")
    link.update(
        title=raw.get("title"),
        description=raw.get("description"),
        feature_image=raw.get("feature_image"),
        url=raw["url"],
        type=raw.get("type"),
        language=raw.get("language"),
    )
    if video:
        link.update(
            start_time=_norm_time(raw.get("start_time")),
            end_time=_norm_time(raw.get("end_time")),
            live=bool(raw.get("live", False)),
        )
    return link


def _norm_agency(raw: Any) -> JSONDict:
    if isinstance(raw, int):
        raw = _AGENCIES.get(raw, {"id": raw, "name": f"Agency {raw}"})
    known = _AGENCIES.get(int(raw["id"]), {})
    agency: JSONDict = {
        "id": int(raw["id"]),
        "name": raw.get("name") or known.get("name", f"Agency {raw['id']}"),
        "featured": raw.get("featured", False),
        "type": raw.get("type") or known.get("type"),
        "country_code": raw.get("country_code") or known.get("country_code"),
        "abbrev": raw.get("abbrev") or known.get("abbrev"),
    }
    if isinstance(agency["type"], Mapping):  # a 2.3.0 AgencyType object
        agency["type"] = agency["type"].get("name")
    for key in (
        "description",
        "administrator",
        "founding_year",
        "launchers",
        "spacecraft",
        "parent",
        "image_url",
        "logo_url",
    ):
        agency[key] = raw.get(key)
    return agency


def _norm_program(raw: Any) -> JSONDict:
    if isinstance(raw, int):
        raw = {"id": raw}
    known = _PROGRAMS.get(int(raw["id"]), {})
    agencies_raw = raw.get("agencies")
    if agencies_raw is None:
        agencies_raw = list(known.get("agency_ids", ()))
    agencies = []
    for a in agencies_raw:
        full = _norm_agency(a)
        agencies.append({"id": full["id"], "name": full["name"], "type": full["type"]})
    image_url = raw.get("image_url")
    if image_url is None and isinstance(raw.get("image"), Mapping):
        image_url = raw["image"].get("image_url")
    return {
        "id": int(raw["id"]),
        "name": raw.get("name") or known.get("name", f"Program {raw['id']}"),
        "description": raw.get("description"),
        "agencies": agencies,
        "image_url": image_url,
        "start_date": _norm_time(raw.get("start_date", known.get("start_date"))),
        "end_date": _norm_time(raw.get("end_date")),
        "info_url": raw.get("info_url"),
        "wiki_url": raw.get("wiki_url"),
        "mission_patches": list(raw.get("mission_patches") or []),
        "type": raw.get("type") or known.get("type") or {"id": 1, "name": "Unknown"},
    }


def _norm_launch(raw: Mapping[str, Any]) -> JSONDict:
    launch = {k: v for k, v in raw.items() if k != "url"}
    launch.setdefault("slug", _slugify(str(raw.get("name", raw["id"]))))
    for key in ("status", "net_precision", "image", "infographic"):
        launch.setdefault(key, None)
    return launch


def _norm_station(raw: Mapping[str, Any]) -> JSONDict:
    station = {k: v for k, v in raw.items() if k != "url"}
    if "image_url" not in station and isinstance(raw.get("image"), Mapping):
        station["image_url"] = raw["image"].get("image_url")
    station.pop("image", None)
    station.setdefault("status", {"id": 1, "name": "Active"})
    station.setdefault("founded", "1998-11-20")
    station.setdefault("description", "")
    station.setdefault("orbit", None)
    station.setdefault("image_url", None)
    return station


def normalize_event(raw: Mapping[str, Any]) -> JSONDict:
    """Normalise an event in any shape (2.2.0, 2.3.0 any mode, internal) to the internal one.

    Accepts shortcuts for hand-written events: ``type`` as an id or name,
    ``date_precision`` as an id or name, ``date``/``last_updated`` as datetimes, agencies
    and programs as ids. ``id`` and ``name`` are required.
    """
    if "id" not in raw or "name" not in raw:
        raise ValueError("an event needs at least an id and a name")
    event_id = int(raw["id"])
    name = str(raw["name"])
    image_raw = raw.get("image")
    if image_raw is None and raw.get("feature_image"):
        image_raw = raw["feature_image"]  # 2.2.0: a URL string
    updates = [_norm_update(u) for u in raw.get("updates") or []]
    updates.sort(key=lambda u: (u["created_on"] or "", u["id"]))
    return {
        "id": event_id,
        "slug": raw.get("slug") or f"{_slugify(name)}-{event_id}",
        "name": name,
        "type": _norm_type(raw.get("type")),
        "description": raw.get("description") or "",
        "webcast_live": bool(raw.get("webcast_live", False)),
        "location": raw.get("location"),
        "news_url": raw.get("news_url"),
        "info_urls": [_norm_link(u, video=False) for u in raw.get("info_urls") or []],
        "vid_urls": [_norm_link(v, video=True) for v in raw.get("vid_urls") or []],
        "image": _norm_image(image_raw, name),
        "date": _norm_time(raw.get("date")),
        "date_precision": _norm_precision(raw.get("date_precision")),
        "duration": raw.get("duration"),
        "updates": updates,
        "last_updated": _norm_time(raw.get("last_updated")),
        "agencies": [_norm_agency(a) for a in raw.get("agencies") or []],
        "launches": [_norm_launch(x) for x in raw.get("launches") or []],
        "expeditions": list(raw.get("expeditions") or []),
        "spacestations": [_norm_station(s) for s in raw.get("spacestations") or []],
        "program": [_norm_program(p) for p in raw.get("program") or []],
        "astronauts": list(raw.get("astronauts") or []),
    }


# --------------------------------------------------------------------------------------
# rendering the internal shape as each version answers


def _agency_url(base: str, version: str, agency_id: int) -> str:
    return f"{base}/{version}/agencies/{agency_id}/"


def _render_agency_22(agency: Mapping[str, Any], base: str) -> JSONDict:
    out: JSONDict = {"id": agency["id"], "url": _agency_url(base, "2.2.0", agency["id"])}
    out.update({k: v for k, v in agency.items() if k != "id"})
    return out


def _render_agency_mini(agency: Mapping[str, Any], base: str) -> JSONDict:
    type_name = agency.get("type") or "Unknown"
    return {
        "response_mode": "list",
        "id": agency["id"],
        "url": _agency_url(base, "2.3.0", agency["id"]),
        "name": agency["name"],
        "abbrev": agency.get("abbrev") or "",
        "type": {"id": _AGENCY_TYPE_IDS.get(type_name, 6), "name": type_name},
    }


def _render_program_22(program: Mapping[str, Any], base: str) -> JSONDict:
    return {
        "id": program["id"],
        "url": f"{base}/2.2.0/program/{program['id']}/",
        "name": program["name"],
        "description": program["description"],
        "agencies": [
            {
                "id": a["id"],
                "url": _agency_url(base, "2.2.0", a["id"]),
                "name": a["name"],
                "type": a["type"],
            }
            for a in program["agencies"]
        ],
        "image_url": program["image_url"],
        "start_date": program["start_date"],
        "end_date": program["end_date"],
        "info_url": program["info_url"],
        "wiki_url": program["wiki_url"],
        "mission_patches": program["mission_patches"],
        "type": program["type"],
    }


def _render_program_23(program: Mapping[str, Any], base: str) -> JSONDict:
    return {
        "response_mode": "normal",
        "id": program["id"],
        "url": f"{base}/2.3.0/programs/{program['id']}/",
        "name": program["name"],
        "image": _image_from_url(program["image_url"], program["name"]),
        "info_url": program["info_url"],
        "wiki_url": program["wiki_url"],
        "description": program["description"],
        "agencies": [_render_agency_mini(_norm_agency(a), base) for a in program["agencies"]],
        "start_date": program["start_date"],
        "end_date": program["end_date"],
        "mission_patches": program["mission_patches"],
        "type": program["type"],
    }


def _render_launch_23(launch: Mapping[str, Any], base: str) -> JSONDict:
    out: JSONDict = {
        "id": launch["id"],
        "url": f"{base}/2.3.0/launches/{launch['id']}/",
        "name": launch.get("name", ""),
        "response_mode": "list",
        "slug": launch["slug"],
        "launch_designator": launch.get("launch_designator"),
        "status": launch.get("status"),
        "net_precision": launch.get("net_precision"),
        "image": _norm_image(launch.get("image"), str(launch.get("name", ""))),
        "infographic": launch.get("infographic"),
    }
    for key in ("last_updated", "net", "window_end", "window_start"):
        if launch.get(key):
            out[key] = launch[key]
    return out


def _render_station_23(station: Mapping[str, Any], base: str) -> JSONDict:
    return {
        "id": station["id"],
        "url": f"{base}/2.3.0/space_stations/{station['id']}/",
        "name": station["name"],
        "image": _image_from_url(station.get("image_url"), station["name"]),
        "status": station["status"],
        "founded": station["founded"],
        "deorbited": station.get("deorbited"),
        "description": station["description"],
        "orbit": station["orbit"],
        "type": station.get("type") or {"id": 1, "name": "Government"},
    }


def _render_22(ev: Mapping[str, Any], base: str) -> JSONDict:
    vids = sorted(ev["vid_urls"], key=lambda v: v["priority"])
    image = ev["image"]
    return {
        "id": ev["id"],
        "url": f"{base}/2.2.0/event/{ev['id']}/",
        "slug": ev["slug"],
        "name": ev["name"],
        "updates": copy.deepcopy(ev["updates"]),  # oldest first, as recorded for 2.2.0
        "last_updated": ev["last_updated"],
        "type": dict(ev["type"]),
        "description": ev["description"],
        "webcast_live": ev["webcast_live"],
        "location": ev["location"],
        "news_url": ev["news_url"],
        # 2.2.0's video_url is the best-priority stream's URL (as in the event 1300 recording)
        "video_url": vids[0]["url"] if vids else None,
        "info_urls": copy.deepcopy(ev["info_urls"]),
        "vid_urls": [{k: v for k, v in vid.items() if k != "live"} for vid in ev["vid_urls"]],
        "feature_image": image["image_url"] if image else None,
        "date": ev["date"],
        "date_precision": copy.deepcopy(ev["date_precision"]),
        "duration": ev["duration"],
        "agencies": [_render_agency_22(a, base) for a in ev["agencies"]],
        "launches": [
            {"id": x["id"], "url": f"{base}/2.2.0/launch/{x['id']}/", **x} for x in ev["launches"]
        ],
        "expeditions": copy.deepcopy(ev["expeditions"]),
        "spacestations": [
            {"id": s["id"], "url": f"{base}/2.2.0/spacestation/{s['id']}/", **s}
            for s in ev["spacestations"]
        ],
        "program": [_render_program_22(p, base) for p in ev["program"]],
    }


def _render_23(ev: Mapping[str, Any], base: str, mode: str) -> JSONDict:
    out: JSONDict = {
        "id": ev["id"],
        "url": f"{base}/2.3.0/events/{ev['id']}/",
        "name": ev["name"],
        "info_urls": copy.deepcopy(ev["info_urls"]),
        "vid_urls": copy.deepcopy(ev["vid_urls"]),
        "image": copy.deepcopy(ev["image"]),
        "date": ev["date"],
        "slug": ev["slug"],
        "type": dict(ev["type"]),
        "description": ev["description"],
        "webcast_live": ev["webcast_live"],
        "location": ev["location"],
        "date_precision": copy.deepcopy(ev["date_precision"]),
        "response_mode": mode,
        "duration": ev["duration"],
    }
    if mode == "list":  # EventEndpointList: no updates, no last_updated
        return out
    # 2.3.0 lists updates newest first (as in the prod recording of event 1513)
    out["updates"] = copy.deepcopy(ev["updates"][::-1])
    out["last_updated"] = ev["last_updated"]
    if mode == "detailed":
        out.update(
            agencies=[_render_agency_mini(a, base) for a in ev["agencies"]],
            launches=[_render_launch_23(x, base) for x in ev["launches"]],
            expeditions=copy.deepcopy(ev["expeditions"]),
            spacestations=[_render_station_23(s, base) for s in ev["spacestations"]],
            program=[_render_program_23(p, base) for p in ev["program"]],
            astronauts=copy.deepcopy(ev["astronauts"]),
        )
    return out


def render_event(
    event: Mapping[str, Any], version: str, *, base: str, mode: str = "normal"
) -> JSONDict:
    """Render an internal event as ``version`` answers it (``mode`` applies to 2.3.0 only)."""
    if version == "2.2.0":
        return _render_22(event, base)
    if version == "2.3.0":
        return _render_23(event, base, mode)
    raise ValueError(f"unsupported LL2 version {version!r}")


# --------------------------------------------------------------------------------------
# data


_RECORDED_FILES = (
    ("event-1300-soyuz-ms-28-docking.2.2.0.json", False),
    ("event-2-crew-dragon-docking.2.2.0.json", False),
    ("events-upcoming-page.2.3.0.json", True),
    ("events-page-trimmed.2.3.0.json", True),
)


def _read_data_file(name: str) -> Any:
    return json.loads(resources.files("bot").joinpath("data", "ll2", name).read_text("utf-8"))


def load_recorded_events() -> list[JSONDict]:
    """Load the recorded LL2 events bundled in ``bot/data/ll2/``, deduplicated, normalised.

    Where two recordings hold the same event (1017), the newer ``last_updated`` wins field
    by field and fields only the older one has are kept.
    """
    by_id: dict[int, JSONDict] = {}
    for name, is_page in _RECORDED_FILES:
        data = _read_data_file(name)
        for raw in data["results"] if is_page else [data]:
            old = by_id.get(raw["id"])
            if old is None:
                by_id[raw["id"]] = dict(raw)
            elif str(raw.get("last_updated", "")) >= str(old.get("last_updated", "")):
                by_id[raw["id"]] = {**old, **raw}
            else:
                by_id[raw["id"]] = {**raw, **old}
    return [normalize_event(by_id[i]) for i in sorted(by_id)]


@dataclass(frozen=True)
class _Template:
    type_id: int
    weight: float
    names: tuple[str, ...]  # formatted with {n}
    location: str
    agencies: tuple[int, ...]
    programs: tuple[int, ...]
    station: bool
    duration: str | None


_TEMPLATES = (
    _Template(
        2,
        18,
        (
            "Progress MS-{n} Docking",
            "Soyuz MS-{n} Docking",
            "SpaceX Crew-{n} Crew Dragon Docking",
            "Dragon CRS-{n} Docking",
        ),
        "International Space Station",
        (63, 44, 121),
        (17,),
        True,
        None,
    ),
    _Template(
        8,
        8,
        ("Soyuz MS-{n} Undocking", "SpaceX Crew-{n} Crew Dragon Undocking"),
        "International Space Station",
        (63, 44),
        (17,),
        True,
        None,
    ),
    _Template(
        3,
        12,
        ("US Spacewalk {n}", "Russian Spacewalk {n}", "VKD-{n} Spacewalk"),
        "International Space Station",
        (44, 63),
        (17,),
        True,
        "PT6H30M",
    ),
    _Template(
        20,
        14,
        (
            "Crew-{n} Pre-launch News Conference",
            "International Space Station Operations Update {n}",
            "Artemis Mission Briefing {n}",
        ),
        "Kennedy Space Center, FL, USA",
        (44,),
        (5, 23),
        False,
        "PT1H",
    ),
    _Template(
        9,
        10,
        ("Soyuz MS-{n} Landing", "SpaceX Crew-{n} Splashdown", "Starship Flight {n} Ship Landing"),
        "Kazakhstan",
        (63, 44, 121),
        (17,),
        False,
        None,
    ),
    _Template(
        5,
        10,
        (
            "Starship Flight {n} Static Fire",
            "RS-25 Engine Test {n}",
            "New Glenn NG-{n} Static Fire",
        ),
        "Starbase, TX, USA",
        (121, 44, 141),
        (),
        False,
        "PT10S",
    ),
    _Template(
        4,
        5,
        ("Cygnus NG-{n} Berthing", "HTV-X{n} Berthing"),
        "International Space Station",
        (257, 37, 44),
        (17, 29),
        True,
        None,
    ),
    _Template(
        23,
        6,
        ("Juice Flyby {n}", "Solar Orbiter Venus Flyby {n}", "Psyche Mars Flyby {n}"),
        "Venus",
        (27, 44),
        (),
        False,
        None,
    ),
    _Template(
        16,
        4,
        ("Lunar Orbiter {n} Orbit Insertion", "BepiColombo Mercury Orbit Insertion {n}"),
        "Moon",
        (27, 37, 31),
        (),
        False,
        None,
    ),
    _Template(
        6,
        5,
        ("Juice Antenna Deployment {n}", "Hubble Reboost Maneuver {n}"),
        "Earth orbit",
        (27, 44),
        (),
        False,
        None,
    ),
    _Template(
        12,
        3,
        ("Soyuz MS-{n} Hatch Opening",),
        "International Space Station",
        (63,),
        (17, 8),
        True,
        None,
    ),
    _Template(
        22,
        3,
        ("Artemis {n} Wet Dress Rehearsal",),
        "Kennedy Space Center, FL, USA",
        (44,),
        (23,),
        False,
        "PT12H",
    ),
    _Template(
        15,
        2,
        ("Expedition {n} Change of Command",),
        "International Space Station",
        (44, 63),
        (17,),
        True,
        "PT30M",
    ),
)
_PRECISION_WEIGHTS = ((0, 10), (1, 30), (2, 8), (5, 12), (7, 8), (8, 3), (14, 4), (None, 5))
_UPDATE_AUTHORS = ("Cosmic_Penguin", "LL2", "Nosu", "jay_the_dev")
_LANGUAGES = (
    {"id": 1, "name": "English", "code": "en"},
    {"id": 3, "name": "Russian", "code": "ru"},
    {"id": 5, "name": "Japanese", "code": "ja"},
)
_SOURCES = (
    ("youtube.com", "NASA"),
    ("plus.nasa.gov", "NASA"),
    ("youtube.com", "SpaceX"),
    ("youtube.com", "Роскосмос ТВ"),
    ("x.com", "ESA"),
)


def _round_to_precision(when: datetime, precision: int | None) -> datetime:
    if precision in (None, 1):
        return when.replace(second=0, microsecond=0)
    if precision == 0:
        return when.replace(microsecond=0)
    if precision == 2:
        return when.replace(minute=0, second=0, microsecond=0)
    midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
    if precision == 5:
        return midnight
    if precision == 7:  # LL2 puts a month-precise date on the month's last day
        first_next = (midnight.replace(day=1) + timedelta(days=32)).replace(day=1)
        return first_next - timedelta(days=1)
    if precision in (8, 9, 10, 11):  # the quarter's last day
        quarter_end = 3 * (precision - 7)
        return _round_to_precision(midnight.replace(month=quarter_end, day=1), 7)
    return midnight.replace(month=12, day=31)  # Year


def _token(rng: random.Random, n: int = 11) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(n))


def synthetic_events(
    n: int, *, start: datetime, seed: int = 0, first_id: int = 10_001
) -> list[JSONDict]:
    """Generate ``n`` deterministic, realistic LL2 events (internal shape) around ``start``.

    Ids run ``first_id …first_id+n-1``. Dates step ~18 h from about ``n/4`` steps before
    ``start`` (so both upcoming and previous have events), rounded to each event's
    ``date_precision``. Every ``last_updated`` is distinct and before ``start``, in an
    order unrelated to id or date. Update ids are ``event id * 10 + k``.
    """
    if start.tzinfo is None:
        raise ValueError("start must be tz-aware")
    rng = random.Random(seed)
    weights = [t.weight for t in _TEMPLATES]
    counters: dict[int, int] = {}
    stamp_order = list(range(n))
    rng.shuffle(stamp_order)
    updated_base = start - timedelta(seconds=97 * (n + 1))
    events: list[JSONDict] = []
    for i in range(n):
        event_id = first_id + i
        tpl = rng.choices(_TEMPLATES, weights)[0]
        counters[tpl.type_id] = counters.get(tpl.type_id, 0) + 1
        number = 20 + counters[tpl.type_id]
        name = rng.choice(tpl.names).format(n=number)
        precision = rng.choices(
            [p for p, _ in _PRECISION_WEIGHTS], [w for _, w in _PRECISION_WEIGHTS]
        )[0]
        raw_date = start + timedelta(
            hours=18 * (i - n // 4), minutes=rng.randint(-300, 300), seconds=rng.randint(0, 59)
        )
        if precision == 8:  # "some quarter": the one the date falls in
            precision = 8 + (raw_date.month - 1) // 3
        date = _round_to_precision(raw_date, precision)
        last_updated = updated_base + timedelta(seconds=97 * stamp_order[i] + rng.randint(0, 90))
        agencies = rng.sample(tpl.agencies, k=min(len(tpl.agencies), rng.randint(1, 2)))
        programs = rng.sample(tpl.programs, k=rng.randint(0, len(tpl.programs)))
        updates = []
        for k in range(rng.randint(0, 3)):
            created = last_updated - timedelta(days=3 * (3 - k), minutes=rng.randint(1, 600))
            updates.append(
                {
                    "id": event_id * 10 + k,
                    "profile_image": "https://thespacedevs-dev.nyc3.digitaloceanspaces.com/media/"
                    "profile_images/ll2_profile_20230311134739.png",
                    "comment": rng.choice(
                        (
                            "Added event.",
                            "Updated date and time.",
                            "Added webcast.",
                            "NET moved after launch delay.",
                            "Official Webcast has started",
                        )
                    ),
                    "info_url": f"https://www.nasa.gov/blogs/spacestation/{event_id}-{k}/",
                    "created_by": rng.choice(_UPDATE_AUTHORS),
                    "created_on": format_ll2_datetime(created),
                }
            )
        fine = precision in (None, 0, 1, 2)
        vid_urls = []
        for k in range(rng.choice((0, 0, 1, 1, 2, 3))):
            source, publisher = rng.choice(_SOURCES)
            begins = date - timedelta(minutes=rng.choice((30, 45, 60, 90))) if fine else None
            vid_urls.append(
                {
                    "priority": 10 + k,
                    "source": source,
                    "publisher": publisher,
                    "title": f"{name} (coverage {k + 1})",
                    "description": f"Live coverage of {name}.",
                    "feature_image": None,
                    "url": f"https://www.youtube.com/watch?v={_token(rng)}",
                    "type": {"id": 1, "name": "Official Webcast"},
                    "language": dict(_LANGUAGES[0] if k == 0 else rng.choice(_LANGUAGES)),
                    "start_time": format_ll2_datetime(begins) if begins else None,
                    "end_time": format_ll2_datetime(begins + timedelta(hours=2))
                    if begins
                    else None,
                    "live": False,
                }
            )
        # a stream that should be on right now is live, as LL2 would show it
        live = bool(vid_urls) and fine and abs(date - start) <= timedelta(hours=1)
        if live:
            vid_urls[0]["live"] = True
        info_urls = []
        if rng.random() < 0.3:
            info_urls.append(
                {
                    "priority": 10,
                    "source": "nasa.gov",
                    "title": f"{name} mission page",
                    "description": None,
                    "feature_image": None,
                    "url": f"https://www.nasa.gov/missions/{event_id}/",
                    "type": {"id": 1, "name": "Official Page"},
                    "language": dict(_LANGUAGES[0]),
                }
            )
        image_id = 2000 + tpl.type_id
        image_url = (
            "https://thespacedevs-dev.nyc3.digitaloceanspaces.com/media/images/"
            f"event_{tpl.type_id}_image_20240305191923.jpeg"
        )
        events.append(
            normalize_event(
                {
                    "id": event_id,
                    "slug": f"{_slugify(name)}-{event_id}",
                    "name": name,
                    "type": tpl.type_id,
                    "description": f"{name}: a synthetic {_TYPE_NAMES[tpl.type_id]} event for "
                    f"tminus tests.",
                    "webcast_live": live,
                    "location": "Mars" if "Mars" in name else tpl.location,
                    "news_url": f"https://blogs.nasa.gov/{event_id}/"
                    if rng.random() < 0.2
                    else None,
                    "info_urls": info_urls,
                    "vid_urls": vid_urls,
                    "image": {
                        "id": image_id,
                        "name": f"{_TYPE_NAMES[tpl.type_id]} image",
                        "image_url": image_url,
                        "thumbnail_url": image_url.replace("_image_", "_thumb_"),
                        "credit": "NASA",
                        "license": {
                            "id": 4,
                            "name": "NASA Image and Media Guidelines",
                            "priority": 0,
                            "link": "https://www.nasa.gov/nasa-brand-center/images-and-media/",
                        },
                        "single_use": False,
                        "variants": [],
                    },
                    "date": date,
                    "date_precision": precision,
                    "duration": tpl.duration,
                    "updates": updates,
                    "last_updated": last_updated,
                    "agencies": [_AGENCIES[a] for a in agencies],
                    "program": list(programs),
                    "spacestations": [_ISS] if tpl.station else [],
                }
            )
        )
    return events


# --------------------------------------------------------------------------------------
# faults, request log


class FaultKind(StrEnum):
    """What an injected fault does to a response."""

    ERROR = "error"  # an HTTP 5xx with an HTML body, as a proxy in front of LL2 sends
    SLOW = "slow"  # wait ``delay`` seconds, then answer normally
    MALFORMED = "malformed"  # 200, application/json, body cut in half (invalid JSON)
    # a valid page whose ``results`` lose their second half while count/next stay (on a
    # detail answer it acts like MISSING_FIELDS)
    TRUNCATED_PAGE = "truncated_page"
    MISSING_FIELDS = "missing_fields"  # the first result (or the object) lacks ``drop_fields``
    THROTTLE = "throttle"  # 429 with LL2's body, whatever the budget says


@dataclass
class Fault:
    """One injected fault rule; ``count`` is how many more responses it will spoil."""

    kind: FaultKind
    count: int | None = 1  # None: until cleared
    path: str | None = None  # substring of the request path; None: any API path
    status: int = 503
    delay: float = 5.0
    retry_after: int = 60
    drop_fields: tuple[str, ...] = ("type", "date", "last_updated")
    fired: int = 0

    def matches(self, path: str) -> bool:
        """Tell whether this rule applies to a request for ``path`` and has uses left."""
        if self.count is not None and self.count <= 0:
            return False
        if self.path is None:
            # /api-throttle/ is left alone unless named, so a client's budget check does
            # not eat the fault meant for its poll
            return not path.endswith("/api-throttle/")
        return self.path in path

    def to_json(self) -> JSONDict:
        """Describe the rule as JSON."""
        return {
            "kind": str(self.kind),
            "count": self.count,
            "path": self.path,
            "status": self.status,
            "delay": self.delay,
            "retry_after": self.retry_after,
            "drop_fields": list(self.drop_fields),
            "fired": self.fired,
        }


@dataclass
class _Storm:
    p: float
    kinds: tuple[FaultKind, ...]
    rng: random.Random
    statuses: tuple[int, ...]
    delay: float
    retry_after: int
    path: str | None

    def draw(self, path: str) -> Fault | None:
        if self.path is not None and self.path not in path:
            return None
        if self.path is None and path.endswith("/api-throttle/"):
            return None
        if self.rng.random() >= self.p:
            return None
        kind = self.rng.choice(self.kinds)
        status = self.rng.choice(self.statuses) if kind is FaultKind.ERROR else 503
        return Fault(kind, count=1, status=status, delay=self.delay, retry_after=self.retry_after)


@dataclass
class RecordedRequest:
    """One API request the emulator answered (control calls are not recorded)."""

    method: str
    path: str
    query: dict[str, str]
    query_string: str
    headers: dict[str, str]  # lower-cased names; Authorization masked to "Token ***"
    status: int
    time: datetime  # the emulator's clock when the request arrived
    monotonic: float  # time.monotonic() when the request arrived, for pacing checks
    ident: str  # the limit bucket: "token:***<last 4>" or the client IP
    fault: str | None = None
    counted: bool = False  # whether it counted toward the hourly limit

    def header(self, name: str) -> str | None:
        """Return a request header by case-insensitive name."""
        return self.headers.get(name.lower())

    def to_json(self) -> JSONDict:
        """Describe the request as JSON (``GET /_control/requests``)."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "query_string": self.query_string,
            "headers": self.headers,
            "status": self.status,
            "time": self.time.isoformat(),
            "monotonic": self.monotonic,
            "ident": self.ident,
            "fault": self.fault,
            "counted": self.counted,
        }


def _mask_authorization(value: str) -> str:
    scheme, _, _ = value.partition(" ")
    return f"{scheme} ***" if scheme.lower() == "token" else "***"


# --------------------------------------------------------------------------------------
# the server


@dataclass(frozen=True)
class _Route:
    version: str
    kind: Literal["events", "event", "types", "throttle"]
    scope: Literal["all", "upcoming", "previous"] = "all"
    event_id: int | None = None


@dataclass
class _Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    is_page: bool = False


class _BadRequest(Exception):
    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(dict(errors))
        self.errors = dict(errors)


_EVENT_SEGMENT = {"2.2.0": "event", "2.3.0": "events"}
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


class LL2Emulator:
    """A loopback LL2 server with a scriptable event store, budget and faults.

    Use ``async with LL2Emulator(...) as emu`` (or ``await start()``/``await close()``).
    ``events=None`` loads the bundled recordings; pass ``[]`` for an empty store.
    ``api_keys`` maps an API key to its own hourly limit (``None``: unlimited); other keys
    get ``requests_per_hour`` in a bucket of their own, or 401 with ``reject_unknown_keys``.
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
        self._last_stamp: datetime | None = None
        for raw in load_recorded_events() if events is None else events:
            ev = normalize_event(raw)
            self.events[ev["id"]] = ev
        self._next_update_id = 1 + max(
            (u["id"] for ev in self.events.values() for u in ev["updates"]), default=0
        )
        self._history: dict[str, deque[datetime]] = {}
        self._faults: list[Fault] = []
        self._storm: _Storm | None = None
        self._log: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = asyncio.Event()

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

    # -- data and mutations ------------------------------------------------------------

    def event(self, event_id: int) -> JSONDict:
        """Return a copy of the stored (internal-shape) event; KeyError if absent."""
        return copy.deepcopy(self.events[event_id])

    def render(self, event_id: int, version: str = "2.2.0", mode: str = "normal") -> JSONDict:
        """Return the event as ``version`` would serve it."""
        return render_event(self.events[event_id], version, base=self._base_or_local(), mode=mode)

    def _base_or_local(self) -> str:
        return self.base_url if self._port is not None else f"http://{self.host}"

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the emulator's clock must return tz-aware datetimes")
        return now.astimezone(UTC)

    def _stamp(self, event_id: int) -> str:
        """Set the event's last_updated to now, strictly after the previous mutation."""
        now = self._now()
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        self._exact_updated[event_id] = now
        text = format_ll2_datetime(now)
        self.events[event_id]["last_updated"] = text
        return text

    def _exact_last_updated(self, ev: Mapping[str, Any]) -> datetime | None:
        text = ev.get("last_updated")
        if not text:
            return None
        served = parse_ll2_datetime(text)
        exact = self._exact_updated.get(ev["id"])
        # trust the exact stamp only while it still matches what the store shows
        if exact is not None and exact.replace(microsecond=0) == served:
            return exact
        return served

    def _get(self, event_id: int) -> JSONDict:
        try:
            return self.events[event_id]
        except KeyError:
            raise KeyError(f"no event {event_id}") from None

    def add_update(
        self,
        event_id: int,
        comment: str,
        info_url: str | None = None,
        created_by: str = "LL2",
        *,
        profile_image: str | None = None,
    ) -> JSONDict:
        """Append an update (new id, ``created_on`` = now) and bump ``last_updated``."""
        ev = self._get(event_id)
        update = {
            "id": self._next_update_id,
            "profile_image": profile_image,
            "comment": comment,
            "info_url": info_url,
            "created_by": created_by,
            "created_on": format_ll2_datetime(self._now()),
        }
        self._next_update_id += 1
        ev["updates"].append(update)
        self._stamp(event_id)
        return dict(update)

    def set_webcast_live(
        self, event_id: int, live: bool = True, *, vid_url: str | None = None
    ) -> JSONDict:
        """Set ``webcast_live``; going live also marks one stream ``live`` (2.3.0).

        The stream is ``vid_url`` if given, else the best-priority one. Going off air clears
        every stream's ``live``.
        """
        ev = self._get(event_id)
        ev["webcast_live"] = live
        for vid in ev["vid_urls"]:
            vid["live"] = False
        if live and ev["vid_urls"]:
            chosen = [v for v in ev["vid_urls"] if v["url"] == vid_url] if vid_url else []
            target = chosen[0] if chosen else min(ev["vid_urls"], key=lambda v: v["priority"])
            target["live"] = True
        self._stamp(event_id)
        return self.event(event_id)

    def add_vid_url(
        self,
        event_id: int,
        url: str,
        *,
        priority: int | None = None,
        start_time: datetime | str | None = None,
        end_time: datetime | str | None = None,
        title: str | None = None,
        publisher: str | None = "NASA",
        language: str = "en",
        live: bool = False,
    ) -> JSONDict:
        """Add a stream to the event's ``vid_urls`` and bump ``last_updated``."""
        ev = self._get(event_id)
        lang = next(
            (dict(x) for x in _LANGUAGES if x["code"] == language),
            {"id": 99, "name": language, "code": language},
        )
        ev["vid_urls"].append(
            _norm_link(
                {
                    "priority": priority if priority is not None else 10 + len(ev["vid_urls"]),
                    "source": re.sub(r"^https?://(www\.)?([^/]+).*$", r"\2", url),
                    "publisher": publisher,
                    "title": title or ev["name"],
                    "url": url,
                    "type": {"id": 1, "name": "Official Webcast"},
                    "language": lang,
                    "start_time": start_time.isoformat()
                    if isinstance(start_time, datetime)
                    else start_time,
                    "end_time": end_time.isoformat()
                    if isinstance(end_time, datetime)
                    else end_time,
                    "live": live,
                },
                video=True,
            )
        )
        self._stamp(event_id)
        return self.event(event_id)

    def move_date(
        self,
        event_id: int,
        date: datetime | str | None,
        *,
        date_precision: Any = ...,
    ) -> JSONDict:
        """Move the event's ``date`` (and ``date_precision`` if given: id, name, obj, None)."""
        ev = self._get(event_id)
        ev["date"] = _norm_time(date)
        if date_precision is not ...:
            ev["date_precision"] = _norm_precision(date_precision)
        self._stamp(event_id)
        return self.event(event_id)

    def add_event(self, event: Mapping[str, Any]) -> JSONDict:
        """Add (or replace) an event given in any shape; a missing ``id`` gets the next one.

        ``last_updated`` is stamped with the clock unless the event carries one.
        """
        raw = dict(event)
        if "id" not in raw:
            raw["id"] = 1 + max(self.events, default=0)
        ev = normalize_event(raw)
        self.events[ev["id"]] = ev
        self._exact_updated.pop(ev["id"], None)
        self._next_update_id = max(
            self._next_update_id, 1 + max((u["id"] for u in ev["updates"]), default=0)
        )
        if not ev["last_updated"]:
            self._stamp(ev["id"])
        return self.event(ev["id"])

    def edit_event(self, event_id: int, /, **fields: Any) -> JSONDict:
        """Change any fields (any shape ``normalize_event`` takes) and bump ``last_updated``.

        An explicit ``last_updated`` is kept as given instead.
        """
        ev = self._get(event_id)
        merged = {**ev, **fields, "id": event_id}
        if "feature_image" in fields and "image" not in fields:
            merged["image"] = None  # rebuilt from the 2.2.0-style URL
        new = normalize_event(merged)
        self.events[event_id] = new
        if "last_updated" in fields:
            self._exact_updated.pop(event_id, None)
        else:
            self._stamp(event_id)
        return self.event(event_id)

    def delete_event(self, event_id: int) -> None:
        """Remove the event (LL2 keeps no tombstone: it just stops appearing)."""
        self._get(event_id)
        del self.events[event_id]
        self._exact_updated.pop(event_id, None)

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
            return await self._control(request)
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
        return _json_response(reply.status, reply.payload, reply.headers)

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

    def _scoped(self, route: _Route, request: web.Request, now: datetime) -> list[JSONDict]:
        events = list(self.events.values())
        if route.scope == "all":
            return events
        if route.scope == "upcoming":
            hide = _bool_param(request, "hide_recent_previous")
            since = now if hide else now - UPCOMING_GRACE
            return [ev for ev in events if ev["date"] and parse_ll2_datetime(ev["date"]) >= since]
        return [ev for ev in events if ev["date"] and parse_ll2_datetime(ev["date"]) < now]

    def _filtered(self, events: list[JSONDict], request: web.Request) -> list[JSONDict]:
        q = request.query
        errors: dict[str, list[str]] = {}
        checks: list[Callable[[JSONDict], bool]] = []

        def ints(name: str) -> set[int] | None:
            values = [v for raw in q.getall(name, []) for v in raw.split(",") if v.strip()]
            if name not in q:
                return None
            try:
                parsed = {int(v) for v in values}
            except ValueError:
                errors[name] = ["Enter a whole number."]
                return None
            if any(abs(v) > _INT32 for v in parsed):
                errors[name] = ["Ensure this value is less than or equal to 2147483647."]
            return parsed

        def when(name: str) -> datetime | None:
            if name not in q:
                return None
            try:
                return parse_ll2_datetime(q[name])
            except ValueError:
                errors[name] = ["Enter a valid date/time."]
                return None

        type_ = ints("type")
        if type_ is not None:
            if len(q.get("type", "").split(",")) > 1:
                errors["type"] = ["Enter a whole number."]
            checks.append(lambda ev: ev["type"]["id"] in type_)
        getters: dict[str, Callable[[JSONDict], set[int]]] = {
            "type__ids": lambda ev: {ev["type"]["id"]},
            "id": lambda ev: {ev["id"]},
            "agency__ids": lambda ev: {a["id"] for a in ev["agencies"]},
            "program": lambda ev: {p["id"] for p in ev["program"]},
        }
        for name, getter in getters.items():
            wanted = ints(name)
            if wanted is not None:
                checks.append(_any_of(getter, wanted))
        for name, op in (("__gte", "ge"), ("__lte", "le"), ("__gt", "gt"), ("__lt", "lt")):
            for fld in ("date", "last_updated"):
                bound = when(fld + name)
                if bound is not None:
                    checks.append(self._compare(fld, op, bound))
        for part, attr in (("year", "year"), ("month", "month"), ("day", "day")):
            wanted = ints(part)
            if wanted is not None:
                checks.append(_any_of(_date_part(attr), wanted))
        if "slug" in q:
            checks.append(lambda ev: ev["slug"] == q["slug"])
        if "hide_recent_previous" in q:
            _bool_param(request, "hide_recent_previous")  # validate only
        terms = _search_terms(request)
        if terms:
            checks.append(lambda ev: all(t in ev["name"].lower() for t in terms))
        if errors:
            raise _BadRequest(errors)
        return [ev for ev in events if all(check(ev) for check in checks)]

    def _compare(self, fld: str, op: str, bound: datetime) -> Callable[[JSONDict], bool]:
        def check(ev: JSONDict) -> bool:
            if fld == "last_updated":
                value = self._exact_last_updated(ev)
            else:
                value = parse_ll2_datetime(ev["date"]) if ev["date"] else None
            if value is None:
                return False
            return {
                "ge": value >= bound,
                "le": value <= bound,
                "gt": value > bound,
                "lt": value < bound,
            }[op]

        return check

    def _ordered(
        self, events: list[JSONDict], request: web.Request, route: _Route
    ) -> list[JSONDict]:
        default = "-date" if route.scope == "previous" else "date"
        terms = [t.strip() for t in request.query.get("ordering", "").split(",") if t.strip()]
        # DRF's OrderingFilter drops unknown fields instead of failing
        terms = [t for t in terms if t.lstrip("-") in _ORDER_FIELDS] or [default]
        result = sorted(events, key=lambda ev: ev["id"])  # the stable tie-break
        for term in reversed(terms):
            name, desc = term.lstrip("-"), term.startswith("-")
            present = [ev for ev in result if self._sort_value(ev, name) is not None]
            missing = [ev for ev in result if self._sort_value(ev, name) is None]
            present.sort(key=functools.partial(self._sort_value, name=name), reverse=desc)
            # PostgreSQL puts NULLs last ascending and first descending
            result = missing + present if desc else present + missing
        return result

    def _sort_value(self, ev: JSONDict, name: str) -> Any:
        if name == "date":
            return parse_ll2_datetime(ev["date"]) if ev["date"] else None
        if name == "last_updated":
            return self._exact_last_updated(ev)
        return ev[name]

    # -- control API -----------------------------------------------------------------------

    async def _control(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p][1:]
        method = request.method
        try:
            body: Any = await request.json() if request.can_read_body else {}
        except json.JSONDecodeError:
            return _json_response(400, {"detail": "body is not JSON"})
        if body is None:
            body = {}
        try:
            return self._control_route(method, parts, body)
        except KeyError as exc:
            return _json_response(404, {"detail": str(exc.args[0]) if exc.args else "Not found."})
        except (ValueError, TypeError) as exc:
            return _json_response(400, {"detail": str(exc)})

    def _control_route(self, method: str, parts: list[str], body: Any) -> web.Response:
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        match parts:
            case ["events"] if method == "GET":
                return _json_response(200, [self.events[i] for i in sorted(self.events)])
            case ["events"] if method == "POST":
                return _json_response(201, self.add_event(body))
            case ["events", eid] if method == "GET":
                return _json_response(200, self.event(int(eid)))
            case ["events", eid] if method == "PATCH":
                return _json_response(200, self.edit_event(int(eid), **body))
            case ["events", eid] if method == "DELETE":
                self.delete_event(int(eid))
                return web.Response(status=204)
            case ["events", eid, "updates"] if method == "POST":
                if "comment" not in body:
                    raise ValueError("comment is required")
                return _json_response(
                    201,
                    self.add_update(
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
                    self.set_webcast_live(
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
                return _json_response(201, self.add_vid_url(int(eid), body["url"], **kwargs))
            case ["events", eid, "date"] if method == "POST":
                if "date" not in body:
                    raise ValueError("date is required")
                if "date_precision" in body:
                    return _json_response(
                        200,
                        self.move_date(
                            int(eid), body["date"], date_precision=body["date_precision"]
                        ),
                    )
                return _json_response(200, self.move_date(int(eid), body["date"]))
            case ["requests"] if method == "GET":
                return _json_response(200, [r.to_json() for r in self._log])
            case ["requests"] if method == "DELETE":
                self.clear_requests()
                return web.Response(status=204)
            case ["faults"] if method == "GET":
                return _json_response(200, [f.to_json() for f in self.faults])
            case ["faults"] if method == "POST":
                kind = body.pop("kind", None)
                if kind is None:
                    raise ValueError("kind is required")
                if "drop_fields" in body:
                    body["drop_fields"] = tuple(body["drop_fields"])
                return _json_response(201, self.inject_fault(kind, **body).to_json())
            case ["faults", "storm"] if method == "POST":
                if "p" not in body:
                    raise ValueError("p is required")
                self.fault_storm(float(body.pop("p")), **body)
                return web.Response(status=204)
            case ["faults"] if method == "DELETE":
                self.clear_faults()
                return web.Response(status=204)
            case ["limit"] if method == "GET":
                return _json_response(
                    200,
                    {
                        "requests_per_hour": self.requests_per_hour,
                        "buckets": {b: len(self._window(b, self._now())) for b in self._history},
                    },
                )
            case ["limit"] if method in ("POST", "PATCH"):
                if "requests_per_hour" in body:
                    value = body["requests_per_hour"]
                    self.requests_per_hour = None if value is None else int(value)
                return web.Response(status=204)
            case ["limit", "reset"] if method == "POST":
                self.reset_limit(ip=body.get("ip"), api_key=body.get("api_key"))
                return web.Response(status=204)
        return _json_response(404, {"detail": "Not found."})


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
) -> None:
    """Serve the emulator on ``host:port`` until cancelled (``events=None``: recordings)."""
    async with LL2Emulator(
        events,
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
