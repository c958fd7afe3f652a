"""`/status`'s polling line: the next poll, or a loud overdue warning."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app.service import poll_line
from bot.pipeline.runner import PollHealth

DUE = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
LAST = datetime(2026, 12, 3, 9, 50, tzinfo=UTC)


def test_a_poll_on_time_shows_when_it_is_due() -> None:
    """On schedule: a Discord timestamp of the next poll, no warning."""
    line = poll_line(PollHealth(last_poll=LAST, last_attempt=LAST, next_poll_at=DUE, overdue=False))
    assert line == f"<t:{int(DUE.timestamp())}:F> (<t:{int(DUE.timestamp())}:R>)"


def test_an_overdue_poll_says_so_with_when_polling_last_ended() -> None:
    """Overdue (a hanging LL2): the line warns and says when the last poll ended."""
    health = PollHealth(last_poll=None, last_attempt=LAST, next_poll_at=DUE, overdue=True)
    line = poll_line(health)
    assert line.startswith("⚠️ overdue")
    assert f"<t:{int(DUE.timestamp())}:R>" in line
    assert f"the last poll ended <t:{int(LAST.timestamp())}:R>" in line


def test_no_plan_yet_is_said_plainly() -> None:
    """Before the first plan there is no time to show."""
    health = PollHealth(last_poll=None, last_attempt=None, next_poll_at=None, overdue=False)
    assert poll_line(health) == "not planned yet"
