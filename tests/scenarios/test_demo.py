"""`tminus demo` end to end: offline, quick, and every alert kind as often as it is played."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli.demo import PLAYED
from bot.core.alerts import ALL_KINDS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_offline_and_prints_every_alert_kind_once(tmp_path: Path) -> None:
    """`tminus demo` offline exits 0 within 60 s, printing each kind once (a launch's twice).

    The launch goes Go and then succeeds (two ``status``), and both a docking's and the
    launch's webcast go live (two ``webcast_live``); every other kind plays once.
    """
    # Only what a bare shell has: no *_proxy, no TMINUS_* settings, no config.toml in cwd.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 60
    counts = {kind.value: result.stdout.count(f"[{kind.value}]") for kind in ALL_KINDS}
    assert counts == {kind.value: PLAYED.get(kind.value, 1) for kind in ALL_KINDS}, result.stdout
    assert "[status] Falcon 9 Block 5 | Dragon CRS-2 SpX-34" in result.stdout
    assert "LL2 problem" not in result.stdout
    assert result.stdout.rstrip().endswith("every alert kind went through the real pipeline.")
    assert list(tmp_path.iterdir()) == [], "the demo keeps its store in a temporary directory"
