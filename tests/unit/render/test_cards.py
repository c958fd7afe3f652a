"""Tests for bot.render.cards: each card state's text, pings and scheduled events, within
Discord's limits as the Discord emulator's validator (written from the OpenAPI document) checks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.timeutil import isoformat_z
from bot.devtools.discord_emulator.validate import check_message_limits, load_spec
from bot.render import check_limits
from bot.render.cards import (
    COMPLETE,
    COUNTDOWN,
    FAILURE,
    LIVE,
    SLIPPED,
    SUCCESS,
    CardHistory,
    advance,
    iso_duration,
    phase,
    render_card,
    render_ping,
    render_scheduled_event,
    start_ping_text,
    starts_loudly,
)
from tests.unit.render._helpers import make_event
from tests.unit.render.test_launches import make_launch

MESSAGE_CREATE = "/channels/{channel_id}/messages"
MESSAGE_EDIT = "/channels/{channel_id}/messages/{message_id}"
DATE = datetime(2026, 11, 27, 12, 38, 29, tzinfo=UTC)
UNIX = int(DATE.timestamp())
BEFORE = DATE - timedelta(hours=3)
FRESH = CardHistory()


def discord_errors(payload: Any, template: str = MESSAGE_CREATE, method: str = "POST") -> list[str]:
    """Return what Discord's document and limits (and our own check) say is wrong."""
    errors = load_spec().validate_body(template, method, payload)
    errors += check_message_limits(payload)
    return [str(e) for e in errors] + check_limits(payload)


def shown(item: Any, history: CardHistory = FRESH, *, now: datetime = BEFORE) -> Any:
    """Render the card the way the keeper does: history advanced to ``item`` first."""
    return render_card(item, advance(history, item), now=now)


def valid(payload: Any) -> Any:
    """Assert a card is valid both as a post and as an edit; return it."""
    assert discord_errors(payload) == []
    assert discord_errors(payload, MESSAGE_EDIT, "PATCH") == []
    return payload


def test_countdown_shows_a_relative_timestamp_and_never_pings() -> None:
    """A fresh card counts down with <t:…:R>; its allowed_mentions admit nobody."""
    card = valid(shown(make_event()))
    assert f"<t:{UNIX}:R>" in card["content"]
    assert card["content"].startswith("**Soyuz MS-28 Docking**")
    embed = card["embeds"][0]
    assert embed["description"] == f"⏳ Starts <t:{UNIX}:R>"
    assert embed["color"] == 0x3498DB
    assert card["components"] == []
    mentions = card["allowed_mentions"]
    assert mentions["parse"] == [] and not mentions.get("roles") and not mentions.get("users")
    assert "living card" in embed["footer"]["text"]


def test_a_slip_strikes_the_old_date_through() -> None:
    """After a slip the date field shows the old date struck, then the new one."""
    first = make_event()
    history = advance(CardHistory(), first)
    later = DATE + timedelta(days=1)
    moved = make_event(date=isoformat_z(later))
    card = valid(shown(moved, history))
    assert phase(moved, advance(history, moved), now=BEFORE) == SLIPPED
    assert f"⏩ Slipped — now <t:{int(later.timestamp())}:R>" in card["content"]
    date_field = next(f for f in card["embeds"][0]["fields"] if f["name"] == "📅 Date")
    assert date_field["value"].startswith(f"~~<t:{UNIX}:F>")
    assert date_field["value"].count("~~") == 2
    assert f"<t:{int(later.timestamp())}:F>" in date_field["value"].split("→")[-1]


def test_slips_remember_only_the_last_few_dates() -> None:
    """Five slips: only the last three old dates are struck through (a card stays short)."""
    history = CardHistory()
    for hours in range(6):
        history = advance(history, make_event(date=isoformat_z(DATE + timedelta(hours=hours))))
    assert len(history.slipped_from) == 3
    assert history.slipped_from[-1] == DATE + timedelta(hours=4)


def test_live_shows_watch_buttons_and_they_go_afterwards() -> None:
    """Live: red, "LIVE now", link buttons; complete: green and no buttons (edit removes them)."""
    live = make_event(webcast_live=True)
    history = advance(CardHistory(), live)
    card = valid(render_card(live, history, now=DATE))
    assert phase(live, history, now=DATE) == LIVE
    assert "🔴 LIVE now" in card["content"]
    buttons = [b for row in card["components"] for b in row["components"]]
    assert buttons and all(b["style"] == 5 and b["url"].startswith("https://") for b in buttons)
    over = make_event(webcast_live=False)
    after = advance(history, over)
    done = valid(render_card(over, after, now=DATE + timedelta(minutes=30)))
    assert phase(over, after, now=DATE + timedelta(minutes=30)) == COMPLETE
    assert "✅ Docking complete" in done["content"]
    assert done["components"] == []
    assert not any(f["name"] == "About" for f in done["embeds"][0].get("fields", []))


def test_an_event_without_a_webcast_is_complete_once_its_duration_has_passed() -> None:
    """No live flag: complete only after the item's duration (or two hours)."""
    event = make_event(duration="PT1H")
    history = advance(CardHistory(), event)
    assert phase(event, history, now=DATE + timedelta(minutes=30)) == COUNTDOWN
    assert phase(event, history, now=DATE + timedelta(minutes=61)) == COMPLETE
    assert iso_duration("P1DT2H30M") == timedelta(days=1, hours=2, minutes=30)
    assert iso_duration("soon") is None


def test_the_latest_update_is_shown() -> None:
    """The newest LL2 update appears in its own field."""
    card = valid(shown(make_event()))
    update = next(f for f in card["embeds"][0]["fields"] if f["name"] == "📰 Latest update")
    assert "Added docking." in update["value"]


def test_launch_outcomes_success_and_failure_with_its_reason() -> None:
    """Success is green; a failure says why; a partial failure is named so."""
    success = make_launch(status={"id": 3, "name": "Launch Successful", "abbrev": "Success"})
    card = valid(shown(success))
    assert phase(success, advance(CardHistory(), success), now=BEFORE) == SUCCESS
    assert "✅ Launch success" in card["content"]
    failure = make_launch(
        status={"id": 4, "name": "Launch Failure", "abbrev": "Failure"},
        failreason="Second stage anomaly",
    )
    failed = valid(shown(failure))
    assert phase(failure, advance(CardHistory(), failure), now=BEFORE) == FAILURE
    assert "❌ Launch failure: Second stage anomaly" in failed["content"]
    partial = make_launch(status={"id": 7, "name": "Partial Failure", "abbrev": "Partial"})
    assert "❌ Partial failure" in valid(shown(partial))["content"]


def test_a_launch_card_counts_down_to_its_net() -> None:
    """A launch's card uses its NET and says Launch in the footer."""
    launch = make_launch(net="2026-03-14T10:00:00Z", status={"id": 1, "name": "Go", "abbrev": "Go"})
    card = valid(shown(launch, now=datetime(2026, 3, 13, tzinfo=UTC)))
    unix = int(datetime(2026, 3, 14, 10, tzinfo=UTC).timestamp())
    assert f"<t:{unix}:R>" in card["content"]
    assert card["embeds"][0]["footer"]["text"].startswith(f"Launch Library 2 · launch {launch.id}")
    event_card = shown(make_event())
    assert event_card["embeds"][0]["footer"]["text"].startswith("Launch Library 2 · event 1300")


@pytest.mark.parametrize("size", [1, 5000])
def test_hostile_and_huge_text_stays_within_discords_limits(size: int) -> None:
    """Mentions in LL2 text never ping; huge names and descriptions are cut to the limits."""
    name = "@everyone <@&1> " + "N" * size
    event = make_event(name=name, description="@here " + "D" * size * 3)
    card = valid(shown(event))
    assert card["allowed_mentions"]["parse"] == []
    assert len(card["content"]) <= 2000
    assert len(card["embeds"][0]["title"]) <= 256


def test_a_ping_is_short_and_admits_only_its_roles() -> None:
    """A ping carries the alert's content line, no embed, and mentions only the given roles."""
    ping = valid(render_ping("<@&42> 🔴 LIVE · Docking", [42, 42]))
    assert ping["embeds"] == [] and ping["components"] == []
    assert ping["allowed_mentions"] == {"parse": [], "roles": ["42"]}
    assert len(valid(render_ping("x" * 5000, []))["content"]) <= 2000


def test_docking_and_eva_start_loudly_others_do_not() -> None:
    """Docking and EVA (with an exact date) get a "starting now" ping; a press event does not."""
    assert starts_loudly(make_event())
    eva = make_event(type={"id": 4, "name": "EVA"})
    assert starts_loudly(eva)
    assert start_ping_text(eva).startswith("🛰️ Spacewalk starting now")
    assert not starts_loudly(make_event(type={"id": 3, "name": "Press Event"}))
    coarse = make_event(date_precision={"id": 7, "name": "Month", "abbrev": "M"})
    assert not starts_loudly(coarse)
    assert not starts_loudly(make_launch())


def test_history_round_trips_through_json() -> None:
    """What a card remembers is stored as JSON and read back the same."""
    history = CardHistory(shown_date=DATE, slipped_from=(BEFORE,), was_live=True, started=DATE)
    assert CardHistory.from_json(history.to_json()) == history
    assert CardHistory.from_json({"shown_date": "not a date"}) == CardHistory()
    assert CardHistory.from_json(None) == CardHistory()


def test_a_scheduled_event_body_is_within_discords_limits() -> None:
    """Name ≤ 100, description ≤ 1,000, location ≤ 100; start and end in UTC."""
    event = make_event(name="N" * 500, description="D" * 5000)
    body = render_scheduled_event(event)
    assert body is not None
    assert len(body["name"]) <= 100
    assert len(body["description"]) <= 1000
    assert len(body["location"]) <= 100
    assert body["scheduled_start_time"] == isoformat_z(DATE)
    assert body["scheduled_end_time"] == isoformat_z(DATE + timedelta(hours=2))
    assert body["location"].startswith("https://")  # the best stream
    no_streams = render_scheduled_event(make_event(vid_urls=[]))
    assert no_streams is not None and no_streams["location"] == "International Space Station"
