"""Launches for the emulator: the internal launch shape, 2.2.0 and 2.3.0 answers, recordings.

The internal launch is LL2 2.2.0's ``detailed`` object (what the recordings hold), with the
stream and link lists under their 2.3.0 names (``vid_urls`` with ``live``, ``info_urls``) and
the image as ``image_url``. 2.2.0 answers give it back as recorded (``vidURLs``, ``infoURLs``,
``image`` a URL); 2.3.0 answers are built from it to the shapes of ``LaunchBasic``,
``LaunchNormal`` and ``LaunchDetailed`` in the OpenAPI document. Two simplifications, both
valid against the document: a 2.3.0 rocket lists no stages or payloads (tminus reads none),
and a pad lists no agencies.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
import zlib
from collections.abc import Mapping
from importlib import resources
from typing import Any

from bot.devtools.ll2_emulator.model import (
    _AGENCY_TYPE_IDS,
    DATE_PRECISIONS,
    JSONDict,
    _image_from_url,
    _norm_link,
    _norm_precision,
    _norm_program,
    _norm_time,
    _norm_update,
)
from bot.devtools.ll2_emulator.render import _render_program_23

# LL2's launch statuses (ids, names and abbrevs as in the recordings).
LAUNCH_STATUSES: dict[int, JSONDict] = {
    s[0]: {"id": s[0], "name": s[1], "abbrev": s[2], "description": s[3]}
    for s in (
        (1, "Go for Launch", "Go", "Current T-0 confirmed by official or reliable sources."),
        (2, "To Be Determined", "TBD", "Current date is a 'No Earlier Than' estimation."),
        (
            3,
            "Launch Successful",
            "Success",
            "The launch vehicle successfully inserted its payload(s) into the target orbit(s).",
        ),
        (
            4,
            "Launch Failure",
            "Failure",
            "Either the launch vehicle did not reach orbit, or the payload(s) failed to separate.",
        ),
        (5, "On Hold", "Hold", "Launch has been put on hold."),
        (6, "Launch in Flight", "In Flight", "The launch vehicle has lifted off from the pad."),
        (
            7,
            "Launch was a Partial Failure",
            "Partial Failure",
            "The launch vehicle reached orbit but the payload(s) did not.",
        ),
        (8, "To Be Confirmed", "TBC", "Awaiting official confirmation."),
        (9, "Payload Deployed", "Payload Deployed", "The payload has been deployed."),
    )
}
# Statuses of a launch still in progress: /upcoming/?hide_recent_previous=true keeps these
# even once their NET has passed; a launch that is over (Success, Failure …) it hides.
IN_PROGRESS_STATUSES = frozenset({1, 2, 5, 6, 8})

# The fields 2.2.0 leaves out of ``mode=normal`` (it has them in ``detailed`` only).
_DETAILED_ONLY_22 = (
    "flightclub_url",
    "r_spacex_api_id",
    "updates",
    "infoURLs",
    "vidURLs",
    "timeline",
    "pad_turnaround",
    "mission_patches",
)
_CONFIG_FIELDS_22 = ("id", "url", "name", "family", "full_name", "variant")
_COUNT_FIELDS = (
    "orbital_launch_attempt_count",
    "location_launch_attempt_count",
    "pad_launch_attempt_count",
    "agency_launch_attempt_count",
    "orbital_launch_attempt_count_year",
    "location_launch_attempt_count_year",
    "pad_launch_attempt_count_year",
    "agency_launch_attempt_count_year",
)
# Earth as a 2.3.0 location's celestial body. The document requires an image; this one is a
# stand-in URL of the emulator's, not a recorded one.
_EARTH_IMAGE = "https://thespacedevs-prod.nyc3.digitaloceanspaces.com/media/images/earth.jpeg"


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "launch"


def _status(raw: Any) -> JSONDict | None:
    """Turn an id, a name/abbrev or a (partial) status object into an LL2 status object."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(f"not a launch status: {raw!r}")
    if isinstance(raw, int):
        if raw not in LAUNCH_STATUSES:
            raise ValueError(f"unknown launch status id {raw}")
        return dict(LAUNCH_STATUSES[raw])
    if isinstance(raw, str):
        for status in LAUNCH_STATUSES.values():
            if raw.lower() in (status["name"].lower(), status["abbrev"].lower()):
                return dict(status)
        raise ValueError(f"unknown launch status {raw!r}")
    if isinstance(raw, Mapping) and isinstance(raw.get("id"), int):
        return {**LAUNCH_STATUSES.get(raw["id"], {}), **{k: v for k, v in raw.items()}}
    raise ValueError(f"not a launch status: {raw!r}")


def _net_precision(raw: Any) -> JSONDict | None:
    # Recorded objects are kept as LL2 sent them ("Year Half 1" is not in the table).
    if isinstance(raw, Mapping) and "id" in raw and "name" in raw:
        return dict(raw)
    return _norm_precision(raw)


def normalize_launch(raw: Mapping[str, Any]) -> JSONDict:
    """Normalise a launch in 2.2.0 or 2.3.0 shape (or a hand-written one) to the internal one.

    ``id`` must be a UUID; ``name`` is required. Shortcuts: ``status`` as an id or name,
    ``net_precision`` as an id or name, times as ISO strings.
    """
    if "id" not in raw or "name" not in raw:
        raise ValueError("a launch needs at least an id and a name")
    launch_id = str(uuid.UUID(str(raw["id"])))
    name = str(raw["name"])
    launch: JSONDict = copy.deepcopy({k: v for k, v in raw.items() if k != "url"})
    for key in ("vidURLs", "infoURLs", "image", "feature_image", "response_mode", "type"):
        launch.pop(key, None)
    image = raw.get("image")
    if isinstance(image, Mapping):
        image = image.get("image_url")
    launch["image_url"] = image or raw.get("feature_image") or raw.get("image_url")
    vids = raw.get("vid_urls") if raw.get("vid_urls") is not None else raw.get("vidURLs")
    infos = raw.get("info_urls") if raw.get("info_urls") is not None else raw.get("infoURLs")
    updates = [_norm_update(u) for u in raw.get("updates") or []]
    updates.sort(key=lambda u: (u["created_on"] or "", u["id"]))
    launch.update(
        id=launch_id,
        name=name,
        slug=raw.get("slug") or _slugify(name),
        status=_status(raw.get("status")),
        net=_norm_time(raw.get("net")),
        net_precision=_net_precision(raw.get("net_precision")),
        window_start=_norm_time(raw.get("window_start")),
        window_end=_norm_time(raw.get("window_end")),
        last_updated=_norm_time(raw.get("last_updated")),
        probability=raw.get("probability"),
        holdreason=raw.get("holdreason") or "",
        failreason=raw.get("failreason") or "",
        webcast_live=bool(raw.get("webcast_live", False)),
        vid_urls=[_norm_link(v, video=True) for v in vids or []],
        info_urls=[_norm_link(u, video=False) for u in infos or []],
        updates=updates,
        program=list(raw.get("program") or []),
        launch_service_provider=raw.get("launch_service_provider"),
        rocket=raw.get("rocket"),
        mission=raw.get("mission"),
        pad=raw.get("pad"),
        timeline=list(raw.get("timeline") or []),
        mission_patches=list(raw.get("mission_patches") or []),
    )
    for key in ("weather_concerns", "hashtag", "infographic", "flightclub_url", "pad_turnaround"):
        launch.setdefault(key, None)
    return launch


# --------------------------------------------------------------------------------------
# 2.2.0


def _render_22(launch: Mapping[str, Any], base: str, mode: str) -> JSONDict:
    url = f"{base}/2.2.0/launch/{launch['id']}/"
    if mode == "list":
        return _render_22_list(launch, url)
    out: JSONDict = {"id": launch["id"], "url": url}
    for key, value in launch.items():
        if key in ("id", "vid_urls", "info_urls", "image_url"):
            continue
        out[key] = copy.deepcopy(value)
    out["infoURLs"] = copy.deepcopy(launch["info_urls"])
    # 2.2.0 streams carry no ``live`` flag (only 2.3.0 added it).
    out["vidURLs"] = [{k: v for k, v in vid.items() if k != "live"} for vid in launch["vid_urls"]]
    out["image"] = launch["image_url"]
    # prod 2.2.0 lists a launch's updates newest first (the recordings do)
    out["updates"] = copy.deepcopy(launch["updates"][::-1])
    out["type"] = mode
    if mode == "normal":
        for key in _DETAILED_ONLY_22:
            out.pop(key, None)
        lsp = launch.get("launch_service_provider")
        if isinstance(lsp, Mapping):
            out["launch_service_provider"] = {k: lsp.get(k) for k in ("id", "url", "name", "type")}
        rocket = launch.get("rocket")
        if isinstance(rocket, Mapping) and isinstance(rocket.get("configuration"), Mapping):
            config = rocket["configuration"]
            out["rocket"] = {
                "id": rocket.get("id"),
                "configuration": {k: config.get(k) for k in _CONFIG_FIELDS_22},
            }
    return out


def _render_22_list(launch: Mapping[str, Any], url: str) -> JSONDict:
    """The ``mode=list`` shape, as in the recorded ``launch-upcoming-list.2.2.0.json``."""
    lsp = launch.get("launch_service_provider") or {}
    mission = launch.get("mission") or {}
    pad = launch.get("pad") or {}
    return {
        "id": launch["id"],
        "url": url,
        "slug": launch["slug"],
        "name": launch["name"],
        "status": copy.deepcopy(launch["status"]),
        "last_updated": launch["last_updated"],
        "net": launch["net"],
        "net_precision": copy.deepcopy(launch["net_precision"]),
        "window_end": launch["window_end"],
        "window_start": launch["window_start"],
        "lsp_name": lsp.get("name"),
        "mission": mission.get("name"),
        "mission_type": mission.get("type"),
        "pad": pad.get("name"),
        "location": (pad.get("location") or {}).get("name"),
        "landing": None,
        "landing_success": None,
        "launcher": None,
        "orbit": ((mission.get("orbit") or {}).get("name")),
        "image": launch["image_url"],
        "infographic": launch.get("infographic"),
        "type": "list",
    }


# --------------------------------------------------------------------------------------
# 2.3.0


def _country(code: Any) -> JSONDict | None:
    """A Country object from a 2.2.0 ``country_code`` (the first code of a list such as
    ``"USA,FRA"``); its id is derived from the code, LL2's own country ids are not known."""
    if not isinstance(code, str) or not code.strip():
        return None
    first = code.split(",")[0].strip().upper()
    return {
        "id": zlib.crc32(first.encode()) % 10_000,
        "name": first,
        "alpha_2_code": first[:2],
        "alpha_3_code": first[:3],
        "nationality_name": first,
        "nationality_name_composed": first,
    }


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _agency_type(raw: Any) -> JSONDict:
    name = raw.get("name") if isinstance(raw, Mapping) else raw
    name = name if isinstance(name, str) and name else "Unknown"
    return {"id": _AGENCY_TYPE_IDS.get(name, 6), "name": name}


def _agency_mini(raw: Mapping[str, Any], base: str) -> JSONDict:
    return {
        "response_mode": "list",
        "id": raw["id"],
        "url": f"{base}/2.3.0/agencies/{raw['id']}/",
        "name": raw.get("name") or f"Agency {raw['id']}",
        "abbrev": raw.get("abbrev") or "",
        "type": _agency_type(raw.get("type")),
    }


def _agency_normal(raw: Mapping[str, Any], base: str) -> JSONDict:
    country = _country(raw.get("country_code"))
    out = _agency_mini(raw, base)
    out.update(
        response_mode="normal",
        featured=bool(raw.get("featured", False)),
        country=[country] if country else [],
        description=raw.get("description"),
        administrator=raw.get("administrator"),
        founding_year=_int_or_none(raw.get("founding_year")),
        launchers=raw.get("launchers") or "",
        spacecraft=raw.get("spacecraft") or "",
        parent=raw.get("parent"),
        image=_image_from_url(raw.get("image_url"), str(out["name"])),
        logo=_image_from_url(raw.get("logo_url"), str(out["name"])),
        social_logo=None,
    )
    return out


def _agency_detailed(raw: Mapping[str, Any], base: str) -> JSONDict:
    out = _agency_normal(raw, base)
    out["response_mode"] = "detailed"
    for key in (
        "total_launch_count",
        "consecutive_successful_launches",
        "successful_launches",
        "failed_launches",
        "pending_launches",
        "consecutive_successful_landings",
        "successful_landings",
        "failed_landings",
        "attempted_landings",
    ):
        out[key] = _int_or_none(raw.get(key))
    out["info_url"] = raw.get("info_url")
    out["wiki_url"] = raw.get("wiki_url")
    out["social_media_links"] = []
    return out


def _program_23(raw: Mapping[str, Any], base: str) -> JSONDict:
    out = _render_program_23(_norm_program(raw), base)
    # 2.2.0 patches name a full agency; 2.3.0's MissionPatch names an AgencyMini.
    out["mission_patches"] = [_patch_23(p, base) for p in out["mission_patches"]]
    return out


def _family(name: Any, manufacturer: JSONDict | None, detailed: bool) -> JSONDict:
    family: JSONDict = {
        "response_mode": "detailed" if detailed else "list",
        "id": zlib.crc32(str(name).encode()) % 1_000,
        "name": str(name),
    }
    if detailed:
        family.update(
            manufacturer=[manufacturer] if manufacturer else [],
            parent=None,
            description="",
            active=True,
        )
    return family


def _rocket_23(rocket: Any, base: str, *, detailed: bool) -> JSONDict | None:
    if not isinstance(rocket, Mapping) or not isinstance(rocket.get("configuration"), Mapping):
        return None
    config = rocket["configuration"]
    families = [config["family"]] if config.get("family") else []
    out: JSONDict = {
        "response_mode": "detailed" if detailed else "list",
        "id": config["id"],
        "url": f"{base}/2.3.0/launcher_configurations/{config['id']}/",
        "name": config.get("name") or "",
        "families": [_family(f, None, False) for f in families],
        "full_name": config.get("full_name") or "",
        "variant": config.get("variant") or "",
    }
    if not detailed:
        return {"id": rocket.get("id", 0), "configuration": out}
    manufacturer = config.get("manufacturer")
    maker = _agency_detailed(manufacturer, base) if isinstance(manufacturer, Mapping) else None
    out.update(
        families=[_family(f, maker, True) for f in families],
        active=bool(config.get("active", True)),
        is_placeholder=False,
        manufacturer=maker,
        program=[_program_23(p, base) for p in config.get("program") or []],
        reusable=bool(config.get("reusable", False)),
        image=_image_from_url(config.get("image_url"), str(out["name"])),
        info_url=config.get("info_url"),
        wiki_url=config.get("wiki_url"),
        description=config.get("description") or "",
        alias=config.get("alias") or "",
        min_stage=_int_or_none(config.get("min_stage")),
        max_stage=_int_or_none(config.get("max_stage")),
        length=_float_or_none(config.get("length")),
        diameter=_float_or_none(config.get("diameter")),
        maiden_flight=config.get("maiden_flight"),
        launch_cost=_int_or_none(config.get("launch_cost")),
        launch_mass=_float_or_none(config.get("launch_mass")),
        leo_capacity=_float_or_none(config.get("leo_capacity")),
        gto_capacity=_float_or_none(config.get("gto_capacity")),
        to_thrust=_float_or_none(config.get("to_thrust")),
        apogee=_float_or_none(config.get("apogee")),
        fastest_turnaround=None,
    )
    for key in (
        "total_launch_count",
        "consecutive_successful_launches",
        "successful_launches",
        "failed_launches",
        "pending_launches",
        "attempted_landings",
        "successful_landings",
        "failed_landings",
        "consecutive_successful_landings",
    ):
        out[key] = _int_or_none(config.get(key))
    return {
        "id": rocket.get("id", 0),
        "configuration": out,
        "launcher_stage": [],
        "spacecraft_stage": [],
        "payloads": [],
    }


def _link_23(link: Mapping[str, Any], *, video: bool) -> JSONDict:
    out = dict(_norm_link(link, video=video))
    out.setdefault("type", None)
    out.setdefault("language", None)
    return out


def _mission_23(mission: Any, base: str) -> JSONDict | None:
    if not isinstance(mission, Mapping):
        return None
    orbit = mission.get("orbit") if isinstance(mission.get("orbit"), Mapping) else None
    return {
        "id": mission.get("id", 0),
        "name": mission.get("name") or "",
        "type": mission.get("type") or "Unknown",
        "description": mission.get("description") or "",
        "image": None,
        "orbit": {
            "id": (orbit or {}).get("id", 0),
            "name": (orbit or {}).get("name") or "Unknown",
            "abbrev": (orbit or {}).get("abbrev") or "N/A",
            "celestial_body": {"response_mode": "list", "id": 1, "name": "Earth"},
        },
        "agencies": [_agency_detailed(a, base) for a in mission.get("agencies") or []],
        "info_urls": [_link_23(u, video=False) for u in mission.get("info_urls") or []],
        "vid_urls": [_link_23(v, video=True) for v in mission.get("vid_urls") or []],
    }


def _earth() -> JSONDict:
    return {
        "response_mode": "detailed",
        "id": 1,
        "name": "Earth",
        "type": {"id": 1, "name": "Planet"},
        "diameter": 12742000.0,
        "mass": 5.972e24,
        "gravity": 9.807,
        "length_of_day": "23:56:04",
        "atmosphere": True,
        "image": _image_from_url(_EARTH_IMAGE, "Earth"),
        "description": "Earth, our home planet.",
        "wiki_url": "https://en.wikipedia.org/wiki/Earth",
        "total_attempted_launches": 0,
        "successful_launches": 0,
        "failed_launches": 0,
        "total_attempted_landings": 0,
        "successful_landings": 0,
        "failed_landings": 0,
    }


def _pad_23(pad: Any, base: str) -> JSONDict | None:
    if not isinstance(pad, Mapping):
        return None
    location = pad.get("location") if isinstance(pad.get("location"), Mapping) else None
    out: JSONDict = {
        "id": pad.get("id", 0),
        "url": f"{base}/2.3.0/pads/{pad.get('id', 0)}/",
        "active": True,
        "agencies": [],
        "name": pad.get("name") or "",
        "image": None,
        "description": pad.get("description"),
        "info_url": pad.get("info_url"),
        "wiki_url": pad.get("wiki_url"),
        "map_url": pad.get("map_url"),
        "latitude": _float_or_none(pad.get("latitude")),
        "longitude": _float_or_none(pad.get("longitude")),
        "country": _country(pad.get("country_code")),
        "map_image": pad.get("map_image"),
        "total_launch_count": _int_or_none(pad.get("total_launch_count")),
        "orbital_launch_attempt_count": _int_or_none(pad.get("orbital_launch_attempt_count")),
        "fastest_turnaround": None,
        "location": None,
    }
    if location is not None:
        out["location"] = {
            "response_mode": "normal",
            "id": location.get("id", 0),
            "url": f"{base}/2.3.0/locations/{location.get('id', 0)}/",
            "name": location.get("name") or "",
            "celestial_body": _earth(),
            "active": True,
            "country": _country(location.get("country_code")),
            "description": location.get("description"),
            "image": None,
            "map_image": location.get("map_image"),
            "longitude": None,
            "latitude": None,
            "timezone_name": location.get("timezone_name") or "UTC",
            "total_launch_count": _int_or_none(location.get("total_launch_count")),
            "total_landing_count": _int_or_none(location.get("total_landing_count")),
        }
    return out


def _patch_23(patch: Mapping[str, Any], base: str) -> JSONDict:
    agency = patch.get("agency")
    return {
        "id": patch["id"],
        "name": patch.get("name") or "",
        "priority": _int_or_none(patch.get("priority")) or 0,
        "image_url": patch["image_url"],
        "agency": _agency_mini(agency, base) if isinstance(agency, Mapping) else None,
        "response_mode": "normal",
    }


def _render_23(launch: Mapping[str, Any], base: str, mode: str) -> JSONDict:
    out: JSONDict = {
        "id": launch["id"],
        "url": f"{base}/2.3.0/launches/{launch['id']}/",
        "name": launch["name"],
        "response_mode": mode,
        "slug": launch["slug"],
        "launch_designator": launch.get("launch_designator"),
        "status": copy.deepcopy(launch["status"]),
        "last_updated": launch["last_updated"],
        "net": launch["net"],
        "net_precision": copy.deepcopy(launch["net_precision"]),
        "window_end": launch["window_end"],
        "window_start": launch["window_start"],
        "image": _image_from_url(launch["image_url"], launch["name"]),
        "infographic": launch.get("infographic"),
    }
    for key in ("last_updated", "net", "window_end", "window_start"):
        if out[key] is None:  # the document types them as non-null date-times
            del out[key]
    if mode == "list":
        return out
    lsp = launch.get("launch_service_provider")
    probability = launch.get("probability")
    out.update(
        probability=probability if isinstance(probability, int) else None,
        weather_concerns=launch.get("weather_concerns"),
        failreason=launch.get("failreason") or "",
        hashtag=launch.get("hashtag"),
        launch_service_provider=(
            None
            if not isinstance(lsp, Mapping)
            else _agency_detailed(lsp, base)
            if mode == "detailed"
            else _agency_mini(lsp, base)
        ),
        rocket=_rocket_23(launch.get("rocket"), base, detailed=mode == "detailed"),
        mission=_mission_23(launch.get("mission"), base),
        pad=_pad_23(launch.get("pad"), base),
        webcast_live=launch["webcast_live"],
        program=[_program_23(p, base) for p in launch["program"]],
    )
    for key in _COUNT_FIELDS:
        out[key] = _int_or_none(launch.get(key))
    if mode != "detailed":
        return out
    out.update(
        flightclub_url=launch.get("flightclub_url"),
        # 2.3.0 lists updates newest first (as its event answers do)
        updates=copy.deepcopy(launch["updates"][::-1]),
        info_urls=[_link_23(u, video=False) for u in launch["info_urls"]],
        vid_urls=[_link_23(v, video=True) for v in launch["vid_urls"]],
        timeline=copy.deepcopy(launch["timeline"]),
        pad_turnaround=launch.get("pad_turnaround") or "",
        mission_patches=[_patch_23(p, base) for p in launch["mission_patches"]],
    )
    return out


def render_launch(
    launch: Mapping[str, Any], version: str, *, base: str, mode: str = "detailed"
) -> JSONDict:
    """Render an internal launch as ``version`` answers it in ``mode`` (list/normal/detailed)."""
    if mode not in ("list", "normal", "detailed"):
        raise ValueError(f"unknown mode {mode!r}")
    if version == "2.2.0":
        return _render_22(launch, base, mode)
    if version == "2.3.0":
        return _render_23(launch, base, mode)
    raise ValueError(f"unsupported LL2 version {version!r}")


# --------------------------------------------------------------------------------------
# data

RECORDED_LAUNCH_FILES = (
    "launches-selection.2.2.0.json",
    "launch-page-single-detailed.2.2.0.json",
    "launch-page-13-updates-lldev.2.2.0.json",
)


def load_recorded_launches() -> list[JSONDict]:
    """Load the recorded detailed 2.2.0 launches bundled in ``bot/data/ll2/``, normalised."""
    by_id: dict[str, JSONDict] = {}
    for name in RECORDED_LAUNCH_FILES:
        text = resources.files("bot").joinpath("data", "ll2", name).read_text("utf-8")
        for raw in json.loads(text)["results"]:
            launch = normalize_launch(raw)
            old = by_id.get(launch["id"])
            if old is None or (launch["last_updated"] or "") >= (old["last_updated"] or ""):
                by_id[launch["id"]] = launch
    return sorted(by_id.values(), key=lambda x: (x["net"] or "", x["id"]))


__all__ = [
    "DATE_PRECISIONS",
    "IN_PROGRESS_STATUSES",
    "LAUNCH_STATUSES",
    "load_recorded_launches",
    "normalize_launch",
    "render_launch",
]
