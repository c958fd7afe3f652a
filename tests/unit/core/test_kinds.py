"""Tests for bot.core.kinds: the alert-kind registry and what is derived from it."""

from __future__ import annotations

import pkgutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import bot.core.kinds as kinds_package
from bot.core.alerts import Alert
from bot.core.changes import detect_changes
from bot.core.items import Event, EventUpdate
from bot.core.kinds import (
    ALL_KINDS,
    CHANGE_KINDS,
    KINDS_BY_NAME,
    AlertKind,
    Kind,
    kind_names,
    kinds_help,
    reminder,
)
from bot.core.options import UsageError, parse_kinds
from bot.devtools.discord_emulator.validate import check_message_limits, load_spec
from bot.ll2.parse import parse_event
from bot.render import check_limits, render_alert
from cogs._autocomplete import kind_choices
from tests.strategies import events

MESSAGE_CREATE = "/channels/{channel_id}/messages"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def kind_modules() -> list[str]:
    """Return the public modules of the bot.core.kinds package."""
    return sorted(
        m.name for m in pkgutil.iter_modules(kinds_package.__path__) if not m.name.startswith("_")
    )


def any_alert(kind: Kind, event: Event) -> Alert:
    """Build an alert of ``kind`` carrying every kind-specific detail a look may read."""
    dated = event if event.date else event.model_copy(update={"date": T0})
    assert dated.date is not None
    update = EventUpdate(
        id=7, comment="Hatch open.", info_url="https://example.com/u", created_by="LL2 Bot"
    )
    return Alert(
        kind,
        dated,
        "test",
        update=update,
        previous_date=dated.date - timedelta(days=2),
        lead=timedelta(hours=1),
    )


def discord_problems(payload: Any) -> list[str]:
    """Return what the Discord emulator's independent validator rejects in a message body."""
    spec = load_spec()
    errors = spec.validate_body(MESSAGE_CREATE, "POST", payload) + check_message_limits(payload)
    return [f"{'.'.join(e.path)}: {e.message}" for e in errors]


# --- the registry ----------------------------------------------------------------------------


def test_every_module_of_the_package_is_one_registered_kind_of_the_same_name() -> None:
    """Dropping a module into bot/core/kinds registers it: module names are the kinds' names."""
    assert sorted(kind_names()) == kind_modules()
    assert {"update", "webcast_live", "rescheduled", "new_event", "reminder"} <= set(kind_names())


def test_names_colours_and_ranks_are_unique_and_the_order_is_by_rank() -> None:
    """No two kinds share a name, colour or rank; ALL_KINDS is sorted by rank."""
    for attribute in ("name", "colour", "rank"):
        values = [getattr(k, attribute) for k in ALL_KINDS]
        assert len(set(values)) == len(values), attribute
    assert [k.rank for k in ALL_KINDS] == sorted(k.rank for k in ALL_KINDS)
    assert all(0 <= k.colour <= 0xFFFFFF for k in ALL_KINDS)


def test_the_named_handles_are_the_registry_entries() -> None:
    """AlertKind.REMINDER is the very Kind the registry holds under "reminder"."""
    assert AlertKind.REMINDER is KINDS_BY_NAME["reminder"] is reminder.KIND
    assert AlertKind.UPDATE.value == "update"
    assert str(AlertKind.WEBCAST_LIVE) == "webcast_live"
    handles = [v for k, v in vars(AlertKind).items() if k.isupper()]
    assert set(handles) <= set(ALL_KINDS)


def test_reminders_are_time_driven_and_every_other_kind_has_a_detector() -> None:
    """Only the reminder kind lacks a change detector; detect_changes runs all the others."""
    assert reminder.KIND.detect is None
    assert set(CHANGE_KINDS) == set(ALL_KINDS) - {reminder.KIND}


def test_the_old_import_path_still_resolves_to_the_registry() -> None:
    """`from bot.core.alerts import AlertKind, ALL_KINDS` keeps working for existing callers."""
    from bot.core import alerts

    assert alerts.ALL_KINDS is ALL_KINDS
    assert alerts.AlertKind is AlertKind
    with pytest.raises(AttributeError):
        _ = alerts.NO_SUCH_NAME  # type: ignore[attr-defined]


def test_detect_changes_orders_one_steps_alerts_by_rank() -> None:
    """A new, already-live item: the new-item alert comes before the live one (rank order)."""
    raw = {
        "id": 5,
        "name": "Crew-12 Docking",
        "date": "2026-11-28T12:00:00Z",
        "webcast_live": True,
        "last_updated": "2026-11-27T11:00:00Z",
    }
    alerts = detect_changes(None, parse_event(raw), seeding=False, now=T0)
    assert [a.kind for a in alerts] == [AlertKind.NEW_EVENT, AlertKind.WEBCAST_LIVE]


# --- what is derived from it -----------------------------------------------------------------


def test_parse_kinds_accepts_every_registered_name_in_registry_order() -> None:
    """The kinds option knows exactly the registry's names, returned in its order."""
    assert parse_kinds(",".join(reversed(kind_names()))) == kind_names()
    assert parse_kinds("all") == []
    with pytest.raises(UsageError, match="did you mean webcast_live"):
        parse_kinds("webcast_lve")


def test_help_text_lists_the_registry() -> None:
    """kinds_help() is the comma list --help and the slash option show."""
    assert kinds_help() == ", ".join(k.name for k in ALL_KINDS)


def test_autocomplete_offers_all_and_every_kind_for_an_empty_option() -> None:
    """Nothing typed: "all" and then each registered kind, each described by its `when`."""
    choices = kind_choices("")
    assert [value for _, value in choices] == ["all", *kind_names()]
    assert all(len(name) <= 100 and len(value) <= 100 for name, value in choices)
    assert choices[1][0] == f"{ALL_KINDS[0].name} — {ALL_KINDS[0].when}"


def test_autocomplete_completes_the_last_word_and_skips_listed_kinds() -> None:
    """`update, web` completes to update,webcast_live; a listed kind is not offered again."""
    assert [v for _, v in kind_choices("update, web")] == ["update,webcast_live"]
    offered = [v for _, v in kind_choices("update,")]
    assert "update,update" not in offered
    assert len(offered) == len(ALL_KINDS) - 1
    assert kind_choices("all,") == []
    assert kind_choices("nonsense") == []


# --- every registered kind renders what Discord accepts ----------------------------------


HOSTILE = {
    "id": 1300,
    "name": "@everyone " + "N" * 400,
    "description": "<@&1> **x** " * 900,
    "location": "L" * 3000,
    "type": {"id": 2, "name": "T" * 500},
    "date": "2026-11-27T12:38:29Z",
    "date_precision": {"id": 7, "name": "Month", "abbrev": "M"},
    "webcast_live": True,
    "feature_image": "javascript:alert(1)",
    "news_url": "https://example.com/" + "a" * 3000,
    "agencies": [{"id": i, "name": "A" * 200} for i in range(40)],
    "program": [{"id": i, "name": "P" * 200} for i in range(40)],
    "vid_urls": [
        {"url": f"https://example.com/{i}", "publisher": "V" * 200, "title": "t" * 500}
        for i in range(12)
    ],
    "last_updated": "2026-11-27T12:00:00Z",
}
PLAIN = {"id": 1, "name": "Spacewalk", "last_updated": "2026-11-27T12:00:00Z"}


@pytest.mark.parametrize("raw", [PLAIN, HOSTILE], ids=["plain", "hostile"])
@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_every_registered_kind_renders_a_message_discord_accepts(
    kind: Kind, raw: dict[str, Any]
) -> None:
    """Each kind's message passes the emulator's OpenAPI + limits validator, colour and all."""
    alert = any_alert(kind, parse_event(raw))
    payload = render_alert(alert, mention_role_ids=[42])
    assert discord_problems(payload) == []
    assert check_limits(payload) == []
    embed = payload["embeds"][0]
    assert embed["color"] == kind.colour
    assert embed["author"]["name"].startswith(kind.emoji)
    assert payload["content"].startswith("<@&42> " + kind.emoji)
    assert payload["allowed_mentions"] == {"parse": [], "roles": ["42"]}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=events())
def test_every_registered_kind_renders_any_event_within_discords_limits(event: Event) -> None:
    """Random LL2-shaped events, every kind: the emulator's validator accepts each message."""
    for kind in ALL_KINDS:
        payload = render_alert(any_alert(kind, event))
        assert discord_problems(payload) == [], kind
