"""A burst of updates is one message, and a role is pinged once per item per poll (issue 9.8).

The real ``tminus watch`` pipeline (JSON lines), a real SQLite file or PostgreSQL schema,
and the real httpx client against the hostile LL2 on loopback (which serves events as given).
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from bot.core.timeutil import isoformat_z, utcnow
from bot.devtools.discord_emulator.validate import check_message_limits
from bot.devtools.hostile_ll2 import HostileLL2
from tests.faults.test_hostile_ll2 import DOCKING, PRESS, alerts, ll2_events, seeded, watching


def lines(text: str) -> list[dict[str, Any]]:
    """Return every alert JSON line printed."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def new_updates(count: int, *, first_id: int) -> list[dict[str, Any]]:
    """Return ``count`` updates, a minute apart (the last newest), with long comments."""
    start = utcnow() - timedelta(minutes=count)
    return [
        {
            "id": first_id + i,
            "profile_image": None,
            "comment": f"Update number {i}: " + "x" * 1500,
            "info_url": f"https://example.com/{i}",
            "created_by": "Writer",
            "created_on": isoformat_z(start + timedelta(minutes=i)),
        }
        for i in range(count)
    ]


async def test_three_hundred_new_updates_are_one_message_newest_first(engine: Engine) -> None:
    """300 updates in one poll: one alert listing the newest first within Discord's limits;
    a normal change after it is still alerted."""
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        await seeded(pipeline)
        burst = new_updates(300, first_id=500_000)
        shuffled = random.Random(9).sample(burst, len(burst))  # LL2's order is not ours
        ll2.edit(DOCKING, updates=shuffled + ll2.events[DOCKING]["updates"])
        report = await pipeline.cycle()
        assert report.error is None
        printed = lines(out.getvalue())
        assert [(a["kind"], a["event"]["id"]) for a in printed] == [("update", DOCKING)]
        alert = printed[0]
        assert alert["key"].endswith(":update:500299+299")
        message = alert["message"]
        assert message["content"].startswith("📰 300 new updates")
        assert check_message_limits(message) == []
        values = [f["value"] for f in message["embeds"][0]["fields"]]
        assert values[0].startswith("Update number 299") and values[1].startswith(
            "Update number 298"
        )
        assert any("292 earlier update" in v for v in values)
        ll2.edit(PRESS, webcast_live=True)
        report = await pipeline.cycle()
        assert report.error is None
    assert alerts(out) == [("update", DOCKING), ("webcast_live", PRESS)]


async def test_three_new_updates_are_still_three_messages(engine: Engine) -> None:
    """Up to three new updates keep one message each (only a burst is folded)."""
    async with HostileLL2(ll2_events(utcnow())) as ll2, watching(ll2, engine) as (pipeline, out):
        await seeded(pipeline)
        ll2.edit(DOCKING, updates=new_updates(3, first_id=600_000))
        report = await pipeline.cycle()
        assert report.error is None
    keys = [a["key"].rsplit(":", 1)[-1] for a in lines(out.getvalue())]
    assert keys == ["600000", "600001", "600002"]
