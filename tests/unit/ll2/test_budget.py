"""The request budget: its record survives a restart; absurd numbers from LL2 are clamped."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from bot.devtools.ll2_emulator import FakeClock
from bot.ll2.budget import BudgetRecord, RequestBudget
from bot.ll2.errors import MAX_WAIT_SECONDS, LL2BudgetExhausted, LL2Throttled, clamp_wait

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class RecordShelf:
    """A budget store as storage will provide it: one record, saved and loaded whole."""

    def __init__(self) -> None:
        self.record: BudgetRecord | None = None
        self.saves = 0

    def load_budget(self) -> BudgetRecord | None:
        """Return the saved record."""
        return self.record

    def save_budget(self, record: BudgetRecord) -> None:
        """Keep ``record``."""
        self.record = record
        self.saves += 1


def test_a_restarted_budget_remembers_the_hour_it_spent() -> None:
    """Three requests of 3 spent, then a restart: the new budget refuses the fourth."""
    clock = FakeClock(T0)
    shelf = RecordShelf()
    first = RequestBudget(3, clock=clock, store=shelf)
    for _ in range(3):
        first.acquire()
        clock.advance(seconds=10)
    assert shelf.saves == 3
    again = RequestBudget(3, clock=clock, store=shelf)
    assert again.used() == 3
    with pytest.raises(LL2BudgetExhausted) as refused:
        again.acquire()
    assert refused.value.available_at == T0 + timedelta(hours=1)
    clock.set(T0 + timedelta(hours=1))
    again.acquire()  # the first request left the window


def test_a_429_block_and_a_lowered_limit_survive_a_restart() -> None:
    """LL2's block and its lower limit are part of the record."""
    clock = FakeClock(T0)
    shelf = RecordShelf()
    budget = RequestBudget(15, clock=clock, store=shelf)
    budget.align(limit=10, current_use=0, next_use_secs=0)
    budget.block_for(120)
    again = RequestBudget(15, clock=clock, store=shelf)
    assert again.limit == 10
    assert again.available_at() == T0 + timedelta(seconds=120)


def test_a_record_from_a_clock_far_ahead_blocks_no_longer_than_an_hour() -> None:
    """A record dated in 2099 (a skewed peer) is read as "now", never as a years-long block."""
    clock = FakeClock(T0)
    shelf = RecordShelf()
    future = datetime(2099, 1, 1, tzinfo=UTC)
    shelf.record = BudgetRecord(sent=(future,) * 50, blocked_until=future, per_hour=99)
    budget = RequestBudget(5, clock=clock, store=shelf)
    assert budget.limit == 5 and budget.used() == 5
    assert budget.available_at() <= T0 + timedelta(hours=1)


def test_a_store_that_fails_leaves_a_working_budget(caplog: pytest.LogCaptureFixture) -> None:
    """A store that raises is logged; the budget still counts in memory."""

    class Broken:
        def load_budget(self) -> BudgetRecord | None:
            raise OSError("database is gone")

        def save_budget(self, record: BudgetRecord) -> None:
            raise OSError("database is gone")

    budget = RequestBudget(2, clock=FakeClock(T0), store=Broken())
    budget.acquire()
    budget.acquire()
    with pytest.raises(LL2BudgetExhausted):
        budget.acquire()
    assert any("could not save" in r.getMessage() for r in caplog.records)


def test_an_absurd_current_use_allocates_no_more_than_the_hour_holds() -> None:
    """``current_use`` of thirty million counts as a full hour, in a few kilobytes."""
    budget = RequestBudget(15, clock=FakeClock(T0))
    tracemalloc.start()
    try:
        budget.align(limit=15, current_use=30_000_000, next_use_secs=1e300)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000
    assert budget.used() == 15 and budget.remaining() == 0
    assert budget.available_at() <= T0 + timedelta(hours=1)


@pytest.mark.parametrize("wait", [float("inf"), float("nan"), 1e12, 1e300, 99999999999.0, -5.0])
def test_absurd_waits_are_clamped_to_an_hour(wait: float) -> None:
    """``block_for`` and ``LL2Throttled`` take any float and wait between 0 and an hour."""
    budget = RequestBudget(15, clock=FakeClock(T0))
    budget.block_for(wait)
    assert T0 <= budget.available_at() <= T0 + timedelta(seconds=MAX_WAIT_SECONDS)
    assert 0 <= LL2Throttled(wait).retry_after <= MAX_WAIT_SECONDS
    assert clamp_wait(wait) == LL2Throttled(wait).retry_after
