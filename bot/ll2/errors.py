"""Typed LL2 failures: callers branch on these, never on placeholder values."""

from __future__ import annotations

import math
from datetime import datetime

# The longest wait any LL2 answer may impose: LL2 counts requests per rolling hour, so no
# honest 429 asks for more. ``Retry-After: 1e300`` would otherwise overflow a timedelta,
# and ``99999999999`` would schedule the next poll in the year 5195.
MAX_WAIT_SECONDS = 3600.0


def clamp_wait(seconds: float) -> float:
    """Return ``seconds`` within ``[0, MAX_WAIT_SECONDS]`` (NaN and infinities included)."""
    if math.isnan(seconds):
        return MAX_WAIT_SECONDS
    return min(max(0.0, seconds), MAX_WAIT_SECONDS)


class LL2Error(Exception):
    """Any failure talking to Launch Library 2."""


class LL2Throttled(LL2Error):
    """LL2 (or our own budget) says no more requests until ``retry_after`` seconds pass."""

    def __init__(self, retry_after: float, *, url: str | None = None, detail: str = "") -> None:
        self.retry_after = clamp_wait(retry_after)
        self.url = url
        self.detail = detail
        super().__init__(
            detail or f"LL2 throttled the request; next request possible in {self.retry_after:.0f}s"
        )


class LL2BudgetExhausted(LL2Throttled):
    """Our client-side limiter refused: the configured requests/hour are spent."""

    def __init__(self, retry_after: float, *, available_at: datetime) -> None:
        self.available_at = available_at
        super().__init__(
            retry_after,
            detail=(
                f"LL2 request budget spent; next request possible at "
                f"{available_at:%Y-%m-%d %H:%M:%S} UTC (in {retry_after:.0f}s)"
            ),
        )


class LL2HTTPError(LL2Error):
    """LL2 answered a 4xx other than 429."""

    def __init__(self, status: int, url: str, body: str = "") -> None:
        self.status = status
        self.url = url
        self.body = body[:500]
        super().__init__(f"LL2 answered HTTP {status} for {url}: {self.body[:200]}")


class LL2Unavailable(LL2Error):
    """LL2 kept failing (5xx, timeouts, connection errors) after the retries we could afford."""

    def __init__(self, url: str, cause: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"LL2 unavailable at {url}: {cause}")


class LL2DeadlineExceeded(LL2Unavailable):
    """LL2 did not complete an answer within the request's overall deadline (a trickle)."""

    def __init__(self, url: str, deadline: float) -> None:
        self.deadline = deadline
        super().__init__(url, f"no complete answer within {deadline:g}s")


class LL2BadResponse(LL2Error):
    """LL2 answered 200 with a body that is not the JSON we expect."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"LL2 sent a malformed response for {url}: {reason}")
