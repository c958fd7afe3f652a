"""What the client asks LL2 for and what it hands back: filters, pages, throttle status."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from bot.core.items import Event
from bot.core.launches import Launch
from bot.core.timeutil import isoformat_z

MAX_LIMIT = 100


def _put_common(
    params: dict[str, str],
    *,
    ids: Sequence[tuple[str, Sequence[int]]],
    dates: Sequence[tuple[str, datetime | None]],
    search: str | None,
    ordering: str | None,
    limit: int | None,
    offset: int | None,
) -> None:
    """Add the id lists, date bounds, search, ordering and paging both feeds share."""
    for name, values in ids:
        if values:
            params[name] = ",".join(str(int(i)) for i in values)
    for name, when in dates:
        if when is not None:
            params[name] = isoformat_z(when)
    if search:
        params["search"] = search
    if ordering:
        params["ordering"] = ordering
    if limit is not None:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        params["limit"] = str(limit)
    if offset is not None:
        params["offset"] = str(offset)


@dataclass(frozen=True)
class EventFilters:
    """Every event filter LL2 understands (LL2's API); None means "not given"."""

    type: str | None = None
    type_ids: Sequence[int] = ()
    program_ids: Sequence[int] = ()
    agency_ids: Sequence[int] = ()
    last_updated_gte: datetime | None = None
    last_updated_lte: datetime | None = None
    date_gte: datetime | None = None
    date_lte: datetime | None = None
    search: str | None = None
    ordering: str | None = None
    limit: int | None = None
    offset: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_params(self) -> dict[str, str]:
        """Return the query parameters for these filters."""
        params: dict[str, str] = {}
        if self.type is not None:
            params["type"] = self.type
        _put_common(
            params,
            ids=(
                ("type__ids", self.type_ids),
                ("program", self.program_ids),
                ("agency__ids", self.agency_ids),
            ),
            dates=(
                ("last_updated__gte", self.last_updated_gte),
                ("last_updated__lte", self.last_updated_lte),
                ("date__gte", self.date_gte),
                ("date__lte", self.date_lte),
            ),
            search=self.search,
            ordering=self.ordering,
            limit=self.limit,
            offset=self.offset,
        )
        params.update(self.extra)
        return params


@dataclass(frozen=True)
class LaunchFilters:
    """Every launch filter LL2 understands (LL2's API); None means "not given".

    Launches are always asked for in ``mode=detailed``: only it carries ``updates`` and the
    streams (``vidURLs`` in 2.2.0, ``vid_urls`` in 2.3.0).
    """

    last_updated_gte: datetime | None = None
    last_updated_lte: datetime | None = None
    net_gte: datetime | None = None
    net_lte: datetime | None = None
    lsp_ids: Sequence[int] = ()
    location_ids: Sequence[int] = ()
    program_ids: Sequence[int] = ()
    status_ids: Sequence[int] = ()
    search: str | None = None
    ordering: str | None = None
    limit: int | None = None
    offset: int | None = None
    hide_recent_previous: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_params(self) -> dict[str, str]:
        """Return the query parameters for these filters (``mode=detailed`` included)."""
        params: dict[str, str] = {"mode": "detailed"}
        _put_common(
            params,
            ids=(
                ("lsp__id", self.lsp_ids),
                ("location__ids", self.location_ids),
                ("program", self.program_ids),
                # ``status`` takes one integer; several go in ``status__ids`` (OpenAPI document)
                ("status" if len(self.status_ids) == 1 else "status__ids", self.status_ids),
            ),
            dates=(
                ("last_updated__gte", self.last_updated_gte),
                ("last_updated__lte", self.last_updated_lte),
                ("net__gte", self.net_gte),
                ("net__lte", self.net_lte),
            ),
            search=self.search,
            ordering=self.ordering,
            limit=self.limit,
            offset=self.offset,
        )
        if self.hide_recent_previous is not None:
            params["hide_recent_previous"] = "true" if self.hide_recent_previous else "false"
        params.update(self.extra)
        return params


@dataclass(frozen=True)
class EventPage:
    """One page of events, with the items that could not be parsed."""

    events: list[Event]
    rejected: list[tuple[Any, str]]
    count: int | None
    next_url: str | None
    url: str
    raw: dict[int, dict[str, Any]] = field(default_factory=dict)
    size: int = 0  # rows in ``results``, parsed or not, duplicates included
    limit: int | None = None  # the page size asked for, when one was
    duplicates: int = 0  # rows dropped because an earlier row had the same id

    @property
    def span(self) -> int:
        """Return how many positions of LL2's ordering this page stands for.

        A page is ``results[offset:offset+limit]``: rows beyond ``limit`` (a server that
        repeats rows) never move the next offset further than ``limit``.
        """
        return self.size if self.limit is None else min(self.size, self.limit)

    @property
    def item_ids(self) -> set[str]:
        """Return the ids of the page's events, as strings."""
        return {str(event.id) for event in self.events}


@dataclass(frozen=True)
class LaunchPage:
    """One page of launches (``mode=detailed``), with the items that could not be parsed."""

    launches: list[Launch]
    rejected: list[tuple[Any, str]]
    count: int | None
    next_url: str | None
    url: str
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)
    size: int = 0  # rows in ``results``, parsed or not, duplicates included
    limit: int | None = None  # the page size asked for, when one was
    duplicates: int = 0  # rows dropped because an earlier row had the same id

    @property
    def span(self) -> int:
        """Return how many positions of LL2's ordering this page stands for (see EventPage)."""
        return self.size if self.limit is None else min(self.size, self.limit)

    @property
    def item_ids(self) -> set[str]:
        """Return the ids of the page's launches."""
        return {launch.id for launch in self.launches}


class PageLike(Protocol):
    @property
    def next_url(self) -> str | None: ...
    @property
    def url(self) -> str: ...
    @property
    def item_ids(self) -> set[str]: ...


PageT = TypeVar("PageT", bound=PageLike)
ItemT = TypeVar("ItemT", Event, Launch)


@dataclass(frozen=True)
class Rows(Generic[ItemT]):
    """What one list answer held, parsed and deduplicated, before it becomes a page."""

    items: list[ItemT]
    raw: dict[Any, dict[str, Any]]
    rejected: list[tuple[Any, str]]
    count: int | None
    next_url: str | None
    size: int
    limit: int | None
    duplicates: int


@dataclass(frozen=True)
class ThrottleStatus:
    """LL2's own view of our request budget (``/api-throttle/``)."""

    limit: int
    frequency_secs: int
    current_use: int
    next_use_secs: float


def version_of(url: str) -> str:
    """Return the LL2 version named by the URL's last path segment (default 2.2.0)."""
    segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if re.fullmatch(r"\d+\.\d+\.\d+", segment):
        return segment
    return "2.2.0"


def plural_paths(version: str) -> bool:
    """Return whether this LL2 version names its paths in the plural (2.3.0 on: /events/)."""
    return tuple(int(p) for p in version.split(".")) >= (2, 3, 0)
