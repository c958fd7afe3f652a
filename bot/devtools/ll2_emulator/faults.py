"""Injectable faults (5xx, slow, malformed, truncated, throttled) and the request log's record."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.devtools.ll2_emulator.model import JSONDict


class FaultKind(StrEnum):
    """What an injected fault does to a response."""

    ERROR = "error"  # an HTTP 5xx with an HTML body, as a proxy in front of LL2 sends
    SLOW = "slow"  # wait ``delay`` seconds, then answer normally
    MALFORMED = "malformed"  # 200, application/json, body cut in half (invalid JSON)
    # a valid page whose ``results`` lose their second half while count/next stay (on a
    # detail answer it acts like MISSING_FIELDS)
    TRUNCATED_PAGE = "truncated_page"
    MISSING_FIELDS = "missing_fields"  # the first result (or the object) lacks ``drop_fields``
    THROTTLE = "throttle"  # 429 with LL2's body, whatever the budget says


@dataclass
class Fault:
    """One injected fault rule; ``count`` is how many more responses it will spoil."""

    kind: FaultKind
    count: int | None = 1  # None: until cleared
    path: str | None = None  # substring of the request path; None: any API path
    status: int = 503
    delay: float = 5.0
    retry_after: int = 60
    drop_fields: tuple[str, ...] = ("type", "date", "last_updated")
    fired: int = 0

    def matches(self, path: str) -> bool:
        """Tell whether this rule applies to a request for ``path`` and has uses left."""
        if self.count is not None and self.count <= 0:
            return False
        if self.path is None:
            # /api-throttle/ is left alone unless named, so a client's budget check does
            # not eat the fault meant for its poll
            return not path.endswith("/api-throttle/")
        return self.path in path

    def to_json(self) -> JSONDict:
        """Describe the rule as JSON."""
        return {
            "kind": str(self.kind),
            "count": self.count,
            "path": self.path,
            "status": self.status,
            "delay": self.delay,
            "retry_after": self.retry_after,
            "drop_fields": list(self.drop_fields),
            "fired": self.fired,
        }


@dataclass
class _Storm:
    p: float
    kinds: tuple[FaultKind, ...]
    rng: random.Random
    statuses: tuple[int, ...]
    delay: float
    retry_after: int
    path: str | None

    def draw(self, path: str) -> Fault | None:
        if self.path is not None and self.path not in path:
            return None
        if self.path is None and path.endswith("/api-throttle/"):
            return None
        if self.rng.random() >= self.p:
            return None
        kind = self.rng.choice(self.kinds)
        status = self.rng.choice(self.statuses) if kind is FaultKind.ERROR else 503
        return Fault(kind, count=1, status=status, delay=self.delay, retry_after=self.retry_after)


@dataclass
class RecordedRequest:
    """One API request the emulator answered (control calls are not recorded)."""

    method: str
    path: str
    query: dict[str, str]
    query_string: str
    headers: dict[str, str]  # lower-cased names; Authorization masked to "Token ***"
    status: int
    time: datetime  # the emulator's clock when the request arrived
    monotonic: float  # time.monotonic() when the request arrived, for pacing checks
    ident: str  # the limit bucket: "token:***<last 4>" or the client IP
    fault: str | None = None
    counted: bool = False  # whether it counted toward the hourly limit

    def header(self, name: str) -> str | None:
        """Return a request header by case-insensitive name."""
        return self.headers.get(name.lower())

    def to_json(self) -> JSONDict:
        """Describe the request as JSON (``GET /_control/requests``)."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "query_string": self.query_string,
            "headers": self.headers,
            "status": self.status,
            "time": self.time.isoformat(),
            "monotonic": self.monotonic,
            "ident": self.ident,
            "fault": self.fault,
            "counted": self.counted,
        }


def _mask_authorization(value: str) -> str:
    scheme, _, _ = value.partition(" ")
    return f"{scheme} ***" if scheme.lower() == "token" else "***"


# --------------------------------------------------------------------------------------
# the server
