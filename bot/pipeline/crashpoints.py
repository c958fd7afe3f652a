"""Named crash points for the crash-safety tests (``TMINUS_CRASHPOINT=name[:n]``).

A test sets the variable on a subprocess; the n-th time (default 1st) the code passes the
named point the process dies at once, as ``kill -9`` would, with no cleanup. Unset, this is
one dictionary lookup.
"""

from __future__ import annotations

import os
import sys

_ENV = "TMINUS_CRASHPOINT"
_hits: dict[str, int] = {}


def crashpoint(name: str) -> None:
    """Die here if ``TMINUS_CRASHPOINT`` names this point (and its hit count is reached)."""
    wanted = os.environ.get(_ENV)
    if not wanted:
        return
    target, _, count = wanted.partition(":")
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(count or 1):
        sys.stdout.flush()
        os._exit(86)
