"""Properties of bot.core.schedule (invariant 8), for any mix of moments and past requests.

The budget rule: no plan ever puts more than ``requests_per_hour`` requests (past ones
included) in any rolling hour that holds a planned poll, nor a poll before ``min_interval``
after the last one. The value rule: a window never gets fewer polls in the half just after
its start than in its tail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.schedule import (
    BRIEF,
    DATE,
    FEED_EVENTS,
    FEED_LAUNCHES,
    STREAM,
    Moment,
    plan_hot_polls,
    plan_next_poll,
)
from tests.conftest import T0

HOUR = timedelta(hours=1)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

moments_st = st.lists(
    st.builds(
        Moment,
        at=st.integers(-600, 7200).map(lambda s: T0 + timedelta(seconds=s)),
        kind=st.sampled_from([STREAM, DATE, BRIEF]),
        feed=st.sampled_from([FEED_EVENTS, FEED_LAUNCHES]),
    ),
    max_size=6,
)
recent_st = st.lists(
    st.integers(-3599, 0).map(lambda s: T0 + timedelta(seconds=s)), max_size=20
).map(sorted)
per_hour_st = st.integers(1, 30)
min_interval_st = st.integers(10, 120).map(lambda s: timedelta(seconds=s))


def available_at(recent: Sequence[datetime], per_hour: int, now: datetime) -> datetime:
    """Return when the budget next has room, as RequestBudget would (written out again)."""
    inside = sorted(t for t in recent if t > now - HOUR)
    if len(inside) < per_hour:
        return now
    return inside[len(inside) - per_hour] + HOUR


def over_budget(requests: Sequence[datetime], planned: Sequence[datetime], per_hour: int) -> bool:
    """Return whether a rolling hour (e - 1h, e] holding a planned poll has too many requests."""
    everything = sorted([*requests, *planned])
    for end in everything:
        inside = [t for t in everything if end - HOUR < t <= end]
        if any(end - HOUR < p <= end for p in planned) and len(inside) > per_hour:
            return True
    return False


@SETTINGS
@given(moments_st, recent_st, per_hour_st, min_interval_st, st.booleans())
def test_the_hot_plan_never_goes_over_budget(
    moments: list[Moment],
    recent: list[datetime],
    per_hour: int,
    min_interval: timedelta,
    polled: bool,
) -> None:
    """Every hot poll planned, with the past requests, fits every rolling hour it falls in."""
    last_poll = recent[-1] if polled and recent else None
    floor = max(T0, available_at(recent, per_hour, T0))
    if last_poll is not None:
        floor = max(floor, last_poll + min_interval)
    hot, _ = plan_hot_polls(
        moments,
        now=T0,
        floor=floor,
        last_poll=last_poll,
        recent=recent,
        per_hour=per_hour,
        min_interval=min_interval,
    )
    times = [p.at for p in hot]
    assert all(t >= floor for t in times)
    assert not over_budget(recent, times, per_hour)
    gaps = [b - a for a, b in zip([last_poll or floor - min_interval, *times], times, strict=False)]
    assert all(g >= min_interval for g in gaps)
    for poll in hot:  # a hot poll says which feed it is for: a moment's whose window holds it
        assert poll.feeds <= {m.feed for m in moments if m.window[0] <= poll.at <= m.window[1]}
        assert poll.feeds


@SETTINGS
@given(moments_st, recent_st, per_hour_st, min_interval_st)
def test_three_hours_of_plans_never_go_over_budget(
    moments: list[Moment], recent: list[datetime], per_hour: int, min_interval: timedelta
) -> None:
    """Following each plan for three hours (idle and hot polls alike) never exceeds the budget."""
    sent = list(recent)
    now, last_poll = T0, (recent[-1] if recent else None)
    planned: list[datetime] = []
    while now < T0 + 3 * HOUR:
        plan = plan_next_poll(
            now,
            last_poll=last_poll,
            moments=moments,
            requests_per_hour=per_hour,
            min_interval=min_interval,
            budget_available_at=available_at(sent, per_hour, now),
            recent=[t for t in sent if t > now - HOUR],
        )
        assert plan.at >= now
        assert last_poll is None or plan.at - last_poll >= min_interval
        assert plan.feeds
        planned.append(plan.at)
        sent.append(plan.at)
        now = last_poll = plan.at
    assert not over_budget(recent, planned, per_hour)


def _isolated(moment: Moment, moments: Sequence[Moment]) -> bool:
    """Return whether no other moment's window overlaps this one's."""
    start, end = moment.window
    return not any(o is not moment and o.window[0] <= end and start <= o.window[1] for o in moments)


@SETTINGS
@given(moments_st, recent_st, per_hour_st, st.integers(10, 60).map(lambda s: timedelta(seconds=s)))
def test_a_window_never_gets_fewer_polls_near_its_start_than_in_its_tail(
    moments: list[Moment], recent: list[datetime], per_hour: int, min_interval: timedelta
) -> None:
    """The half after a start gets at least as many polls as the tail, whatever the budget.

    Checked for windows the plan can still shape (opening after the first possible poll)
    that share no minute with another window (a poll there serves two moments at once).
    """
    floor = max(T0 + min_interval, available_at(recent, per_hour, T0))
    hot, _ = plan_hot_polls(
        moments,
        now=T0,
        floor=floor,
        last_poll=T0,
        recent=[*recent, T0],
        per_hour=per_hour,
        min_interval=min_interval,
    )
    times = [p.at for p in hot]
    for moment in moments:
        if moment.window[0] < floor or not _isolated(moment, moments):
            continue
        half = (moment.window[1] - moment.at) / 2
        near = sum(1 for t in times if moment.at <= t <= moment.at + half)
        tail = sum(1 for t in times if moment.at + half < t <= moment.window[1])
        assert near >= tail, (moment, times)
