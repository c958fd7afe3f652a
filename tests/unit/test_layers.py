"""The import rules between layers (DESIGN.md "Layout"), checked on every import statement.

Each module's imports are read with ``ast`` — function-level and ``TYPE_CHECKING`` imports
included, since a lazy import is still a dependency — and checked against the table below.
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("bot", "cogs", "storage")

# Which of our packages each layer may import, besides itself. ``bot.config`` is a shared
# leaf that every layer of bot/ and cogs/ may read; it may itself import only bot.core.
LAYERS: dict[str, tuple[str, ...]] = {
    "bot.core": (),
    "bot.config": ("bot.core",),
    "bot.ll2": ("bot.core", "bot.config"),
    "bot.render": ("bot.core", "bot.config"),
    "bot.pipeline": ("bot.core", "bot.ll2", "bot.render", "storage", "bot.config"),
    "bot.app": ("bot.core", "bot.ll2", "bot.render", "bot.pipeline", "storage", "bot.config"),
    "bot.cli": ("bot", "storage"),
    "bot.devtools": ("bot.core", "bot.ll2", "bot.config"),
    # The fleet of `tminus run` processes (cluster tests and benchmark) reads the shared
    # store; it is still never loaded by `run` or `watch` (checked below).
    "bot.devtools.cluster": ("bot.devtools", "bot.core", "bot.config", "storage"),
    "bot.__main__": ("bot.cli", "bot.config"),
    "bot": (),  # bot/__init__.py
    "cogs": ("bot.app", "bot.core", "bot.render", "bot.config"),
    "storage": (),
}
# bot/core is pure: of third-party code, only these.
CORE_THIRD_PARTY = {"pydantic", "dateutil"}
NEVER = {"storage": {"discord"}, "bot.core": {"discord"}}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    """Return the longest LAYERS key that is ``module`` or a package above it."""
    candidates = [k for k in LAYERS if module == k or module.startswith(k + ".")]
    return max(candidates, key=len)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Return (line, absolute module name) for every import in the file, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from bot import core`` depends on bot.core, not on bot/__init__ alone
            names = [f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")]
            found += [(node.lineno, n) for n in names] or [(node.lineno, target)]
    return found


def _allowed(layer: str, target: str) -> bool:
    if target == layer or target.startswith(layer + "."):
        return True
    return any(target == a or target.startswith(a + ".") for a in LAYERS[layer])


def _sources() -> list[tuple[Path, str]]:
    paths = sorted(p for top in OURS for p in (ROOT / top).rglob("*.py"))
    return [(p, _module_name(p)) for p in paths]


def layering_violations(sources: list[tuple[Path, str]]) -> list[str]:
    """Return one line per import that breaks the table: ``file:line: what is wrong``."""
    stdlib = set(sys.stdlib_module_names)
    problems: list[str] = []
    for path, module in sources:
        layer = _layer(module)
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        for line, target in _imports(path, module):
            top = target.split(".")[0]
            if top in NEVER.get(layer, set()):
                problems.append(f"{where}:{line}: {layer} must never import {target}")
            elif top in OURS:
                if not _allowed(layer, target):
                    problems.append(f"{where}:{line}: {layer} may not import {target}")
            elif layer == "bot.core" and top not in stdlib and top not in CORE_THIRD_PARTY:
                problems.append(f"{where}:{line}: bot.core may not import {target} (third party)")
    return problems


def test_every_source_file_belongs_to_a_layer() -> None:
    """No module of ours falls outside the table (a new top-level package needs a rule)."""
    assert _sources(), "found no sources"
    for _, module in _sources():
        _layer(module)  # raises ValueError on max() of nothing


def test_the_checker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """A lazy import inside a function and a relative import are both read."""
    sample = tmp_path / "probe.py"
    sample.write_text(
        textwrap.dedent(
            """
            from . import items
            def f():
                import discord
                from bot.pipeline import sync
            """
        )
    )
    module = "bot.core.probe"
    assert _imports(sample, module) == [
        (2, "bot.core.items"),
        (4, "discord"),
        (5, "bot.pipeline.sync"),
    ]
    problems = layering_violations([(sample, module)])
    assert len(problems) == 2, problems
    assert "bot.core must never import discord" in problems[0]
    assert "bot.core may not import bot.pipeline" in problems[1]


def test_imports_follow_the_layer_table() -> None:
    """Every import in bot/, cogs/ and storage/ is one its layer may make."""
    assert layering_violations(_sources()) == []


def _devtools_loaded_by(argv: list[str], tmp_path: Path) -> list[str]:
    """Run ``tminus <argv>`` in a fresh interpreter; return the bot.devtools modules it loaded."""
    script = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        from bot.__main__ import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main({argv!r})
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("bot.devtools"))))
        """
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, our own script
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_run_help_imports_no_devtools(tmp_path: Path) -> None:
    """``tminus run --help`` loads nothing from bot.devtools."""
    assert _devtools_loaded_by(["run", "--help"], tmp_path) == []


async def test_watch_once_imports_no_devtools(tmp_path: Path) -> None:
    """``tminus watch --once`` against a loopback LL2 with a fresh SQLite store loads nothing
    from bot.devtools (the emulator runs in this process, not in the one under test)."""
    from bot.devtools.factories import make_event
    from bot.devtools.ll2_emulator import LL2Emulator
    from tests.conftest import T0

    events = [make_event(1, "Crew-13 Docking", date=T0, last_updated=T0)]
    async with LL2Emulator(events, requests_per_hour=None) as emu:
        db = f"sqlite:///{tmp_path / 'tminus.db'}"
        argv = ["--db", db, "--ll2-url", emu.url("2.2.0"), "watch", "--once"]
        loaded = await asyncio.to_thread(_devtools_loaded_by, argv, tmp_path)
        requests = emu.requests
    assert loaded == []
    assert any(r.path.endswith("/event/") for r in requests), "watch --once polled the emulator"
