"""bot/cli: one module per subcommand, dispatched from __main__, dev tools loaded lazily."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from bot.__main__ import HANDLERS, build_parser

ROOT = Path(__file__).resolve().parents[3]
CLI = ROOT / "bot" / "cli"


def _subcommands() -> set[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]  # noqa: SLF001
    return set(sub.choices or {})


def _imports_at_any_depth(path: Path) -> list[tuple[str, bool]]:
    """Return (module, at module level) for each import in a source file."""
    tree = ast.parse(path.read_text("utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
    return found


def test_every_subcommand_has_its_own_module_and_handler() -> None:
    """Each subcommand the parser knows dispatches to main() of bot/cli/<command>.py."""
    assert set(HANDLERS) == _subcommands()
    for command, handler in HANDLERS.items():
        assert handler.__module__ == f"bot.cli.{command}"
        assert (CLI / f"{command}.py").is_file()
    assert not (CLI / "commands.py").exists()


def test_run_and_watch_never_import_devtools() -> None:
    """Neither `run` nor `watch` names bot.devtools, not even in a function."""
    for command in ("run", "watch"):
        modules = [m for m, _ in _imports_at_any_depth(CLI / f"{command}.py")]
        assert not [m for m in modules if m.startswith("bot.devtools")], command


def test_demo_and_emulator_import_devtools_only_inside_the_function() -> None:
    """`demo` and `emulator` need bot.devtools, but only when they run."""
    for command in ("demo", "emulator"):
        imports = _imports_at_any_depth(CLI / f"{command}.py")
        devtools = [(m, top) for m, top in imports if m.startswith("bot.devtools")]
        assert devtools and not any(top for _, top in devtools), command


def test_loading_the_cli_loads_no_devtools() -> None:
    """Importing bot.__main__ (every subcommand module) leaves bot.devtools unloaded."""
    script = (
        "import json, sys, bot.__main__; "
        "print(json.dumps([m for m in sys.modules if m.startswith('bot.devtools')]))"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, our own script
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == []
