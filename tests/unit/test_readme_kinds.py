"""README's list of alert kinds is the registry's (bot.core.kinds)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.core.kinds import kind_names

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_exactly_the_registered_kinds_in_order() -> None:
    """The "`kinds` is a comma list of `…`" sentence names every registered kind, in order."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"`kinds` is a comma list of\s+`([^`]+)` or `all`", text)
    assert match, "README no longer says which kinds `kinds` takes"
    listed = [name.strip() for name in match.group(1).split(",")]
    assert listed == kind_names()
