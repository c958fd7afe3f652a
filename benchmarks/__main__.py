"""``python3 -m benchmarks [--quick] [--only NAME ...] [--markdown FILE]``: print figures."""

from __future__ import annotations

import argparse
import multiprocessing
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks.common import (
    Figure,
    machine,
    markdown_table,
    print_figure,
    quiet_logging,
    run_benchmark,
)

BENCHMARKS: dict[str, tuple[str, str]] = {
    "fanout": ("benchmarks.fanout", "1. Fan-out: one webcast_live alert to N channels"),
    "sync": ("benchmarks.sync_cost", "2. Sync cost: one 100-event page, and an idle poll"),
    "lookups": ("benchmarks.lookups", "3. Lookups: /events callbacks on 10k events + 10k subs"),
    "budget": ("benchmarks.budget", "4. Budget: a simulated 24 h on a virtual clock"),
    "footprint": ("benchmarks.footprint", "5. Footprint: peak RSS of tminus run"),
    "cards": ("benchmarks.cards", "6. Cards: N channels' living cards through live and a slip"),
    "cluster": (
        "benchmarks.cluster",
        "7. Cluster: 3 tminus run processes on PostgreSQL, one alert to 300 channels",
    ),
}


def _in_own_process(module_name: str, *, quick: bool, workdir: Path) -> list[Figure]:
    """Run one benchmark in a fresh process and return its figures.

    In one process for all, a benchmark ran on the heap the earlier ones left (the fan-out's
    emulators and recordings, the big store's events); in one pair of runs the 10,000-event
    idle poll measured ~0.8 ms more after the fan-out than alone (this VM's noise is as large,
    so a fresh process rules the question out rather than answering it). The big store is
    built once and shared through ``workdir``'s parent (:func:`benchmarks.store.big_store`).
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_benchmark, module_name, quick, workdir).result()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks; print each figure; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(
        prog="python3 -m benchmarks",
        description="tminus benchmarks: figures against physical limits (not timed tests).",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only this (repeatable)"
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the results table here")
    args = parser.parse_args(argv)
    quiet_logging()

    command = "python3 -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv)
    info = machine()
    print(f"tminus benchmarks — {command.strip()}")
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu']}), {info['memory']} RAM, {info['os']}, "
        f"Python {info['python']}, SQLite {info['sqlite']}"
    )
    figures: list[Figure] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tminus-bench-") as tmp:
        for name in args.only or list(BENCHMARKS):
            module_name, title = BENCHMARKS[name]
            print(f"\n{title}")
            workdir = Path(tmp) / name
            workdir.mkdir()
            t0 = time.monotonic()
            try:
                results = _in_own_process(module_name, quick=args.quick, workdir=workdir)
            except Exception as exc:  # one broken benchmark must not hide the others
                print(f"  FAILED: {type(exc).__name__}: {exc}")
                results = [Figure(title.split(":")[0], "benchmark run", 0, "", ok_override=False)]
            for fig in results:
                print_figure(fig)
            print(f"  ({time.monotonic() - t0:.0f} s)")
            figures += results
    missed = [f for f in figures if f.status == "MISS"]
    print(f"\n{len(figures)} figures in {time.monotonic() - started:.0f} s; ", end="")
    print(f"{len(missed)} missed: " + ", ".join(f.label for f in missed) if missed else "all met")
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(figures) + "\n", encoding="utf-8")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
