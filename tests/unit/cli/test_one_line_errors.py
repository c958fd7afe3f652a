"""Bad settings and flags: one clear line on stderr, exit 2, no traceback, no secret shown."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SECRET = "s3cr3t-value-never-shown"


def tminus(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` with a clean TMINUS_* environment plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TMINUS_")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH")]))
    base.update(env or {})
    return subprocess.run(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2 and exactly one non-empty stderr line holding ``expected``; return it."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("--ll2-url", "http://127.0.0.1:99999/2.2.0"), {}, ("ll2.url", "port")),
        (("--db", "mysql://u@h/db"), {}, ("storage.url", "SQLite or PostgreSQL")),
        (("--db", "foo://x"), {}, ("storage.url", "SQLite or PostgreSQL")),
        ((), {"TMINUS_LL2_USER_AGENT": "tminus\r\nX-Evil: 1"}, ("ll2.user_agent", "one line")),
        ((), {"TMINUS_DISCORD_TOKEN": f"{SECRET}\nsecond"}, ("discord.token", "one line")),
        ((), {"TMINUS_LL2_API_KEY": f"{SECRET}é"}, ("ll2.api_key", "ASCII")),
        ((), {"TMINUS_LL2_API_KEY": f"{SECRET}\n{SECRET}"}, ("ll2.api_key", "one line")),
        ((), {"TMINUS_LL2_API_KEY": f"{SECRET} {SECRET}"}, ("ll2.api_key", "no spaces")),
    ],
    ids=[
        "ll2-port",
        "mysql",
        "unknown-scheme",
        "user-agent-crlf",
        "token-newline",
        "api-key-non-ascii",
        "api-key-multiline",
        "api-key-space",
    ],
)
def test_a_bad_setting_is_one_line(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: tuple[str, ...]
) -> None:
    """Each bad setting names its key and stops start-up before any work, secrets unshown."""
    done = tminus(*args, "watch", "--once", cwd=tmp_path, env=env)
    line = assert_one_line(done, *expected)
    assert SECRET not in line
    assert not (tmp_path / "tminus.db").exists()


@pytest.mark.parametrize(
    "database",
    ["/proc/nope/x.db", "{tmp}/plain-file/x.db"],
    ids=["under-proc", "under-a-regular-file"],
)
def test_an_unusable_sqlite_path_is_one_line(tmp_path: Path, database: str) -> None:
    """A SQLite path whose folder cannot exist says so in one line."""
    (tmp_path / "plain-file").write_text("not a folder")
    path = database.format(tmp=tmp_path)
    done = tminus("--db", f"sqlite:///{path}", "watch", "--once", cwd=tmp_path)
    assert_one_line(done, "cannot use", "SQLite store")


@pytest.mark.parametrize("command", ["watch", "run"])
def test_an_in_memory_store_is_refused_for_the_pipeline(tmp_path: Path, command: str) -> None:
    """`sqlite://` would lose the watermark and outbox at exit: run and watch refuse it."""
    env = {"TMINUS_DISCORD_TOKEN": "token"} if command == "run" else {}
    done = tminus("--db", "sqlite://", command, cwd=tmp_path, env=env)
    assert_one_line(done, "in-memory", "sqlite:///tminus.db")


def test_a_read_only_database_is_one_line_without_the_sqlalchemy_trailer(tmp_path: Path) -> None:
    """A store that cannot be written gives the driver's reason, not SQLAlchemy's help link."""
    database = tmp_path / "ro.db"
    sqlite3.connect(database).close()
    # SQLite's own read-only mode: file modes would not stop root (CI runs as root).
    url = f"sqlite:///file:{database}?mode=ro&uri=true"
    done = tminus("--db", url, "events", "upcoming", cwd=tmp_path)
    line = assert_one_line(done, "cannot open the database", "readonly")
    assert "sqlalche.me" not in line
    assert "Background on this error" not in line


def test_a_non_ascii_digit_type_is_a_name_not_a_crash(tmp_path: Path) -> None:
    """`--type ²` is looked up as a name and refused in one line, not a ValueError."""
    done = tminus(
        "--ll2-url", "http://127.0.0.1:9/2.2.0", "watch", "--once", "--type", "²", cwd=tmp_path
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr
    assert "ValueError" not in done.stderr
    assert lines[-1].startswith("tminus: "), done.stderr


def test_a_second_process_on_one_sqlite_store_refuses_to_start(tmp_path: Path) -> None:
    """`watch` running on a SQLite store: a second `watch` or `run` on it exits 2 in one line."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TMINUS_")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH")]))
    first = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", "bot", "--ll2-url", "http://127.0.0.1:9/2.2.0", "watch"],
        cwd=tmp_path,
        env=base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = tmp_path / "tminus.db.lock"
        for _ in range(200):  # the first process takes the store within a few seconds
            if lock.exists() and lock.read_text().strip() == str(first.pid):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the first watch never took the store")
        second = tminus("watch", "--once", cwd=tmp_path)
        assert_one_line(second, f"pid {first.pid}", "several processes need PostgreSQL")
        third = tminus("run", cwd=tmp_path, env={"TMINUS_DISCORD_TOKEN": "token"})
        assert_one_line(third, f"pid {first.pid}", "several processes need PostgreSQL")
    finally:
        first.kill()
        first.wait()
