"""A rolling-hour request budget that never lets the client exceed LL2's limit."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.timeutil import Clock, as_utc, utcnow
from bot.ll2.errors import LL2BudgetExhausted, clamp_wait

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class BudgetRecord:
    """The hour's record a budget keeps: what a store saves and loads between processes.

    ``sent`` are the times of the requests counted in the last hour (ours and, after an
    alignment, LL2's own count dated conservatively), oldest first; ``blocked_until`` is
    when LL2's last 429 (or its throttle answer) lets requests go again; ``per_hour`` is
    the effective limit (LL2 may have lowered the configured one).
    """

    sent: tuple[datetime, ...]
    blocked_until: datetime | None
    per_hour: int


class BudgetStore(Protocol):
    """Where a budget keeps its hour's record (the store, so restarts and peers share it)."""

    def load_budget(self) -> BudgetRecord | None:
        """Return the saved record, or None when there is none yet."""

    def save_budget(self, record: BudgetRecord) -> None:
        """Save ``record``, replacing the previous one."""


class RequestBudget:
    """Count requests in any rolling hour and refuse the one that would exceed the limit.

    The server's own view (``/api-throttle/``) is folded in conservatively: if LL2 has
    counted more requests than we have (another process on the same IP, a restart), the
    extra ones are assumed to have been made just now.

    With a ``store``, the record is loaded when the budget is made and saved after every
    change, so a restarted process does not start from a blank hour.
    """

    def __init__(
        self, per_hour: int, *, clock: Clock = utcnow, store: BudgetStore | None = None
    ) -> None:
        if per_hour <= 0:
            raise ValueError("per_hour must be > 0")
        self.per_hour = per_hour
        self._configured = per_hour
        self._clock = clock
        self._sent: deque[datetime] = deque()
        self._blocked_until: datetime | None = None
        self._store = store
        if store is not None:
            self._restore(store)

    # --- the record -------------------------------------------------------------------------

    def record(self) -> BudgetRecord:
        """Return the hour's record as a store would save it."""
        self._prune(self._clock())
        return BudgetRecord(
            sent=tuple(self._sent), blocked_until=self._blocked_until, per_hour=self.per_hour
        )

    def _restore(self, store: BudgetStore) -> None:
        try:
            record = store.load_budget()
        except Exception:
            # The budget still works from a blank hour; LL2's own count (``align``) and its
            # 429s keep it honest until the store answers again.
            log.exception("could not load the LL2 budget record; starting from a blank hour")
            return
        if record is None:
            return
        now = self._clock()
        # A record from a clock ahead of ours must not block us for longer than an hour.
        sent = sorted(min(as_utc(t), now) for t in record.sent)
        self.per_hour = max(1, min(record.per_hour, self._configured))
        self._sent = deque(sent[-self.per_hour :])
        if record.blocked_until is not None:
            self._blocked_until = min(as_utc(record.blocked_until), now + WINDOW)
        self._prune(now)

    def reload(self) -> None:
        """Read the hour's record again from the store (a new cluster leader: the old one spent)."""
        if self._store is not None:
            self._restore(self._store)

    def _save(self) -> None:
        if self._store is None:
            return
        try:
            self._store.save_budget(self.record())
        except Exception:
            log.exception("could not save the LL2 budget record")

    # --- counting ---------------------------------------------------------------------------

    def _prune(self, now: datetime) -> None:
        while self._sent and self._sent[0] <= now - WINDOW:
            self._sent.popleft()

    @property
    def limit(self) -> int:
        """Return the effective requests allowed per rolling hour."""
        return self.per_hour

    def used(self) -> int:
        """Return how many requests were sent in the last hour."""
        self._prune(self._clock())
        return len(self._sent)

    def sent_times(self) -> list[datetime]:
        """Return when each request of the last hour was sent, oldest first."""
        self._prune(self._clock())
        return list(self._sent)

    def remaining(self) -> int:
        """Return how many requests may still be sent right now."""
        now = self._clock()
        if self._blocked_until and now < self._blocked_until:
            return 0
        self._prune(now)
        return max(0, self.per_hour - len(self._sent))

    def available_at(self) -> datetime:
        """Return when the next request may be sent (now if one is available)."""
        return self._available_at(self._clock())

    def _available_at(self, now: datetime) -> datetime:
        self._prune(now)
        at = now
        if len(self._sent) >= self.per_hour:
            # The oldest request that must leave the window before a slot frees up.
            at = self._sent[len(self._sent) - self.per_hour] + WINDOW
        if self._blocked_until and self._blocked_until > at:
            at = self._blocked_until
        return at

    def acquire(self) -> None:
        """Take one request slot now or raise :class:`LL2BudgetExhausted` with the wait."""
        now = self._clock()
        at = self._available_at(now)
        if at > now:
            raise LL2BudgetExhausted((at - now).total_seconds(), available_at=at)
        self._sent.append(now)
        self._save()

    def block_for(self, seconds: float) -> None:
        """Refuse every request for ``seconds`` (after LL2 answered 429), at most an hour."""
        until = self._clock() + timedelta(seconds=clamp_wait(seconds))
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until
            self._save()

    def align(self, *, limit: int, current_use: int, next_use_secs: float) -> None:
        """Fold in LL2's own count from ``/api-throttle/`` (values already clamped)."""
        now = self._clock()
        self._prune(now)
        if 0 < limit < self.per_hour:
            log.info(
                "LL2 allows %d requests/hour; lowering the budget from %d", limit, self.per_hour
            )
            self.per_hour = limit
        # Beyond a full window, more phantoms change nothing but memory: ``current_use:
        # 30000000`` must not allocate thirty million datetimes.
        missing = min(current_use, self.per_hour) - len(self._sent)
        next_use_secs = clamp_wait(next_use_secs)
        if missing > 0:
            phantoms = [now] * missing
            if current_use >= limit and 0 < next_use_secs < WINDOW.total_seconds():
                # LL2 says when its oldest counted request leaves the window: date one
                # phantom there, so the first free slot is not pushed a whole hour out.
                # The others stay "just now" (we do not know when they were made).
                phantoms[0] = now - WINDOW + timedelta(seconds=next_use_secs)
            self._sent.extend(phantoms)
            self._sent = deque(sorted(self._sent))
        if next_use_secs > 0 and current_use >= limit:
            self.block_for(next_use_secs)
        self._save()
