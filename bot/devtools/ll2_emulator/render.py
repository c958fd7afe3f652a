"""Render a stored event in the shape of LL2 2.2.0 or 2.3.0; load the bundled recordings."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from bot.devtools.ll2_emulator.model import (
    _AGENCY_TYPE_IDS,
    JSONDict,
    _image_from_url,
    _norm_agency,
    _norm_image,
    normalize_event,
)


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
