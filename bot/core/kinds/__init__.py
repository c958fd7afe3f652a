"""The alert-kind registry: every module of this package declares one kind as ``KIND``.

Adding a kind is one module here plus its tests (docs/architecture.md, "Adding an alert
kind"): change detection, rendering, the ``kinds`` option, its autocomplete, the demo's
coverage check and the README's list all read :data:`ALL_KINDS`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Final

from bot.core.kinds import new_event, reminder, rescheduled, update, webcast_live
from bot.core.kinds._base import ContentLine, DetectContext, Detector, EmbedLook, Kind, Look, Markup
from bot.core.kinds.new_event import new_event_alert
from bot.core.kinds.reminder import lead_allowed, reminder_alert, reminder_due_times
from bot.core.kinds.rescheduled import rescheduled_alert
from bot.core.kinds.update import update_alert
from bot.core.kinds.webcast_live import webcast_live_alert


def _discover() -> tuple[Kind, ...]:
    """Import every public module of this package and collect its ``KIND``, in rank order."""
    found: list[Kind] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if not isinstance(kind, Kind):
            raise TypeError(f"{module.__name__} must declare KIND = Kind(...)")
        found.append(kind)
    for attribute in ("name", "colour", "rank"):
        values = [getattr(k, attribute) for k in found]
        if len(set(values)) != len(values):
            raise ValueError(f"two alert kinds share a {attribute}: {sorted(values)}")
    return tuple(sorted(found, key=lambda k: k.rank))


ALL_KINDS: Final[tuple[Kind, ...]] = _discover()
KINDS_BY_NAME: Final[dict[str, Kind]] = {k.name: k for k in ALL_KINDS}
CHANGE_KINDS: Final[tuple[Kind, ...]] = tuple(k for k in ALL_KINDS if k.detect is not None)


def kind_names() -> list[str]:
    """Return every kind's name, in registry order."""
    return [k.name for k in ALL_KINDS]


def kinds_help() -> str:
    """Return the kinds as help text lists them: "new_event, update, …, reminder"."""
    return ", ".join(kind_names())


class AlertKind:
    """Named handles on the built-in kinds, for code that singles one out.

    ``AlertKind.REMINDER is reminder.KIND``. A new kind needs no handle here: code that must
    name it imports its module (``from bot.core.kinds import launch_status``).
    """

    NEW_EVENT: Final = new_event.KIND
    UPDATE: Final = update.KIND
    WEBCAST_LIVE: Final = webcast_live.KIND
    RESCHEDULED: Final = rescheduled.KIND
    REMINDER: Final = reminder.KIND


__all__ = [
    "ALL_KINDS",
    "CHANGE_KINDS",
    "KINDS_BY_NAME",
    "AlertKind",
    "ContentLine",
    "DetectContext",
    "Detector",
    "EmbedLook",
    "Kind",
    "Look",
    "Markup",
    "kind_names",
    "kinds_help",
    "lead_allowed",
    "new_event_alert",
    "reminder_alert",
    "reminder_due_times",
    "rescheduled_alert",
    "update_alert",
    "webcast_live_alert",
]
