"""The `tminus` command line: help, global flags, start-up errors, emulator and db upgrade."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from bot.__main__ import build_parser, load, main
from bot.config import Config

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No TMINUS_* from the caller's shell and no ./config.toml from the checkout."""
    for name in list(os.environ):
        if name.startswith("TMINUS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def clean_env() -> dict[str, str]:
    """The environment for a `tminus` subprocess: no TMINUS_*, the checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMINUS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def tminus(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` to completion and capture its output."""
    return subprocess.run(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """Return a loopback TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run `tminus ARGV --help` in-process, check it exits 0, and return what it printed."""
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return " ".join(captured.out.split())  # argparse wraps lines; compare unwrapped


# --- help -----------------------------------------------------------------------------


def test_top_level_help_says_what_tminus_is_and_lists_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`tminus --help` describes the bot, the settings order, and each subcommand."""
    out = help_of([], capsys)
    assert out.startswith("usage: tminus ")
    assert "Launch Library 2" in out
    assert "command-line flag > TMINUS_<SECTION>_<KEY> env > config file > default" in out
    for command in ("run", "watch", "demo", "events", "emulator", "db"):
        assert f" {command} " in out
    for flag in ("--config PATH", "--db URL", "--ll2-url URL", "--log-level LEVEL"):
        assert flag in out


HELP_CASES = [
    (["run"], "Run the Discord bot", "TMINUS_DISCORD_TOKEN"),
    (["watch"], "printing alerts to stdout", "--once"),
    (["demo"], "Serve bundled recorded LL2 events", "Needs no network"),
    (["events"], "Look events up in the local store", "upcoming"),
    (["events", "upcoming"], "next events by date", "--count"),
    (["events", "search"], "whose name matches", "query"),
    (["events", "show"], "Show one event from the local store in full", "ID"),
    (["emulator"], "Serve the LL2 emulator", "--port"),
    (["db"], "database", "upgrade"),
    (["db", "upgrade"], "Apply pending database migrations", "--db URL"),
]


@pytest.mark.parametrize(
    ("argv", "says", "mentions"), HELP_CASES, ids=[" ".join(c[0]) for c in HELP_CASES]
)
def test_each_subcommand_help_describes_what_it_does(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str, mentions: str
) -> None:
    """`tminus COMMAND --help` exits 0 with a description, not just a usage line."""
    out = help_of(argv, capsys)
    assert out.startswith(f"usage: tminus {' '.join(argv)} ")
    assert says in out
    assert mentions in out
    # every subcommand also takes the global flags
    assert "--config PATH" in out and "--log-level LEVEL" in out


def test_help_through_a_real_process(tmp_path: Path) -> None:
    """`python -m bot --help` works as a program: exit 0, usage on stdout, nothing on stderr."""
    done = tminus("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: tminus ")
    assert "Launch Library 2" in done.stdout
    assert done.stderr == ""


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Plain `tminus` exits 2 naming the missing command."""
    with pytest.raises(SystemExit) as done:
        main([])
    assert done.value.code == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err


# --- global flags -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--db", "{db}", "--ll2-url", "{ll2}", "--log-level", "debug", "events", "upcoming"],
        ["events", "--db", "{db}", "upcoming", "--ll2-url", "{ll2}", "--log-level", "debug"],
        ["events", "upcoming", "--db", "{db}", "--ll2-url", "{ll2}", "--log-level", "debug"],
        ["--db", "{db}", "db", "upgrade", "--ll2-url", "{ll2}", "--log-level", "debug"],
        ["watch", "--once", "--db", "{db}", "--ll2-url", "{ll2}", "--log-level", "debug"],
    ],
    ids=["before", "between", "after", "mixed", "after-watch"],
)
def test_global_flags_work_before_and_after_the_subcommand(tmp_path: Path, argv: list[str]) -> None:
    """--db, --ll2-url and --log-level set the same settings wherever they appear."""
    db = f"sqlite:///{tmp_path / 'flags.db'}"
    ll2 = "http://127.0.0.1:9/2.3.0"
    args = build_parser().parse_args([a.format(db=db, ll2=ll2) for a in argv])
    config = load(args)
    assert config.storage.url == db
    assert config.ll2.url == ll2
    assert config.log.level == "DEBUG"


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_flag_works_before_and_after_the_subcommand(tmp_path: Path, where: str) -> None:
    """--config PATH is read wherever it appears."""
    path = tmp_path / "custom.toml"
    path.write_text("[ll2]\nrequests_per_hour = 4\n", encoding="utf-8")
    argv = (
        ["--config", str(path), "db", "upgrade"]
        if where == "before"
        else ["db", "upgrade", "--config", str(path)]
    )
    config = load(build_parser().parse_args(argv))
    assert config.ll2.requests_per_hour == 4
    assert config.source == str(path)


def test_flag_beats_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--log-level wins over TMINUS_LOG_LEVEL, which wins over the file."""
    path = tmp_path / "config.toml"
    path.write_text('[log]\nlevel = "ERROR"\n[ll2]\nrequests_per_hour = 9\n', encoding="utf-8")
    monkeypatch.setenv("TMINUS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("TMINUS_LL2_REQUESTS_PER_HOUR", "12")
    config: Config = load(build_parser().parse_args(["db", "upgrade", "--log-level", "DEBUG"]))
    assert config.log.level == "DEBUG"
    assert config.ll2.requests_per_hour == 12
    assert config.source == "config.toml"


def test_bad_flag_value_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --log-level stops before anything runs, naming the flag."""
    assert main(["db", "upgrade", "--log-level", "LOUD"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "tminus: log.level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD' "
        "(command line --log-level)\n"
    )


# --- broken config and missing token (real processes) -------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[ll2]\nrequests_per_hour = \n",
            "config file is not valid TOML: Invalid value (at line 2, column 21) ({path})",
        ),
        ("[ll2]\nrequest_per_hour = 5\n", "unknown key ll2.request_per_hour ({path})"),
        ("[ll2]\nrequests_per_hour = 0\n", "ll2.requests_per_hour must be > 0, got 0 ({path})"),
    ],
    ids=["toml-error", "unknown-key", "zero-requests"],
)
def test_broken_config_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, text: str, message: str
) -> None:
    """A config problem is one line on stderr naming key and file, exit 2, no traceback."""
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    done = tminus("watch", "--once", "--config", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"tminus: {message.format(path=path)}\n"
    assert "Traceback" not in done.stderr


def test_run_without_a_token_exits_2_naming_the_env_var(tmp_path: Path) -> None:
    """`tminus run` with no token says which variable to set, in one line, exit 2."""
    done = tminus("run", "--db", f"sqlite:///{tmp_path / 'bot.db'}", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tminus: ")
    assert "TMINUS_DISCORD_TOKEN" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "bot.db").exists()  # it stopped before touching the store


# --- tminus emulator ----------------------------------------------------------------------


def wait_for_port(port: int, process: subprocess.Popen[str], deadline: float) -> None:
    """Wait until something accepts connections on the port (or the process dies)."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"emulator exited early: {process.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listened on port {port}")


def fetch(url: str) -> tuple[int, str]:
    """GET a URL with curl if installed, else httpx; return (status, body)."""
    curl = shutil.which("curl")
    if curl:
        done = subprocess.run(  # noqa: S603  (curl, a fixed loopback URL)
            [curl, "-sS", "-w", "\n%{http_code}", url],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        body, _, status = done.stdout.rpartition("\n")
        return int(status), body
    response = httpx.get(url, timeout=10)
    return response.status_code, response.text


def test_emulator_serves_the_2_2_0_event_endpoint_to_a_real_client(tmp_path: Path) -> None:
    """`tminus emulator --port N` answers GET /2.2.0/event/?type__ids=2 with dockings."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", "bot", "emulator", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, process, time.monotonic() + 30)
        status, body = fetch(f"http://127.0.0.1:{port}/2.2.0/event/?type__ids=2")
    finally:
        process.terminate()
        out, err = process.communicate(timeout=15)
    assert status == 200, body
    page = json.loads(body)
    assert page["count"] == len(page["results"]) > 0
    assert {item["type"]["id"] for item in page["results"]} == {2}
    assert all(
        item["url"].startswith(f"http://127.0.0.1:{port}/2.2.0/event/") for item in page["results"]
    )
    assert out.startswith(f"LL2 emulator on http://127.0.0.1:{port}/2.2.0")
    assert process.returncode == 0, err  # SIGTERM is a clean stop
    assert "Traceback" not in err


# --- tminus db upgrade --------------------------------------------------------------------


def tables_of(path: Path) -> set[str]:
    """Return the table names in a SQLite file."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_db_upgrade_creates_the_schema_then_says_it_is_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first upgrade creates the tables and says so; the second finds nothing to do."""
    path = tmp_path / "data" / "tminus.db"
    url = f"sqlite:///{path}"
    assert main(["db", "upgrade", "--db", url]) == 0
    first = capsys.readouterr().out.strip()
    assert first.startswith("database upgraded from empty to schema ")
    head = first.rsplit(" ", 1)[-1]
    tables = tables_of(path)
    assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]

    assert main(["--db", url, "db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"database already at schema {head}"
    assert tables_of(path) == tables


def test_db_upgrade_with_a_bad_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A URL that is not a database URL is one line naming --db, exit 2."""
    assert main(["db", "upgrade", "--db", "tminus.db"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "tminus: storage.url must be a database URL like sqlite:///tminus.db, got 'tminus.db' "
        "(command line --db)\n"
    )
