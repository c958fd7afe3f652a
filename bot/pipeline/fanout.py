"""Fan-out: which destinations an alert goes to, as outbox rows (one per channel and alert).

Pure: subscriptions and alerts in, rows out; :mod:`storage.outbox` stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.alerts import Alert, AlertKind
from bot.core.changes import subscription_matches
from bot.core.launches import Launch
from bot.render import alert_json, render_alert
from storage import outbox
from storage.models import Subscription

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


def subscribers(subscriptions: Sequence[Subscribed] | outbox.Subscribers) -> outbox.Subscribers:
    """Return subscriptions column by column, those with the same filters grouped.

    Subscriptions with the same filters want the same alerts: 10,000 channels share a few
    filters, so each distinct filter is tested once per alert (issue 13). A subscription not
    stored yet (no id) is left out: it cannot be served.
    """
    if isinstance(subscriptions, outbox.Subscribers):
        return subscriptions
    table = outbox.Subscribers([], [], [], [], [], [])
    groups: dict[tuple[Any, ...], int] = {}
    for sub in subscriptions:
        if sub.id is None:
            continue
        wanted = _filter_key(sub)
        index = groups.setdefault(wanted, len(groups))
        if index == len(table.filters):
            kinds, type_ids, agency_ids, program_ids, feed, providers, locations, exclude, leads = (
                wanted
            )
            table.filters.append(
                outbox.AlertSubscription(
                    id=sub.id,
                    guild_id=sub.guild_id,
                    channel_id=sub.channel_id,
                    feed=feed,
                    kinds=kinds,
                    type_ids=type_ids,
                    agency_ids=agency_ids,
                    program_ids=program_ids,
                    provider_ids=providers,
                    location_ids=locations,
                    exclude=exclude,
                    reminder_leads=leads,
                    mention_role_id=sub.mention_role_id,
                )
            )
        table.ids.append(sub.id)
        table.guild_ids.append(sub.guild_id)
        table.channel_ids.append(sub.channel_id)
        table.mention_role_ids.append(sub.mention_role_id)
        table.filter_of.append(index)
    return table


class _Filters:
    """The distinct filters of some subscriptions, found for an alert by its event type.

    A filter naming event types wants only events of those types: an alert is tested only
    against the filters naming its item's type and those naming none (issue 13: 100 alerts
    times every distinct filter was most of the matching).
    """

    def __init__(self, table: outbox.Subscribers) -> None:
        members: list[list[int]] = [[] for _ in table.filters]
        for index, found in enumerate(table.filter_of):
            members[found].append(index)
        self.any_type: list[tuple[outbox.AlertSubscription, list[int]]] = []
        self.by_type: dict[int, list[tuple[outbox.AlertSubscription, list[int]]]] = {}
        for sub, indexes in zip(table.filters, members, strict=True):
            if not indexes:
                continue
            if sub.type_ids:
                for type_id in dict.fromkeys(sub.type_ids):
                    self.by_type.setdefault(type_id, []).append((sub, indexes))
            else:
                self.any_type.append((sub, indexes))

    def matched(self, alert: Alert) -> list[int]:
        """Return the indexes of the subscriptions that want ``alert``, in order."""
        item = alert.event
        # An event type filter limits a subscription to events (subscription_matches).
        if isinstance(item, Launch) or item.type is None:
            candidates = self.any_type
        else:
            candidates = self.any_type + self.by_type.get(item.type.id, [])
        matched: list[int] = []
        for sub, members in candidates:
            if _wants(sub, alert):
                matched += members
        if len(candidates) > 1:
            matched.sort()
        return matched


def delivery_batch(
    alerts: Sequence[Alert],
    subscriptions: Sequence[Subscribed] | outbox.Subscribers,
    now: datetime,
) -> outbox.DeliveryBatch:
    """Return one outbox row per (alert, destination) with at least one matching subscription.

    The rows come column by column (:class:`storage.outbox.DeliveryBatch`), as
    :func:`storage.outbox.enqueue_deliveries` stores them; :func:`delivery_rows` gives them
    as dicts.

    A channel whose subscriptions overlap gets one message mentioning the union of their
    roles (DESIGN.md invariant 9); the row lists every subscription it serves.

    A role is pinged at most once per item per call (one poll's page): when several alerts
    about one item go to one channel (updates, webcast live, rescheduled), only the first
    that would ping a role does; the others carry the same content without the mention and
    with ``allowed_mentions`` admitting no role (issue 9.8). The order of ``alerts`` is
    deterministic, so a poll re-run after a crash pings the same message.
    """
    table = subscribers(subscriptions)
    batch = outbox.DeliveryBatch(now)
    if not alerts or not table.ids:
        return batch
    filters = _Filters(table)
    ids, guilds, channels, roles_of = (
        table.ids,
        table.guild_ids,
        table.channel_ids,
        table.mention_role_ids,
    )
    where_of = [
        f"channel:{channel}" if channel is not None else f"console:{sub_id}"
        for sub_id, channel in zip(ids, channels, strict=True)
    ]
    # Each destination once (the usual case): no grouping by destination needed.
    one_each = len(set(where_of)) == len(where_of)
    keys, served, guild_ids, channel_ids = (
        batch.keys,
        batch.served,
        batch.guild_ids,
        batch.channel_ids,
    )
    items, payload_of, payloads, firsts = (
        batch.items,
        batch.payload_of,
        batch.payloads,
        batch.subscriptions,
    )
    # One tuple per role: a row's roles are one of them in the usual case, not a new tuple.
    single: dict[int, tuple[int, ...]] = {}
    # Roles already pinged, by (feed, item id) then destination.
    pinged: dict[tuple[str, str], dict[str, tuple[int, ...]]] = {}
    for alert in alerts:
        matched = filters.matched(alert)
        if not matched:
            continue
        # Each destination's subscriptions, in order: an index, or a list when several.
        destinations: Any
        if one_each:
            destinations = matched
        else:
            destinations = {}
            for index in matched:
                where = where_of[index]
                found = destinations.get(where)
                if found is None:
                    destinations[where] = index
                elif type(found) is int:
                    destinations[where] = [found, index]
                else:
                    found.append(index)
            destinations = list(destinations.values())
        # One message rendered, and one alert JSON object built, per distinct role set; the
        # rows of that set differ only in their key and subscription.
        rendered: dict[tuple[int, ...], int] = {}
        item = (alert.feed, alert.item_id, alert.kind.value)
        # ``alert.key(where)`` is ``where`` followed by the same text for every destination.
        suffix = alert.key("-")[1:]
        already_by_where = pinged.setdefault(item[:2], {})
        # The index of each row's (first) subscription; the columns are taken from them
        # once the alert's rows are known.
        row_first: list[int] = []
        for found in destinations:
            roles: tuple[int, ...]
            if type(found) is int:  # the common case: one subscription in the channel
                first = found
                role = roles_of[first]
                if role:
                    where = where_of[first]
                    already = already_by_where.get(where, ())
                    if role in already:
                        roles = ()
                    else:
                        roles = single.get(role) or single.setdefault(role, (role,))
                        already_by_where[where] = (*already, role) if already else roles
                else:
                    roles = ()
                if not one_each:
                    served.append(ids[first])
            else:
                first = found[0]
                where = where_of[first]
                already = already_by_where.get(where, ())
                wanted = {roles_of[i] for i in found if roles_of[i]}
                roles = tuple(sorted(wanted.difference(already)))
                if roles:
                    already_by_where[where] = (*already, *roles)
                served.append([ids[i] for i in found])
            at = rendered.get(roles)
            if at is None:
                message = render_alert(alert, mention_role_ids=roles)
                at = rendered[roles] = len(payloads)
                key = where_of[first] + suffix
                payloads.append(
                    alert_json(alert, key=key, subscription_id=ids[first], message=message)
                )
            payload_of.append(at)
            row_first.append(first)
        keys += [where_of[i] + suffix for i in row_first]
        guild_ids += [guilds[i] for i in row_first]
        channel_ids += [channels[i] for i in row_first]
        items += [item] * len(row_first)
        first_ids = [ids[i] for i in row_first]
        firsts += first_ids
        if one_each:
            served += first_ids
    return batch


def delivery_rows(
    alerts: Sequence[Alert],
    subscriptions: Sequence[Subscribed] | outbox.Subscribers,
    now: datetime,
) -> list[dict[str, Any]]:
    """Return :func:`delivery_batch`'s rows as dicts, each with its own alert JSON object.

    Rows of one alert and role set hold the same nested objects (message, item), as
    :func:`storage.outbox.enqueue_deliveries` shares their payload by.
    """
    return delivery_batch(alerts, subscriptions, now).rows()
