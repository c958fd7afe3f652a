"""Typed LL2 failures: callers branch on these, never on placeholder values."""

from __future__ import annotations

from datetime import datetime


class LL2Error(Exception):
    """Any failure talking to Launch Library 2."""


class LL2Throttled(LL2Error):
    """LL2 (or our own budget) says no more requests until ``retry_after`` seconds pass."""

    def __init__(self, retry_after: float, *, url: str | None = None, detail: str = "") -> None:
        self.retry_after = max(0.0, retry_after)
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


class LL2BadResponse(LL2Error):
    """LL2 answered 200 with a body that is not the JSON we expect."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"LL2 sent a malformed response for {url}: {reason}")
