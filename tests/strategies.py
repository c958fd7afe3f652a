"""Hypothesis strategies for LL2-shaped raw events and the alerts built from them.

``raw_events()`` draws JSON objects shaped like LL2 2.2.0 or 2.3.0 event results — optional
fields missing or null, hostile text (huge, unicode, markdown, mentions), odd URLs, long
lists and every ``date_precision`` — that :func:`bot.core.items.parse_event` always accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from bot.core.alerts import (
    ALL_KINDS,
    Alert,
    AlertKind,
    new_event_alert,
    reminder_alert,
    rescheduled_alert,
    update_alert,
    webcast_live_alert,
)
from bot.core.items import Event, EventUpdate
from bot.core.timeutil import isoformat_z
from bot.ll2.parse import parse_event

VERSIONS = ("2.2.0", "2.3.0")

# LL2's /config/net_precisions/ (id, name, abbrev), plus spellings seen or plausible.
PRECISIONS: tuple[tuple[int, str, str], ...] = (
    (0, "Second", "SEC"),
    (1, "Minute", "MIN"),
    (2, "Hour", "HR"),
    (3, "Morning", "AM"),
    (4, "Afternoon", "PM"),
    (5, "Day", "DAY"),
    (6, "Week", "W"),
    (7, "Month", "M"),
    (8, "Business Quarter (Q1)", "Q1"),
    (9, "Business Quarter (Q2)", "Q2"),
    (10, "Business Quarter (Q3)", "Q3"),
    (11, "Business Quarter (Q4)", "Q4"),
    (12, "1st Half", "H1"),
    (13, "2nd Half", "H2"),
    (14, "Year", "Y"),
    (15, "Fiscal Year", "FY"),
    (16, "Decade", "D"),
    (99, "Eon", "EON"),
)

HOSTILE_TEXT = (
    "@everyone",
    "@here",
    "@EVERYONE look",
    "<@&123>",
    "<@123> <@!456> <#789>",
    "**bold** _italic_ ~~strike~~ `code` ||spoiler|| > quote",
    "```\ncode block\n```",
    "[a link](https://example.com/x) and [bad](javascript:alert(1))",
    "# Heading\n- list",
    "\u200b",
    "   ",
    "",
    "line\r\nbreak\ttab\x00nul\x1b[31mred",
    "🚀🛰️👩‍🚀 Союз МС-28 宇宙 مرحبا",
    "\u202eevil right-to-left",
    "<t:0:F>",
)

WEIRD_URLS = (
    "https://www.youtube.com/watch?v=OIAduLEqvTc",
    "https://plus.nasa.gov/scheduled-video/x/",
    "http://example.com",
    "https://example.com/a_(b)_c",
    "https://example.com/" + "x" * 600,
    "https://example.com/" + "y" * 3000,
    "ftp://example.com/file",
    "javascript:alert(1)",
    "//example.com/no-scheme",
    "https://",
    "https://exa mple.com/space",
    "https://example.com/\nnewline",
    "https://[::1",
    "http://example.com:99999/",
    "https://例え.jp/ユニコード",
    "https://example.com/%zz",
    "https://@everyone.example/",
    "not a url",
    "",
    " https://example.com/padded ",
)

_timestamps = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2080, 12, 31),
    timezones=st.just(UTC),
)


def _huge_text() -> st.SearchStrategy[str]:
    # Repeating a short seed is cheap to generate yet reaches LL2's worst sizes.
    return st.builds(
        lambda seed, size: (seed * (size // len(seed) + 1))[:size],
        st.text(min_size=1, max_size=12),
        st.integers(min_value=1000, max_value=10_000),
    )


def texts() -> st.SearchStrategy[str]:
    """Draw LL2 free text: short, hostile, unicode, markdown or up to 10k characters."""
    return st.one_of(
        st.text(max_size=60),
        st.sampled_from(HOSTILE_TEXT),
        st.lists(st.sampled_from(HOSTILE_TEXT), max_size=4).map(" ".join),
        _huge_text(),
    )


def urls() -> st.SearchStrategy[str]:
    """Draw a URL-ish string: good, odd, invalid or huge."""
    return st.one_of(
        st.sampled_from(WEIRD_URLS),
        st.builds(lambda path: f"https://example.com/{path}", st.text(max_size=40)),
    )


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _iso(value: datetime) -> str:
    return isoformat_z(value)


def raw_precision() -> st.SearchStrategy[Any]:
    """Draw a ``date_precision``: null, a {id, name, abbrev} object, or a 2.1.0 bare name."""
    objects = st.sampled_from(PRECISIONS).map(
        lambda p: {"id": p[0], "name": p[1], "abbrev": p[2], "description": "…"}
    )
    return st.one_of(st.none(), objects, st.sampled_from(PRECISIONS).map(lambda p: p[1]))


def raw_updates() -> st.SearchStrategy[dict[str, Any]]:
    """Draw one ``updates`` entry."""
    return st.fixed_dictionaries(
        {"id": st.integers(min_value=1, max_value=10**7)},
        optional={
            "comment": _maybe(texts()),
            "info_url": _maybe(urls()),
            "created_by": _maybe(texts()),
            "created_on": _maybe(_timestamps.map(_iso)),
            "profile_image": _maybe(urls()),
        },
    )


def _language() -> st.SearchStrategy[Any]:
    return _maybe(
        st.fixed_dictionaries(
            {"id": st.integers(1, 50)},
            optional={
                "name": st.sampled_from(["English", "Russian", "日本語", "Español", ""]),
                "code": st.sampled_from(["en", "ru", "ja", "es", "x" * 40]),
            },
        )
    )


def raw_videos(version: str) -> st.SearchStrategy[dict[str, Any]]:
    """Draw one ``vid_urls`` entry (2.3.0 adds ``live``)."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "priority": _maybe(st.integers(min_value=-5, max_value=100)),
        "source": _maybe(st.sampled_from(["youtube.com", "nasa.gov", ""])),
        "publisher": _maybe(texts()),
        "title": _maybe(texts()),
        "description": _maybe(texts()),
        "feature_image": _maybe(urls()),
        "type": _maybe(st.fixed_dictionaries({"id": st.integers(1, 5), "name": texts()})),
        "language": _language(),
        "start_time": _maybe(_timestamps.map(_iso)),
        "end_time": _maybe(_timestamps.map(_iso)),
    }
    if version == "2.3.0":
        optional["live"] = _maybe(st.booleans())
    return st.fixed_dictionaries({"url": urls()}, optional=optional)


def _named(abbrev: bool) -> st.SearchStrategy[dict[str, Any]]:
    optional = {"abbrev": _maybe(st.text(max_size=10))} if abbrev else {}
    return st.fixed_dictionaries(
        {"id": st.integers(min_value=1, max_value=10**5), "name": texts()}, optional=optional
    )


@st.composite
def raw_events(draw: st.DrawFn, version: str | None = None) -> dict[str, Any]:
    """Draw an LL2 event object in the 2.2.0 or 2.3.0 shape (either when ``version`` is None)."""
    version = version or draw(st.sampled_from(VERSIONS))
    event_id = draw(st.integers(min_value=1, max_value=10**6))
    root = f"https://ll.thespacedevs.com/{version}/{'event' if version == '2.2.0' else 'events'}"
    event: dict[str, Any] = {
        "id": event_id,
        "name": draw(texts()),
        "last_updated": draw(_timestamps.map(_iso)),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "url": st.one_of(st.just(f"{root}/{event_id}/"), urls()),
        "slug": st.from_regex(r"[a-z0-9-]{1,40}", fullmatch=True),
        "type": _maybe(_named(abbrev=False)),
        "description": _maybe(texts()),
        "location": _maybe(texts()),
        "date": _maybe(_timestamps.map(_iso)),
        "date_precision": raw_precision(),
        "duration": _maybe(st.sampled_from(["PT58M18S", "PT2H", ""])),
        "webcast_live": _maybe(st.booleans()),
        "updates": _maybe(st.lists(raw_updates(), max_size=12)),
        "vid_urls": _maybe(st.lists(raw_videos(version), max_size=12)),
        "agencies": _maybe(st.lists(_named(abbrev=True), max_size=35)),
        "program": _maybe(st.lists(_named(abbrev=False), max_size=12)),
    }
    if version == "2.2.0":
        optional |= {
            "feature_image": _maybe(urls()),
            "news_url": _maybe(urls()),
            "video_url": _maybe(urls()),
            "info_urls": st.lists(urls(), max_size=3),
        }
    else:
        optional |= {
            "image": _maybe(
                st.fixed_dictionaries(
                    {"id": st.integers(1, 9)},
                    optional={"image_url": _maybe(urls()), "thumbnail_url": _maybe(urls())},
                )
            ),
            "info_urls": st.lists(
                st.fixed_dictionaries({"url": urls()}, optional={"title": texts()}), max_size=3
            ),
            "response_mode": st.just("normal"),
        }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            event[key] = draw(strategy)
    return event


def events(version: str | None = None) -> st.SearchStrategy[Event]:
    """Draw parsed events (see :func:`raw_events`)."""
    return raw_events(version).map(parse_event)


@st.composite
def alerts(
    draw: st.DrawFn,
    kinds: tuple[AlertKind, ...] = ALL_KINDS,
    version: str | None = None,
) -> Alert:
    """Draw an alert of one of ``kinds`` about a drawn event, as the alert builders make it."""
    kind = draw(st.sampled_from(kinds))
    event = draw(events(version))
    if kind in (AlertKind.RESCHEDULED, AlertKind.REMINDER) and event.date is None:
        event = event.model_copy(update={"date": draw(_timestamps)})
    if kind is AlertKind.UPDATE:
        if event.updates and draw(st.booleans()):
            update = draw(st.sampled_from(event.updates))
        else:
            update = EventUpdate.model_validate(draw(raw_updates()))
        return update_alert(event, update)
    if kind is AlertKind.WEBCAST_LIVE:
        return webcast_live_alert(event)
    if kind is AlertKind.RESCHEDULED:
        assert event.date is not None
        shift = draw(st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)))
        return rescheduled_alert(event, draw(st.one_of(st.none(), st.just(event.date - shift))))
    if kind is AlertKind.REMINDER:
        minutes = draw(st.sampled_from([10, 60, 24 * 60, 90, 7 * 24 * 60])) * 60
        any_lead = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30))
        lead = draw(st.one_of(st.just(timedelta(seconds=minutes)), any_lead))
        return reminder_alert(event, lead)
    return new_event_alert(event)
