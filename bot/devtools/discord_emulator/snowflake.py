"""Discord snowflakes: 64-bit ids built from the current time, like Discord makes them."""

from __future__ import annotations

import itertools
import os
import threading
import time
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000


class SnowflakeFactory:
    """Mint unique, time-ordered snowflakes (ms since 2015 << 22 | worker | process | counter)."""

    def __init__(self, worker_id: int = 1) -> None:
        self._worker_id = worker_id & 0x1F
        self._process_id = os.getpid() & 0x1F
        self._counter = itertools.count()
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        """Return a new snowflake, strictly greater than every earlier one from this factory."""
        with self._lock:
            ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            increment = next(self._counter) & 0xFFF
            value = (ms << 22) | (self._worker_id << 17) | (self._process_id << 12) | increment
            # Two ids in the same ms whose counter wrapped would collide: bump past the last one.
            if value <= self._last:
                value = self._last + 1
            self._last = value
            return value


def snowflake_time(snowflake: int) -> datetime:
    """Return the UTC creation time encoded in a snowflake."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


def iso_now() -> str:
    """Return the current UTC time in Discord's ISO 8601 format."""
    return datetime.now(UTC).isoformat(timespec="microseconds")
