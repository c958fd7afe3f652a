"""One normalised launch model that reads LL2 2.2.0 and 2.3.0 ``detailed`` launches.

Like :class:`bot.core.items.Event`, parsing is lenient about what is optional (missing means
None, unknown keys are ignored, one malformed nested item is dropped with a logged reason)
and strict about what tminus cannot work without: a launch needs a UUID ``id``, a ``name``
and a ``last_updated``. The nested models an event has too (streams, updates, agencies,
programs, precisions) are the event's own, imported from :mod:`bot.core.items`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import (
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.items import (
    Agency,
    DatePrecision,
    EventUpdate,
    LL2Id,
    Program,
    VideoLink,
    _aware,
    _Lenient,
    _reason,
)

log = logging.getLogger(__name__)

# LL2's launch status ids (LL2's API). 2.2.0 may report Payload Deployed (9) as In
# Flight (6): that is what LL2 sent, and it is kept as sent.
STATUS_GO = 1
STATUS_TBD = 2
STATUS_SUCCESS = 3
STATUS_FAILURE = 4
STATUS_HOLD = 5
STATUS_IN_FLIGHT = 6
STATUS_PARTIAL_FAILURE = 7
STATUS_TBC = 8
STATUS_PAYLOAD_DEPLOYED = 9
FINAL_STATUSES = frozenset({STATUS_SUCCESS, STATUS_FAILURE, STATUS_PARTIAL_FAILURE})


class LaunchStatus(_Lenient):
    """A launch status: ``{id, name, abbrev}`` (1 Go, 2 TBD, 3 Success …)."""

    id: LL2Id
    name: str
    abbrev: str | None = None
    description: str | None = None


class Orbit(_Lenient):
    """The target orbit of a mission (``Low Earth Orbit``, ``LEO``)."""

    id: LL2Id | None = None
    name: str
    abbrev: str | None = None


class Mission(_Lenient):
    """A launch's mission: its name, description, type and orbit."""

    id: LL2Id | None = None
    name: str
    description: str | None = None
    type: str | None = None
    orbit: Orbit | None = None


class PadLocation(_Lenient):
    """Where a pad is (``Cape Canaveral SFS, FL, USA``); ``location__ids`` filters on its id."""

    id: LL2Id | None = None
    name: str
    country_code: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _country(cls, data: Any) -> Any:
        # 2.2.0: country_code "USA"; 2.3.0: country {alpha_3_code: "USA", …}.
        if isinstance(data, dict) and data.get("country_code") is None:
            country = data.get("country")
            if isinstance(country, dict) and isinstance(country.get("alpha_3_code"), str):
                return {**data, "country_code": country["alpha_3_code"]}
        return data


class Pad(_Lenient):
    """The launch pad and its location."""

    id: LL2Id | None = None
    name: str | None = None
    location: PadLocation | None = None


class RocketConfiguration(_Lenient):
    """The launcher configuration (``Falcon 9``, full name ``Falcon 9 Block 5``)."""

    id: LL2Id | None = None
    name: str
    full_name: str | None = None
    variant: str | None = None


# Stored snapshots are parsed again on every lookup: say each dropped part once per process
# (bounded, so a hostile feed cannot grow it without end).
_SAID: set[tuple[Any, ...]] = set()


def _say_dropped(launch_id: str, key: str, index: int | None, reason: str) -> None:
    what = (launch_id, key, index, reason)
    if what in _SAID:
        return
    if len(_SAID) >= 10_000:
        _SAID.clear()
    _SAID.add(what)
    if index is None:
        log.warning("LL2 launch id=%s: ignoring %s (%s)", launch_id, key, reason)
    else:
        log.warning("LL2 launch id=%s: dropping %s[%d] (%s)", launch_id, key, index, reason)


def _items(key: str, value: Any, model: type[_Lenient], dropped: list[tuple[Any, ...]]) -> Any:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        dropped.append((key, None, "not a list"))
        return ()
    kept: list[Any] = []
    for index, entry in enumerate(value):
        try:
            kept.append(model.model_validate(entry))
        except ValidationError as exc:
            dropped.append((key, index, _reason(exc)))
    return tuple(kept)


def _one(key: str, value: Any, model: type[_Lenient], dropped: list[tuple[Any, ...]]) -> Any:
    if value is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        dropped.append((key, None, _reason(exc)))
        return None


def _text(value: Any) -> str | None:
    """Return a non-empty string, else None (LL2 sends ``""`` for "no hold reason")."""
    return value if isinstance(value, str) and value.strip() else None


def _first(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if data.get(key) is not None:
            return data[key]
    return None


class Launch(_Lenient):
    """A launch as tminus understands it, whether LL2 2.2.0 or 2.3.0 sent it."""

    feed: ClassVar[str] = "launches"

    id: str
    name: str
    slug: str | None = None
    url: str | None = None
    status: LaunchStatus | None = None
    net: datetime | None = None
    net_precision: DatePrecision | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    probability: int | None = None
    holdreason: str | None = None
    failreason: str | None = None
    launch_service_provider: Agency | None = None
    rocket: RocketConfiguration | None = None
    mission: Mission | None = None
    pad: Pad | None = None
    webcast_live: bool = False
    image_url: str | None = None
    info_urls: tuple[str, ...] = ()
    vid_urls: tuple[VideoLink, ...] = ()
    updates: tuple[EventUpdate, ...] = ()
    programs: tuple[Program, ...] = ()
    last_updated: datetime

    _dates = field_validator("net", "window_start", "window_end", "last_updated", mode="before")(
        _aware
    )

    @field_validator("id", mode="before")
    @classmethod
    def _uuid(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("a launch id is a UUID string")
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"not a UUID: {value[:60]!r}") from None

    @model_validator(mode="wrap")
    @classmethod
    def _normalise(cls, data: Any, handler: ModelWrapValidatorHandler[Launch]) -> Launch:
        if not isinstance(data, dict):
            raise ValueError("a launch must be a JSON object")
        flat = dict(data)
        # 2.2.0: ``image`` (or older ``feature_image``) is a URL; 2.3.0: image{image_url, …}.
        image = data.get("image")
        if isinstance(image, dict):
            flat["image_url"] = image.get("image_url")
        elif isinstance(image, str):
            flat["image_url"] = image
        else:
            flat["image_url"] = data.get("feature_image") or data.get("image_url")
        if not isinstance(flat["image_url"], str):
            flat["image_url"] = None
        # 2.2.0 detailed: vidURLs/infoURLs; 2.3.0: vid_urls/info_urls.
        flat["vid_urls"] = _first(data, "vid_urls", "vidURLs")
        info = _first(data, "info_urls", "infoURLs")
        flat["info_urls"] = tuple(
            u if isinstance(u, str) else u["url"]
            for u in (info if isinstance(info, list | tuple) else ())
            if isinstance(u, str) or (isinstance(u, dict) and isinstance(u.get("url"), str))
        )
        flat["programs"] = _first(data, "program", "programs") or ()
        for key in ("holdreason", "failreason"):
            flat[key] = _text(data.get(key))
        probability = data.get("probability")
        # A probability is a percentage; anything else (text, -1, 250) is "not given".
        flat["probability"] = (
            probability
            if isinstance(probability, int)
            and not isinstance(probability, bool)
            and 0 <= probability <= 100
            else None
        )
        rocket = data.get("rocket")
        # LL2 nests the configuration in rocket{configuration}; a stored snapshot (this
        # model dumped) holds the configuration itself, and must read back the same.
        if isinstance(rocket, dict):
            flat["rocket"] = rocket.get("configuration", rocket)
        else:
            flat["rocket"] = None
        mission = data.get("mission")
        if isinstance(mission, str):  # ``mode=list`` names the mission only
            flat["mission"] = {"name": mission}
        pad = data.get("pad")
        if isinstance(pad, str):  # ``mode=list``: pad and location as names
            location = data.get("location")
            flat["pad"] = {
                "name": pad,
                "location": {"name": location} if isinstance(location, str) else None,
            }
        precision = data.get("net_precision")
        if isinstance(precision, str):
            flat["net_precision"] = {"name": precision}
        if flat.get("webcast_live") is None:
            flat["webcast_live"] = False
        # One malformed nested part (a stream without a URL, an update with a garbage date,
        # a pad whose location has no name) must not cost the whole launch: drop just it,
        # and say so once the launch itself has proved valid.
        dropped: list[tuple[Any, ...]] = []
        for key, model in (
            ("vid_urls", VideoLink),
            ("updates", EventUpdate),
            ("programs", Program),
        ):
            flat[key] = _items(key, flat.get(key), model, dropped)
        for key, one in (
            ("status", LaunchStatus),
            ("net_precision", DatePrecision),
            ("launch_service_provider", Agency),
            ("rocket", RocketConfiguration),
            ("mission", Mission),
            ("pad", Pad),
        ):
            flat[key] = _one(key, flat.get(key), one, dropped)
        launch = handler(flat)
        for key, index, reason in dropped:
            _say_dropped(launch.id, key, index, reason)
        return launch

    @property
    def item_id(self) -> str:
        """Return the id as the store keys items of every feed: a string."""
        return self.id

    @property
    def date(self) -> datetime | None:
        """Return ``net``: the moment reminders and reschedules follow, as an event's date."""
        return self.net

    @property
    def date_precision(self) -> DatePrecision | None:
        """Return ``net_precision``, under the name events use."""
        return self.net_precision

    @property
    def precision_name(self) -> str | None:
        """Return the lower-case precision name, or None when LL2 gave none."""
        return self.net_precision.name.lower() if self.net_precision else None

    @property
    def status_id(self) -> int | None:
        """Return the status id (1 Go, 2 TBD, 3 Success …), or None when LL2 gave none."""
        return self.status.id if self.status else None

    @property
    def provider_name(self) -> str | None:
        """Return the launch service provider's name, or None."""
        return self.launch_service_provider.name if self.launch_service_provider else None

    @property
    def location(self) -> str | None:
        """Return the pad's location name (``Kennedy Space Center, FL, USA``), or None."""
        return self.pad.location.name if self.pad and self.pad.location else None

    def videos_by_priority(self) -> list[VideoLink]:
        """Return the webcast links, best (lowest ``priority``) first."""
        return sorted(self.vid_urls, key=lambda v: v.priority if v.priority is not None else 1_000)
