"""The console sink's text: Discord markup turned into readable terminal lines."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.core.alerts import rescheduled_alert, webcast_live_alert
from bot.core.kinds import new_event_alert, update_alert
from bot.devtools.factories import make_event
from bot.ll2.parse import parse_event
from bot.render import alert_json, payload_text, plain_text, render_alert
from tests.conftest import T0
from tests.unit.render import _helpers as helpers


def test_timestamps_become_utc_text_and_relative_ones_vanish() -> None:
    """`<t:…:F>` → `YYYY-MM-DD HH:MM UTC`, `<t:…:D>` → a date, `(<t:…:R>)` → nothing."""
    stamp = int(datetime(2026, 11, 27, 12, 38, tzinfo=UTC).timestamp())
    text = f"<t:{stamp}:F> (<t:{stamp}:R>) · <t:{stamp}:D>"
    assert plain_text(text) == "2026-11-27 12:38 UTC · 2026-11-27"


def test_links_emphasis_and_escapes_read_plainly() -> None:
    """Markdown links show their URL; bold/strike markers and Discord escapes disappear."""
    text = r"~~old~~ → **new** · [NASA (English)](https://nasa.gov/live) · 3\*4 \_x\_"
    assert plain_text(text) == "old → new · NASA (English) <https://nasa.gov/live> · 3*4 _x_"


def test_mentions_are_shown_not_pinged() -> None:
    """A role mention prints as `@role:ID`; zero-width spaces are dropped."""
    assert plain_text("<@&123> @\u200beveryone") == "@role:123 @everyone"


def test_an_alert_reads_as_kind_name_facts_and_watch_links() -> None:
    """A rendered webcast alert prints its kind, name, date in UTC and one line per button."""
    event = parse_event(make_event(42, "Soyuz MS-29 Docking", date=T0, last_updated=T0))
    alert = webcast_live_alert(event)
    payload = alert_json(alert, key="k", subscription_id=1, message=render_alert(alert))
    text = payload_text(payload)
    lines = text.splitlines()
    assert lines[0] == "[webcast_live] Soyuz MS-29 Docking (#42)"
    assert "2026-11-27 12:00 UTC" in text
    assert "<t:" not in text and "](" not in text
    assert sum(line.strip().startswith("▶") for line in lines) == len(event.vid_urls)


def test_a_slip_reads_old_then_new_date() -> None:
    """The rescheduled line shows the old and the new date, in order, without markup."""
    old = parse_event(make_event(7, "Cygnus Docking", date=T0, last_updated=T0))
    new = parse_event(make_event(7, "Cygnus Docking", date=T0.replace(hour=14), last_updated=T0))
    alert = rescheduled_alert(new, old.date)
    text = payload_text(alert_json(alert, key="k", subscription_id=1, message=render_alert(alert)))
    assert "2026-11-27 12:00 UTC → 2026-11-27 14:00 UTC" in text


def test_console_text_is_plain_and_readable() -> None:
    """The console text names the kind, event, plain UTC date, update and webcasts, no markup."""
    event = helpers.make_event()
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
    alert = new_event_alert(helpers.make_event(name="Evil\x1b[2J name", description="a\x07b"))
    message = render_alert(alert)
    text = payload_text(alert_json(alert, key="k", subscription_id=None, message=message))
    assert "\x1b" not in text
    assert "\x07" not in text
