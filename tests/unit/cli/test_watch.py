"""`tminus watch --once` as a user runs it: exit codes and the one line when LL2 says wait."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

from bot.devtools.ll2_emulator import LL2Emulator

WAIT_LINE = re.compile(
    r"^(LL2 request budget spent|LL2 throttled us): next request possible at "
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (\d+h\d\dm|\d+m\d\ds|\d+s)\)$"
)


async def watch_once(url: str, db: Path, *extra: str) -> tuple[int, str, str]:
    """Run `python -m bot watch --once` against ``url``; return (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMINUS_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "watch",
        "--once",
        "--format",
        "json",
        "--db",
        f"sqlite:///{db}",
        "--ll2-url",
        url,
        "--log-level",
        "WARNING",
        *extra,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_spent_budget_exits_75_with_one_line_saying_when(tmp_path: Path) -> None:
    """LL2 allows 4 requests an hour (both feeds' seeds): the next run exits 75 with one line."""
    db = tmp_path / "w.db"
    async with LL2Emulator(requests_per_hour=4) as emulator:
        code, out, err = await watch_once(emulator.url(), db)
        assert (code, err) == (0, "")
        code, out, err = await watch_once(emulator.url(), db)
        assert code == 75 and out == ""
        lines = err.splitlines()
        assert len(lines) == 1 and WAIT_LINE.match(lines[0]), err
        assert lines[0].startswith("LL2 request budget spent")
        # Never a request LL2 would refuse: the client stopped itself.
        assert all(r.status != 429 for r in emulator.requests)


async def test_a_429_from_ll2_exits_75_with_its_wait(tmp_path: Path) -> None:
    """LL2 answering 429 (Retry-After 120) gives exit 75 and the wait LL2 asked for."""
    db = tmp_path / "w.db"
    async with LL2Emulator(requests_per_hour=None) as emulator:
        assert (await watch_once(emulator.url(), db))[0] == 0
        emulator.inject_fault("throttle", path="/event/", retry_after=120)
        code, out, err = await watch_once(emulator.url(), db)
    assert code == 75 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2, err  # the client's warning, then the one line for the user
    assert WAIT_LINE.match(lines[-1]), err
    assert lines[-1].startswith("LL2 throttled us") and "(in 2m00s)" in lines[-1]


async def test_json_lines_print_each_alert_once_across_runs(tmp_path: Path) -> None:
    """A webcast going live between two runs is printed once, as one DESIGN.md JSON line."""
    db = tmp_path / "w.db"
    async with LL2Emulator(requests_per_hour=None) as emulator:
        assert (await watch_once(emulator.url(), db))[0] == 0
        upcoming = next(iter(emulator.events))
        emulator.set_webcast_live(upcoming, True)
        code, out, _ = await watch_once(emulator.url(), db)
        again = await watch_once(emulator.url(), db)
    alerts = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(a["kind"], a["event"]["id"]) for a in alerts] == [("webcast_live", upcoming)]
    assert again[1] == ""
