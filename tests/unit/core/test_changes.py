"""Tests for bot.core.changes: which alerts a step between two snapshots deserves, pure data."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.core.alerts import Alert
from bot.core.changes import detect_changes, lead_allowed, reminder_due_times, subscription_matches
from bot.core.items import Event
from bot.core.kinds import (
    ALL_KINDS,
    AlertKind,
    Kind,
    new_event_alert,
    rescheduled_alert,
    update_alert,
    webcast_live_alert,
)
from bot.core.timeutil import isoformat_z
from bot.devtools.factories import make_event
from bot.ll2.parse import parse_event
from tests.conftest import T0

NOW = T0
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
THRESHOLD = timedelta(minutes=5)
OLD = T0 - 2 * DAY


def event(
    *,
    date: datetime | None = T0 + 3 * HOUR,
    webcast_live: bool = False,
    updates: list[tuple[int, datetime | None]] | None = None,
    last_updated: datetime = OLD,
    **fields: Any,
) -> Event:
    """Return a parsed Docking event #5001 with the given date, webcast flag and updates."""
    raw = make_event(
        5001,
        "Crew-13 Docking",
        date=date or T0,
        last_updated=last_updated,
        webcast_live=webcast_live,
    )
    if date is None:
        raw["date"] = None
    if updates is not None:
        raw["updates"] = [
            {
                "id": uid,
                "comment": f"update {uid}",
                "created_by": "tester",
                "created_on": isoformat_z(created) if created else None,
            }
            for uid, created in updates
        ]
    raw.update(fields)
    return parse_event(raw)


def detect(stored: Event | None, new: Event, *, seeding: bool = False) -> list[Alert]:
    """Run detect_changes at NOW with the default 5-minute threshold."""
    return detect_changes(stored, new, seeding=seeding, now=NOW, reschedule_threshold=THRESHOLD)


def kinds(alerts: list[Alert]) -> list[Kind]:
    """Return the alert kinds in order."""
    return [a.kind for a in alerts]


# --- first sight: seeding vs. later ----------------------------------------------------------


def test_seeding_an_event_with_history_is_quiet() -> None:
    """The seeding sync posts nothing for an event's existing updates and date."""
    new = event(updates=[(1, OLD), (2, OLD + HOUR)])
    assert detect(None, new, seeding=True) == []


def test_seeding_announces_a_webcast_that_is_live_right_now() -> None:
    """A webcast already live when the store is seeded is news (architecture.md, invariant 4)."""
    new = event(webcast_live=True, updates=[(1, OLD)])
    assert detect(None, new, seeding=True) == [webcast_live_alert(new)]


def test_event_first_seen_after_seeding_is_a_new_event() -> None:
    """An unknown future event on a later sync gives one `new_event`, keyed by its id."""
    new = event(updates=[(1, OLD)])
    alerts = detect(None, new)
    assert alerts == [new_event_alert(new)]
    assert alerts[0].key(None) == "console:events:5001:new_event:5001"


def test_new_event_with_its_webcast_already_live_gives_both_alerts() -> None:
    """An unknown event that is already live is announced as new and as live."""
    new = event(webcast_live=True)
    assert kinds(detect(None, new)) == [AlertKind.NEW_EVENT, AlertKind.WEBCAST_LIVE]


def test_undated_event_first_seen_after_seeding_is_a_new_event() -> None:
    """An event without a date yet is still ahead of us, so it is announced."""
    new = event(date=None)
    assert detect(None, new) == [new_event_alert(new)]


@pytest.mark.parametrize("date", [T0 - MINUTE, T0], ids=["past", "exactly-now"])
def test_event_first_seen_in_the_past_is_not_a_new_event(date: datetime) -> None:
    """An unknown event whose date is not ahead (backfilled history) stays quiet."""
    assert detect(None, event(date=date)) == []


def test_new_event_is_never_announced_while_seeding() -> None:
    """While seeding, a future event is history too."""
    assert detect(None, event(date=T0 + DAY), seeding=True) == []


# --- updates ---------------------------------------------------------------------------------


def test_one_new_update_gives_one_update_alert() -> None:
    """A single appended entry in `updates` gives one `update` keyed by its id."""
    stored = event(updates=[(1, OLD)])
    new = event(updates=[(1, OLD), (2, NOW)])
    alerts = detect(stored, new)
    assert alerts == [update_alert(new, new.updates[1])]
    assert alerts[0].discriminator == "2"


def test_several_new_updates_come_out_in_created_on_order() -> None:
    """New updates are announced oldest first by `created_on`, whatever LL2's list order."""
    stored = event(updates=[(1, OLD)])
    new = event(updates=[(7, NOW - MINUTE), (1, OLD), (3, NOW - 3 * MINUTE), (5, NOW - 2 * MINUTE)])
    alerts = detect(stored, new)
    assert kinds(alerts) == [AlertKind.UPDATE] * 3
    assert [a.discriminator for a in alerts] == ["3", "5", "7"]


def test_updates_without_created_on_come_last_in_id_order() -> None:
    """Undated new updates follow the dated ones, by id."""
    stored = event(updates=[])
    new = event(updates=[(9, None), (4, None), (6, NOW)])
    assert [a.discriminator for a in detect(stored, new)] == ["6", "4", "9"]


def test_unchanged_updates_are_quiet() -> None:
    """The same updates again (reordered) give nothing."""
    stored = event(updates=[(1, OLD), (2, OLD + HOUR)])
    new = event(updates=[(2, OLD + HOUR), (1, OLD)], last_updated=NOW)
    assert detect(stored, new) == []


def test_removed_update_is_quiet() -> None:
    """An update LL2 deleted is not an alert."""
    stored = event(updates=[(1, OLD), (2, OLD + HOUR)])
    assert detect(stored, event(updates=[(1, OLD)])) == []


# --- webcast ---------------------------------------------------------------------------------


def test_webcast_going_live_alerts_once() -> None:
    """`webcast_live` false→true gives one `webcast_live` keyed by the transition's stamp."""
    stored = event(webcast_live=False)
    new = event(webcast_live=True, last_updated=NOW)
    alerts = detect(stored, new)
    assert alerts == [webcast_live_alert(new)]
    assert alerts[0].discriminator == isoformat_z(NOW)


def test_webcast_staying_live_is_quiet() -> None:
    """`webcast_live` true→true (another edit while live) gives nothing."""
    stored = event(webcast_live=True)
    assert detect(stored, event(webcast_live=True, last_updated=NOW)) == []


def test_webcast_ending_is_quiet() -> None:
    """`webcast_live` true→false gives nothing."""
    assert detect(event(webcast_live=True), event(webcast_live=False, last_updated=NOW)) == []


def test_a_second_live_episode_is_a_new_alert_with_its_own_key() -> None:
    """Live, off, live again: the second false→true is its own episode with a distinct key."""
    first = detect(event(), event(webcast_live=True, last_updated=NOW - HOUR))
    off = event(webcast_live=False, last_updated=NOW - 30 * MINUTE)
    second = detect(off, event(webcast_live=True, last_updated=NOW))
    assert kinds(first) == kinds(second) == [AlertKind.WEBCAST_LIVE]
    assert first[0].key(1) != second[0].key(1)


# --- reschedules -----------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [THRESHOLD, -THRESHOLD, 2 * HOUR, -2 * HOUR, 3 * DAY])
def test_date_moved_by_the_threshold_or_more_is_rescheduled(shift: timedelta) -> None:
    """A date that moves by ≥ 5 min (either way) and is still ahead gives one `rescheduled`."""
    stored = event(date=T0 + 3 * HOUR)
    new = event(date=T0 + 3 * HOUR + shift, last_updated=NOW)
    alerts = detect(stored, new)
    assert alerts == [rescheduled_alert(new, stored.date)]
    assert alerts[0].previous_date == stored.date
    assert alerts[0].discriminator == isoformat_z(T0 + 3 * HOUR + shift)


@pytest.mark.parametrize(
    "shift", [THRESHOLD - timedelta(seconds=1), -(THRESHOLD - timedelta(seconds=1)), timedelta(0)]
)
def test_date_moved_by_less_than_the_threshold_is_quiet(shift: timedelta) -> None:
    """A nudge under 5 min (or none) is not a reschedule."""
    stored = event(date=T0 + 3 * HOUR)
    assert detect(stored, event(date=T0 + 3 * HOUR + shift, last_updated=NOW)) == []


def test_the_threshold_is_the_one_passed_in() -> None:
    """A configured 30-minute threshold keeps a 10-minute slip quiet and alerts at 30."""
    stored = event(date=T0 + 3 * HOUR)
    wide = timedelta(minutes=30)
    ten = event(date=T0 + 3 * HOUR + 10 * MINUTE)
    thirty = event(date=T0 + 3 * HOUR + 30 * MINUTE)
    assert detect_changes(stored, ten, seeding=False, now=NOW, reschedule_threshold=wide) == []
    assert kinds(
        detect_changes(stored, thirty, seeding=False, now=NOW, reschedule_threshold=wide)
    ) == [AlertKind.RESCHEDULED]


@pytest.mark.parametrize("new_date", [T0 - HOUR, T0], ids=["past", "exactly-now"])
def test_reschedule_into_the_past_is_quiet(new_date: datetime) -> None:
    """A date moved to now or earlier (LL2 recording what happened) is not announced."""
    assert detect(event(date=T0 + 3 * HOUR), event(date=new_date, last_updated=NOW)) == []


def test_date_appearing_or_disappearing_is_not_a_reschedule() -> None:
    """A date given for the first time, or withdrawn, is no `rescheduled` (nothing to compare)."""
    assert detect(event(date=None), event(date=T0 + DAY)) == []
    assert detect(event(date=T0 + DAY), event(date=None)) == []


def test_every_change_at_once_gives_each_kind_in_a_stable_order() -> None:
    """An update, a live webcast and a slip in one step: update, webcast_live, rescheduled."""
    stored = event(updates=[(1, OLD)], webcast_live=False, date=T0 + HOUR)
    new = event(
        updates=[(1, OLD), (2, NOW)], webcast_live=True, date=T0 + 2 * HOUR, last_updated=NOW
    )
    assert kinds(detect(stored, new)) == [
        AlertKind.UPDATE,
        AlertKind.WEBCAST_LIVE,
        AlertKind.RESCHEDULED,
    ]


def test_a_known_event_during_seeding_still_reports_real_changes() -> None:
    """`seeding` only quiets first sight: a stored event's new update is still an alert."""
    stored = event(updates=[(1, OLD)])
    new = event(updates=[(1, OLD), (2, NOW)])
    assert kinds(detect(stored, new, seeding=True)) == [AlertKind.UPDATE]


# --- reminder leads per date precision (docs/architecture.md, invariant 5) ----------------

SUB_DAY_LEADS = [timedelta(minutes=10), HOUR, 23 * HOUR + 59 * MINUTE]
DAY_PLUS_LEADS = [DAY, 2 * DAY, 7 * DAY]


@pytest.mark.parametrize("precision", ["Second", "Minute", "Hour", None])
@pytest.mark.parametrize("lead", SUB_DAY_LEADS + DAY_PLUS_LEADS)
def test_exact_dates_allow_every_lead(precision: str | None, lead: timedelta) -> None:
    """Second, Minute, Hour or no precision at all: every lead, under 24h or not."""
    assert lead_allowed(lead, precision.lower() if precision else None)


@pytest.mark.parametrize("precision", ["Day", "Morning", "Afternoon"])
def test_day_precisions_allow_only_leads_of_a_day_or_more(precision: str) -> None:
    """Day, Morning, Afternoon: 24h and longer leads yes, shorter ones no."""
    name = precision.lower()
    assert all(lead_allowed(lead, name) for lead in DAY_PLUS_LEADS)
    assert not any(lead_allowed(lead, name) for lead in SUB_DAY_LEADS)


@pytest.mark.parametrize(
    "precision",
    [
        "Week",
        "Month",
        "Business Quarter (Q1)",
        "Business Quarter (Q4)",
        "1st Half",
        "Year",
        "Fiscal Year",
        "Decade",
    ],
)
def test_coarse_precisions_allow_no_reminder(precision: str) -> None:
    """Week, Month, Quarter, Half, Year and coarser: no lead at all."""
    name = precision.lower()
    assert not any(lead_allowed(lead, name) for lead in SUB_DAY_LEADS + DAY_PLUS_LEADS)


@pytest.mark.parametrize(
    ("precision", "expected"),
    [
        ({"id": 1, "name": "Minute", "abbrev": "MIN"}, [DAY, HOUR, 10 * MINUTE]),
        ({"id": 5, "name": "Day", "abbrev": "DAY"}, [DAY]),
        ({"id": 3, "name": "Morning", "abbrev": "AM"}, [DAY]),
        ("Afternoon", [DAY]),  # 2.1.0 gives the bare name
        (None, [DAY, HOUR, 10 * MINUTE]),
        ({"id": 7, "name": "Month", "abbrev": "M"}, []),
        ({"id": 6, "name": "Week", "abbrev": "W"}, []),
    ],
)
def test_reminder_due_times_follow_the_events_own_precision(
    precision: Any, expected: list[timedelta]
) -> None:
    """The parsed event's own `date_precision` picks its leads; each is due at date - lead."""
    date = T0 + 3 * DAY
    ev = event(date=date, date_precision=precision)
    due = reminder_due_times(ev, [DAY, HOUR, 10 * MINUTE])
    assert due == [(lead, date - lead) for lead in expected]


def test_an_undated_event_has_no_reminders() -> None:
    """No date, nothing to remind about."""
    assert reminder_due_times(event(date=None), [DAY, HOUR]) == []


# --- subscription filters --------------------------------------------------------------------


def docking_alert(kind: Kind = AlertKind.UPDATE) -> Alert:
    """Return an alert of ``kind`` (any registered one) on a Docking with agencies and programs.

    Matching reads only the kind and the item, so the alert is built directly rather than
    through each kind's own builder: a kind added later is covered without a change here.
    """
    ev = event(
        updates=[(1, OLD)],
        agencies=[
            {"id": 63, "name": "Roscosmos", "abbrev": "RFSA"},
            {"id": 44, "name": "NASA", "abbrev": "NASA"},
        ],
        program=[{"id": 17, "name": "International Space Station"}],
    )
    return Alert(kind, ev, "test", update=ev.updates[0], previous_date=T0, lead=HOUR)


def matches(
    alert: Alert,
    *,
    kinds: list[str] | None = None,
    types: list[int] | None = None,
    agencies: list[int] | None = None,
    programs: list[int] | None = None,
) -> bool:
    """Call subscription_matches with empty filters unless given."""
    return subscription_matches(
        kinds=kinds or [],
        type_ids=types or [],
        agency_ids=agencies or [],
        program_ids=programs or [],
        alert=alert,
    )


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_a_subscription_without_filters_wants_every_alert(kind: Kind) -> None:
    """Empty kinds/types/agencies/programs mean "all"."""
    assert matches(docking_alert(kind))


@pytest.mark.parametrize("kind", ALL_KINDS, ids=str)
def test_kinds_filter_keeps_only_the_listed_kinds(kind: Kind) -> None:
    """`kinds=update,reminder` passes those two kinds and no other."""
    wanted = kind in (AlertKind.UPDATE, AlertKind.REMINDER)
    assert matches(docking_alert(kind), kinds=["update", "reminder"]) is wanted


def test_type_filter_matches_the_events_type_id() -> None:
    """A Docking (2) alert passes a type filter containing 2 and fails one without it."""
    alert = docking_alert()
    assert matches(alert, types=[2])
    assert matches(alert, types=[4, 2])
    assert not matches(alert, types=[4])


def test_type_filter_rejects_an_event_without_a_type() -> None:
    """An event LL2 gave no type cannot match a type filter (but matches none)."""
    alert = new_event_alert(event(type=None))
    assert not matches(alert, types=[2])
    assert matches(alert)


def test_agency_filter_needs_any_one_of_the_events_agencies() -> None:
    """Any shared agency id passes; none shared, or an event without agencies, fails."""
    alert = docking_alert()
    assert matches(alert, agencies=[44])
    assert matches(alert, agencies=[1, 63])
    assert not matches(alert, agencies=[121])
    assert not matches(new_event_alert(event(agencies=[])), agencies=[44])


def test_program_filter_needs_any_one_of_the_events_programs() -> None:
    """Any shared program id passes; none shared, or an event without programs, fails."""
    alert = docking_alert()
    assert matches(alert, programs=[17])
    assert not matches(alert, programs=[25])
    assert not matches(new_event_alert(event(program=[])), programs=[17])


def test_all_filters_must_hold_together() -> None:
    """Kinds, type, agency and program combine with AND."""
    alert = docking_alert(AlertKind.REMINDER)
    assert matches(alert, kinds=["reminder"], types=[2], agencies=[63], programs=[17])
    assert not matches(alert, kinds=["update"], types=[2], agencies=[63], programs=[17])
    assert not matches(alert, kinds=["reminder"], types=[3], agencies=[63], programs=[17])
    assert not matches(alert, kinds=["reminder"], types=[2], agencies=[1], programs=[17])
    assert not matches(alert, kinds=["reminder"], types=[2], agencies=[63], programs=[99])
