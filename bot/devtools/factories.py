"""Build LL2-shaped events (2.2.0 shape, from the recorded Soyuz MS-28 docking) for scenarios."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from bot.core.timeutil import isoformat_z

PRECISIONS = {
    "Second": {"id": 0, "name": "Second", "abbrev": "SEC"},
    "Minute": {"id": 1, "name": "Minute", "abbrev": "MIN"},
    "Hour": {"id": 2, "name": "Hour", "abbrev": "HR"},
    "Day": {"id": 5, "name": "Day", "abbrev": "DAY"},
    "Month": {"id": 7, "name": "Month", "abbrev": "M"},
    "Year": {"id": 14, "name": "Year", "abbrev": "Y"},
}

TYPES = {
    "Docking": {"id": 2, "name": "Docking"},
    "EVA": {"id": 4, "name": "EVA"},
    "Press Event": {"id": 3, "name": "Press Event"},
}


def recorded_docking() -> dict[str, Any]:
    """Return the recorded 2.2.0 Soyuz MS-28 docking event."""
    path = resources.files("bot") / "data" / "ll2" / "event-1300-soyuz-ms-28-docking.2.2.0.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def make_event(
    event_id: int,
    name: str,
    *,
    date: datetime,
    last_updated: datetime,
    type_name: str = "Docking",
    precision: str | None = "Minute",
    webcast_live: bool = False,
    updates: int = 2,
    videos: bool = True,
    video_start: datetime | None = None,
) -> dict[str, Any]:
    """Return a realistic 2.2.0 event built from the recorded docking."""
    raw = copy.deepcopy(recorded_docking())
    raw.update(
        id=event_id,
        name=name,
        slug=name.lower().replace(" ", "-"),
        url=f"https://ll.thespacedevs.com/2.2.0/event/{event_id}/",
        date=isoformat_z(date),
        last_updated=isoformat_z(last_updated),
        type=TYPES[type_name],
        date_precision=PRECISIONS[precision] if precision else None,
        webcast_live=webcast_live,
    )
    raw["updates"] = [
        dict(u, id=event_id * 100 + i) for i, u in enumerate(raw["updates"][:updates])
    ]
    if not videos:
        raw["vid_urls"] = []
    elif video_start is not None:
        for offset, video in enumerate(raw["vid_urls"]):
            video["start_time"] = isoformat_z(video_start + timedelta(minutes=offset))
    return raw
