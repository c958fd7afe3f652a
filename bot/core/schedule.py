"""Adaptive polling: when to spend the next LL2 request (docs/architecture.md, invariant 8).

The strategy, in short (the README and ``docs/benchmarks.md`` "Flip-time model" say the same):

* **Idle**: poll every ``3600 / (requests_per_hour / 2)`` seconds (8 min on the free tier),
  spending at most half the hourly budget, so the other half is there for moments that
  matter.
* **Moments** are the times LL2 announces, typed and tagged with their feed (:class:`Moment`):
  a webcast's ``start_time`` (``stream``), an item's date without a stream time of its own
  (``date``: an event's ``date``, later a launch's ``net`` or ``window_start``), and the date
  of an item whose webcast has its own start (``brief``: only updates are expected then).
* **A flip-time model** (:data:`FLIP_MODELS`) says when, around a moment, the thing we alert
  on tends to happen: a webcast goes live at or just after its announced start, from 1 min
  before to 6 min after it, most often in the first minutes. Each flip costs the delay until
  the next poll sees it, plus :data:`LATE_PENALTY` when that is more than
  :data:`SEEN_WITHIN` (docs/architecture.md, invariant 8's "within a minute").
* **Polls by value**: hot polls are placed greedily, each where it removes the most expected
  cost under the model, until a poll would remove less than :data:`MIN_GAIN` or the budget
  has no room. So a scarce hour covers the first minutes after every start before any
  window's tail, and a plentiful one also halves the gaps where flips are likeliest.
* **Planned ahead, never over budget**: the plan covers every window of the next two hours
  with the requests already sent (``recent``), so an idle poll is skipped when it would cost
  a coming window a poll; no poll ever lands where it would put more than
  ``requests_per_hour`` in a rolling hour, nor before ``min_interval`` after the last one,
  nor before a 429's wait is over.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

FEED_EVENTS = "events"
FEED_LAUNCHES = "launches"
ALL_FEEDS = frozenset({FEED_EVENTS})  # the feeds the runner polls today; launches join later

STREAM = "stream"  # a webcast's announced start_time
DATE = "date"  # an item's date with no stream start of its own (event date, launch net)
BRIEF = "brief"  # the date of an item whose webcast has its own start time

# docs/architecture.md invariant 8: a webcast going live is seen within a minute
SEEN_WITHIN = timedelta(seconds=60)
LATE_PENALTY = 600.0  # seconds of cost added to a flip seen later than SEEN_WITHIN
MIN_GAIN = 2.0  # a hot poll must remove at least this many seconds of expected cost
CANDIDATE_STEP = timedelta(seconds=15)  # where hot polls may land, from each window's opening
SAMPLE_STEP = 5.0  # seconds between the flip times the model is integrated over
HORIZON = timedelta(hours=2)  # windows opening further ahead are planned later
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class FlipModel:
    """When flips happen around a moment: the share of them in each minute from ``first_minute``.

    ``weight`` scales the whole model: a ``brief`` moment expects updates, not the flip.
    """

    first_minute: int
    shares: tuple[float, ...]
    weight: float = 1.0

    @property
    def before(self) -> timedelta:
        """Return how long before its moment the window opens."""
        return timedelta(minutes=-self.first_minute)

    @property
    def after(self) -> timedelta:
        """Return how long after its moment the window closes."""
        return timedelta(minutes=self.first_minute + len(self.shares))


# Webcasts flip live at or just after their announced start: 8 % in the minute before it,
# 30 % in the first minute, then fewer each minute, none after 6 min (see docs/benchmarks.md).
WEBCAST_FLIPS = FlipModel(-1, (0.08, 0.30, 0.22, 0.15, 0.10, 0.08, 0.07))
FLIP_MODELS: dict[str, FlipModel] = {
    STREAM: WEBCAST_FLIPS,
    DATE: WEBCAST_FLIPS,
    # The stream has its own moment; the date itself brings an update or two ("docked").
    BRIEF: FlipModel(-1, (0.2, 0.4, 0.4), weight=0.25),
}
HOT_BEFORE = WEBCAST_FLIPS.before  # 1 min
HOT_AFTER = WEBCAST_FLIPS.after  # 6 min
BRIEF_AFTER = FLIP_MODELS[BRIEF].after  # 2 min
HOT_SPACING = SEEN_WITHIN  # the widest gap a covered window keeps

Window = tuple[datetime, datetime]


@dataclass(frozen=True, order=True)
class Moment:
    """A time LL2 announced, what kind it is and which feed's poll will see what happens."""

    at: datetime
    kind: str = STREAM
    feed: str = FEED_EVENTS

    @property
    def model(self) -> FlipModel:
        """Return the flip-time model for this kind of moment."""
        return FLIP_MODELS[self.kind]

    @property
    def window(self) -> Window:
        """Return ``(opening, close)``: where the model expects flips."""
        return (self.at - self.model.before, self.at + self.model.after)


@dataclass(frozen=True)
class PollPlan:
    """When to poll next, why (for logs and ``/status``) and which feeds the poll is for."""

    at: datetime
    reason: str
    feeds: frozenset[str] = field(default=ALL_FEEDS)


@dataclass(frozen=True)
class HotPoll:
    """One planned hot poll: when, the expected cost it removed, and the feeds it serves."""

    at: datetime
    gain: float
    feeds: frozenset[str]


def idle_interval(requests_per_hour: int, min_interval: timedelta) -> timedelta:
    """Return the gap between polls when nothing is about to happen."""
    spend = max(1.0, requests_per_hour / 2)
    return max(min_interval, timedelta(seconds=3600 / spend))


def as_moments(
    moments: Iterable[datetime | Moment], brief: Iterable[datetime | Moment] = ()
) -> list[Moment]:
    """Return typed moments: a bare datetime is an events ``stream`` (or ``brief``) moment."""
    typed = [m if isinstance(m, Moment) else Moment(m, STREAM) for m in moments]
    typed += [m if isinstance(m, Moment) else Moment(m, BRIEF) for m in brief]
    return sorted(typed)


def hot_windows(
    moments: Iterable[datetime | Moment], brief: Iterable[datetime | Moment] = ()
) -> list[Window]:
    """Merge the windows around each moment into sorted, non-overlapping ones."""
    merged: list[Window] = []
    for start, end in sorted(m.window for m in as_moments(moments, brief)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _cost(delay: float) -> float:
    """Return what a flip seen ``delay`` seconds late costs under the model."""
    return delay + LATE_PENALTY if delay > SEEN_WITHIN.total_seconds() else delay


class _Planner:
    """Greedy placement of hot polls, in seconds relative to ``origin`` (floats are fast)."""

    def __init__(
        self,
        moments: Sequence[Moment],
        *,
        origin: datetime,
        floor: datetime,
        last_poll: datetime | None,
        recent: Sequence[datetime],
        per_hour: int,
        min_interval: timedelta,
        catch_up: timedelta,
    ) -> None:
        self.origin = origin
        self.per_hour = per_hour
        self.gap = min_interval.total_seconds()
        self.floor = self._s(floor)
        self.last = self._s(last_poll) if last_poll is not None else None
        self.moments = [
            m for m in moments if m.window[1] >= floor and m.window[0] <= origin + HORIZON
        ]
        samples: list[tuple[float, float, float]] = []  # (flip time, weight, catch-up time)
        for m in self.moments:
            model, at = m.model, self._s(m.at)
            catch = self._s(m.window[1] + catch_up)
            per_minute = int(60 / SAMPLE_STEP)
            for i, share in enumerate(model.shares):
                for j in range(per_minute):
                    f = at + (model.first_minute + i) * 60 + (j + 0.5) * SAMPLE_STEP
                    if self.last is None or f > self.last:  # the last poll saw what came before
                        samples.append((f, share * model.weight / per_minute, catch))
        samples.sort()
        self.flips = [s[0] for s in samples]
        self.weights = [s[1] for s in samples]
        self.catch = [s[2] for s in samples]
        # The budget counts every request (recent and planned); min_interval counts polls.
        self.sent = sorted(self._s(t) for t in recent if t > origin - HOUR)
        self.polls: list[float] = []
        # The value rule, for windows still wholly ahead: (start, middle of the part after the
        # start, close). No poll goes into a tail that would then outnumber its near half.
        self.halves = [
            (at, at + (close - at) / 2, close)
            for at, close in ((self._s(m.at), self._s(m.window[1])) for m in self.moments)
            if at >= self.floor
        ]

    def _s(self, t: datetime) -> float:
        return (t - self.origin).total_seconds()

    def at(self, s: float) -> datetime:
        """Return the datetime of ``s`` seconds from the origin."""
        return self.origin + timedelta(seconds=s)

    def candidates(self) -> list[float]:
        """Return where hot polls may land: a grid from each window's opening, and the floor."""
        step = CANDIDATE_STEP.total_seconds()
        points: set[float] = set()
        for m in self.moments:
            opening, close = (self._s(t) for t in m.window)
            if opening <= self.floor <= close:
                points.add(self.floor)
            t = opening
            while t <= close + 1e-9:
                if t >= self.floor:
                    points.add(round(t, 6))
                t += step
        return sorted(points)

    def seen(self, i: int, polls: Sequence[float]) -> float:
        """Return when the flip sample ``i`` is seen: the next poll, or the catch-up."""
        k = bisect_left(polls, self.flips[i])
        return min(polls[k], self.catch[i]) if k < len(polls) else self.catch[i]

    def gain(self, c: float) -> float:
        """Return the expected cost a poll at ``c`` would remove, given the polls so far."""
        polls = self.polls
        k = bisect_left(polls, c)
        if k < len(polls) and polls[k] == c:
            return 0.0
        prev = polls[k - 1] if k > 0 else float("-inf")
        nxt = polls[k] if k < len(polls) else float("inf")
        total = 0.0
        for i in range(bisect_right(self.flips, prev), bisect_right(self.flips, c)):
            f, catch = self.flips[i], self.catch[i]
            if c >= catch:
                continue
            total += self.weights[i] * (_cost(min(nxt, catch) - f) - _cost(c - f))
        return total

    def total_cost(self) -> float:
        """Return the expected cost of every modelled flip under the polls planned."""
        return sum(
            w * _cost(self.seen(i, self.polls) - f)
            for i, (f, w) in enumerate(zip(self.flips, self.weights, strict=True))
        )

    def count(self, low: float, high: float, *, closed: bool) -> int:
        """Return the planned polls in ``[low, high]`` (``(low, high]`` unless ``closed``)."""
        left = bisect_left(self.polls, low) if closed else bisect_right(self.polls, low)
        return bisect_right(self.polls, high) - left

    def waits_for_near_polls(self, c: float) -> bool:
        """Return whether ``c`` is a tail poll that would outnumber its window's near half."""
        if any(at <= c <= mid for at, mid, _ in self.halves):
            return False  # a poll near one start is worth it whatever tail it also falls in
        return any(
            mid < c <= close
            and self.count(mid, close, closed=False) + 1 > self.count(at, mid, closed=True)
            for at, mid, close in self.halves
        )

    def fits(self, c: float) -> bool:
        """Return whether a request at ``c`` keeps every rolling hour within the budget."""
        if self.last is not None and c - self.last < self.gap - 1e-6:
            return False
        k = bisect_left(self.polls, c)
        if k > 0 and c - self.polls[k - 1] < self.gap - 1e-6:
            return False
        if k < len(self.polls) and self.polls[k] - c < self.gap - 1e-6:
            return False
        sent = self.sent
        # Every hour (t - 1h, t] that would hold c: those ending at c or at a later request.
        for end in [c, *sent[bisect_right(sent, c) : bisect_left(sent, c + 3600)]]:
            count = bisect_right(sent, end) - bisect_right(sent, end - 3600)
            if count + 1 > self.per_hour:
                return False
        return True

    def add(self, c: float) -> None:
        """Plan a request at ``c``."""
        self.polls.insert(bisect_left(self.polls, c), c)
        self.sent.insert(bisect_left(self.sent, c), c)

    def place(self) -> list[tuple[float, float]]:
        """Place hot polls greedily by gain (lazily: a gain only falls as polls are added)."""
        placed: list[tuple[float, float]] = []
        heap = [(-self.gain(c), c) for c in self.candidates()]
        heapq.heapify(heap)
        waiting: list[tuple[float, float]] = []  # tail polls until their near half fills up
        while heap:
            stale, c = heapq.heappop(heap)
            if not self.fits(c):
                continue  # placing more only makes it fit less: drop it for good
            if self.waits_for_near_polls(c):
                waiting.append((stale, c))
                continue
            g = self.gain(c)
            if heap and g < -heap[0][0] - 1e-9:
                heapq.heappush(heap, (-g, c))
                continue
            if g < MIN_GAIN:
                break
            self.add(c)
            placed.append((c, g))
            for entry in waiting:
                heapq.heappush(heap, entry)
            waiting.clear()
        return sorted(placed)

    def feeds_at(self, c: float) -> frozenset[str]:
        """Return the feeds of the moments whose window holds ``c``."""
        return frozenset(
            m.feed for m in self.moments if self._s(m.window[0]) <= c <= self._s(m.window[1])
        )


def plan_hot_polls(
    moments: Iterable[Moment],
    *,
    now: datetime,
    floor: datetime | None = None,
    last_poll: datetime | None,
    recent: Sequence[datetime],
    per_hour: int,
    min_interval: timedelta,
    fixed: Sequence[datetime] = (),
) -> tuple[list[HotPoll], float]:
    """Return the hot polls worth placing from ``floor`` on, and the expected cost left.

    ``fixed`` are polls already decided (an idle poll being weighed): they count against the
    budget and see flips like any other.
    """
    planner = _Planner(
        sorted(moments),
        origin=now,
        floor=floor or now,
        last_poll=last_poll,
        recent=recent,
        per_hour=per_hour,
        min_interval=min_interval,
        catch_up=idle_interval(per_hour, min_interval),
    )
    for t in fixed:
        planner.add(planner._s(t))
    placed = planner.place()
    polls = [HotPoll(planner.at(c), g, planner.feeds_at(c)) for c, g in placed]
    return polls, planner.total_cost()


def _budget_frees(recent: Sequence[datetime], per_hour: int, at: datetime) -> datetime:
    """Return the first time from ``at`` when the past requests leave room for one more."""
    counted = sorted(recent)
    while True:
        inside = [t for t in counted if t > at - HOUR]
        if len(inside) < per_hour:
            return at
        at = inside[len(inside) - per_hour] + HOUR


def plan_next_poll(
    now: datetime,
    *,
    last_poll: datetime | None,
    moments: Iterable[datetime | Moment],
    brief_moments: Iterable[datetime | Moment] = (),
    requests_per_hour: int,
    min_interval: timedelta,
    budget_available_at: datetime,
    recent: Sequence[datetime] = (),
    feeds: frozenset[str] = ALL_FEEDS,
) -> PollPlan:
    """Return when to poll next given the moments, the requests sent and the budget.

    ``recent`` are the times of the requests sent in the last hour (the budget's own record);
    without them the plan cannot reserve budget for windows to come and only the budget's
    ``available_at`` keeps it honest. An idle poll is for every feed in ``feeds``.
    """
    typed = as_moments(moments, brief_moments)
    earliest = now if last_poll is None else max(now, last_poll + min_interval)
    floor = max(earliest, budget_available_at)
    waiting = budget_available_at > earliest
    hot, cost = plan_hot_polls(
        typed,
        now=now,
        floor=floor,
        last_poll=last_poll,
        recent=recent,
        per_hour=requests_per_hour,
        min_interval=min_interval,
    )
    # A process that has not polled yet knows nothing: its first poll is as soon as allowed.
    idle_at = floor
    if last_poll is not None:
        idle_at = max(last_poll + idle_interval(requests_per_hour, min_interval), floor)
    idle_at = _budget_frees(recent, requests_per_hour, idle_at)

    if hot and hot[0].at <= idle_at:
        plan = _hot_plan(hot[0], typed, now, "")
    elif hot and not _idle_affordable(
        idle_at, cost, typed, now, floor, last_poll, recent, requests_per_hour, min_interval
    ):
        plan = _hot_plan(hot[0], typed, now, " (saving budget for it)")
    else:
        plan = PollPlan(idle_at, "idle", feeds)
    if waiting and plan.at == floor:
        plan = PollPlan(plan.at, f"{plan.reason} (waiting for budget)", plan.feeds)
    return plan


def _hot_plan(poll: HotPoll, moments: Sequence[Moment], now: datetime, note: str) -> PollPlan:
    inside = any(m.window[0] <= now < m.window[1] for m in moments)
    reason = ("hot window" if inside else "hot window opens") + note
    return PollPlan(poll.at, reason, poll.feeds or ALL_FEEDS)


def _idle_affordable(
    at: datetime,
    cost: float,
    moments: Sequence[Moment],
    now: datetime,
    floor: datetime,
    last_poll: datetime | None,
    recent: Sequence[datetime],
    per_hour: int,
    min_interval: timedelta,
) -> bool:
    """Return whether an idle poll at ``at`` leaves the coming windows (almost) their value."""
    _, with_idle = plan_hot_polls(
        moments,
        now=now,
        floor=floor,
        last_poll=last_poll,
        recent=recent,
        per_hour=per_hour,
        min_interval=min_interval,
        fixed=[at],
    )
    return with_idle <= cost + MIN_GAIN / 2
