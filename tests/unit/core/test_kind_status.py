"""The ``status`` kind, ``rescheduled`` from the date announced, and launch subscription filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.alerts import Alert
from bot.core.changes import detect_changes, subscription_matches
from bot.core.kinds import KINDS_BY_NAME, DetectContext
from bot.core.kinds import status as status_kind
from bot.core.kinds.rescheduled import same_coarse_span
from bot.core.launches import Launch
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator.launches import load_recorded_launches
from bot.ll2.parse import parse_event
from bot.render.alerts import MARKUP, render_alert

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NET = NOW + timedelta(hours=3)
DRAGON = "e60aa241-1f2c-4459-ba94-2f576c3e5632"
STARLINK = "6f2868b8-1000-48e5-893b-700c1371b4fb"
STATUS = {1: "Go", 2: "TBD", 3: "Success", 4: "Failure", 5: "Hold", 6: "In Flight"}


def launch(
    status: int = 2,
    *,
    at: datetime = NOW,
    net: datetime = NET,
    launch_id: str = DRAGON,
    **fields: Any,
) -> Launch:
    """Return a recorded launch with this status, NET and ``last_updated``."""
    raw = next(x for x in load_recorded_launches() if x["id"] == launch_id)
    data = {
        **raw,
        "status": {"id": status, "name": STATUS[status], "abbrev": STATUS[status]},
        "net": net.isoformat(),
        "net_precision": {"id": 1, "name": "Minute"},
        "last_updated": at.isoformat(),
        **fields,
    }
    return Launch.model_validate(data)


def context(**overrides: Any) -> DetectContext:
    """Return a detection context after seeding, 5-minute threshold."""
    values: dict[str, Any] = {
        "seeding": False,
        "now": NOW,
        "reschedule_threshold": timedelta(minutes=5),
    }
    values.update(overrides)
    return DetectContext(**values)


def test_a_changed_status_is_one_alert_keyed_by_status_and_time() -> None:
    """TBD → Go gives one ``status`` alert keyed ``1@<last_updated>``, showing the step."""
    alerts = status_kind.detect(launch(2), launch(1), context())
    assert [a.kind for a in alerts] == [status_kind.KIND]
    assert alerts[0].discriminator == "1@2026-11-27T12:00:00Z"
    assert alerts[0].previous_status == (2, "TBD")
    look = status_kind.look(alerts[0], MARKUP)
    assert look.fields == [("🚦 Status", "~~TBD~~ → **Go**")]
    assert status_kind.content(alerts[0], MARKUP).startswith("🚦 Go · ")


def test_the_same_status_first_sight_and_seeding_first_sight_are_quiet() -> None:
    """Unchanged status, a first sight and a seed's first sight raise nothing."""
    assert status_kind.detect(launch(1), launch(1, at=NOW + timedelta(minutes=1)), context()) == []
    assert status_kind.detect(None, launch(1), context()) == []
    assert status_kind.detect(None, launch(1), context(seeding=True)) == []


def test_hold_go_hold_is_two_hold_alerts_with_distinct_keys() -> None:
    """Going back to a status at a later time is a new transition, a new key."""
    first = status_kind.detect(launch(1), launch(5, at=NOW), context())
    second = status_kind.detect(launch(1), launch(5, at=NOW + timedelta(hours=1)), context())
    assert first[0].key("channel:1") != second[0].key("channel:1")


def test_a_failure_alert_renders_its_failreason_in_the_status_colour() -> None:
    """The message carries LL2's failreason and the kind's colour."""
    (alert,) = status_kind.detect(
        launch(6), launch(4, failreason="Second stage shut down early"), context()
    )
    message = render_alert(alert)
    assert message["embeds"][0]["color"] == status_kind.KIND.colour
    assert "Second stage shut down early" in str(message["embeds"][0])


def test_events_never_raise_status() -> None:
    """An event has no status: the kind stays quiet whatever changed."""
    before = parse_event(make_event(5001, "Docking", date=NET, last_updated=NOW))
    after = parse_event(make_event(5001, "Docking", date=NET, last_updated=NOW, webcast_live=True))
    assert status_kind.detect(before, after, context()) == []
    assert KINDS_BY_NAME["status"] is status_kind.KIND


def _slip(minutes: int) -> datetime:
    return NET + timedelta(minutes=minutes)


def test_slips_are_measured_from_the_date_announced_not_the_last_snapshot() -> None:
    """2-minute steps: quiet at 2 and 4 from the announced NET, an alert at 6."""
    told = {"announced_date": NET, "announced_precision": "minute"}
    for minutes, expected in ((2, []), (4, []), (6, ["rescheduled"])):
        before = launch(net=_slip(minutes - 2))
        after = launch(net=_slip(minutes))
        alerts = detect_changes(before, after, seeding=False, now=NOW, **told)
        assert [a.kind.name for a in alerts] == expected
    (alert,) = detect_changes(
        launch(net=_slip(4)), launch(net=_slip(6)), seeding=False, now=NOW, **told
    )
    assert alert.previous_date == NET


def test_a_move_inside_a_coarse_precision_is_no_news() -> None:
    """ "NET December" to another December day is quiet; to January it is news."""
    dec1 = datetime(2026, 12, 1, tzinfo=UTC)
    assert same_coarse_span(dec1, "Month", datetime(2026, 12, 19, tzinfo=UTC), "Month")
    assert not same_coarse_span(dec1, "Month", datetime(2027, 1, 5, tzinfo=UTC), "Month")
    assert same_coarse_span(dec1, "Quarter 4", datetime(2026, 11, 2, tzinfo=UTC), "Quarter 4")
    assert not same_coarse_span(NET, "Minute", NET + timedelta(hours=2), "Minute")
    month = {"id": 7, "name": "Month"}
    before = launch(net=dec1, net_precision=month)
    after = launch(net=datetime(2026, 12, 19, tzinfo=UTC), net_precision=month)
    assert detect_changes(before, after, seeding=False, now=NOW) == []


def _matches(alert: Alert, **filters: Any) -> bool:
    values: dict[str, Any] = {"kinds": (), "type_ids": (), "agency_ids": (), "program_ids": ()}
    values.update(filters)
    return subscription_matches(alert=alert, **values)


def test_provider_and_exclude_filters_choose_launches() -> None:
    """provider:SpaceX exclude:Starlink takes the Dragon, not the Starlink; type is events-only."""
    dragon = status_kind.detect(launch(2), launch(1), context())[0]
    starlink = status_kind.detect(
        launch(2, launch_id=STARLINK), launch(1, launch_id=STARLINK), context()
    )[0]
    spacex = {"feed": "launches", "provider_ids": [121], "exclude": ["Starlink"]}
    assert _matches(dragon, **spacex)
    assert not _matches(starlink, **spacex)
    assert not _matches(dragon, provider_ids=[147])
    assert not _matches(dragon, type_ids=[2])  # an event type: limits to events
    assert not _matches(dragon, feed="events")
    assert _matches(dragon, feed="all", exclude=["starlink"])
