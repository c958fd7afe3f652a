"""A rolling-hour request budget that never lets the client exceed LL2's limit."""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime, timedelta

from bot.core.timeutil import Clock, utcnow
from bot.ll2.errors import LL2BudgetExhausted

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)


class RequestBudget:
    """Count requests in any rolling hour and refuse the one that would exceed the limit.

    The server's own view (``/api-throttle/``) is folded in conservatively: if LL2 has
    counted more requests than we have (another process on the same IP, a restart), the
    extra ones are assumed to have been made just now.
    """

    def __init__(self, per_hour: int, *, clock: Clock = utcnow) -> None:
        if per_hour <= 0:
            raise ValueError("per_hour must be > 0")
        self.per_hour = per_hour
        self._clock = clock
        self._sent: deque[datetime] = deque()
        self._blocked_until: datetime | None = None

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

    def block_for(self, seconds: float) -> None:
        """Refuse every request for ``seconds`` (after LL2 answered 429)."""
        until = self._clock() + timedelta(seconds=seconds)
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until

    def align(self, *, limit: int, current_use: int, next_use_secs: float) -> None:
        """Fold in LL2's own count from ``/api-throttle/``."""
        now = self._clock()
        self._prune(now)
        if 0 < limit < self.per_hour:
            log.info(
                "LL2 allows %d requests/hour; lowering the budget from %d", limit, self.per_hour
            )
            self.per_hour = limit
        missing = current_use - len(self._sent)
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
