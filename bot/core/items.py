"""One normalised event model that reads LL2 2.1.0, 2.2.0 and 2.3.0 shapes.

LL2 text is user-edited and its shapes drift between versions, so parsing is lenient about
what is optional (missing means None, unknown keys are ignored) and strict about what tminus
cannot work without: an event needs an integer ``id``, a ``name`` and a ``last_updated``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.timeutil import parse_datetime

log = logging.getLogger(__name__)

# ``date_precision`` names that carry a time of day good enough for sub-day reminders, and
# those only good enough for reminders a day or more ahead (docs/architecture.md, invariant 5).
FINE_PRECISIONS = frozenset({"second", "minute", "hour"})
DAY_PRECISIONS = frozenset({"day", "morning", "afternoon"})


# Ids are stored in 64-bit columns: anything outside is malformed, not a crash at save time.
LL2Id = Annotated[int, Field(ge=0, le=2**63 - 1)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _aware(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str | datetime):
        try:
            return parse_datetime(value)
        except OverflowError:
            # e.g. 0001-01-01T00:00:00+01:00: valid ISO-8601, but before datetime.min in UTC.
            raise ValueError(f"timestamp out of range: {value!r}") from None
    raise ValueError(f"not a timestamp: {value!r}")


class EventType(_Lenient):
    """An LL2 event type (``Docking``, ``EVA``, ``Press Event`` …)."""

    id: LL2Id
    name: str


class Agency(_Lenient):
    """An agency taking part in an event."""

    id: LL2Id
    name: str
    abbrev: str | None = None


class Program(_Lenient):
    """A program (e.g. ``International Space Station``) an event belongs to."""

    id: LL2Id
    name: str


class DatePrecision(_Lenient):
    """How exact an event's ``date`` is (Second … Year)."""

    id: int | None = None
    name: str
    abbrev: str | None = None


class EventUpdate(_Lenient):
    """One entry of an event's ``updates`` list."""

    id: LL2Id
    comment: str | None = None
    info_url: str | None = None
    created_by: str | None = None
    created_on: datetime | None = None
    profile_image: str | None = None

    _created = field_validator("created_on", mode="before")(_aware)


class VideoLink(_Lenient):
    """A webcast link from ``vid_urls``."""

    url: str
    priority: int | None = None
    source: str | None = None
    publisher: str | None = None
    title: str | None = None
    description: str | None = None
    feature_image: str | None = None
    type_name: str | None = None
    language_name: str | None = None
    language_code: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    live: bool | None = None

    _times = field_validator("start_time", "end_time", mode="before")(_aware)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        flat = dict(data)
        kind = data.get("type")
        if isinstance(kind, dict):
            flat["type_name"] = kind.get("name")
        language = data.get("language")
        if isinstance(language, dict):
            flat["language_name"] = language.get("name")
            flat["language_code"] = language.get("code")
        return flat


_NESTED: dict[str, type[_Lenient]] = {
    "vid_urls": VideoLink,
    "updates": EventUpdate,
    "agencies": Agency,
    "programs": Program,
}


# Stored snapshots are parsed again on every lookup: say each dropped item once per process,
# not on every ``/events`` answer (bounded, so a hostile feed cannot grow it without end).
_SAID: set[tuple[Any, ...]] = set()


def _say_dropped(*what: Any) -> None:
    if what in _SAID:
        return
    if len(_SAID) >= 10_000:
        _SAID.clear()
    _SAID.add(what)
    event_id, key, index, reason = what
    if index is None:
        log.warning("LL2 event id=%s: ignoring %s (%s)", event_id, key, reason)
    else:
        log.warning("LL2 event id=%s: dropping %s[%d] (%s)", event_id, key, index, reason)


def _reason(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


def _valid_items(
    key: str, value: Any, model: type[_Lenient], dropped: list[tuple[Any, ...]]
) -> tuple[Any, ...]:
    """Return the entries of ``value`` that validate as ``model``; note each one dropped."""
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


def _valid_one(key: str, value: Any, model: type[_Lenient], dropped: list[tuple[Any, ...]]) -> Any:
    """Return ``value`` validated as ``model``, or None (noted) when it is malformed."""
    if value is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        dropped.append((key, None, _reason(exc)))
        return None


class Event(_Lenient):
    """A spaceflight event as tminus understands it, whatever LL2 version it came from."""

    # The store keys alerts and watermarks by (feed, string id): launches (UUIDs) join later.
    feed: ClassVar[str] = "events"

    id: LL2Id
    name: str
    slug: str | None = None
    url: str | None = None
    type: EventType | None = None
    description: str | None = None
    location: str | None = None
    date: datetime | None = None
    date_precision: DatePrecision | None = None
    duration: str | None = None
    webcast_live: bool = False
    image_url: str | None = None
    news_url: str | None = None
    video_url: str | None = None
    info_urls: tuple[str, ...] = ()
    vid_urls: tuple[VideoLink, ...] = ()
    updates: tuple[EventUpdate, ...] = ()
    agencies: tuple[Agency, ...] = ()
    programs: tuple[Program, ...] = ()
    last_updated: datetime

    _dates = field_validator("date", "last_updated", mode="before")(_aware)

    @model_validator(mode="wrap")
    @classmethod
    def _normalise(cls, data: Any, handler: ModelWrapValidatorHandler[Event]) -> Event:
        if not isinstance(data, dict):
            raise ValueError("an event must be a JSON object")
        flat = dict(data)
        # 2.2.0: feature_image is a URL; 2.3.0: image{image_url, …}.
        image = data.get("image")
        if isinstance(image, dict):
            flat["image_url"] = image.get("image_url")
        elif isinstance(image, str):
            flat["image_url"] = image
        else:
            flat["image_url"] = data.get("feature_image") or data.get("image_url")
        flat["programs"] = data.get("program") or data.get("programs") or ()
        info_urls = data.get("info_urls")
        flat["info_urls"] = tuple(
            u if isinstance(u, str) else u.get("url")
            for u in (info_urls if isinstance(info_urls, list | tuple) else ())
            if isinstance(u, str) or (isinstance(u, dict) and isinstance(u.get("url"), str))
        )
        precision = data.get("date_precision")
        if isinstance(precision, str):
            flat["date_precision"] = {"name": precision}
        # One malformed nested item (a webcast without a URL, an update with a garbage
        # date, an agency without a name) must not cost the whole event: drop just it, and
        # say so once the event itself has proved valid (a launch read as an event is
        # rejected by its id, not reported part by part).
        dropped: list[tuple[Any, ...]] = []
        for key, model in _NESTED.items():
            flat[key] = _valid_items(key, flat.get(key), model, dropped)
        for key, one in (("type", EventType), ("date_precision", DatePrecision)):
            flat[key] = _valid_one(key, flat.get(key), one, dropped)
        if flat.get("webcast_live") is None:
            flat["webcast_live"] = False
        event = handler(flat)
        for key, index, reason in dropped:
            _say_dropped(event.id, key, index, reason)
        return event

    @property
    def item_id(self) -> str:
        """Return the id as the store keys items of every feed: a string."""
        return str(self.id)

    @property
    def precision_name(self) -> str | None:
        """Return the lower-case precision name, or None when LL2 gave none."""
        return self.date_precision.name.lower() if self.date_precision else None

    def videos_by_priority(self) -> list[VideoLink]:
        """Return the webcast links, best (lowest ``priority``) first."""
        return sorted(self.vid_urls, key=lambda v: v.priority if v.priority is not None else 1_000)
