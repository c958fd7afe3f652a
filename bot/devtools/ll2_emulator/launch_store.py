"""The emulator's launches: the store, its scripted changes, LL2's launch filters and answers.

Mutations stamp ``last_updated`` on the same strictly increasing clock as events (the
package docstring explains why), and update ids come from the same counter (LL2 keeps one
table of updates for both).
"""

from __future__ import annotations

import copy
import functools
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.devtools.ll2_emulator.launches import (
    IN_PROGRESS_STATUSES,
    _status,
    normalize_launch,
    render_launch,
)
from bot.devtools.ll2_emulator.model import (
    DEFAULT_LIMIT,
    UPCOMING_GRACE,
    Clock,
    JSONDict,
    _norm_link,
    _norm_precision,
    format_ll2_datetime,
    parse_ll2_datetime,
)
from bot.devtools.ll2_emulator.routes import (
    _INT32,
    _BadRequest,
    _bool_param,
    _page_link,
    _page_params,
    _Reply,
    _Route,
    _search_terms,
)
from bot.devtools.ll2_emulator.synthetic import _LANGUAGES

_LAUNCH_ORDER_FIELDS = ("net", "last_updated", "id", "name", "window_start")


class LaunchStore:
    """Mixin: the stored launches, the changes a test or the control API makes, the answers."""

    if TYPE_CHECKING:
        launches: dict[str, JSONDict]
        clock: Clock
        _exact_updated: dict[Any, datetime]
        _last_stamp: datetime | None
        _next_update_id: int

        def _now(self) -> datetime: ...
        def _base_or_local(self) -> str: ...
        def _exact_last_updated(self, ev: Mapping[str, Any]) -> datetime | None: ...
        def _tie_key(self, ev: JSONDict) -> Any: ...

    # -- data and mutations ------------------------------------------------------------

    def launch(self, launch_id: str) -> JSONDict:
        """Return a copy of the stored (internal-shape) launch; KeyError if absent."""
        return copy.deepcopy(self._launch(launch_id))

    def render_launch(
        self, launch_id: str, version: str = "2.2.0", mode: str = "detailed"
    ) -> JSONDict:
        """Return the launch as ``version`` would serve it in ``mode``."""
        return render_launch(
            self._launch(launch_id), version, base=self._base_or_local(), mode=mode
        )

    def _launch(self, launch_id: str) -> JSONDict:
        try:
            return self.launches[str(uuid.UUID(str(launch_id)))]
        except (KeyError, ValueError):
            raise KeyError(f"no launch {launch_id}") from None

    def _stamp_launch(self, launch: JSONDict) -> str:
        """Set the launch's last_updated to now, strictly after the previous mutation."""
        now = self._now()
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        self._exact_updated[launch["id"]] = now
        launch["last_updated"] = format_ll2_datetime(now)
        return launch["last_updated"]

    def add_launch(self, launch: Mapping[str, Any]) -> JSONDict:
        """Add (or replace) a launch in any shape; a missing ``id`` gets a new UUID.

        ``last_updated`` is stamped with the clock unless the launch carries one.
        """
        raw = dict(launch)
        raw.setdefault("id", str(uuid.uuid4()))
        stored = normalize_launch(raw)
        self.launches[stored["id"]] = stored
        self._exact_updated.pop(stored["id"], None)
        self._next_update_id = max(
            self._next_update_id, 1 + max((u["id"] for u in stored["updates"]), default=0)
        )
        if not stored["last_updated"]:
            self._stamp_launch(stored)
        return self.launch(stored["id"])

    def edit_launch(self, launch_id: str, /, **fields: Any) -> JSONDict:
        """Change any fields (any shape ``normalize_launch`` takes) and bump ``last_updated``."""
        old = self._launch(launch_id)
        new = normalize_launch({**old, **fields, "id": old["id"]})
        self.launches[old["id"]] = new
        if "last_updated" in fields:
            self._exact_updated.pop(old["id"], None)
        else:
            self._stamp_launch(new)
        return self.launch(old["id"])

    def delete_launch(self, launch_id: str) -> None:
        """Remove the launch (LL2 keeps no tombstone: it just stops appearing)."""
        launch = self._launch(launch_id)
        del self.launches[launch["id"]]
        self._exact_updated.pop(launch["id"], None)

    def set_launch_status(
        self,
        launch_id: str,
        status: int | str | Mapping[str, Any],
        *,
        holdreason: str | None = None,
        failreason: str | None = None,
    ) -> JSONDict:
        """Change the status (id, name or abbrev) with its hold or failure reason, if any.

        A reason not given is cleared, as LL2's editors do when the status moves on.
        """
        launch = self._launch(launch_id)
        launch["status"] = _status(status)
        launch["holdreason"] = holdreason or ""
        launch["failreason"] = failreason or ""
        self._stamp_launch(launch)
        return self.launch(launch["id"])

    def slip_launch(
        self,
        launch_id: str,
        net: datetime | str | None = None,
        *,
        by: timedelta | None = None,
        net_precision: Any = ...,
    ) -> JSONDict:
        """Move NET to ``net`` (or by ``by``); the window moves with it.

        ``net_precision`` (an id, name, object or None) changes the precision too.
        """
        launch = self._launch(launch_id)
        old = parse_ll2_datetime(launch["net"]) if launch["net"] else None
        if by is not None:
            if old is None:
                raise ValueError("a launch without a NET cannot slip by a delta")
            new = old + by
        elif net is not None:
            new = parse_ll2_datetime(net)
        else:
            raise ValueError("give net or by")
        launch["net"] = format_ll2_datetime(new)
        if old is not None:
            delta = new - old
            for key in ("window_start", "window_end"):
                if launch.get(key):
                    launch[key] = format_ll2_datetime(parse_ll2_datetime(launch[key]) + delta)
        if net_precision is not ...:
            launch["net_precision"] = _norm_precision(net_precision)
        self._stamp_launch(launch)
        return self.launch(launch["id"])

    def set_launch_webcast(
        self, launch_id: str, live: bool = True, *, vid_url: str | None = None
    ) -> JSONDict:
        """Set ``webcast_live``; going live also marks one stream ``live`` (2.3.0).

        The stream is ``vid_url`` if given, else the best-priority one; going off air clears
        every stream's ``live``.
        """
        launch = self._launch(launch_id)
        launch["webcast_live"] = live
        for vid in launch["vid_urls"]:
            vid["live"] = False
        if live and launch["vid_urls"]:
            chosen = [v for v in launch["vid_urls"] if v["url"] == vid_url] if vid_url else []
            target = chosen[0] if chosen else min(launch["vid_urls"], key=lambda v: v["priority"])
            target["live"] = True
        self._stamp_launch(launch)
        return self.launch(launch["id"])

    def add_launch_update(
        self,
        launch_id: str,
        comment: str,
        info_url: str | None = None,
        created_by: str = "LL2",
        *,
        profile_image: str | None = None,
    ) -> JSONDict:
        """Append an update (new id, ``created_on`` = now) and bump ``last_updated``."""
        launch = self._launch(launch_id)
        update = {
            "id": self._next_update_id,
            "profile_image": profile_image,
            "comment": comment,
            "info_url": info_url,
            "created_by": created_by,
            "created_on": format_ll2_datetime(self._now()),
        }
        self._next_update_id += 1
        launch["updates"].append(update)
        self._stamp_launch(launch)
        return dict(update)

    def add_launch_vid_url(
        self,
        launch_id: str,
        url: str,
        *,
        priority: int | None = None,
        start_time: datetime | str | None = None,
        title: str | None = None,
        publisher: str | None = None,
        language: str = "en",
        live: bool = False,
    ) -> JSONDict:
        """Add a stream to the launch's ``vid_urls`` and bump ``last_updated``."""
        launch = self._launch(launch_id)
        lang = next(
            (dict(x) for x in _LANGUAGES if x["code"] == language),
            {"id": 99, "name": language, "code": language},
        )
        launch["vid_urls"].append(
            _norm_link(
                {
                    "priority": priority if priority is not None else 10 + len(launch["vid_urls"]),
                    "source": re.sub(r"^https?://(www\.)?([^/]+).*$", r"\2", url),
                    "publisher": publisher,
                    "title": title or launch["name"],
                    "url": url,
                    "type": {"id": 1, "name": "Official Webcast"},
                    "language": lang,
                    "start_time": start_time.isoformat()
                    if isinstance(start_time, datetime)
                    else start_time,
                    "live": live,
                },
                video=True,
            )
        )
        self._stamp_launch(launch)
        return self.launch(launch["id"])

    # -- LL2's launch list endpoints ---------------------------------------------------

    def _launch_reply(self, request: web.Request, route: _Route, now: datetime) -> _Reply:
        mode = request.query.get("mode", "")
        # LL2 falls back to its default for an unknown mode rather than failing; a detail
        # answer is detailed, a list normal.
        default = "detailed" if route.kind == "launch" else "normal"
        mode = mode if mode in ("list", "normal", "detailed") else default
        base = str(request.url.origin())
        if route.kind == "launch":
            launch = self.launches.get(route.launch_id or "")
            if launch is None or (
                route.scope != "all" and launch not in self._launch_scoped(route, request, now)
            ):
                return _Reply(404, {"detail": "Not found."})
            return _Reply(200, render_launch(launch, route.version, base=base, mode=mode))
        launches = self._launch_scoped(route, request, now)
        launches = self._launch_filtered(launches, request)
        launches = self._launch_ordered(launches, request, route)
        limit, offset = _page_params(request, DEFAULT_LIMIT)
        page = launches[offset : offset + limit]
        return _Reply(
            200,
            {
                "count": len(launches),
                "next": _page_link(request, limit, offset + limit)
                if offset + limit < len(launches)
                else None,
                "previous": _page_link(request, limit, max(offset - limit, 0))
                if offset > 0
                else None,
                "results": [render_launch(x, route.version, base=base, mode=mode) for x in page],
            },
            is_page=True,
        )

    def _launch_scoped(self, route: _Route, request: web.Request, now: datetime) -> list[JSONDict]:
        launches = list(self.launches.values())
        if route.scope == "all":
            return launches

        def net(x: JSONDict) -> datetime | None:
            return parse_ll2_datetime(x["net"]) if x["net"] else None

        if route.scope == "upcoming":
            # LL2 keeps a launch "upcoming" for 24 hours past its NET; hide_recent_previous
            # drops those that are over (not Go, TBD, TBC, Hold or In Flight any more).
            hide = _bool_param(request, "hide_recent_previous")
            kept = []
            for x in launches:
                when = net(x)
                if when is None or when < now - UPCOMING_GRACE:
                    continue
                status_id = (x["status"] or {}).get("id")
                if hide and when < now and status_id not in IN_PROGRESS_STATUSES:
                    continue
                kept.append(x)
            return kept
        return [x for x in launches if (when := net(x)) is not None and when < now]

    def _launch_filtered(self, launches: list[JSONDict], request: web.Request) -> list[JSONDict]:
        q = request.query
        errors: dict[str, list[str]] = {}
        checks: list[Callable[[JSONDict], bool]] = []

        def ints(name: str) -> set[int] | None:
            if name not in q:
                return None
            values = [v for raw in q.getall(name, []) for v in raw.split(",") if v.strip()]
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

        getters: dict[str, Callable[[JSONDict], set[int | None]]] = {
            "lsp__id": lambda x: {(x.get("launch_service_provider") or {}).get("id")},
            "location__ids": lambda x: {((x.get("pad") or {}).get("location") or {}).get("id")},
            "program": lambda x: {p.get("id") for p in x["program"]},
            "status": lambda x: {(x["status"] or {}).get("id")},
            "status__ids": lambda x: {(x["status"] or {}).get("id")},
        }
        if "status" in q and len(q["status"].split(",")) > 1:
            errors["status"] = ["Enter a whole number."]  # one integer; lists: status__ids
        for name, getter in getters.items():
            wanted = ints(name)
            if wanted is not None:
                checks.append(functools.partial(_overlaps, getter, wanted))
        for suffix in ("__gte", "__lte", "__gt", "__lt"):
            for fld in ("net", "last_updated"):
                bound = when(fld + suffix)
                if bound is not None:
                    checks.append(functools.partial(self._launch_compare, fld, suffix, bound))
        if "slug" in q:
            checks.append(lambda x: x["slug"] == q["slug"])
        if "hide_recent_previous" in q:
            _bool_param(request, "hide_recent_previous")  # validate only
        terms = _search_terms(request)
        if terms:
            checks.append(lambda x: all(t in _search_text(x) for t in terms))
        if errors:
            raise _BadRequest(errors)
        return [x for x in launches if all(check(x) for check in checks)]

    def _launch_compare(self, fld: str, suffix: str, bound: datetime, launch: JSONDict) -> bool:
        if fld == "last_updated":
            value = self._exact_last_updated(launch)
        else:
            value = parse_ll2_datetime(launch["net"]) if launch["net"] else None
        if value is None:
            return False
        return {
            "__gte": value >= bound,
            "__lte": value <= bound,
            "__gt": value > bound,
            "__lt": value < bound,
        }[suffix]

    def _launch_ordered(
        self, launches: list[JSONDict], request: web.Request, route: _Route
    ) -> list[JSONDict]:
        default = "-net" if route.scope == "previous" else "net"
        terms = [t.strip() for t in request.query.get("ordering", "").split(",") if t.strip()]
        # DRF's OrderingFilter drops unknown fields instead of failing
        terms = [t for t in terms if t.lstrip("-") in _LAUNCH_ORDER_FIELDS] or [default]
        result = sorted(launches, key=lambda x: x["id"])  # ties keep this order
        for term in reversed(terms):
            name, desc = term.lstrip("-"), term.startswith("-")
            present = [x for x in result if self._launch_sort_value(x, name) is not None]
            missing = [x for x in result if self._launch_sort_value(x, name) is None]
            present.sort(key=functools.partial(self._launch_sort_value, name=name), reverse=desc)
            # PostgreSQL puts NULLs last ascending and first descending
            result = missing + present if desc else present + missing
        return result

    def _launch_sort_value(self, launch: JSONDict, name: str) -> Any:
        if name in ("net", "window_start"):
            return parse_ll2_datetime(launch[name]) if launch.get(name) else None
        if name == "last_updated":
            return self._exact_last_updated(launch)
        return launch[name]


def _overlaps(
    getter: Callable[[JSONDict], set[int | None]], wanted: set[int], item: JSONDict
) -> bool:
    return bool(getter(item) & wanted)


def _search_text(launch: JSONDict) -> str:
    """What LL2's launch search looks in: the name, provider, rocket, mission and pad."""
    lsp = launch.get("launch_service_provider") or {}
    config = (launch.get("rocket") or {}).get("configuration") or {}
    mission = launch.get("mission") or {}
    pad = launch.get("pad") or {}
    parts = [
        launch["name"],
        lsp.get("name"),
        lsp.get("abbrev"),
        config.get("name"),
        mission.get("name"),
        (pad.get("location") or {}).get("name"),
    ]
    return " ".join(p for p in parts if isinstance(p, str)).lower()
