"""What /alerts asks of the store: add, edit, remove, list and test subscriptions.

Cogs translate Discord interactions into these calls and back; nothing here knows Discord
objects. Option words are parsed in :mod:`bot.core.options`; names (types, agencies,
providers…) are resolved against the store by :mod:`bot.app.service`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.app.service import MAX_CHOICES, Choice, Filters, upcoming
from bot.core.alerts import Alert, new_event_alert
from bot.core.launches import Launch
from bot.core.options import (
    UsageError,
    parse_exclude,
    parse_feed,
    parse_kinds,
    parse_leads,
    parse_style,
    parse_subscription_id,
)
from bot.core.timeutil import format_duration
from bot.pipeline.records import launch_from_snapshot
from storage import queries
from storage import subscriptions as sub_queries
from storage.db import session_scope
from storage.models import (
    Subscription,
)


def subscription_feed(feed: str | None, filters: Filters, *, stored: str = "all") -> str:
    """Return the feed a subscription follows: ``feed`` as given, else what its filters imply.

    A filter only one feed has (``type`` for events; ``provider``, ``location`` for
    launches) limits the subscription to that feed; asking for the other feed with it, or
    for both kinds of filter at once, is a usage error. Without either, ``stored`` stays.
    """
    events_only = bool(filters.type_ids)
    launches_only = bool(filters.provider_ids or filters.location_ids)
    if events_only and launches_only:
        raise UsageError(
            "type filters events, provider and location filter launches: "
            "make one subscription for each"
        )
    implied = "events" if events_only else "launches" if launches_only else None
    if feed is None:
        return implied or stored
    name = parse_feed(feed)
    if implied is not None and name != implied:
        given = "type" if events_only else "provider/location"
        raise UsageError(f"{given} only applies to {implied}: use feed:{implied} or leave feed out")
    return name


# Named in the refusal so a server's admins know which setting raises the cap.
MAX_SUBSCRIPTIONS_KEY = "alerts.max_subscriptions_per_guild"


# --- subscriptions ----------------------------------------------------------------------------


def add_subscription(
    engine: Engine,
    *,
    guild_id: int,
    channel_id: int,
    filters: Filters,
    kinds: str | None,
    reminders: str | None,
    mention_role_id: int | None,
    created_by: int,
    default_leads: Sequence[timedelta],
    max_per_guild: int,
    now: datetime,
    style: str | None = None,
    scheduled_events: bool | None = None,
    feed: str | None = None,
    exclude: str | None = None,
) -> Subscription:
    """Validate and store a channel subscription; raise UsageError with what is wrong."""
    feed_name = subscription_feed(feed, filters)
    words = parse_exclude(exclude)
    style_name = parse_style(style) if style is not None else "feed"
    kind_list = parse_kinds(kinds)
    leads = parse_leads(reminders, default_leads)
    with session_scope(engine) as session:
        existing = sub_queries.guild_subscriptions(session=session, guild_id=guild_id)
        if len(existing) >= max_per_guild:
            raise UsageError(
                f"this server has {len(existing)} subscriptions, the most allowed "
                f"({MAX_SUBSCRIPTIONS_KEY}); remove one with /alerts remove first"
            )
        sub = Subscription(
            guild_id=guild_id,
            channel_id=channel_id,
            type_ids=list(filters.type_ids),
            agency_ids=list(filters.agency_ids),
            program_ids=list(filters.program_ids),
            kinds=kind_list,
            reminder_leads=leads,
            mention_role_id=mention_role_id,
            created_by=created_by,
            created_at=now,
        )
        sub.style = style_name
        sub.scheduled_events = bool(scheduled_events)
        sub.feed = feed_name
        sub.provider_ids = list(filters.provider_ids)
        sub.location_ids = list(filters.location_ids)
        sub.exclude = words
        _refuse_duplicate(sub, existing, change="remove it first to change")
        return sub_queries.add_subscription(session=session, subscription=sub)


def _refuse_duplicate(sub: Subscription, existing: Sequence[Subscription], *, change: str) -> None:
    # Two active subscriptions alike in channel, filters and kinds would only ever merge.
    for other in existing:
        if (
            other.id != sub.id
            and other.channel_id == sub.channel_id
            and other.type_ids == sub.type_ids
            and other.agency_ids == sub.agency_ids
            and other.program_ids == sub.program_ids
            and other.feed == sub.feed
            and other.provider_ids == sub.provider_ids
            and other.location_ids == sub.location_ids
            and sorted(w.lower() for w in other.exclude) == sorted(w.lower() for w in sub.exclude)
            and other.kinds == sub.kinds
            and other.paused_reason is None
        ):
            raise UsageError(
                f"<#{sub.channel_id}> already has this subscription (#{other.id}); "
                f"{change} its reminders or mention"
            )


@dataclass(frozen=True)
class Edited:
    """What ``/alerts edit`` did: the subscription as stored now, and whether it resumed."""

    subscription: Subscription
    resumed: bool


def edit_subscription(
    engine: Engine,
    *,
    guild_id: int,
    subscription_id: int,
    channel_id: int | None = None,
    filters: Filters | None = None,
    kinds: str | None = None,
    reminders: str | None = None,
    mention_role_id: int | None = None,
    default_leads: Sequence[timedelta] = (),
    style: str | None = None,
    scheduled_events: bool | None = None,
    feed: str | None = None,
    exclude: str | None = None,
) -> Edited:
    """Change the given options of this guild's subscription in place and resume it if paused.

    Options left as None keep their value; non-empty ``filters`` fields replace the stored
    ones. The caller has checked that the bot can post in the (new) channel: that check is
    what makes resuming a paused subscription safe.
    """
    kind_list = parse_kinds(kinds) if kinds is not None else None
    leads = parse_leads(reminders, default_leads) if reminders is not None else None
    words = parse_exclude(exclude) if exclude is not None else None
    with session_scope(engine) as session:
        sub = sub_queries.get_guild_subscription(
            session=session, guild_id=guild_id, subscription_id=subscription_id
        )
        if sub is None:
            raise _no_such_subscription(subscription_id)
        was_paused = sub.paused_reason is not None
        changed = False
        if channel_id is not None:
            changed |= sub.channel_id != channel_id
            sub.channel_id = channel_id
        if filters is not None:
            for name in ("type_ids", "agency_ids", "program_ids", "provider_ids", "location_ids"):
                given = list(getattr(filters, name))
                if given:
                    changed |= getattr(sub, name) != given
                    setattr(sub, name, given)
        # The feed follows the filters now stored (a filter only one feed has limits it).
        now_filters = Filters(
            type_ids=tuple(sub.type_ids),
            provider_ids=tuple(sub.provider_ids),
            location_ids=tuple(sub.location_ids),
        )
        feed_name = subscription_feed(feed, now_filters, stored=sub.feed)
        changed |= sub.feed != feed_name
        sub.feed = feed_name
        if words is not None:
            changed |= sub.exclude != words
            sub.exclude = words
        if kind_list is not None:
            changed |= sub.kinds != kind_list
            sub.kinds = kind_list
        if leads is not None:
            changed |= sub.reminder_leads != leads
            sub.reminder_leads = leads
        if mention_role_id is not None:
            changed |= sub.mention_role_id != mention_role_id
            sub.mention_role_id = mention_role_id
        if style is not None:
            style_name = parse_style(style)
            changed |= sub.style != style_name
            sub.style = style_name
        if scheduled_events is not None:
            # Asking again (the caller checked Manage Events) also lifts a scheduled-event pause.
            changed |= sub.scheduled_events != scheduled_events or bool(
                sub.scheduled_events_paused_reason
            )
            sub.scheduled_events = scheduled_events
            sub.scheduled_events_paused_reason = None
        if not changed and not was_paused:
            raise UsageError(
                f"subscription #{sub.id} already has those options — give what to change"
            )
        sub.paused_reason = None
        existing = sub_queries.guild_subscriptions(session=session, guild_id=guild_id)
        _refuse_duplicate(sub, existing, change="edit that one to change")
        session.add(sub)
        session.flush()
        return Edited(subscription=sub, resumed=was_paused)


def guild_subscription(engine: Engine, guild_id: int, value: str) -> Subscription:
    """Return this guild's subscription named by ``value``; other guilds' do not exist here."""
    sub_id = parse_subscription_id(value)
    with session_scope(engine) as session:
        sub = sub_queries.get_guild_subscription(
            session=session, guild_id=guild_id, subscription_id=sub_id
        )
    if sub is None:
        raise _no_such_subscription(sub_id)
    return sub


def _no_such_subscription(sub_id: int) -> UsageError:
    # Worded the same for "never existed" and "another server's": guilds stay isolated.
    return UsageError(f"no subscription #{sub_id} in this server — see /alerts list")


def remove_subscription(engine: Engine, guild_id: int, value: str) -> Subscription:
    """Delete this guild's subscription; return what was removed."""
    sub = guild_subscription(engine, guild_id, value)
    assert sub.id is not None
    with session_scope(engine) as session:
        sub_queries.remove_subscription(session=session, guild_id=guild_id, subscription_id=sub.id)
    return sub


def guild_subscriptions(engine: Engine, guild_id: int) -> list[Subscription]:
    """Return one guild's subscriptions."""
    with session_scope(engine) as session:
        return sub_queries.guild_subscriptions(session=session, guild_id=guild_id)


def subscription_choices(engine: Engine, guild_id: int, text: str) -> list[Choice]:
    """Return autocomplete choices for this guild's subscriptions."""
    names = name_maps(engine)
    choices = []
    needle = text.strip().lstrip("#").lower()
    for sub in guild_subscriptions(engine, guild_id):
        label = f"#{sub.id} · {describe_filters(sub, names)}"
        if needle and needle not in label.lower():
            continue
        choices.append(Choice(name=label[:100], value=str(sub.id)))
    return choices[:MAX_CHOICES]


def name_maps(engine: Engine) -> dict[str, dict[int, str]]:
    """Return the stored names of types, agencies, programs, providers and locations by id."""
    with session_scope(engine) as session:
        return {
            "type": {t.id: t.name for t in queries.event_types(session=session)},
            "agency": {a.id: a.abbrev or a.name for a in queries.agencies(session=session)},
            "program": {p.id: p.name for p in queries.programs(session=session)},
            "provider": {
                i: abbrev or name for i, name, abbrev in queries.launch_providers(session=session)
            },
            "location": {i: name for i, name, _ in queries.launch_locations(session=session)},
        }


def describe_filters(sub: Subscription, names: dict[str, dict[int, str]] | None = None) -> str:
    """Return a one-line description of what a subscription listens to."""
    names = names or {}
    parts = []
    for key, ids in (
        ("type", sub.type_ids),
        ("agency", sub.agency_ids),
        ("program", sub.program_ids),
        ("provider", sub.provider_ids),
        ("location", sub.location_ids),
    ):
        if ids:
            known = names.get(key, {})
            parts.append(f"{key}: " + ", ".join(known.get(i, str(i)) for i in ids))
    if sub.exclude:
        parts.append("exclude: " + ", ".join(sub.exclude))
    if not parts:
        return {"events": "all events", "launches": "all launches"}.get(
            sub.feed, "all events and launches"
        )
    if sub.feed != "all":
        parts.insert(0, f"{sub.feed} only")
    return "; ".join(parts)


def describe_subscription(engine: Engine, sub: Subscription) -> str:
    """Return the lines ``/alerts list`` shows for one subscription."""
    names = name_maps(engine)
    kinds = ", ".join(sub.kinds) if sub.kinds else "all"
    leads = (
        ", ".join(format_duration(timedelta(seconds=s)) for s in sub.reminder_leads)
        if sub.reminder_leads
        else "none"
    )
    mention = f"<@&{sub.mention_role_id}>" if sub.mention_role_id else "no one"
    lines = [
        f"**#{sub.id}** in <#{sub.channel_id}> — {describe_filters(sub, names)}",
        f"kinds: {kinds} · reminders: {leads} · mentions: {mention}",
    ]
    extras = []
    if sub.style == "card":
        extras.append("style: card (one living message per item)")
    if sub.scheduled_events:
        extras.append("scheduled events: on")
    if extras:
        lines.append(" · ".join(extras))
    if sub.paused_reason:
        lines.append(f"⏸️ paused: {sub.paused_reason}")
    if sub.scheduled_events and sub.scheduled_events_paused_reason:
        lines.append(f"⏸️ scheduled events paused: {sub.scheduled_events_paused_reason}")
    return "\n".join(lines)


def _next_launch(engine: Engine, sub: Subscription | None, *, now: datetime) -> Launch | None:
    with session_scope(engine) as session:
        rows = queries.upcoming_launches(
            session=session,
            after=now,
            provider_ids=sub.provider_ids if sub else (),
            location_ids=sub.location_ids if sub else (),
            program_ids=sub.program_ids if sub else (),
            limit=1,
        )
        return launch_from_snapshot(rows[0].snapshot) if rows else None


def sample_alert(engine: Engine, sub: Subscription, *, now: datetime) -> Alert:
    """Return an alert for ``/alerts test``: the next matching item, as a new-event alert."""
    if sub.feed == "launches":
        launch = _next_launch(engine, sub, now=now) or _next_launch(engine, None, now=now)
        if launch is None:
            raise UsageError("the store has no upcoming launches yet to build a test alert from")
        return new_event_alert(launch)
    filters = Filters(tuple(sub.type_ids), tuple(sub.agency_ids), tuple(sub.program_ids))
    events = upcoming(engine, filters, now=now, count=1) or upcoming(
        engine, Filters(), now=now, count=1
    )
    if not events:
        launch = _next_launch(engine, None, now=now) if sub.feed == "all" else None
        if launch is not None:
            return new_event_alert(launch)
        raise UsageError("the store has no upcoming events yet to build a test alert from")
    return new_event_alert(events[0])


# --- guilds and channels going away ---------------------------------------------------------


def forget_guild(engine: Engine, guild_id: int) -> int:
    """Remove every subscription of a guild the bot left; return how many."""
    with session_scope(engine) as session:
        return sub_queries.remove_guild(session=session, guild_id=guild_id)


def pause_channel(engine: Engine, channel_id: int, reason: str) -> list[int]:
    """Pause the subscriptions of a channel that is gone; return their ids."""
    with session_scope(engine) as session:
        return sub_queries.pause_subscriptions(
            session=session, reason=reason, channel_id=channel_id
        )
