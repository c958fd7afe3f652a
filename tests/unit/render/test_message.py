"""Tests for bot.render.message: alert and lookup payloads, Discord's limits, terminal output."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.alerts import Alert
from bot.core.items import Event
from bot.core.kinds import (
    ALL_KINDS,
    AlertKind,
    new_event_alert,
    reminder_alert,
    rescheduled_alert,
    update_alert,
    webcast_live_alert,
)
from bot.ll2.parse import parse_event, parse_events
from bot.render import (
    BUTTON_LABEL_LIMIT,
    CONTENT_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    alert_json,
    check_limits,
    embed_length,
    format_event_date,
    format_event_date_plain,
    payload_text,
    render_alert,
    render_event_embed,
    render_event_list,
    render_event_message,
    valid_url,
)
from tests.strategies import alerts, events

DATE = "2026-11-27T12:38:29Z"
UNIX = int(datetime(2026, 11, 27, 12, 38, 29, tzinfo=UTC).timestamp())
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_event(**overrides: Any) -> Event:
    """Build a parsed 2.2.0-shaped event with sensible defaults."""
    raw: dict[str, Any] = {
        "id": 1300,
        "slug": "soyuz-ms-28-docking",
        "name": "Soyuz MS-28 Docking",
        "url": "https://ll.thespacedevs.com/2.2.0/event/1300/",
        "type": {"id": 2, "name": "Docking"},
        "description": "The Soyuz MS-28 spacecraft will dock to the ISS.",
        "location": "International Space Station",
        "date": DATE,
        "date_precision": {"id": 1, "name": "Minute", "abbrev": "MIN"},
        "last_updated": "2025-11-27T12:46:33Z",
        "feature_image": "https://example.com/soyuz.jpg",
        "agencies": [{"id": 63, "name": "Roscosmos", "abbrev": "RFSA"}],
        "program": [{"id": 17, "name": "International Space Station"}],
        "updates": [
            {
                "id": 12946,
                "comment": "Added docking.",
                "info_url": "https://example.com/info",
                "created_by": "Cosmic_Penguin",
                "created_on": "2025-11-19T15:17:00Z",
            }
        ],
        "vid_urls": [
            {
                "priority": 12,
                "publisher": "Роскосмос ТВ",
                "url": "https://www.youtube.com/watch?v=ru",
                "language": {"id": 3, "name": "Russian", "code": "ru"},
            },
            {
                "priority": 10,
                "publisher": "NASA",
                "url": "https://www.youtube.com/watch?v=en",
                "language": {"id": 1, "name": "English", "code": "en"},
            },
        ],
    }
    raw.update(overrides)
    return parse_event(raw)


def all_alerts(event: Event) -> list[Alert]:
    """Return one alert of every kind about ``event``."""
    date = event.date or datetime(2026, 1, 1, tzinfo=UTC)
    dated = event if event.date else event.model_copy(update={"date": date})
    built = [
        webcast_live_alert(event),
        rescheduled_alert(dated, date - timedelta(days=2)),
        new_event_alert(event),
        reminder_alert(dated, timedelta(hours=1)),
    ]
    built += [update_alert(event, update) for update in event.updates[:3]]
    return built


def texts_of(payload: Any) -> list[str]:
    """Collect every string in a JSON-like payload."""
    if isinstance(payload, str):
        return [payload]
    if isinstance(payload, dict):
        return [t for value in payload.values() for t in texts_of(value)]
    if isinstance(payload, list):
        return [t for value in payload for t in texts_of(value)]
    return []


def field(embed: Any, name: str) -> str:
    """Return the value of the embed field whose name contains ``name``."""
    for item in embed.get("fields", []):
        if name in item["name"]:
            return str(item["value"])
    raise AssertionError(f"no field {name!r} in {[f['name'] for f in embed.get('fields', [])]}")


def fixture_events() -> list[Event]:
    """Parse every recorded LL2 event shipped in bot/data/ll2."""
    parsed: list[Event] = []
    for path in sorted(files("bot").joinpath("data", "ll2").iterdir(), key=lambda p: p.name):
        if not path.name.startswith("event"):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        if "results" in data:
            good, rejected = parse_events(data["results"])
            assert not rejected, (path.name, rejected)
            parsed.extend(good)
        else:
            parsed.append(parse_event(data))
    return parsed


# --- Each kind's look ----------------------------------------------------------------------


def test_update_alert_shows_comment_author_link_and_time() -> None:
    """An update alert shows the comment, who wrote it, its info link and when."""
    event = make_event()
    message = render_alert(update_alert(event, event.updates[0]))
    embed = message["embeds"][0]
    value = field(embed, "Update")
    assert "Added docking." in value
    assert "[More info](https://example.com/info)" in value
    created = int(datetime(2025, 11, 19, 15, 17, tzinfo=UTC).timestamp())
    assert f"<t:{created}:f>" in value
    assert embed["author"]["name"] == "📰 Update by Cosmic_Penguin"
    assert embed["color"] == AlertKind.UPDATE.colour
    assert "update" in message["content"].lower()


def test_update_alert_drops_a_non_http_info_url() -> None:
    """An update whose info_url is not http(s) gets no link."""
    event = make_event(updates=[{"id": 1, "comment": "x", "info_url": "javascript:alert(1)"}])
    value = field(render_alert(update_alert(event, event.updates[0]))["embeds"][0], "Update")
    assert "javascript" not in value
    assert "More info" not in value


def test_webcast_live_lists_videos_by_priority_with_language() -> None:
    """A live alert is red, says LIVE and lists the best video first as "NASA (English)"."""
    message = render_alert(webcast_live_alert(make_event(webcast_live=True)))
    embed = message["embeds"][0]
    assert embed["author"]["name"] == "🔴 LIVE"
    assert embed["color"] == AlertKind.WEBCAST_LIVE.colour
    lines = field(embed, "Watch live").splitlines()
    assert lines[0].startswith("[NASA (English)](https://www.youtube.com/watch?v=en)")
    assert lines[1].startswith("[Роскосмос ТВ (Russian)](https://www.youtube.com/watch?v=ru)")
    assert embed["url"] == "https://www.youtube.com/watch?v=en"
    labels = [b["label"] for b in message["components"][0]["components"]]
    assert labels == ["Watch · NASA (en)", "Watch · Роскосмос ТВ (ru)"]
    assert "LIVE" in message["content"]


def test_rescheduled_shows_old_and_new_date() -> None:
    """A rescheduled alert shows the old date struck through and the new one."""
    event = make_event()
    assert event.date is not None
    old = event.date - timedelta(days=1)
    embed = render_alert(rescheduled_alert(event, old))["embeds"][0]
    value = field(embed, "Rescheduled")
    assert f"~~<t:{int(old.timestamp())}:F>" in value
    assert f"→ **<t:{UNIX}:F>" in value
    assert embed["color"] == AlertKind.RESCHEDULED.colour


def test_new_event_has_its_own_banner_and_colour() -> None:
    """A new-event alert is green and says it is new."""
    message = render_alert(new_event_alert(make_event()))
    assert message["embeds"][0]["author"]["name"] == "✨ New event"
    assert message["embeds"][0]["color"] == AlertKind.NEW_EVENT.colour
    assert message["content"] == "✨ New event · **Soyuz MS-28 Docking**"


@pytest.mark.parametrize(
    ("lead", "text"),
    [
        (timedelta(hours=1), "in 1h"),
        (timedelta(hours=24), "in 24h"),
        (timedelta(minutes=10), "in 10m"),
    ],
)
def test_reminder_says_how_long_until_the_event(lead: timedelta, text: str) -> None:
    """A reminder names its lead: "in 1h", "in 24h", "in 10m"."""
    message = render_alert(reminder_alert(make_event(), lead))
    assert message["embeds"][0]["author"]["name"] == f"⏰ Reminder · {text}"
    assert text.capitalize() in message["content"]
    assert message["embeds"][0]["color"] == AlertKind.REMINDER.colour


def test_every_kind_has_a_distinct_colour() -> None:
    """The five kinds are told apart by colour."""
    assert len({k.colour for k in ALL_KINDS}) == len(ALL_KINDS)


@pytest.mark.parametrize("alert", all_alerts(make_event()), ids=lambda a: a.kind.value)
def test_every_alert_embed_carries_the_event_basics(alert: Alert) -> None:
    """Every alert embed has title, link, description, facts, image, footer and timestamp."""
    embed = render_alert(alert)["embeds"][0]
    assert embed["title"] == "Soyuz MS-28 Docking"
    assert valid_url(embed["url"]) == embed["url"]
    assert embed["description"].startswith("The Soyuz MS-28")
    assert field(embed, "Type") == "Docking"
    assert field(embed, "Location") == "International Space Station"
    assert field(embed, "Agencies") == "Roscosmos"
    assert field(embed, "Programs") == "International Space Station"
    assert embed["image"] == {"url": "https://example.com/soyuz.jpg"}
    assert embed["footer"]["text"] == "Launch Library 2 · event #1300"
    assert embed["timestamp"] == "2025-11-27T12:46:33Z"
    if alert.kind is not AlertKind.RESCHEDULED:
        assert field(embed, "Date") == f"<t:{UNIX}:F> (<t:{UNIX}:R>)"


def test_title_links_to_ll2_when_nothing_better_is_known() -> None:
    """Without news, info or video links the title links to the event's LL2 record."""
    event = make_event(vid_urls=[], news_url=None, video_url=None)
    embed = render_event_embed(event)
    assert embed["url"] == "https://ll.thespacedevs.com/2.2.0/event/1300/"


def test_invalid_image_and_title_urls_are_left_out() -> None:
    """An image or page URL that is not valid http(s) is dropped, never sent."""
    event = make_event(
        feature_image="ftp://example.com/a.jpg", url="not a url", vid_urls=[], news_url=None
    )
    embed = render_event_embed(event)
    assert "image" not in embed
    assert "url" not in embed


# --- Dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("precision", "date", "discord", "plain"),
    [
        ("Minute", DATE, f"<t:{UNIX}:F> (<t:{UNIX}:R>)", "2026-11-27 12:38 UTC"),
        ("Second", DATE, f"<t:{UNIX}:F> (<t:{UNIX}:R>)", "2026-11-27 12:38:29 UTC"),
        (None, DATE, f"<t:{UNIX}:F> (<t:{UNIX}:R>)", "2026-11-27 12:38 UTC"),
        ("Month", "2026-11-30T00:00:00Z", "NET November 2026", "NET November 2026"),
        ("Year", "2026-12-31T00:00:00Z", "NET 2026", "NET 2026"),
        ("Fiscal Year", "2026-09-30T00:00:00Z", "NET FY2026", "NET FY2026"),
        ("Business Quarter (Q4)", "2026-12-31T00:00:00Z", "NET Q4 2026", "NET Q4 2026"),
        ("1st Half", "2026-06-30T00:00:00Z", "NET H1 2026", "NET H1 2026"),
        ("2nd Half", "2026-12-31T00:00:00Z", "NET H2 2026", "NET H2 2026"),
    ],
)
def test_date_text_follows_the_precision(
    precision: str | None, date: str, discord: str, plain: str
) -> None:
    """Each precision renders as exact timestamps or as a "NET …" period, in both outputs."""
    event = make_event(date=date, date_precision={"name": precision} if precision else None)
    assert format_event_date(event) == discord
    assert format_event_date_plain(event) == plain


@pytest.mark.parametrize("precision", ["Day", "Morning", "Afternoon"])
def test_day_precision_shows_the_date_without_a_time(precision: str) -> None:
    """Day, Morning and Afternoon show only the date, stamped at noon UTC so it never shifts."""
    event = make_event(date="2026-12-24T00:00:00Z", date_precision={"name": precision})
    text = format_event_date(event)
    noon = int(datetime(2026, 12, 24, 12, tzinfo=UTC).timestamp())
    assert text.startswith(f"<t:{noon}:D>")
    assert not re.search(r"<t:\d+:[FfRTt]>", text)
    assert format_event_date_plain(event).startswith("2026-12-24")
    assert ":" not in format_event_date_plain(event)


def test_week_precision_names_the_week() -> None:
    """A Week precision renders "NET week of …" (its Monday), no time of day."""
    event = make_event(date="2026-11-26T00:00:00Z", date_precision={"name": "Week"})
    monday = int(datetime(2026, 11, 23, 12, tzinfo=UTC).timestamp())
    assert format_event_date(event) == f"NET week of <t:{monday}:D>"
    assert format_event_date_plain(event) == "NET week of 2026-11-23"


def test_no_date_renders_tbd() -> None:
    """An event without a date says TBD."""
    event = make_event(date=None)
    assert format_event_date(event) == "TBD"
    assert format_event_date_plain(event) == "TBD"


# --- Buttons, mentions, hostile text -------------------------------------------------------


def test_buttons_only_for_valid_urls_best_first_and_deduplicated() -> None:
    """Buttons link only valid http(s) URLs of ≤ 512 chars, best first, once each, at most 5."""
    videos = [
        {"priority": 1, "publisher": "Bad", "url": "javascript:alert(1)"},
        {"priority": 2, "publisher": "Long", "url": "https://example.com/" + "x" * 600},
        {"priority": 3, "publisher": "Space", "url": "https://exa mple.com/"},
        {"priority": 4, "publisher": "A", "url": "https://a.example/"},
        {"priority": 5, "publisher": "A again", "url": "https://a.example/"},
    ] + [
        {"priority": 10 + i, "publisher": f"P{i}", "url": f"https://p{i}.example/"}
        for i in range(9)
    ]
    message = render_alert(new_event_alert(make_event(vid_urls=videos)))
    rows = message["components"]
    assert len(rows) == 1
    buttons = rows[0]["components"]
    assert [b["url"] for b in buttons] == [
        "https://a.example/",
        *(f"https://p{i}.example/" for i in range(4)),
    ]
    assert all(b["type"] == 2 and b["style"] == 5 for b in buttons)
    assert check_limits(message) == []


def test_no_webcasts_means_no_action_row() -> None:
    """An event without usable webcasts gets no (empty, invalid) action row."""
    message = render_alert(new_event_alert(make_event(vid_urls=[{"url": "nope"}])))
    assert message["components"] == []


def test_button_label_is_capped_at_80_characters() -> None:
    """A huge publisher name still gives a label within Discord's 80 characters."""
    videos = [
        {"url": "https://a.example/", "publisher": "N" * 5000, "language": {"id": 1, "code": "en"}}
    ]
    label = render_buttons_of(make_event(vid_urls=videos))[0]
    assert len(label) <= BUTTON_LABEL_LIMIT
    assert label.startswith("Watch · NNN")
    assert label.endswith("… (en)")


def render_buttons_of(event: Event) -> list[str]:
    """Return the button labels of an event's lookup message."""
    return [
        b["label"] for row in render_event_message(event)["components"] for b in row["components"]
    ]


def test_mention_role_leads_the_content_and_is_the_only_allowed_mention() -> None:
    """With a role, content starts with its mention and only that role may be pinged."""
    message = render_alert(new_event_alert(make_event()), mention_role_ids=[1234567890])
    assert message["content"].startswith("<@&1234567890> ")
    assert message["allowed_mentions"] == {"parse": [], "roles": ["1234567890"]}


def test_without_a_role_nothing_can_ping() -> None:
    """Without a role, allowed_mentions parses nothing and the content mentions no one."""
    message = render_alert(new_event_alert(make_event()))
    assert message["allowed_mentions"] == {"parse": []}
    assert "<@" not in message["content"]


def test_everyone_in_ll2_text_cannot_ping() -> None:
    """@everyone, @here and role mentions in LL2 text neither ping nor look like mentions."""
    hostile = "@everyone @here <@&123> <@456> ping"
    event = make_event(
        name=hostile,
        description=hostile,
        location=hostile,
        updates=[{"id": 1, "comment": hostile, "created_by": "@everyone"}],
        vid_urls=[{"url": "https://a.example/", "publisher": "@here", "title": hostile}],
    )
    for alert in all_alerts(event):
        message = render_alert(alert, mention_role_ids=[99])
        assert message["allowed_mentions"] == {"parse": [], "roles": ["99"]}
        rendered = texts_of(message)
        for needle in ("@everyone", "@here", "<@&123>", "<@456>"):
            assert not any(needle in text for text in rendered), (alert.kind, needle)
        # The subscription's own role is the only mention left in the content.
        assert re.findall(r"<@[!&]?\d+>", message["content"]) == ["<@&99>"]


# --- Limits --------------------------------------------------------------------------------


def test_huge_description_and_30_agencies_stay_within_every_limit() -> None:
    """A 10k-character description and 30 long agency names are truncated, never rejected."""
    agencies = [{"id": i, "name": f"Agency number {i} " + "x" * 200} for i in range(30)]
    event = make_event(
        description="d" * 10_000,
        agencies=agencies,
        name="N" * 1000,
        location="L" * 5000,
        program=[{"id": i, "name": "P" * 300} for i in range(10)],
        updates=[{"id": 1, "comment": "c" * 10_000, "created_by": "b" * 1000}],
    )
    for alert in all_alerts(event):
        message = render_alert(alert, mention_role_ids=[1])
        assert check_limits(message) == [], alert.kind
        embed = message["embeds"][0]
        assert embed["description"].endswith("…")
        assert embed_length(embed) <= EMBED_TOTAL_LIMIT
        assert field(embed, "Agencies").endswith("…")
    assert check_limits(render_event_message(event)) == []


def test_check_limits_reports_what_discord_would_reject() -> None:
    """check_limits flags over-long text, empty fields, bad URLs, too many buttons and totals."""
    button = {"type": 2, "style": 5, "label": "x", "url": "https://a.example/"}
    bad = {
        "content": "c" * (CONTENT_LIMIT + 1),
        "embeds": [
            {
                "title": "t" * 257,
                "url": "javascript:alert(1)",
                "fields": [{"name": "n", "value": ""}, {"name": "v", "value": "v" * 1025}],
                "image": {"url": "https://exa mple.com/"},
            },
            {"description": "d" * 4096, "fields": [{"name": "f", "value": "v" * 1024}] * 2},
        ],
        "components": [{"type": 1, "components": [button] * 6}],
        "allowed_mentions": {"parse": ["roles"], "roles": ["1"]},
    }
    problems = "\n".join(check_limits(bad))
    for expected in (
        "content:",
        "embeds[0].title",
        "embeds[0].url",
        "embeds[0].fields[0].value: must not be empty",
        "embeds[0].fields[1].value",
        "embeds[0].image.url",
        "embeds[1]: 6",
        "across embeds",
        "components[0].components",
        "allowed_mentions",
    ):
        assert expected in problems, expected


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/a?b=c#d", True),
        ("http://example.com", True),
        ("https://example.com/a_(b)", True),
        ("ftp://example.com/", False),
        ("javascript:alert(1)", False),
        ("//example.com/", False),
        ("https://", False),
        ("https://exa mple.com/", False),
        ("https://example.com/\n", False),
        ("https://[::1", False),
        ("http://example.com:99999/", False),
        ("https://example.com/%zz", False),
        ("https://example.com/" + "x" * 2100, False),
        (None, False),
    ],
)
def test_valid_url_accepts_only_absolute_http_urls(url: str | None, ok: bool) -> None:
    """valid_url keeps well-formed http(s) URLs within 2048 chars and drops the rest."""
    assert (valid_url(url) is not None) is ok


def test_event_list_of_25_events_stays_within_limits() -> None:
    """/events upcoming renders 25 events with huge names as compact lines within limits."""
    listed = [make_event(id=i, name=f"Event {i} " + "@everyone " * 100) for i in range(1, 26)]
    message = render_event_list(listed, title="Upcoming events")
    assert check_limits(message) == []
    description = message["embeds"][0]["description"]
    assert description.splitlines()[0].startswith("`1.` **Event 1 ")
    assert "@everyone" not in description
    assert len(description.splitlines()) == 25


def test_event_list_uses_precision_aware_dates() -> None:
    """The list shows "NET November 2026" for a month-precision event, not a fake time."""
    event = make_event(date="2026-11-30T00:00:00Z", date_precision={"name": "Month"})
    line = render_event_list([event], title="Upcoming")["embeds"][0]["description"]
    assert "NET November 2026" in line
    assert "<t:" not in line


def test_empty_event_list_says_so() -> None:
    """An empty list renders a valid message saying nothing was found."""
    message = render_event_list([], title="Upcoming")
    assert message["embeds"][0]["description"] == "No events found."
    assert check_limits(message) == []


@PROPERTY
@given(alert=alerts(), role=st.one_of(st.none(), st.integers(min_value=1, max_value=2**63 - 1)))
def test_any_alert_renders_within_discord_limits(alert: Alert, role: int | None) -> None:
    """Rendering a random alert never raises and always passes check_limits, pinging no one else."""
    message = render_alert(alert, mention_role_ids=[role])
    assert check_limits(message) == []
    assert "everyone" not in message["allowed_mentions"]["parse"]
    assert message["allowed_mentions"].get("roles", []) == ([str(role)] if role else [])
    assert all(len(f["value"]) <= FIELD_VALUE_LIMIT for f in message["embeds"][0].get("fields", []))
    text = payload_text(alert_json(alert, key="k", subscription_id=None, message=message))
    assert text.startswith("[")
    json.dumps(alert_json(alert, key=alert.key(None), subscription_id=None, message=message))


@PROPERTY
@given(listed=st.lists(events(), max_size=25))
def test_any_lookup_renders_within_discord_limits(listed: list[Event]) -> None:
    """Lookup views of random events, alone and as a list, always pass check_limits."""
    assert check_limits(render_event_list(listed, title="Upcoming")) == []
    for event in listed[:3]:
        assert check_limits(render_event_message(event)) == []


# --- Recorded fixtures ---------------------------------------------------------------------


FIXTURE_EVENTS = fixture_events()


def test_fixtures_hold_every_recorded_event() -> None:
    """All recorded events parse (1300, 2, the 2.3.0 pages) so the fixture tests mean something."""
    ids = {event.id for event in FIXTURE_EVENTS}
    assert {1300, 2, 1017, 1513, 1520} <= ids
    assert len(FIXTURE_EVENTS) >= 10


@pytest.mark.parametrize(
    "alert",
    [alert for event in FIXTURE_EVENTS for alert in all_alerts(event)],
    ids=lambda a: f"{a.event.id}-{a.kind.value}-{a.discriminator}",
)
def test_recorded_events_render_within_limits_for_every_kind(alert: Alert) -> None:
    """Every recorded event renders for every alert kind within Discord's limits."""
    message = render_alert(alert, mention_role_ids=[42])
    assert check_limits(message) == []
    text = payload_text(alert_json(alert, key="k", subscription_id=None, message=message))
    assert "<t:" not in text
    assert "<@" not in text
    assert alert.event.name in text.splitlines()[0]


def test_recorded_soyuz_docking_renders_as_expected() -> None:
    """The recorded Soyuz MS-28 docking shows NASA's English webcast first and a minute date."""
    event = next(e for e in FIXTURE_EVENTS if e.id == 1300)
    message = render_alert(webcast_live_alert(event))
    first = message["components"][0]["components"][0]
    assert first == {
        "type": 2,
        "style": 5,
        "label": "Watch · NASA (en)",
        "url": "https://www.youtube.com/watch?v=OIAduLEqvTc",
    }
    assert format_event_date_plain(event) == "2025-11-27 12:38 UTC"


def test_recorded_coarse_precisions_render_without_a_fake_time() -> None:
    """Recorded Month, Day and Year events render "NET November 2026", a date, "NET 2035"."""
    trimmed = [e for e in FIXTURE_EVENTS if e.precision_name in ("month", "day", "year")]
    by_id = {e.id: e for e in trimmed}
    assert format_event_date(by_id[394]) == "NET November 2026"
    noon = int(datetime(2026, 12, 24, 12, tzinfo=UTC).timestamp())
    assert format_event_date(by_id[384]) == f"<t:{noon}:D>"
    assert format_event_date(by_id[1282]) == "NET 2035"
    assert format_event_date_plain(by_id[1282]) == "NET 2035"


# --- Terminal and JSON output ----------------------------------------------------------------


def test_alert_json_has_exactly_the_design_keys() -> None:
    """alert_json emits the alert line: kind, key, event{…}, subscription, message."""
    alert = reminder_alert(make_event(), timedelta(hours=1))
    message = render_alert(alert, mention_role_ids=[7])
    line = alert_json(alert, key=alert.key("console:3"), subscription_id=3, message=message)
    assert set(line) == {"kind", "key", "event", "subscription", "message"}
    assert set(line["event"]) == {"id", "name", "slug", "type", "date"}
    assert set(line["message"]) == {"content", "embeds", "components", "allowed_mentions"}
    assert line["kind"] == "reminder"
    assert line["key"] == "console:3:events:1300:reminder:1h@2026-11-27T12:38:29Z"
    assert line["event"] == {
        "id": 1300,
        "name": "Soyuz MS-28 Docking",
        "slug": "soyuz-ms-28-docking",
        "type": {"id": 2, "name": "Docking"},
        "date": "2026-11-27T12:38:29Z",
    }
    assert line["subscription"] == 3
    assert line["message"] == message
    assert json.loads(json.dumps(line)) == line


def test_alert_json_uses_null_for_a_missing_type_and_date() -> None:
    """An event without type or date serialises them as null."""
    alert = new_event_alert(make_event(type=None, date=None))
    line = alert_json(alert, key="k", subscription_id=None, message=render_alert(alert))
    assert line["event"]["type"] is None
    assert line["event"]["date"] is None
    assert line["subscription"] is None


def test_console_text_is_plain_and_readable() -> None:
    """The console text names the kind, event, plain UTC date, update and webcasts, no markup."""
    event = make_event()
    alert = update_alert(event, event.updates[0])
    message = render_alert(alert, mention_role_ids=[5])
    text = payload_text(alert_json(alert, key="k", subscription_id=None, message=message))
    assert text.splitlines()[0] == "[update] Soyuz MS-28 Docking (#1300)"
    assert "2026-11-27 12:38 UTC" in text
    assert "Added docking." in text and "Cosmic_Penguin" in text
    assert "https://www.youtube.com/watch?v=en" in text
    assert not re.search(r"<t:|<@|\*\*|\x1b", text)


def test_console_text_strips_terminal_escapes_from_ll2_text() -> None:
    """Control characters in LL2 text (terminal escapes) never reach the terminal."""
    alert = new_event_alert(make_event(name="Evil\x1b[2J name", description="a\x07b"))
    message = render_alert(alert)
    text = payload_text(alert_json(alert, key="k", subscription_id=None, message=message))
    assert "\x1b" not in text
    assert "\x07" not in text
