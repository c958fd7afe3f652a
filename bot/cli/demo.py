"""``tminus demo``: the whole pipeline, offline, on a scripted ~30-second timeline.

The LL2 emulator serves the bundled recorded events and a recorded launch on a free loopback
port; a fake clock starts an hour before the recorded Soyuz MS-28 docking (the launch is 40
minutes away), and each step changes something in "LL2" and runs one real pipeline pass
(sync → diff → outbox → console), so every alert kind appears as it would in a channel: the
launch goes Go, its webcast goes live and it succeeds.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, cast

from bot.config import Config
from bot.core.kinds import ALL_KINDS
from bot.core.timeutil import isoformat_z, parse_datetime, utcnow
from bot.ll2.client import LL2Client
from bot.pipeline.runner import console_pipeline, open_store

DOCKING_ID = 1300  # Soyuz MS-28 docking, recorded with updates and three webcasts
SLIP_ID = 1513  # Progress MS-35 docking
PRESS_ID = 1520  # ISS operations update teleconference (cloned as a new event)
LAUNCH_ID = "e60aa241-1f2c-4459-ba94-2f576c3e5632"  # Falcon 9 | Dragon CRS-2 SpX-34 (recorded)
PACE = 2.5  # seconds of real time between steps


async def main(config: Config, args: argparse.Namespace) -> int:
    """Play the offline demo and return its exit code."""
    return await run_demo(config)


async def run_demo(
    config: Config,
    *,
    out: TextIO | None = None,
    pace: float = PACE,
    sleep: Callable[[float], object] = asyncio.sleep,
) -> int:
    """Play the demo timeline; return 0."""
    # Dev tools stay off the runtime path: only `demo` and `emulator` load them, lazily.
    from bot.devtools.ll2_emulator import FakeClock, LL2Emulator, load_recorded_events
    from bot.devtools.ll2_emulator.launches import load_recorded_launches

    stream = _KindTally(out or sys.stdout)
    # Replay the recordings around today: every date (and webcast time) moves so that the
    # docking is an hour and a minute away; last_updated values stay in the past, as in LL2.
    start = utcnow().replace(microsecond=0)
    recorded = load_recorded_events()
    docking = next(e for e in recorded if e["id"] == DOCKING_ID)
    shift = start + timedelta(hours=1, minutes=1) - parse_datetime(docking["date"])
    events = [_shifted(e, shift) for e in recorded]
    docking_date = start + timedelta(hours=1, minutes=1)
    launch = _demo_launch(load_recorded_launches(), start + timedelta(minutes=40))
    clock = FakeClock(start)

    def say(text: str) -> None:
        stream.write(f"\n── {clock():%H:%M:%S} UTC  {text}\n")
        stream.flush()

    stream.write(
        "tminus demo — recorded LL2 events on a loopback emulator, a scripted timeline,\n"
        "the real pipeline (sync → diff → outbox → delivery). Alerts print as they would post.\n"
    )
    with tempfile.TemporaryDirectory(prefix="tminus-demo-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        async with LL2Emulator(
            events, launches=[launch], clock=clock, requests_per_hour=None
        ) as emulator:
            demo_config = replace(
                config,
                # The loopback emulator has no limit; both feeds poll at every step.
                ll2=replace(
                    config.ll2,
                    url=emulator.url("2.2.0"),
                    api_key=None,
                    requests_per_hour=3600,
                    feeds=("events", "launches"),
                ),
                storage=replace(config.storage, url=db_url),
            )
            engine = open_store(db_url)
            try:
                async with LL2Client(demo_config.ll2, clock=clock) as client:
                    pipeline = console_pipeline(
                        config=demo_config,
                        engine=engine,
                        client=client,
                        # The console sink only writes and flushes, which the tally does.
                        stream=cast(TextIO, stream),
                        clock=clock,
                    )

                    async def step(text: str, change: Callable[[], object] | None = None) -> None:
                        if change is not None:
                            change()
                        say(text)
                        report = await pipeline.cycle()
                        if report.error is not None or report.throttled is not None:
                            stream.write(f"   (LL2 problem: {report.error or report.throttled})\n")
                        plan = pipeline.plan()
                        stream.write(
                            f"   next poll {plan.at:%H:%M:%S} ({plan.reason}); "
                            f"{client.budget.remaining()} LL2 requests left this hour\n"
                        )
                        await _pause(sleep, pace)

                    await step(
                        f"first sync of an empty store: {len(events)} recorded events and "
                        "a recorded launch, old updates stay quiet"
                    )
                    clock.advance(minutes=1, seconds=30)
                    await step("an hour before the Soyuz MS-28 docking: the 1h reminder")
                    clock.advance(minutes=2)
                    await step(
                        "LL2 adds an update to the docking",
                        lambda: emulator.add_update(
                            DOCKING_ID,
                            "Soyuz MS-28 is 2 km from the station; final approach has begun.",
                            "https://blogs.nasa.gov/spacestation/",
                            "Cosmic_Penguin",
                        ),
                    )
                    clock.advance(minutes=1)
                    await step(
                        f"{launch['name']} is Go for launch",
                        lambda: emulator.set_launch_status(LAUNCH_ID, "Go"),
                    )
                    clock.advance(minutes=2)
                    await step(
                        "NASA's stream starts: LL2 flips webcast_live",
                        lambda: emulator.set_webcast_live(DOCKING_ID, True),
                    )
                    clock.advance(minutes=1)
                    slip = emulator.event(SLIP_ID)
                    new_date = parse_datetime(slip["date"]) + timedelta(days=2, hours=3)
                    await step(
                        "Progress MS-35 slips by two days",
                        lambda: emulator.move_date(SLIP_ID, new_date),
                    )
                    clock.advance(minutes=1)
                    press = copy.deepcopy(emulator.event(PRESS_ID))
                    press.update(
                        id=9001,
                        name="Soyuz MS-28 Post-Docking News Conference",
                        slug="soyuz-ms-28-post-docking-news-conference",
                        date=isoformat_z(docking_date + timedelta(hours=3)),
                        updates=[],
                        webcast_live=False,
                    )
                    press.pop("last_updated", None)
                    await step(
                        "LL2 publishes a new press event",
                        lambda: emulator.add_event(press),
                    )
                    clock.advance(minutes=1)
                    await step(
                        "SpaceX's launch stream starts",
                        lambda: emulator.set_launch_webcast(LAUNCH_ID, True),
                    )
                    clock.advance(minutes=2)
                    await step(
                        "liftoff and orbit: LL2 marks the launch a success",
                        lambda: emulator.set_launch_status(LAUNCH_ID, "Success"),
                    )
                    clock.advance(minutes=1)
                    await step("nothing changed: no alerts")
            finally:
                engine.dispose()
    stream.write(f"\n{coverage(stream.seen)}\n")
    stream.flush()
    return 0


# Kinds the timeline plays more than once on purpose: a docking's and a launch's webcast, a
# launch going Go and then succeeding.
PLAYED = {"webcast_live": 2, "status": 2}


def coverage(seen: dict[str, int]) -> str:
    """Return the demo's closing line: whether every registered kind was printed as planned."""
    missing = [k.name for k in ALL_KINDS if not seen.get(k.name)]
    repeated = [k.name for k in ALL_KINDS if seen.get(k.name, 0) > PLAYED.get(k.name, 1)]
    if not missing and not repeated:
        return "demo finished: every alert kind went through the real pipeline."
    parts = []
    if missing:
        parts.append(f"not played by this timeline: {', '.join(missing)}")
    if repeated:
        parts.append(f"printed more often than played: {', '.join(repeated)}")
    return "demo finished; " + "; ".join(parts) + "."


class _KindTally:
    """A text stream that passes writes through and counts the alert banners printed.

    The console sink starts each alert with ``[kind]``; counting them here checks what
    really came out of the pipeline against the kind registry.
    """

    _BANNER = re.compile(r"^\[([a-z_]+)\] ", re.MULTILINE)

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self.seen: dict[str, int] = {}

    def write(self, text: str) -> int:
        """Write ``text`` through, counting alert banners in it."""
        for match in self._BANNER.finditer(text):
            self.seen[match.group(1)] = self.seen.get(match.group(1), 0) + 1
        return self.inner.write(text)

    def flush(self) -> None:
        """Flush the stream underneath."""
        self.inner.flush()


def _demo_launch(recorded: list[dict[str, Any]], net: datetime) -> dict[str, Any]:
    """Return the recorded Dragon launch moved to ``net``: TBD, off air, a stream at T-15m."""
    launch = copy.deepcopy(next(x for x in recorded if x["id"] == LAUNCH_ID))
    stamp = isoformat_z(net)
    launch.update(
        net=stamp,
        window_start=stamp,
        window_end=stamp,
        net_precision={"id": 1, "name": "Minute", "abbrev": "MIN"},
        status={"id": 2},
        webcast_live=False,
        holdreason="",
        failreason="",
        vid_urls=[
            {
                "priority": 10,
                "title": launch["name"],
                "url": "https://www.youtube.com/@SpaceX/live",
                "start_time": isoformat_z(net - timedelta(minutes=15)),
                "live": False,
            }
        ],
    )
    return launch


def _shifted(event: dict[str, Any], shift: timedelta) -> dict[str, Any]:
    moved = copy.deepcopy(event)
    for holder, key in [(moved, "date")] + [
        (video, key) for video in moved.get("vid_urls") or [] for key in ("start_time", "end_time")
    ]:
        if holder.get(key):
            holder[key] = isoformat_z(parse_datetime(holder[key]) + shift)
    return moved


async def _pause(sleep: Callable[[float], object], seconds: float) -> None:
    if seconds > 0:
        result = sleep(seconds)
        if asyncio.iscoroutine(result):
            await result
