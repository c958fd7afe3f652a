"""One process per SQLite store: the lock, across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.pipeline.store_lock import StoreRefused, exclusive_store, sqlite_path

HOLDER = """
import sys, time
from bot.pipeline.store_lock import exclusive_store
with exclusive_store(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(60)
"""


def _hold_in_child(url: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", HOLDER, url]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603  (our own code)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    return child


def test_second_process_on_one_sqlite_store_is_refused_with_the_reason(tmp_path: Path) -> None:
    """While one process holds the store, another is told it needs PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'tminus.db'}"
    child = _hold_in_child(url)
    try:
        with pytest.raises(StoreRefused) as refused, exclusive_store(url):
            pass
        message = str(refused.value)
        assert f"pid {child.pid}" in message
        assert "PostgreSQL" in message
        assert "\n" not in message
    finally:
        child.kill()
        child.communicate()


def test_kill_9_of_the_holder_frees_the_store(tmp_path: Path) -> None:
    """The kernel drops the lock of a process killed with SIGKILL: the next one starts."""
    url = f"sqlite:///{tmp_path / 'tminus.db'}"
    child = _hold_in_child(url)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    deadline = time.monotonic() + 5
    while True:
        try:
            with exclusive_store(url):
                break
        except StoreRefused:
            assert time.monotonic() < deadline, "the lock outlived its holder"
            time.sleep(0.05)


def test_the_same_store_can_be_taken_again_after_release(tmp_path: Path) -> None:
    """Leaving the block releases the store for the next run in the same process."""
    url = f"sqlite:///{tmp_path / 'tminus.db'}"
    with exclusive_store(url):
        pass
    with exclusive_store(url):
        pass


def test_only_sqlite_files_are_locked() -> None:
    """PostgreSQL and in-memory URLs have no file to lock."""
    assert sqlite_path("postgresql+psycopg://postgres@127.0.0.1/test") is None
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("sqlite:////tmp/x/tminus.db") == Path("/tmp/x/tminus.db")
    assert sqlite_path("sqlite:///file:/tmp/x/t.db?mode=ro&uri=true") == Path("/tmp/x/t.db")
