"""Properties: whatever LL2 sends, parse → detect_changes → render never crashes, and every
payload fits Discord's limits; garbage pages are rejected item by item with a reason."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.core.changes import detect_changes
from bot.core.items import Event
from bot.core.kinds.webcast_live import STALE_AFTER
from bot.devtools.discord_emulator.validate import check_message_limits, load_spec
from bot.ll2.parse import parse_event, parse_items
from bot.pipeline.records import event_from_snapshot
from bot.render import check_limits, render_alert
from tests.strategies import raw_events

DISCORD = load_spec()
MESSAGE_CREATE = "/channels/{channel_id}/messages"


def test_the_independent_validator_rejects_what_discord_would() -> None:
    """The emulator's validator knows the message-create schema and Discord's limits."""
    op = DISCORD.operation(MESSAGE_CREATE, "POST")
    assert op is not None and op.validator is not None
    assert DISCORD.validate_body(MESSAGE_CREATE, "POST", {"embeds": "not a list"}) != []
    assert check_message_limits({"content": "x" * 2001}) != []


# Hypothesis's pytest plugin touches mypy_extensions.TypedDict while reporting a failure;
# under filterwarnings=error that DeprecationWarning turns a real failure into INTERNALERROR.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2080, 12, 31), timezones=st.just(UTC)
)
_role_ids = st.one_of(st.none(), st.integers(min_value=1, max_value=2**63 - 1))
_thresholds = st.sampled_from([timedelta(minutes=5), timedelta(0), timedelta(days=1)])

# Any JSON value, including deep nesting and the odd big or non-finite-looking number.
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)

# Timestamps LL2 has never sent but a broken proxy or an edit might: the edges of datetime.
_edge_timestamps = st.sampled_from(
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-23:59",
        "1970-01-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-27T25:00:00Z",
        "2026-11-27",
        "2026-11-27T12:00:00",
        "not a date",
        "",
    ]
)

EVENT_FIELDS = (
    "id", "name", "slug", "url", "type", "description", "location", "date", "date_precision",
    "duration", "webcast_live", "image", "feature_image", "news_url", "video_url", "info_urls",
    "vid_urls", "updates", "agencies", "program", "last_updated", "response_mode",
)  # fmt: skip


def render_all(stored: Event | None, new: Event, *, seeding: bool, now: datetime) -> None:
    """Detect the step's alerts, render each and check it against Discord's limits."""
    for threshold in (timedelta(minutes=5), timedelta(0)):
        alerts = detect_changes(
            stored, new, seeding=seeding, now=now, reschedule_threshold=threshold
        )
        for alert in alerts:
            assert alert.event is new
            for roles in ((), (1234567890123456789,), (111, 222)):
                payload = render_alert(alert, mention_role_ids=roles)
                assert check_limits(payload) == [], (alert.kind, check_limits(payload))
                # and by the Discord emulator's own reading of Discord's rules, written apart
                # from our renderer: the OpenAPI schema of a message create, and its limits
                spec_errors = DISCORD.validate_body(MESSAGE_CREATE, "POST", payload)
                assert spec_errors == [], (alert.kind, spec_errors)
                limit_errors = check_message_limits(payload)
                assert limit_errors == [], (alert.kind, limit_errors)
                json.dumps(payload)  # what the outbox stores and the console prints


@PROPERTY
@given(
    stored=raw_events(),
    new=raw_events(),
    seeding=st.booleans(),
    first_sight=st.booleans(),
    now=_moments,
)
def test_any_two_snapshots_of_an_event_detect_and_render_within_limits(
    stored: dict[str, Any], new: dict[str, Any], seeding: bool, first_sight: bool, now: datetime
) -> None:
    """Random 2.2.0/2.3.0 snapshots of one id, seeding or not: alerts render within limits."""
    new = dict(new, id=stored["id"])
    (before, _), (after, _) = (parse_items([raw])[0][0] for raw in (stored, new))
    # The store keeps a JSON snapshot and rebuilds the event from it, as sync does.
    previous = None if first_sight else event_from_snapshot(before.model_dump(mode="json"))
    render_all(previous, after, seeding=seeding, now=now)


@PROPERTY
@given(raw=raw_events(), now=_moments)
def test_a_snapshot_round_trips_and_an_unchanged_event_is_quiet(
    raw: dict[str, Any], now: datetime
) -> None:
    """The stored snapshot rebuilds the same event, and diffing it with itself gives nothing."""
    event = parse_event(raw)
    rebuilt = event_from_snapshot(json.loads(json.dumps(event.model_dump(mode="json"))))
    assert rebuilt == event
    assert detect_changes(rebuilt, event, seeding=False, now=now) == []


@PROPERTY
@given(raw=raw_events(), now=_moments)
def test_seeding_never_announces_more_than_a_live_webcast(
    raw: dict[str, Any], now: datetime
) -> None:
    """First sight while seeding: at most the live webcast, never history (invariant 4) —
    and not a live flag left on long after the item's date (a stale edit, not a stream)."""
    event = parse_event(raw)
    kinds = [a.kind.value for a in detect_changes(None, event, seeding=True, now=now)]
    stale = event.date is not None and event.date < now - STALE_AFTER
    assert kinds == (["webcast_live"] if event.webcast_live and not stale else [])


@PROPERTY
@given(junk=st.binary(max_size=200))
def test_random_bytes_as_a_page_never_crash_parse_items(junk: bytes) -> None:
    """Bytes, or whatever JSON they happen to decode to, are parsed or rejected with a reason."""
    candidates: list[Any] = [junk, junk.decode("latin-1")]
    with contextlib.suppress(ValueError):
        candidates.append(json.loads(junk))
    for results in candidates:
        assert_accounted(results)


@PROPERTY
@given(results=json_values)
def test_garbage_json_results_never_crash_parse_items(results: Any) -> None:
    """Any JSON value as `results` is parsed or rejected item by item, never an exception."""
    assert_accounted(results)


GOOD = {"id": 1300, "name": "Soyuz MS-28 Docking", "last_updated": "2025-11-27T12:46:33Z"}
MIDNIGHT = datetime(2026, 11, 27, tzinfo=UTC)


@PROPERTY
# Found by this property: each crashed parse_items (so the whole page) or rendered an
# embed Discord would refuse.
@example(raw=GOOD, field="info_urls", garbage=5, now=MIDNIGHT)
@example(raw=GOOD, field="date", garbage="0001-01-01T00:00:00+01:00", now=MIDNIGHT)
@example(raw=GOOD, field="date", garbage="9999-12-31T23:59:59-23:59", now=MIDNIGHT)
@example(raw=GOOD, field="last_updated", garbage="0001-01-01T00:00:00Z", now=MIDNIGHT)
@given(
    raw=raw_events(),
    field=st.sampled_from(EVENT_FIELDS),
    garbage=st.one_of(json_values, _edge_timestamps),
    now=_moments,
)
def test_an_event_with_one_garbage_field_is_rejected_or_renders_within_limits(
    raw: dict[str, Any], field: str, garbage: Any, now: datetime
) -> None:
    """One field replaced by junk: the item is rejected with a reason, or it works end to end."""
    broken = dict(raw, **{field: garbage})
    parsed, rejected = parse_items([raw, broken])
    assert len(parsed) + len(rejected) == 2
    # the first parsed item is the good one (its raw may come back cleaned of control chars)
    good_first = parsed and parsed[0][0].id == raw["id"] and parsed[0][1].keys() == raw.keys()
    assert good_first, "a good neighbour is never lost to a bad item"
    if len(parsed) == 2:
        good, bad = parsed[0][0], parsed[1][0]
        for seeding in (False, True):
            render_all(None, bad, seeding=seeding, now=now)
            render_all(good, bad, seeding=seeding, now=now)
            render_all(bad, good, seeding=seeding, now=now)
    else:
        ((item_id, reason),) = rejected
        assert item_id == (garbage if field == "id" else raw["id"])
        assert isinstance(reason, str) and reason


def assert_accounted(results: Any) -> None:
    """parse_items returns; every list item is either parsed or rejected with a reason."""
    parsed, rejected = parse_items(results)
    if not isinstance(results, list):
        assert (parsed, rejected) == ([], [(None, "results is not a list")])
        return
    assert len(parsed) + len(rejected) == len(results)
    assert all(isinstance(reason, str) and reason for _, reason in rejected)
