"""``python3 -m benchmarks [--quick] [--only NAME ...] [--markdown FILE]``: print figures."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import shlex
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import Figure, machine, markdown_table, print_figure

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
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("discord", "bot", "cogs", "storage", "aiohttp", "httpx", "tests"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)

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
            module = importlib.import_module(module_name)
            try:
                results = asyncio.run(module.run(quick=args.quick, workdir=workdir))
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
