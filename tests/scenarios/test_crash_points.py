"""Crash safety of `tminus watch --once`: the real CLI killed at named points, then rerun.

Each test runs the CLI as a subprocess against an LL2 emulator served from the test's own
event loop (so the emulator keeps answering while the child runs) and a real SQLite file.
``TMINUS_CRASHPOINT`` makes the child die like ``kill -9`` (exit 86) at the named point. The
console sink cannot tell a crash between print and mark-sent (``after_send``) from a crash
before print — that is the Discord sink's nonce job — so it is not tested here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.timeutil import utcnow
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from storage import queries
from storage.db import make_engine, session_scope

REPO = Path(__file__).resolve().parents[2]
CRASH_EXIT = 86
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

UPDATED = 5001  # gets a new update
GOES_LIVE = 5002  # its webcast flips live
SLIPS = 5003  # moves by a day
LIVE_AT_SEED = 5004  # already live when the store is seeded
REMINDER_AT_SEED = 5005  # its 1h reminder fell due a minute before the first run
NEW = 6001  # published after seeding


@dataclass
class Run:
    """What one `watch --once` process did."""

    returncode: int
    alerts: list[dict[str, Any]]
    stderr: str


@dataclass
class World:
    """An emulator on loopback and the SQLite file the CLI runs keep their store in."""

    emulator: LL2Emulator
    db_file: Path
    workdir: Path
    start: datetime

    @property
    def db_url(self) -> str:
        """Return the store's URL."""
        return f"sqlite:///{self.db_file}"

    async def watch(self, crashpoint: str | None = None) -> Run:
        """Run `python -m bot watch --once --format json`, optionally dying at ``crashpoint``."""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.workdir),
            "PYTHONPATH": str(REPO),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if crashpoint is not None:
            env["TMINUS_CRASHPOINT"] = crashpoint
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "watch",
            "--once",
            "--format",
            "json",
            "--db",
            self.db_url,
            "--ll2-url",
            self.emulator.url("2.2.0"),
            cwd=self.workdir,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        lines = out.decode().splitlines()
        return Run(process.returncode, [json.loads(line) for line in lines if line], err.decode())

    def count_events(self) -> int:
        """Return how many events the store holds."""
        engine = make_engine(self.db_url)
        try:
            with session_scope(engine) as session:
                return queries.count_events(session=session)
        finally:
            engine.dispose()

    def stored(self, event_id: int) -> bool:
        """Return whether the store holds this event."""
        engine = make_engine(self.db_url)
        try:
            with session_scope(engine) as session:
                return queries.get_event(session=session, event_id=event_id) is not None
        finally:
            engine.dispose()


def seed_events(start: datetime) -> list[dict[str, Any]]:
    """Return the events LL2 holds before the first run (all edited two days ago)."""
    old = start - 2 * DAY
    return [
        make_event(UPDATED, "Crew-13 Docking", date=start + 3 * HOUR, last_updated=old),
        make_event(
            GOES_LIVE,
            "ISS Press Conference",
            type_name="Press Event",
            date=start + 5 * HOUR,
            last_updated=old,
        ),
        make_event(SLIPS, "Cygnus NG-24 Docking", date=start + 2 * DAY, last_updated=old),
        make_event(
            LIVE_AT_SEED,
            "US EVA 93",
            type_name="EVA",
            date=start + 20 * MINUTE,
            webcast_live=True,
            last_updated=old,
        ),
        make_event(
            REMINDER_AT_SEED,
            "Progress MS-36 Docking",
            date=start + HOUR - MINUTE,
            last_updated=old,
        ),
    ]


def change_everything(world: World) -> None:
    """After seeding: one new update, one webcast going live, one slip, one new event."""
    emulator, start = world.emulator, world.start
    emulator.add_update(UPDATED, "Docking moved to the zenith port")
    emulator.set_webcast_live(GOES_LIVE, True)
    emulator.move_date(SLIPS, start + 3 * DAY)
    new = make_event(NEW, "Starliner-1 Docking", date=start + 4 * DAY, last_updated=start)
    new.pop("last_updated")  # the emulator stamps it now, as LL2 would
    emulator.add_event(new)


CHANGE_ALERTS = [
    ("new_event", NEW),
    ("rescheduled", SLIPS),
    ("update", UPDATED),
    ("webcast_live", GOES_LIVE),
]
SEED_ALERTS = [("reminder", REMINDER_AT_SEED), ("webcast_live", LIVE_AT_SEED)]


def printed(*runs: Run) -> list[tuple[str, int]]:
    """Return (kind, event id) of every alert the runs printed, sorted."""
    return sorted((a["kind"], a["event"]["id"]) for run in runs for a in run.alerts)


def assert_each_key_once(*runs: Run) -> None:
    """No dedupe key was printed twice across the runs."""
    keys = Counter(a["key"] for run in runs for a in run.alerts)
    assert [k for k, n in keys.items() if n > 1] == []


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """Yield an emulator (real clock, no hourly limit) holding the seed events."""
    start = utcnow().replace(microsecond=0)
    async with LL2Emulator(seed_events(start), requests_per_hour=None) as emulator:
        yield World(emulator, tmp_path / "tminus.db", tmp_path, start)


async def test_crash_after_seeding_commit_prints_seeding_alerts_once_on_rerun(
    world: World,
) -> None:
    """Killed after the seed page's commit, before printing: the rerun prints both alerts once."""
    crashed = await world.watch("after_page_commit")
    assert crashed.returncode == CRASH_EXIT, crashed.stderr
    assert crashed.alerts == []
    assert world.count_events() == 5, "the seed page was committed before the kill"

    rerun = await world.watch()
    assert rerun.returncode == 0, rerun.stderr
    assert printed(rerun) == SEED_ALERTS
    again = await world.watch()
    assert again.returncode == 0, again.stderr
    assert again.alerts == []
    assert_each_key_once(crashed, rerun, again)


async def test_crash_between_commit_and_print_loses_and_repeats_nothing(world: World) -> None:
    """Killed after a poll page's commit: the rerun prints each change's alert exactly once."""
    seeded = await world.watch()
    assert seeded.returncode == 0, seeded.stderr
    assert printed(seeded) == SEED_ALERTS
    change_everything(world)

    crashed = await world.watch("after_page_commit")
    assert crashed.returncode == CRASH_EXIT, crashed.stderr
    assert crashed.alerts == []
    assert world.stored(NEW), "the page was committed before the kill"

    rerun = await world.watch()
    assert rerun.returncode == 0, rerun.stderr
    assert printed(rerun) == CHANGE_ALERTS
    again = await world.watch()
    assert again.returncode == 0, again.stderr
    assert again.alerts == []
    assert_each_key_once(seeded, crashed, rerun, again)


async def test_crash_before_commit_keeps_nothing_and_the_rerun_delivers_everything(
    world: World,
) -> None:
    """Killed inside the page's transaction: nothing is kept, and the rerun sees it all anew."""
    seeded = await world.watch()
    assert seeded.returncode == 0, seeded.stderr
    change_everything(world)

    crashed = await world.watch("before_page_commit")
    assert crashed.returncode == CRASH_EXIT, crashed.stderr
    assert crashed.alerts == []
    assert not world.stored(NEW), "the killed transaction was rolled back"
    assert world.count_events() == 5

    rerun = await world.watch()
    assert rerun.returncode == 0, rerun.stderr
    assert printed(rerun) == CHANGE_ALERTS
    again = await world.watch()
    assert again.alerts == []
    assert_each_key_once(seeded, crashed, rerun, again)


async def test_crash_between_two_pages_announces_every_new_event_exactly_once(
    world: World,
) -> None:
    """160 new events span two pages; killed after page 1's commit, all 160 are printed once."""
    seeded = await world.watch()
    assert seeded.returncode == 0, seeded.stderr
    new_ids = list(range(7001, 7161))
    for n, event_id in enumerate(new_ids):
        raw = make_event(
            event_id,
            f"Synthetic Docking {n}",
            date=world.start + 2 * DAY + n * HOUR,
            last_updated=world.start,
        )
        raw.pop("last_updated")  # stamped now, in this order, as LL2 would
        world.emulator.add_event(raw)

    crashed = await world.watch("after_page_commit:1")
    assert crashed.returncode == CRASH_EXIT, crashed.stderr
    assert crashed.alerts == []
    # Page 1 holds 100 events from the watermark on: the 5 seeded ones (edited exactly at
    # the watermark, seen again harmlessly) and the first 95 new ones.
    assert world.count_events() == 100, "exactly the first page was committed"

    rerun = await world.watch()
    assert rerun.returncode == 0, rerun.stderr
    assert printed(rerun) == sorted(("new_event", i) for i in new_ids)
    assert world.count_events() == 5 + len(new_ids)
    again = await world.watch()
    assert again.alerts == []
    assert_each_key_once(seeded, crashed, rerun, again)
