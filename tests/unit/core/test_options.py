"""Parsing what users type: kinds, reminder leads, ids and names."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.options import UsageError, is_id, parse_kinds, parse_leads, resolve_named_ids

DEFAULT = (timedelta(hours=24), timedelta(hours=1), timedelta(minutes=10))


def test_all_alone_means_every_kind() -> None:
    """`all` (in any case) is the empty filter: every kind."""
    assert parse_kinds("ALL") == []
    assert parse_kinds(None) == []


def test_all_combined_with_a_kind_is_refused() -> None:
    """`all,update` is ambiguous: the answer says `all` cannot be combined."""
    with pytest.raises(UsageError, match="'all' cannot be combined"):
        parse_kinds("all,update")


@pytest.mark.parametrize("lead", ["30s", "59s", "0s", "15d"])
def test_a_lead_outside_one_minute_to_14_days_is_refused(lead: str) -> None:
    """Leads under a minute or over two weeks are refused with the range."""
    with pytest.raises(UsageError, match="between 1m and 14d"):
        parse_leads(lead, DEFAULT)


def test_a_one_minute_lead_is_accepted() -> None:
    """The shortest lead allowed is exactly one minute."""
    assert parse_leads("1m,1h", DEFAULT) == [3600, 60]


@pytest.mark.parametrize("text", ["²", "٣", "①"])
def test_unicode_digits_are_not_ids(text: str) -> None:
    """str.isdigit admits `²`, which int() refuses: only ASCII digits are ids."""
    assert not is_id(text)
    with pytest.raises(UsageError, match="no such event type"):
        resolve_named_ids([text], [(2, "Docking")], "event type")
