"""delivery_batch tests an alert only against the filters naming its event type or none.

A filter naming event types wants only events of those types (``subscription_matches``); the
fan-out skips the other filters without testing them (issue 13). These compare its matches
with every subscription tested, for events of either type, an event without a type and a
launch (a type filter never wants a launch).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.alerts import Alert
from bot.core.changes import subscription_matches
from bot.core.kinds import new_event_alert, webcast_live_alert
from bot.devtools.factories import make_event
from bot.ll2.parse import parse_items
from bot.pipeline.fanout import delivery_batch
from storage.models import Subscription
from tests.conftest import T0
from tests.unit.render.test_launches import make_launch

DOCKING, EVA = 2, 4  # the factory's LL2 type ids


def _items() -> list[Any]:
    raws = [
        make_event(7001, "Soyuz Docking", date=T0 + timedelta(hours=3), last_updated=T0),
        make_event(
            7002, "Spacewalk", date=T0 + timedelta(hours=5), last_updated=T0, type_name="EVA"
        ),
        {
            **make_event(7003, "Untyped", date=T0 + timedelta(hours=6), last_updated=T0),
            "type": None,
        },
    ]
    parsed, rejected = parse_items(raws)
    assert not rejected
    events = [event for event, _ in parsed]
    assert events[2].type is None
    return [*events, make_launch()]


ALERTS: list[Alert] = [
    alert for item in _items() for alert in (new_event_alert(item), webcast_live_alert(item))
]

filters = st.fixed_dictionaries(
    {
        "type_ids": st.sampled_from([[], [DOCKING], [EVA], [EVA, DOCKING], [99]]),
        "kinds": st.sampled_from([[], ["webcast_live"], ["new"]]),
        "feed": st.sampled_from(["all", "events", "launches"]),
    }
)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(filters, min_size=1, max_size=12))
def test_matches_equal_every_subscription_tested(values: list[dict[str, Any]]) -> None:
    """Per alert, the subscriptions served are exactly those whose filters want it."""
    subs = [
        Subscription(id=i + 1, guild_id=1, channel_id=1000 + i, created_at=T0, **v)
        for i, v in enumerate(values)
    ]
    for alert in ALERTS:
        wanted = [
            s.id
            for s in subs
            if subscription_matches(
                kinds=s.kinds,
                type_ids=s.type_ids,
                agency_ids=s.agency_ids,
                program_ids=s.program_ids,
                alert=alert,
                feed=s.feed,
            )
        ]
        assert delivery_batch([alert], subs, T0).served == wanted
