"""Fan-out: which destinations an alert goes to, as outbox rows (one per channel and alert).

Pure: subscriptions and alerts in, rows out; :mod:`storage.outbox` stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.alerts import Alert, AlertKind
from bot.core.changes import subscription_matches
from bot.render import alert_json, render_alert
from storage import outbox
from storage.models import DeliveryState, Subscription

# Either a stored subscription or the plain values the page path loads (the same fields).
Subscribed = Subscription | outbox.AlertSubscription


def destination(subscription: Subscribed) -> str:
    """Return where a subscription's alerts go: its channel, or (``tminus watch``) itself."""
    if subscription.channel_id is not None:
        return f"channel:{subscription.channel_id}"
    return f"console:{subscription.id}"


def _filter_key(sub: Subscribed) -> tuple[Any, ...]:
    """Return everything that decides whether a subscription wants an alert."""
    return (
        tuple(sub.kinds),
        tuple(sub.type_ids),
        tuple(sub.agency_ids),
        tuple(sub.program_ids),
        sub.feed,
        tuple(sub.provider_ids),
        tuple(sub.location_ids),
        tuple(sub.exclude),
        tuple(sub.reminder_leads),
    )


def _wants(sub: Subscribed, alert: Alert) -> bool:
    """Return whether ``sub`` wants ``alert`` (its filters, and a reminder's lead)."""
    if not subscription_matches(
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
        return False
    # A reminder lead counts only for the subscriptions that asked for it.
    return not (
        alert.kind is AlertKind.REMINDER
        and alert.lead is not None
        and int(alert.lead.total_seconds()) not in sub.reminder_leads
    )


def delivery_rows(
    alerts: Sequence[Alert], subscriptions: Sequence[Subscribed], now: datetime
) -> list[dict[str, Any]]:
    """Return one outbox row per (alert, destination) with at least one matching subscription.

    A channel whose subscriptions overlap gets one message mentioning the union of their
    roles (DESIGN.md invariant 9); the row lists every subscription it serves.

    A role is pinged at most once per item per call (one poll's page): when several alerts
    about one item go to one channel (updates, webcast live, rescheduled), only the first
    that would ping a role does; the others carry the same content without the mention and
    with ``allowed_mentions`` admitting no role (issue 9.8). The order of ``alerts`` is
    deterministic, so a poll re-run after a crash pings the same message.
    """
    # Subscriptions with the same filters want the same alerts: 10,000 channels share a few
    # filters, so each distinct filter is tested once per alert (issue 13), and the matching
    # groups' subscriptions are taken back in the order given.
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, sub in enumerate(subscriptions):
        if sub.id is not None:
            groups.setdefault(_filter_key(sub), []).append(index)
    representatives = [(subscriptions[members[0]], members) for members in groups.values()]
    where_of = [destination(sub) for sub in subscriptions]
    rows: list[dict[str, Any]] = []
    pending = DeliveryState.PENDING.value
    # Roles already pinged, by (feed, item id) then destination. 10,000 destinations make
    # 10,000 rows: only what a row needs is allocated per destination (a set, a list and a
    # key tuple each were enough garbage to wake the full collector).
    pinged: dict[tuple[str, str], dict[str, tuple[int, ...]]] = {}
    for alert in alerts:
        matched: list[int] = []
        for sub, members in representatives:
            if _wants(sub, alert):
                matched += members
        matched.sort()
        # Each destination's subscriptions, in order: an index, or a list when several.
        destinations: dict[str, int | list[int]] = {}
        for index in matched:
            where = where_of[index]
            found = destinations.get(where)
            if found is None:
                destinations[where] = index
            elif type(found) is int:
                destinations[where] = [found, index]
            else:
                found.append(index)  # type: ignore[union-attr]
        # One message rendered, and one alert JSON object built, per distinct role set; the
        # rows of that set differ only in their key and subscription.
        rendered: dict[tuple[int, ...], dict[str, Any]] = {}
        feed, item_id, kind = alert.feed, alert.item_id, alert.kind.value
        # ``alert.key(where)`` is ``where`` followed by the same text for every destination.
        suffix = alert.key("-")[1:]
        already_by_where = pinged.setdefault((feed, item_id), {})
        for where, found in destinations.items():
            already = already_by_where.get(where, ())
            if type(found) is int:  # the common case: one subscription in the channel
                first = subscriptions[found]
                ids = [first.id]
                role = first.mention_role_id
                roles: tuple[int, ...] = (role,) if role and role not in already else ()
            else:
                subs = [subscriptions[i] for i in found]  # type: ignore[union-attr]
                first = subs[0]
                ids = [s.id for s in subs]
                wanted = {s.mention_role_id for s in subs if s.mention_role_id}
                roles = tuple(sorted(wanted.difference(already)))
            if roles:
                already_by_where[where] = (*already, *roles)
            key = where + suffix
            template = rendered.get(roles)
            if template is None:
                message = render_alert(alert, mention_role_ids=roles)
                payload = alert_json(alert, key=key, subscription_id=first.id, message=message)
                rendered[roles] = payload
            else:
                payload = {**template, "key": key, "subscription": first.id}
            rows.append(
                {
                    "dedupe_key": key,
                    "subscription_ids": ids,
                    "guild_id": first.guild_id,
                    "channel_id": first.channel_id,
                    "feed": feed,
                    "item_id": item_id,
                    "kind": kind,
                    "payload": payload,
                    "state": pending,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    return rows
