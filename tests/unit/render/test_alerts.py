"""Tests for bot.render.alerts: each kind's message, buttons, mentions, hostile text, fixtures."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
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
from bot.render import (
    BUTTON_LABEL_LIMIT,
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
    render_event_message,
    valid_url,
)
from tests.strategies import alerts
from tests.unit.render._helpers import (
    PROPERTY,
    UNIX,
    all_alerts,
    field,
    fixture_events,
    make_event,
    texts_of,
)


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
