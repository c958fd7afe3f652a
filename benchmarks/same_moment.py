"""``python3 -m benchmarks.same_moment REV``: this tree's sync cost beside REV's, measured at once.

This VM's speed drifts by 2x and more within minutes (docs/benchmarks.md, "Machine"), so two
runs of ``python3 -m benchmarks`` minutes apart cannot say whether a change made the page
cheaper. Here two processes measure at the same moment, one per CPU: each runs
:func:`benchmarks.sync_cost.measure_backend` on SQLite (the 100-event page that alerts and
the idle poll) ``--repeats`` times, one on this tree's product code and one on REV's; then
again with the CPUs swapped, so that neither side keeps the busier CPU. Both run this tree's
benchmark code (copied over REV's in a temporary worktree): only the product code differs.
REV must be recent enough for that code to drive it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("page", "idle")
LABELS = {
    "page": "SQLite: store a 100-event page that alerts, CPU ms",
    "idle": "SQLite: idle poll, CPU ms",
}


def child(repeats: int, rounds: int, out: str) -> None:
    """Measure in this process (started by :func:`main`); write the figures to ``out``."""
    import asyncio

    from benchmarks.common import quiet_logging
    from benchmarks.sync_cost import measure_backend

    quiet_logging()
    found: dict[str, list[float]] = {name: [] for name in FIGURES}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="tminus-same-") as tmp:
            figures = asyncio.run(
                measure_backend("SQLite", f"sqlite:///{Path(tmp) / 'sync.db'}", rounds=rounds)
            )
        found["page"].append(figures[0].value)
        found["idle"].append(figures[2].value)
    Path(out).write_text(json.dumps(found), encoding="utf-8")


def _git(*args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise SystemExit("same_moment needs git (it checks REV out in a temporary worktree)")
    # Our own arguments: git on this repository, with the commit the user named.
    command = [git, "-C", str(ROOT), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


def _start(tree: Path, cpu: int, repeats: int, rounds: int, out: Path) -> subprocess.Popen[bytes]:
    """Start a measuring process on ``tree``'s code, held to ``cpu``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    code = f"from benchmarks.same_moment import child; child({repeats}, {rounds}, {str(out)!r})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=tree, env=env)  # noqa: S603
    os.sched_setaffinity(process.pid, {cpu})  # before it starts any thread: all inherit it
    return process


def main(argv: Sequence[str] | None = None) -> int:
    """Compare this tree with REV; print each figure's medians and their ratio."""
    parser = argparse.ArgumentParser(
        prog="python3 -m benchmarks.same_moment",
        description="This tree's SQLite page and idle poll CPU beside REV's, measured at once.",
    )
    parser.add_argument("rev", help="the commit to compare with (e.g. HEAD~3 or a hash)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side per pass (3)")
    parser.add_argument("--rounds", type=int, default=8, help="page rounds per run (8)")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        parser.error("needs two CPUs: the two sides measure at the same moment, one on each")
    if args.repeats < 1 or args.rounds < 1:
        parser.error("--repeats and --rounds must be at least 1")
    try:
        rev = _git("rev-parse", "--verify", f"{args.rev}^{{commit}}")
    except subprocess.CalledProcessError:
        parser.error(f"not a commit here: {args.rev}")
    here = _git("rev-parse", "--short", "HEAD")
    dirty = " with uncommitted changes" if _git("status", "--porcelain", "--", ".") else ""
    print(f"same moment: this tree ({here}{dirty}) vs {args.rev} ({rev[:7]}), CPUs {cpus[:2]}")
    results: dict[str, dict[str, list[float]]] = {
        side: {name: [] for name in FIGURES} for side in ("this", "rev")
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tminus-same-moment-") as tmp:
        other = Path(tmp) / "rev"
        _git("worktree", "add", "--detach", "--quiet", str(other), rev)
        try:
            shutil.copytree(ROOT / "benchmarks", other / "benchmarks", dirs_exist_ok=True)
            trees = {"this": ROOT, "rev": other}
            for first, second in ((cpus[0], cpus[1]), (cpus[1], cpus[0])):
                outs = {side: Path(tmp) / f"{side}-{first}.json" for side in trees}
                processes = [
                    _start(trees[side], cpu, args.repeats, args.rounds, outs[side])
                    for side, cpu in (("this", first), ("rev", second))
                ]
                if any(p.wait() != 0 for p in processes):
                    print("a measuring process failed (its error is above)")
                    return 2
                for side, path in outs.items():
                    for name, values in json.loads(path.read_text(encoding="utf-8")).items():
                        results[side][name] += values
        finally:
            _git("worktree", "remove", "--force", str(other))
    for name in FIGURES:
        this, theirs = (statistics.median(results[side][name]) for side in ("this", "rev"))
        print(
            f"  {LABELS[name]}: this {this:.2f}, {args.rev} {theirs:.2f}, ratio {this / theirs:.2f}"
        )
        for side in ("this", "rev"):
            shown = ", ".join(f"{v:.2f}" for v in results[side][name])
            print(f"      {side}: {shown}")
    print(f"  ({time.monotonic() - started:.0f} s; each value a run's median of its rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
