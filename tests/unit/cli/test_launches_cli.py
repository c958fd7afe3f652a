"""`tminus launches upcoming|search|show`: launch lookups from a real SQLite store, in-process."""

from __future__ import annotations

import copy
import json
import os
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from bot.core.timeutil import isoformat_z, utcnow
from bot.ll2.parse import parse_launch
from bot.pipeline.records import launch_record
from storage import queries
from storage.db import make_engine, session_scope, upgrade

ARTEMIS = "41699701-2ef4-4b0c-ac9d-6757820cde87"


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No TMINUS_* from the caller's shell and no ./config.toml from the checkout."""
    for name in list(os.environ):
        if name.startswith("TMINUS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _upcoming_recorded() -> list[dict[str, Any]]:
    """Return the recorded launches, NETs (and windows) moved to the coming days in order."""
    path = files("bot").joinpath("data", "ll2", "launches-selection.2.2.0.json")
    raws = json.loads(path.read_text(encoding="utf-8"))["results"]
    start = utcnow().replace(microsecond=0) + timedelta(days=1)
    moved = []
    for day, raw in enumerate(raws):
        raw = copy.deepcopy(raw)
        net = start + timedelta(days=day)
        raw["net"] = raw["window_start"] = isoformat_z(net)
        raw["window_end"] = isoformat_z(net + timedelta(hours=2))
        moved.append(raw)
    return moved


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Return the URL of a SQLite store holding the recorded launches, all upcoming."""
    url = f"sqlite:///{tmp_path / 'tminus.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        records = [launch_record(parse_launch(raw), raw) for raw in _upcoming_recorded()]
        queries.save_launches(session=session, records=records, now=utcnow())
    engine.dispose()
    return url


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `tminus ARGV` in-process; return its exit code, stdout and stderr."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["launches"], "Look launches up in the local store"),
        (["launches", "upcoming"], "--provider ID|NAME"),
        (["launches", "search"], "whose name or mission matches"),
        (["launches", "show"], "the launch's LL2 UUID, its slug or part of its name"),
    ],
)
def test_launches_help_says_what_each_action_does(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    """`tminus launches … --help` exits 0 and describes the action and its options."""
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"usage: tminus {' '.join(argv)} ")
    assert says in out


def test_upcoming_lists_launches_soonest_first_filtered_by_provider(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`launches upcoming --provider SpaceX` prints SpaceX's launches, one line each, by NET."""
    code, out, err = run(["launches", "upcoming", "--db", db, "--provider", "SpaceX"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 4
    assert all("SpaceX" in line for line in lines)
    assert "Starlink Group 10-48" in lines[0]
    assert lines[0].split()[0] < lines[-1].split()[0]  # ISO dates sort as text


def test_upcoming_count_and_coarse_precision(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--count 6 prints six lines; a Month-precision NET reads "NET <Month> <year>"."""
    code, out, _ = run(["launches", "upcoming", "--db", db, "--count", "6"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 6
    assert any(line.startswith("NET ") and "SpX-34" in line for line in lines)


def test_search_finds_by_mission(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`launches search Progress` finds the Progress MS-33 launch."""
    code, out, _ = run(["launches", "search", "--db", db, "Progress"], capsys)
    assert code == 0
    assert out.count("\n") == 1
    assert "Soyuz 2.1a | Progress MS-33 (94P)" in out


def test_show_prints_one_launch_in_full(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`launches show <slug>` prints status, NET, window, rocket, provider, mission and pad."""
    code, out, _ = run(["launches", "show", "--db", db, "sls-block-1-artemis-ii"], capsys)
    assert code == 0
    assert out.startswith(f"SLS Block 1 | Artemis II [{ARTEMIS}]\n")
    for expected in (
        "status:    Go for Launch",
        "rocket:    Space Launch System Block 1",
        "provider:  National Aeronautics and Space Administration",
        "mission:   Artemis II",
        "pad:       Launch Complex 39B, Kennedy Space Center, FL, USA",
        " UTC – ",
    ):
        assert expected in out


def test_unknown_launch_and_unknown_provider_exit_2_with_one_line(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A launch or provider the store does not know is one line on stderr and exit 2."""
    code, out, err = run(["launches", "show", "--db", db, "Apollo 11"], capsys)
    assert (code, out) == (2, "")
    assert "no launch matching 'Apollo 11' in the store" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(["launches", "upcoming", "--db", db, "--provider", "SpaceY"], capsys)
    assert code == 2
    assert "SpaceX" in err  # did you mean


def test_an_empty_store_says_nothing_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh store answers "no matching launches", exit 0."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    code, out, _ = run(["launches", "upcoming", "--db", url], capsys)
    assert (code, out) == (0, "no matching launches in the store\n")
