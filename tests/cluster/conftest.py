"""The cluster tests host both emulators in this process: freeze what it holds before each.

A full garbage collection over everything earlier tests left behind stalled the Discord
emulator mid fan-out; the requests queued meanwhile were stamped as one burst and its
one-second window counted 429s the bot never caused (as ``benchmarks.common.settle_emulators``
explains for the benchmarks).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def settled_emulators() -> Iterator[None]:
    """Collect and freeze this process's objects for the test; unfreeze them after."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
