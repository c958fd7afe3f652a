"""LL2's list filters and ordering, applied to the emulator's store."""

from __future__ import annotations

import functools
import operator
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from bot.devtools.ll2_emulator.model import (
    UPCOMING_GRACE,
    JSONDict,
    format_ll2_datetime,
    parse_ll2_datetime,
)
from bot.devtools.ll2_emulator.routes import (
    _INT32,
    _ORDER_FIELDS,
    _any_of,
    _BadRequest,
    _bool_param,
    _date_part,
    _Route,
    _search_terms,
)

TieOrder = Literal["id", "reversed", "shuffled"]

_LL2_TEXT = len("2026-01-15T12:00:00Z")  # LL2's own form of a date: to the second, ``Z``


def _second_before(bound: datetime) -> str | None:
    """Return a second before ``bound`` in LL2's text form, or None if it has none."""
    try:
        text = format_ll2_datetime(bound - timedelta(seconds=1))
    except (OverflowError, ValueError):
        return None
    return text if len(text) == _LL2_TEXT else None


class EventQuery:
    """Mixin: scope, filter and order events the way LL2's list endpoints do."""

    if TYPE_CHECKING:
        events: dict[int, JSONDict]
        tie_order: TieOrder
        tie_seed: int

        def _exact_last_updated(self, ev: Mapping[str, Any]) -> datetime | None: ...

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
        if len(checks) == 1:  # the common poll (``last_updated__gte``): no all() per event
            only = checks[0]
            return [ev for ev in events if only(ev)]
        return [ev for ev in events if all(check(ev) for check in checks)]

    def _compare(self, fld: str, op: str, bound: datetime) -> Callable[[JSONDict], bool]:
        compare: Callable[[datetime, datetime], bool] = getattr(operator, op)
        exact = self._exact_last_updated

        def check(ev: JSONDict) -> bool:
            if fld == "last_updated":
                value = exact(ev)
            else:
                value = parse_ll2_datetime(ev["date"]) if ev["date"] else None
            return value is not None and compare(value, bound)

        if fld != "last_updated" or op not in ("ge", "gt"):
            return check
        floor = _second_before(bound)
        if floor is None:
            return check

        def recent(ev: JSONDict) -> bool:
            # A change served as LL2 writes it (to the second, ``Z``) a second or more before
            # the bound cannot reach it (its exact stamp is within that second): compared as
            # text, without parsing. A poll over 10,000 stored items rejects nearly all so.
            text = ev.get("last_updated")
            if type(text) is str and len(text) == _LL2_TEXT and text[-1] == "Z" and text < floor:
                return False
            return check(ev)

        return recent

    def _ordered(
        self, events: list[JSONDict], request: web.Request, route: _Route
    ) -> list[JSONDict]:
        default = "-date" if route.scope == "previous" else "date"
        terms = [t.strip() for t in request.query.get("ordering", "").split(",") if t.strip()]
        # DRF's OrderingFilter drops unknown fields instead of failing
        terms = [t for t in terms if t.lstrip("-") in _ORDER_FIELDS] or [default]
        result = sorted(events, key=self._tie_key)  # ties keep this order (sorts are stable)
        for term in reversed(terms):
            name, desc = term.lstrip("-"), term.startswith("-")
            present = [ev for ev in result if self._sort_value(ev, name) is not None]
            missing = [ev for ev in result if self._sort_value(ev, name) is None]
            present.sort(key=functools.partial(self._sort_value, name=name), reverse=desc)
            # PostgreSQL puts NULLs last ascending and first descending
            result = missing + present if desc else present + missing
        return result

    def _tie_key(self, ev: JSONDict) -> Any:
        if self.tie_order == "reversed":
            return -ev["id"]
        if self.tie_order == "shuffled":
            # a seeded permutation, the same on every request (one database, one plan)
            return random.Random(f"{self.tie_seed}:{ev['id']}").random()
        return ev["id"]

    def _sort_value(self, ev: JSONDict, name: str) -> Any:
        if name == "date":
            return parse_ll2_datetime(ev["date"]) if ev["date"] else None
        if name == "last_updated":
            return self._exact_last_updated(ev)
        return ev[name]
