"""Tests for bot.render.launches: launch embeds, lists and JSON lines, within Discord's limits."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.kinds import new_event_alert, reminder_alert, webcast_live_alert
from bot.core.launches import Launch
from bot.devtools.discord_emulator.validate import check_message_limits, load_spec
from bot.ll2.parse import parse_launch
from bot.render import (
    alert_json,
    best_streams,
    check_limits,
    render_alert,
    render_launch_list,
    render_launch_message,
    status_colour,
)
from bot.render.launches import STATUS_LOOKS, UNKNOWN_STATUS_LOOK
from tests.strategies import raw_videos, texts, urls
from tests.unit.render._helpers import PROPERTY, field, texts_of

MESSAGE_CREATE = "/channels/{channel_id}/messages"


@cache
def _recorded() -> tuple[dict[str, Any], ...]:
    path = files("bot").joinpath("data", "ll2", "launches-selection.2.2.0.json")
    return tuple(json.loads(path.read_text(encoding="utf-8"))["results"])


def raw_launch(name: str) -> dict[str, Any]:
    """Return a deep copy of the recorded launch whose name contains ``name``."""
    for raw in _recorded():
        if name in raw["name"]:
            return copy.deepcopy(raw)
    raise AssertionError(f"no recorded launch named like {name!r}")


def make_launch(name: str = "Starlink Group 10-48", **overrides: Any) -> Launch:
    """Parse a recorded 2.2.0 launch with ``overrides`` applied."""
    raw = raw_launch(name)
    raw.update(overrides)
    return parse_launch(raw)


def discord_errors(payload: Any) -> list[str]:
    """Return what Discord's OpenAPI document and limits say is wrong with a message."""
    errors = load_spec().validate_body(MESSAGE_CREATE, "POST", payload)
    errors += check_message_limits(payload)
    return [str(e) for e in errors] + check_limits(payload)


@pytest.mark.parametrize("raw", _recorded(), ids=lambda r: r["name"][:40])
def test_every_recorded_launch_renders_a_message_discord_accepts(raw: dict[str, Any]) -> None:
    """Each recorded launch's lookup message validates against Discord's document and limits."""
    launch = parse_launch(raw)
    message = render_launch_message(launch)
    assert discord_errors(message) == []
    embed = message["embeds"][0]
    assert embed["title"] == launch.name
    assert embed["color"] == status_colour(launch)


def test_launch_embed_shows_rocket_provider_mission_orbit_pad_and_location() -> None:
    """The lookup embed carries every part of the launch a reader asks about."""
    launch = make_launch()
    embed = render_launch_message(launch)["embeds"][0]
    assert field(embed, "Rocket") == "Falcon 9 Block 5"
    assert field(embed, "Provider") == "SpaceX (SpX)"
    assert "Starlink Group 10-48" in field(embed, "Mission")
    assert field(embed, "Orbit") == "Low Earth Orbit (LEO)"
    assert field(embed, "Pad") == "Space Launch Complex 40\nCape Canaveral SFS, FL, USA"
    assert field(embed, "Probability") == "75%"
    assert "Go" in field(embed, "Status")
    assert embed["footer"]["text"].endswith(launch.id)


def test_exact_net_renders_as_discord_timestamps_and_window_as_times() -> None:
    """A Second-precision NET is <t:…:F> (<t:…:R>); the window shows both ends and its span."""
    launch = make_launch(
        net="2026-03-14T10:00:00Z",
        window_start="2026-03-14T10:00:00Z",
        window_end="2026-03-14T14:00:00Z",
    )
    embed = render_launch_message(launch)["embeds"][0]
    unix = int(datetime(2026, 3, 14, 10, tzinfo=UTC).timestamp())
    assert field(embed, "NET") == f"<t:{unix}:F> (<t:{unix}:R>)"
    assert field(embed, "Window") == f"<t:{unix}:t> – <t:{unix + 4 * 3600}:t> (4h)"


def test_instantaneous_window_says_so() -> None:
    """A window that opens and closes at once (Soyuz to the ISS) is called instantaneous."""
    embed = render_launch_message(make_launch("Progress MS-33"))["embeds"][0]
    assert field(embed, "Window").startswith("Instantaneous, <t:")


def test_month_precision_net_is_not_a_fake_exact_time() -> None:
    """NET with Month precision reads "NET May 2026"; its placeholder window is left out."""
    embed = render_launch_message(make_launch("SpX-34"))["embeds"][0]
    assert field(embed, "NET") == "NET May 2026"
    assert "Window" not in [f["name"] for f in embed["fields"]]
    assert "<t:" not in json.dumps(embed["fields"])


def test_quarter_and_half_precisions_render_coarsely() -> None:
    """Quarter 1 and Year Half 1 launches read "NET Q1 2026" and "NET H1 2026"."""
    q1 = render_launch_message(make_launch("Kakushin Rising"))["embeds"][0]
    h1 = render_launch_message(make_launch("VICTUS HAZE"))["embeds"][0]
    assert field(q1, "NET") == "NET Q1 2026"
    assert field(h1, "NET") == "NET H1 2026"


@pytest.mark.parametrize(
    ("status_id", "name"),
    [(1, "Go"), (2, "TBD"), (3, "Success"), (4, "Failure"), (5, "Hold"), (6, "In Flight")]
    + [(7, "Partial Failure"), (8, "TBC"), (9, "Payload Deployed")],
)
def test_colour_follows_the_status(status_id: int, name: str) -> None:
    """Each LL2 status has its own colour and emoji; the embed wears them."""
    launch = make_launch(status={"id": status_id, "name": name, "abbrev": name})
    embed = render_launch_message(launch)["embeds"][0]
    emoji, colour = STATUS_LOOKS[status_id]
    assert embed["color"] == colour
    assert field(embed, "Status") == f"{emoji} {name}"


def test_status_colours_are_distinct_and_an_unknown_status_is_neutral() -> None:
    """Nine statuses, nine colours; a status LL2 adds later still renders, in the neutral one."""
    assert len({colour for _, colour in STATUS_LOOKS.values()}) == len(STATUS_LOOKS) == 9
    launch = make_launch(status={"id": 42, "name": "Scrubbed"})
    message = render_launch_message(launch)
    assert message["embeds"][0]["color"] == UNKNOWN_STATUS_LOOK[1]
    assert field(message["embeds"][0], "Status") == "❔ Scrubbed"
    assert discord_errors(message) == []
    assert status_colour(make_launch(status=None)) == UNKNOWN_STATUS_LOOK[1]


def test_hold_and_failure_reasons_are_shown() -> None:
    """A hold reason and a failure reason each get their own field; empty ones none."""
    held = make_launch("NS-38", holdreason="Ground systems issue")
    failed = make_launch("Shijian 32")
    assert field(render_launch_message(held)["embeds"][0], "Hold reason") == "Ground systems issue"
    failed_embed = render_launch_message(failed)["embeds"][0]
    assert field(failed_embed, "Failure reason") == "3rd stage failure, failed to reach orbit."
    assert failed_embed["color"] == STATUS_LOOKS[4][1]
    names = [f["name"] for f in render_launch_message(make_launch())["embeds"][0]["fields"]]
    assert not any("reason" in n for n in names)


def test_image_is_the_thumbnail() -> None:
    """The launch image is shown as a thumbnail (the big image slot stays free)."""
    embed = render_launch_message(make_launch(image="https://example.com/f9.png"))["embeds"][0]
    assert embed["thumbnail"] == {"url": "https://example.com/f9.png"}
    assert "image" not in embed
    bad = render_launch_message(make_launch(image="javascript:alert(1)"))["embeds"][0]
    assert "thumbnail" not in bad


def _video(url: str, priority: int | None, code: str | None, publisher: str) -> dict[str, Any]:
    language = {"id": 1, "name": {"en": "English", "es": "Spanish"}.get(code or "", "?")}
    if code:
        language["code"] = code
    return {"url": url, "priority": priority, "publisher": publisher, "language": language}


def test_watch_buttons_by_priority_then_language_at_most_five_without_repeats() -> None:
    """Buttons go best priority first, English before others at equal priority, one per URL."""
    videos = [
        _video("https://youtube.com/watch?v=es", 5, "es", "SpaceX ES"),
        _video("https://youtube.com/watch?v=en", 5, "en", "SpaceX"),
        _video("https://x.com/spacex", 1, "en", "X"),
        _video("https://youtube.com/watch?v=en", 9, "en", "Duplicate"),
        _video("https://example.com/a", 20, None, "A"),
        _video("https://example.com/b", 21, None, "B"),
        _video("https://example.com/c", 22, None, "C"),
        _video("not a url", 0, "en", "Broken"),
    ]
    launch = make_launch(vidURLs=videos)
    buttons = render_launch_message(launch)["components"][0]["components"]
    assert [b["url"] for b in buttons] == [
        "https://x.com/spacex",
        "https://youtube.com/watch?v=en",
        "https://youtube.com/watch?v=es",
        "https://example.com/a",
        "https://example.com/b",
    ]
    assert buttons[0]["label"] == "Watch · X (en)"
    assert [url for _, url in best_streams(launch)][-1] == "https://example.com/c"


def test_a_live_stream_says_live_on_its_button() -> None:
    """A 2.3.0 stream marked live reads "🔴 Live · …" on its button."""
    raw = raw_launch("Starlink Group 10-48")
    raw["vid_urls"] = [{**raw.pop("vidURLs")[0], "live": True}]
    message = render_launch_message(parse_launch(raw))
    assert message["components"][0]["components"][0]["label"].startswith("🔴 Live · ")


def test_launch_without_streams_has_no_buttons() -> None:
    """No stream, no action row (an empty row is invalid)."""
    assert render_launch_message(make_launch("Artemis II"))["components"] == []


def test_hostile_text_never_pings_nor_breaks_limits() -> None:
    """@everyone and 10k characters in LL2 text stay within limits and never look like a ping."""
    evil = "@everyone <@&1> **bold** " * 400
    raw = raw_launch("Starlink Group 10-48")
    raw["name"] = evil
    raw["mission"]["description"] = evil
    raw["mission"]["name"] = evil
    raw["holdreason"] = evil
    raw["failreason"] = evil
    raw["launch_service_provider"]["name"] = evil
    message = render_launch_message(parse_launch(raw))
    assert discord_errors(message) == []
    assert message["allowed_mentions"] == {"parse": []}
    assert not any("@everyone" in t for t in texts_of(message["embeds"]))


def test_launch_list_of_25_stays_within_limits_and_shows_status_and_net() -> None:
    """/launches upcoming lists 25 launches, one line each, status and coarse NETs included."""
    launches = [parse_launch(raw) for raw in _recorded()] * 2
    message = render_launch_list(launches[:25], title="Next 25 launches")
    assert discord_errors(message) == []
    lines = message["embeds"][0]["description"].splitlines()
    # LL2's "|" is escaped: Discord would otherwise read "||" pairs as a spoiler.
    assert lines[0].startswith(r"`1.` **Falcon 9 Block 5 \| Starlink Group 10-48** · 🟢 Go")
    assert any("NET May 2026" in line for line in lines)
    assert len(lines) <= 25


def test_empty_launch_list_says_so() -> None:
    """No launches renders a valid message that says so."""
    message = render_launch_list([], title="Upcoming launches")
    assert message["embeds"][0]["description"] == "No launches found."
    assert discord_errors(message) == []


def test_alert_json_line_of_a_launch_has_the_launch_object() -> None:
    """A launch alert's JSON line carries "launch": {id, name, slug, status, net, provider}."""
    launch = make_launch()
    alert = new_event_alert(launch)
    line = alert_json(alert, key="k", subscription_id=None, message=render_alert(alert))
    assert line["feed"] == "launches"
    assert "event" not in line
    assert line["launch"] == {
        "id": launch.id,
        "name": "Falcon 9 Block 5 | Starlink Group 10-48",
        "slug": launch.slug,
        "status": {"id": 1, "name": "Go for Launch", "abbrev": "Go"},
        "net": "2026-03-14T12:30:00Z",
        "provider": {"id": 121, "name": "SpaceX"},
    }
    assert list(line) == ["kind", "key", "feed", "launch", "subscription", "message"]


def test_launch_alerts_render_through_the_launch_look() -> None:
    """Alerts about a launch show its rocket and status and carry its watch buttons."""
    launch = make_launch(webcast_live=True)
    alerts = [
        new_event_alert(launch),
        webcast_live_alert(launch),
        reminder_alert(launch, timedelta(hours=1)),
    ]
    for alert in alerts:
        message = render_alert(alert, mention_role_ids=[7])
        assert discord_errors(message) == []
        embed = message["embeds"][0]
        assert field(embed, "Rocket") == "Falcon 9 Block 5"
        assert embed["thumbnail"]["url"].startswith("https://")
        assert message["components"][0]["components"][0]["url"].startswith("https://")


def _raw_launches() -> st.SearchStrategy[dict[str, Any]]:
    base = raw_launch("Starlink Group 10-48")
    hostile = st.fixed_dictionaries(
        {},
        optional={
            "name": texts().filter(bool),
            "holdreason": st.one_of(st.none(), texts()),
            "failreason": st.one_of(st.none(), texts()),
            "probability": st.one_of(st.none(), st.integers(-5, 200)),
            "image": st.one_of(st.none(), urls()),
            "vidURLs": st.lists(raw_videos("2.2.0"), max_size=12),
            "net_precision": st.sampled_from(
                [None, {"name": "Month"}, {"name": "Quarter 3", "abbrev": "Q3"}, {"name": "Day"}]
            ),
            "mission": st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {"name": texts().filter(bool)},
                    optional={"description": texts(), "type": texts()},
                ),
            ),
            "status": st.one_of(
                st.none(),
                st.fixed_dictionaries({"id": st.integers(0, 50), "name": texts().filter(bool)}),
            ),
        },
    )
    return hostile.map(lambda extra: {**base, **extra})


@PROPERTY
@given(raws=st.lists(_raw_launches(), min_size=1, max_size=4))
def test_any_launch_renders_within_discord_limits(raws: list[dict[str, Any]]) -> None:
    """Random, hostile launches render as messages and lists that pass check_limits."""
    launches = [parse_launch(raw) for raw in raws]
    assert check_limits(render_launch_list(launches, title="Upcoming")) == []
    for launch in launches:
        assert check_limits(render_launch_message(launch)) == []


@pytest.mark.parametrize("raw", _recorded(), ids=lambda r: r["name"][:40])
def test_a_launch_read_back_from_its_snapshot_renders_the_same(raw: dict[str, Any]) -> None:
    """What the store keeps (the model dumped) reads back to the same launch and message."""
    launch = parse_launch(raw)
    again = Launch.model_validate(launch.model_dump(mode="json"))
    assert again == launch
    assert render_launch_message(again) == render_launch_message(launch)
