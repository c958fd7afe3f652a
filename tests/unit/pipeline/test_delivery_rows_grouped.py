"""delivery_rows groups subscriptions by filter: its rows equal a per-subscription reference.

``delivery_rows`` tests each distinct filter once per alert and builds one alert JSON object
per role set (issue 13). These properties compare it, row for row and in order, with the
straightforward version (every subscription tested, every payload built by ``alert_json``),
over any mix of subscriptions: overlapping channels, console subscriptions, roles, feeds,
type filters, kinds and reminder leads, fed both ORM subscriptions and the plain values
``alert_subscriptions`` loads.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.alerts import Alert, AlertKind
from bot.core.changes import subscription_matches
from bot.core.kinds import new_event_alert, reminder_alert, webcast_live_alert
from bot.devtools.factories import make_event
from bot.ll2.parse import parse_items
from bot.pipeline.fanout import delivery_rows, destination
from bot.render import alert_json, render_alert
from storage import outbox
from storage.models import DeliveryState, Subscription
from tests.conftest import T0

DOCKING, EVA = 2, 4  # the factory's LL2 type ids


def _events() -> list[Any]:
    raws = [
        make_event(7001, "Soyuz Docking", date=T0 + timedelta(hours=3), last_updated=T0),
        make_event(
            7002,
            "ISS Spacewalk",
            date=T0 + timedelta(hours=5),
            last_updated=T0,
            type_name="EVA",
        ),
    ]
    parsed, rejected = parse_items(raws)
    assert not rejected
    return [event for event, _ in parsed]


EVENTS = _events()
ALERTS: list[Alert] = [
    alert
    for event in EVENTS
    for alert in (
        new_event_alert(event),
        webcast_live_alert(event),
        reminder_alert(event, timedelta(hours=1)),
        reminder_alert(event, timedelta(minutes=10)),
    )
]


def reference_rows(alerts: list[Alert], subscriptions: list[Any], now: Any) -> list[dict]:
    """The per-subscription version delivery_rows replaced (kept here as the oracle)."""
    rows: list[dict[str, Any]] = []
    pinged: dict[tuple[str, str, str], set[int]] = {}
    for alert in alerts:
        destinations: dict[str, list[Any]] = {}
        for sub in subscriptions:
            if sub.id is None or not subscription_matches(
                kinds=sub.kinds,
                type_ids=sub.type_ids,
                agency_ids=sub.agency_ids,
                program_ids=sub.program_ids,
                alert=alert,
                feed=sub.feed,
                provider_ids=sub.provider_ids,
                location_ids=sub.location_ids,
                exclude=sub.exclude,
            ):
                continue
            if (
                alert.kind is AlertKind.REMINDER
                and alert.lead is not None
                and int(alert.lead.total_seconds()) not in sub.reminder_leads
            ):
                continue
            destinations.setdefault(destination(sub), []).append(sub)
        for where, subs in destinations.items():
            already = pinged.setdefault((where, alert.feed, alert.item_id), set())
            wanted = {s.mention_role_id for s in subs if s.mention_role_id}
            roles = tuple(sorted(wanted - already))
            already.update(roles)
            key = alert.key(where)
            message = render_alert(alert, mention_role_ids=roles)
            rows.append(
                {
                    "dedupe_key": key,
                    "subscription_ids": [s.id for s in subs],
                    "guild_id": subs[0].guild_id,
                    "channel_id": subs[0].channel_id,
                    "feed": alert.feed,
                    "item_id": alert.item_id,
                    "kind": alert.kind.value,
                    "payload": alert_json(
                        alert, key=key, subscription_id=subs[0].id, message=message
                    ),
                    "state": DeliveryState.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    return rows


subscription_values = st.fixed_dictionaries(
    {
        "channel": st.one_of(st.none(), st.integers(1, 6)),
        "guild": st.integers(1, 2),
        "kinds": st.sampled_from(
            [[], ["webcast_live"], ["reminder"], ["new", "webcast_live"], ["update"]]
        ),
        "type_ids": st.sampled_from([[], [DOCKING], [EVA], [DOCKING, EVA]]),
        "feed": st.sampled_from(["all", "events", "launches"]),
        "leads": st.sampled_from([[], [3600], [600, 3600], [86400]]),
        "role": st.one_of(st.none(), st.integers(1, 3)),
        "exclude": st.sampled_from([[], ["spacewalk"], ["nothing"]]),
    }
)


def _subscriptions(values: list[dict[str, Any]]) -> list[Subscription]:
    return [
        Subscription(
            id=index + 1,
            guild_id=100 + v["guild"],
            channel_id=None if v["channel"] is None else 1000 + v["channel"],
            kinds=v["kinds"],
            type_ids=v["type_ids"],
            feed=v["feed"],
            reminder_leads=v["leads"],
            mention_role_id=None if v["role"] is None else 500 + v["role"],
            exclude=v["exclude"],
            created_at=T0,
        )
        for index, v in enumerate(values)
    ]


def _plain(sub: Subscription) -> outbox.AlertSubscription:
    assert sub.id is not None
    return outbox.AlertSubscription(
        id=sub.id,
        guild_id=sub.guild_id,
        channel_id=sub.channel_id,
        feed=sub.feed,
        kinds=tuple(sub.kinds),
        type_ids=tuple(sub.type_ids),
        agency_ids=tuple(sub.agency_ids),
        program_ids=tuple(sub.program_ids),
        provider_ids=tuple(sub.provider_ids),
        location_ids=tuple(sub.location_ids),
        exclude=tuple(sub.exclude),
        reminder_leads=tuple(sub.reminder_leads),
        mention_role_id=sub.mention_role_id,
    )


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(subscription_values, max_size=25),
    chosen=st.lists(st.sampled_from(range(len(ALERTS))), min_size=1, max_size=5, unique=True),
)
def test_grouped_rows_equal_the_per_subscription_reference(
    values: list[dict[str, Any]], chosen: list[int]
) -> None:
    """Same rows, same order, same payloads, for ORM subscriptions and plain values."""
    subs = _subscriptions(values)
    alerts = [ALERTS[i] for i in sorted(chosen)]
    expected = reference_rows(alerts, subs, T0)
    assert delivery_rows(alerts, subs, T0) == expected
    assert delivery_rows(alerts, [_plain(s) for s in subs], T0) == expected


def test_a_large_fan_out_renders_once_per_role_set() -> None:
    """1,000 channels, 10 roles: every channel gets its row; 11 distinct messages."""
    subs = [
        Subscription(
            id=i + 1,
            guild_id=100 + i // 100,
            channel_id=5000 + i,
            kinds=["webcast_live"] if i % 2 else [],
            mention_role_id=(700 + i // 100) if i % 3 == 0 else None,
            created_at=T0,
        )
        for i in range(1000)
    ]
    alert = webcast_live_alert(EVENTS[0])
    rows = delivery_rows([alert], subs, T0)
    assert [r["channel_id"] for r in rows] == [5000 + i for i in range(1000)]
    assert rows == reference_rows([alert], subs, T0)
    messages = {id(r["payload"]["message"]) for r in rows}
    assert len(messages) == 11
    assert {r["payload"]["key"] for r in rows} == {r["dedupe_key"] for r in rows}
