"""Tests for bot.core.schedule: the adaptive polling strategy, on a fake clock (invariant 8)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from bot.core.schedule import hot_windows, idle_interval, plan_next_poll
from bot.devtools.ll2_emulator import FakeClock
from bot.ll2.budget import RequestBudget
from tests.conftest import T0

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
FREE_TIER = 15
MIN_INTERVAL = timedelta(seconds=30)
# The spec's hot window, written out rather than read from bot.core.schedule, so a change to
# the module's constants fails here: a window opens 1 min before a moment, closes 6 min
# after it, and inside it no two polls are more than 60 s apart when the budget allows.
# Where flips are likeliest (the first three minutes after the start) the flip-time model
# halves that to 30 s (issue 13: one stream in an hour -> median <= 30 s).
HOT_BEFORE = timedelta(minutes=1)
HOT_AFTER = timedelta(minutes=6)
HOT_SPACING = timedelta(seconds=60)
REFINED_SPACING = timedelta(seconds=30)
# LL2 flips `webcast_live` some time within five minutes after a stream's `start_time`.
FLIP_DELAY = timedelta(minutes=5)
# Invariant 8 says "within a minute"; the slack covers the request's own round trip.
SEEN_WITHIN = timedelta(seconds=90)


def plan(
    now: datetime,
    *,
    last_poll: datetime | None,
    moments: Sequence[datetime] = (),
    min_interval: timedelta = MIN_INTERVAL,
    budget_available_at: datetime | None = None,
) -> tuple[datetime, str]:
    """Return (when, why) from plan_next_poll on the free tier."""
    result = plan_next_poll(
        now,
        last_poll=last_poll,
        moments=moments,
        requests_per_hour=FREE_TIER,
        min_interval=min_interval,
        budget_available_at=budget_available_at or now,
    )
    return result.at, result.reason


# --- one decision at a time ------------------------------------------------------------------


def test_idle_interval_on_the_free_tier_is_eight_minutes() -> None:
    """15 requests/hour: idle polls spend half the budget, one every 8 minutes."""
    assert idle_interval(FREE_TIER, MIN_INTERVAL) == timedelta(minutes=8)
    assert plan(T0, last_poll=T0) == (T0 + timedelta(minutes=8), "idle")


def test_idle_interval_scales_with_the_budget_but_never_below_min_interval() -> None:
    """A bigger budget polls more often when idle, yet never faster than min_interval."""
    assert idle_interval(120, MIN_INTERVAL) == MINUTE
    assert idle_interval(100_000, MIN_INTERVAL) == MIN_INTERVAL


def test_hot_window_spans_from_hot_before_to_hot_after() -> None:
    """A hot moment M opens a window [M - 1 min, M + 6 min); overlapping ones merge."""
    m = T0 + HOUR
    assert hot_windows([m]) == [(m - HOT_BEFORE, m + HOT_AFTER)]
    later = m + 5 * MINUTE
    far = m + 2 * HOUR
    assert hot_windows([far, later, m]) == [
        (m - HOT_BEFORE, later + HOT_AFTER),
        (far - HOT_BEFORE, far + HOT_AFTER),
    ]


def test_first_poll_of_a_hot_window_lands_exactly_on_the_announced_start() -> None:
    """With a webcast due in 5 min, the next poll is at its start, not at the idle timer.

    The window still opens at start - 1 min (flips that early are modelled), but a poll at
    the start sees every one of them within a minute, so one at the opening adds nothing.
    """
    start = T0 + 5 * MINUTE
    assert plan(T0, last_poll=T0, moments=[start]) == (start, "hot window opens")


def test_a_window_opening_after_the_idle_poll_waits_for_it() -> None:
    """A moment 20 min away changes nothing yet: the idle poll at +8 min comes first."""
    assert plan(T0, last_poll=T0, moments=[T0 + 20 * MINUTE]) == (T0 + 8 * MINUTE, "idle")


def window_polls(moment: datetime, *, min_interval: timedelta = MIN_INTERVAL) -> list[datetime]:
    """Follow the plans from the window's opening until the first idle poll; return the polls."""
    last = moment - HOT_BEFORE
    polls: list[datetime] = []
    while True:
        at, reason = plan(last, last_poll=last, moments=[moment], min_interval=min_interval)
        if reason == "idle":
            return polls
        assert reason == "hot window"
        polls.append(at)
        last = at


def test_polls_inside_a_hot_window_are_at_most_sixty_seconds_apart() -> None:
    """With the budget to spare, a window is polled from its start to its close, never more
    than 60 s apart, and every 30 s in the first three minutes where flips are likeliest."""
    moment = T0 + HOT_BEFORE  # the window opens at T0
    polls = window_polls(moment)
    assert polls[0] == moment and polls[-1] == moment + HOT_AFTER
    gaps = [b - a for a, b in zip(polls, polls[1:], strict=False)]
    assert max(gaps) == HOT_SPACING
    early = [b - a for a, b in zip(polls, polls[1:], strict=False) if b <= moment + 3 * MINUTE]
    assert early == [REFINED_SPACING] * 6


def test_a_passed_window_goes_back_to_idle() -> None:
    """Once `moment + HOT_AFTER` is behind us the idle interval applies again."""
    moment = T0 - HOT_AFTER
    assert plan(T0, last_poll=T0, moments=[moment]) == (T0 + 8 * MINUTE, "idle")


def test_hot_polls_are_never_closer_than_min_interval() -> None:
    """A 90 s min_interval stretches every gap in the window to at least 90 s."""
    slow = timedelta(seconds=90)
    polls = window_polls(T0 + MINUTE, min_interval=slow)
    assert polls[0] >= T0 + slow
    assert min(b - a for a, b in zip(polls, polls[1:], strict=False)) >= slow
    assert len(polls) >= 4  # still polled through the window, just less often


@pytest.mark.parametrize("offset", [-50, -20, 0, 5, 10, 25, 40, 70], ids=lambda s: f"{s}s")
def test_a_window_opening_right_after_a_poll_waits_for_min_interval(offset: int) -> None:
    """However much the model wants a poll right after the last one, it waits min_interval;
    and the start's first minute is still seen within a minute."""
    moment = T0 + offset * SECOND
    at, reason = plan(T0, last_poll=T0, moments=[moment])
    assert at >= T0 + MIN_INTERVAL
    assert at <= max(moment, T0 + MIN_INTERVAL) + HOT_SPACING
    assert reason.startswith("hot window")


def test_an_overdue_plan_is_not_in_the_past_nor_before_min_interval() -> None:
    """A plan computed late (the loop was busy) never lies before now."""
    now = T0 + 20 * MINUTE
    at, _ = plan(now, last_poll=T0)
    assert at == now


def test_no_poll_before_the_budget_allows_one() -> None:
    """In a hot window with the hour's budget spent, the poll waits for the budget."""
    free_at = T0 + 7 * MINUTE
    at, reason = plan(T0, last_poll=T0, moments=[T0 + MINUTE], budget_available_at=free_at)
    assert at == free_at
    assert reason == "hot window (waiting for budget)"


def test_a_429_wait_beyond_the_idle_interval_is_honoured() -> None:
    """A 429 `Retry-After` longer than 8 min (folded into the budget) delays the idle poll."""
    budget = RequestBudget(FREE_TIER, clock=lambda: T0)
    budget.block_for(15 * 60)
    at, reason = plan(T0, last_poll=T0, budget_available_at=budget.available_at())
    assert at == T0 + 15 * MINUTE
    assert reason == "idle (waiting for budget)"


# --- six hours on a fake clock ---------------------------------------------------------------


def simulate(moments: Sequence[datetime], *, hours: int = 6) -> list[datetime]:
    """Run the poll loop for ``hours`` on a fake clock; return when each request was sent.

    Each poll is one events request taken from a free-tier `RequestBudget`, exactly as the
    pipeline's poll job does: plan, sleep until the planned time, acquire, poll.
    """
    clock = FakeClock(T0)
    budget = RequestBudget(FREE_TIER, clock=clock)
    sent: list[datetime] = []
    last_poll: datetime | None = None
    while clock() < T0 + hours * HOUR:
        planned = plan_next_poll(
            clock(),
            last_poll=last_poll,
            moments=moments,
            requests_per_hour=FREE_TIER,
            min_interval=MIN_INTERVAL,
            budget_available_at=budget.available_at(),
            recent=budget.sent_times(),
        )
        assert planned.at >= clock(), "a plan never lies in the past"
        clock.set(planned.at)
        budget.acquire()  # raises LL2BudgetExhausted if the plan ignored the budget
        sent.append(clock())
        last_poll = clock()
    return sent


def busiest_hour(sent: Sequence[datetime]) -> int:
    """Return the most requests in any rolling hour (t - 1h, t], counted independently."""
    return max(sum(1 for s in sent if t - HOUR < s <= t) for t in sent)


def worst_flip_latency(
    sent: Sequence[datetime], start: datetime, *, within: timedelta = FLIP_DELAY
) -> timedelta:
    """Return the longest wait from a `webcast_live` flip to the next poll, over every flip
    second LL2 may choose in ``[start, start + within]``."""
    worst = timedelta(0)
    for offset in range(int(within.total_seconds()) + 1):
        flip = start + offset * SECOND
        seen = min(s for s in sent if s >= flip)
        worst = max(worst, seen - flip)
    return worst


# A docking day: NASA's stream starts 45 min before the docking (as the recorded Soyuz MS-28
# docking's does), two and a bit hours after the loop starts.
WEBCAST_START = T0 + 2 * HOUR + 17 * MINUTE + 13 * SECOND
DOCKING = WEBCAST_START + 45 * MINUTE


def test_six_hours_never_exceed_the_free_tier_in_any_rolling_hour() -> None:
    """Idle hours, a webcast window and a docking window: never more than 15 requests per hour."""
    sent = simulate([WEBCAST_START, DOCKING])
    assert busiest_hour(sent) <= FREE_TIER
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert min(gaps) >= MIN_INTERVAL
    # The budget is used, not hoarded: the hours around the windows run at the limit.
    assert busiest_hour(sent) == FREE_TIER
    assert len(sent) >= 6 * 7


def test_six_idle_hours_spend_half_the_budget() -> None:
    """With nothing hot, the loop polls every 8 minutes: 7 or 8 requests in any hour."""
    sent = simulate([])
    assert {b - a for a, b in zip(sent, sent[1:], strict=False)} == {8 * MINUTE}
    assert busiest_hour(sent) == 8


@pytest.mark.parametrize("phase", [0, 61, 133, 247, 359, 419], ids=lambda s: f"phase{s}s")
def test_webcast_going_live_is_polled_within_90_seconds(phase: int) -> None:
    """Whenever LL2 flips the webcast (0-5 min after start_time), a poll follows within 90 s.

    Measured: at most 59 s for every flip second and every phase of the idle timer; the
    hot window's budget lasts until start + ~6 min, just past LL2's flip delay.
    """
    start = WEBCAST_START + phase * SECOND
    sent = simulate([start, start + 45 * MINUTE])
    assert worst_flip_latency(sent, start) <= SEEN_WITHIN


@pytest.mark.parametrize("gap", [10, 15, 20, 30, 45], ids=lambda m: f"{m}min")
def test_webcast_soon_after_another_hot_moment_is_still_polled_within_90_s(gap: int) -> None:
    """A stream starting 10-45 min after a docking still gets a poll within 90 s of its flip.

    Two hot windows in one free-tier hour: idle polls that would starve the second window
    are skipped, and where 60 s polls for both do not fit, the later window is thinned only
    as far as the budget needs (see bot/schedule.py).
    """
    docking = T0 + 2 * HOUR
    stream = docking + gap * MINUTE
    sent = simulate([docking, stream])
    assert busiest_hour(sent) <= FREE_TIER
    assert worst_flip_latency(sent, stream) <= SEEN_WITHIN


def test_three_webcasts_in_one_hour_share_the_budget_by_value() -> None:
    """Three streams 20 min apart, 15 polls for all three windows: each gets the same share,
    spent on the first minutes after its start (every flip there seen within 60 s) before
    its tail (seen within 2 min), none starved."""
    streams = [T0 + 2 * HOUR + k * 20 * MINUTE for k in range(3)]
    sent = simulate(streams)
    assert busiest_hour(sent) <= FREE_TIER
    for stream in streams:
        assert worst_flip_latency(sent, stream, within=3 * MINUTE) <= HOT_SPACING
        assert worst_flip_latency(sent, stream, within=HOT_AFTER) <= 2 * MINUTE
