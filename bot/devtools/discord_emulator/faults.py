"""Rate limits like Discord's (global + per-route buckets) and injected faults."""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

RATE_LIMITED = "You are being rate limited."

# Discord's error bodies for the faults tests ask for most often.
KNOWN_ERRORS: dict[int, tuple[int, str]] = {
    50013: (403, "Missing Permissions"),
    50001: (403, "Missing Access"),
    10003: (404, "Unknown Channel"),
    10004: (404, "Unknown Guild"),
    10008: (404, "Unknown Message"),
    10062: (404, "Unknown interaction"),
    10070: (404, "Unknown Guild Scheduled Event"),
}
_DEFAULT_CODE_FOR_STATUS = {403: 50013, 404: 10003}
_SERVER_ERRORS = {
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


def route_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path pattern: ``{name}`` matches one segment, ``*`` matches anything."""
    out = []
    for piece in re.split(r"(\{[^}]+\}|\*)", pattern):
        if piece == "*":
            out.append(".*")
        elif piece.startswith("{") and piece.endswith("}"):
            out.append("[^/]+")
        else:
            out.append(re.escape(piece))
    return re.compile("^" + "".join(out) + "/?$")


def parse_route(route: str) -> tuple[str, re.Pattern[str]]:
    """Split ``"POST /channels/{channel_id}/messages"`` into a method and a path regex."""
    method, _, path = route.strip().partition(" ")
    if not path:
        method, path = "*", method
    return method.upper(), route_regex(path)


@dataclass
class Fault:
    """Answer the next ``times`` requests matching a route with an error (None: always)."""

    method: str
    path: re.Pattern[str]
    status: int
    times: int | None = 1
    channel_id: int | None = None
    code: int | None = None
    message: str | None = None
    retry_after: float = 0.05
    is_global: bool = False
    via: bool = True
    hits: int = 0

    def matches(self, method: str, path: str, channel_id: int | None) -> bool:
        """Whether this fault applies to a request."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method not in ("*", method):
            return False
        if self.channel_id is not None and self.channel_id != channel_id:
            return False
        return bool(self.path.match(path))

    def body_and_headers(self) -> tuple[int, Any, dict[str, str]]:
        """Return the status, body (dict or text) and headers Discord would send."""
        if self.status == 429:
            if not self.via:
                # Cloudflare's ban page: no Via header and not JSON.
                return 429, "error code: 1015", {"Retry-After": str(math.ceil(self.retry_after))}
            body = {
                "message": RATE_LIMITED,
                "retry_after": self.retry_after,
                "global": self.is_global,
            }
            headers = {
                "Retry-After": str(max(1, math.ceil(self.retry_after))),
                "X-RateLimit-Scope": "global" if self.is_global else "user",
            }
            if self.is_global:
                headers["X-RateLimit-Global"] = "true"
            return 429, body, headers
        if self.status in _SERVER_ERRORS:
            return (
                self.status,
                {"message": self.message or _SERVER_ERRORS[self.status], "code": 0},
                {},
            )
        code = self.code if self.code is not None else _DEFAULT_CODE_FOR_STATUS.get(self.status, 0)
        message = self.message or KNOWN_ERRORS.get(code, (self.status, f"{self.status}: Error"))[1]
        return self.status, {"message": message, "code": code}, {}


@dataclass
class BucketRule:
    """A per-route bucket: ``limit`` requests per ``per`` seconds for each major parameter."""

    method: str
    template: str
    limit: int
    per: float

    @property
    def bucket_hash(self) -> str:
        """An opaque, stable bucket id like Discord's X-RateLimit-Bucket."""
        return hashlib.sha256(f"{self.method} {self.template}".encode()).hexdigest()[:32]


@dataclass
class _Window:
    reset_at: float
    used: int = 0


@dataclass
class BucketState:
    """What a bucket check decided: the headers to send and whether the request is refused."""

    headers: dict[str, str]
    retry_after: float | None


@dataclass
class RateLimitModel:
    """Discord-like limits: an optional global rate and fixed-window per-route buckets.

    ``global_per_second=None`` disables the global limit (Discord: 50/s per bot, interaction
    endpoints exempt). Routes without a rule share ``default_limit`` per ``default_per``
    seconds, so every bot route carries X-RateLimit-* headers as on Discord; set
    ``default_limit=None`` to send none for them.
    """

    global_per_second: int | None = None
    # Discord's message buckets: 5 per 5 s per channel for creates, and a bucket of its own
    # (same size) for edits; both still count against the global limit.
    rules: list[BucketRule] = field(
        default_factory=lambda: [
            BucketRule("POST", "/channels/{channel_id}/messages", 5, 5.0),
            BucketRule("PATCH", "/channels/{channel_id}/messages/{message_id}", 5, 5.0),
        ]
    )
    default_limit: int | None = 50
    default_per: float = 1.0
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)
    _global_times: deque[float] = field(default_factory=deque)

    def set_bucket(self, method: str, template: str, limit: int, per: float) -> None:
        """Replace (or add) the bucket rule for one route template."""
        self.rules = [r for r in self.rules if (r.method, r.template) != (method.upper(), template)]
        self.rules.append(BucketRule(method.upper(), template, limit, per))

    def reset(self) -> None:
        """Forget all counters."""
        self._windows.clear()
        self._global_times.clear()

    def check_global(self, now: float) -> float | None:
        """Count a request against the global limit; return retry_after when over it."""
        if self.global_per_second is None:
            return None
        while self._global_times and self._global_times[0] <= now - 1.0:
            self._global_times.popleft()
        if len(self._global_times) >= self.global_per_second:
            return max(0.001, self._global_times[0] + 1.0 - now)
        self._global_times.append(now)
        return None

    def check_bucket(self, method: str, template: str, major: str) -> BucketState | None:
        """Count a request against its route bucket; None when the route has no bucket."""
        rule = next((r for r in self.rules if r.method == method and r.template == template), None)
        if rule is None:
            if self.default_limit is None:
                return None
            rule = BucketRule(method, template, self.default_limit, self.default_per)
        now = time.monotonic()
        key = (rule.bucket_hash, major)
        window = self._windows.get(key)
        if window is None or now >= window.reset_at:
            window = self._windows[key] = _Window(reset_at=now + rule.per)
        reset_after = max(0.0, window.reset_at - now)
        refused = window.used >= rule.limit
        if not refused:
            window.used += 1
        headers = {
            "X-RateLimit-Limit": str(rule.limit),
            "X-RateLimit-Remaining": str(max(0, rule.limit - window.used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": rule.bucket_hash,
        }
        if refused:
            headers["X-RateLimit-Scope"] = "user"
            headers["Retry-After"] = str(max(1, math.ceil(reset_after)))
            return BucketState(headers, max(0.001, reset_after))
        return BucketState(headers, None)
