"""LL2 vocabulary for the emulator: constants, datetimes, a fake clock, the event shape."""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

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
