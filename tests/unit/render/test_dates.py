"""Tests for bot.render.dates: dates never finer than their precision."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.render import (
    format_event_date,
    format_event_date_plain,
)
from tests.unit.render._helpers import (
    DATE,
    UNIX,
    make_event,
)


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
