"""Tests for bot.render.lookups: the event list and event views stay within Discord's limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.core.items import Event
from bot.render import (
    check_limits,
    render_event_list,
    render_event_message,
)
from tests.strategies import events
from tests.unit.render._helpers import (
    PROPERTY,
    make_event,
)


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
@given(listed=st.lists(events(), max_size=25))
def test_any_lookup_renders_within_discord_limits(listed: list[Event]) -> None:
    """Lookup views of random events, alone and as a list, always pass check_limits."""
    assert check_limits(render_event_list(listed, title="Upcoming")) == []
    for event in listed[:3]:
        assert check_limits(render_event_message(event)) == []
