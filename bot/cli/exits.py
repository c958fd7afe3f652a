"""What every ``tminus`` subcommand shares: its signature, exit codes, and the error line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable

from bot.config import Config

# A subcommand: resolved settings and its parsed flags in, the process exit code out.
Handler = Callable[[Config, argparse.Namespace], Awaitable[int]]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # a bad flag or setting (argparse uses 2 too)
EXIT_TEMPFAIL = 75  # sysexits EX_TEMPFAIL: LL2 said wait; try again later


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    """Print ``tminus: <message>`` on stderr and return ``code``."""
    print(f"tminus: {message}", file=sys.stderr)  # noqa: T201
    return code
