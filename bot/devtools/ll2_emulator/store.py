"""The emulator's scriptable event store: reads and mutations that stamp ``last_updated``."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.devtools.ll2_emulator.model import (
    Clock,
    JSONDict,
    _norm_link,
    _norm_precision,
    _norm_time,
    format_ll2_datetime,
    normalize_event,
    parse_ll2_datetime,
)
from bot.devtools.ll2_emulator.render import render_event
from bot.devtools.ll2_emulator.synthetic import _LANGUAGES


class EventStore:
    """Mixin: the stored events and the mutations a test or the control API makes."""

    if TYPE_CHECKING:
        events: dict[int, JSONDict]
        clock: Clock
        host: str
        _port: int | None
        _exact_updated: dict[int, datetime]
        _parsed_updated: dict[Any, tuple[str, datetime | None, datetime]]
        _last_stamp: datetime | None
        _next_update_id: int

        @property
        def base_url(self) -> str: ...

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
        exact = self._exact_updated.get(ev["id"])
        known = self._parsed_updated.get(ev["id"])
        if known is not None and known[0] == text and known[1] is exact:
            return known[2]
        value = served = parse_ll2_datetime(text)
        # trust the exact stamp only while it still matches what the store shows
        if exact is not None and exact.replace(microsecond=0) == served:
            value = exact
        self._parsed_updated[ev["id"]] = (text, exact, value)
        return value

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
