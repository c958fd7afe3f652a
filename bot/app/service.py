"""What slash commands ask of the core: lookups, subscriptions and status, from the store.

Cogs translate Discord interactions into these calls and back; nothing here knows Discord
objects, and nothing here talks to LL2 (docs/architecture.md, invariant 7: lookups never wait on
LL2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.core.alerts import Alert, new_event_alert
from bot.core.items import Event
from bot.core.launches import Launch
from bot.core.options import UsageError, is_id, parse_kinds, parse_leads, resolve_named_ids
from bot.core.timeutil import format_duration
from bot.pipeline.runner import PollHealth
from bot.pipeline.sync import event_from_snapshot, launch_from_snapshot
from storage import queries
from storage.db import session_scope
from storage.models import (
    AgencyRow,
    DeliveryState,
    EventTypeRow,
    ProgramRow,
    Subscription,
)

# Named in the refusal so a server's admins know which setting raises the cap.
MAX_SUBSCRIPTIONS_KEY = "alerts.max_subscriptions_per_guild"
MAX_CHOICES = 25  # Discord's autocomplete limit


@dataclass(frozen=True)
class Filters:
    """Resolved lookup/subscription filters (ids; empty = any)."""

    type_ids: tuple[int, ...] = ()
    agency_ids: tuple[int, ...] = ()
    program_ids: tuple[int, ...] = ()
    provider_ids: tuple[int, ...] = ()  # launches only
    location_ids: tuple[int, ...] = ()  # launches only


@dataclass(frozen=True)
class Choice:
    """An autocomplete choice: what the user sees and the value sent back."""

    name: str
    value: str


# --- names and filters -----------------------------------------------------------------------


def _named(engine: Engine, model: type) -> list[tuple[int, str]]:
    with session_scope(engine) as session:
        if model is EventTypeRow:
            rows: Sequence[object] = queries.event_types(session=session)
        elif model is AgencyRow:
            rows = queries.agencies(session=session)
        else:
            rows = queries.programs(session=session)
    named: list[tuple[int, str]] = []
    for row in rows:
        named.append((row.id, row.name))  # type: ignore[attr-defined]
        abbrev = getattr(row, "abbrev", None)
        if abbrev:
            named.append((row.id, abbrev))  # type: ignore[attr-defined]
    return named


def resolve_filters(
    engine: Engine,
    *,
    type: str | None,
    agency: str | None,
    program: str | None,
    provider: str | None = None,
    location: str | None = None,
) -> Filters:
    """Resolve the filter options (ids or names) or raise UsageError naming the unknown one."""
    return Filters(
        type_ids=tuple(_resolve(engine, EventTypeRow, type, "event type")),
        agency_ids=tuple(_resolve(engine, AgencyRow, agency, "agency")),
        program_ids=tuple(_resolve(engine, ProgramRow, program, "program")),
        provider_ids=tuple(_resolve_launch_named(engine, "provider", provider)),
        location_ids=tuple(_resolve_launch_named(engine, "location", location)),
    )


def launch_named(engine: Engine, what: str) -> list[tuple[int, str]]:
    """Return ``(id, name)`` of known launch providers or locations, abbreviations as names."""
    with session_scope(engine) as session:
        if what == "provider":
            rows = queries.launch_providers(session=session)
        else:
            rows = queries.launch_locations(session=session)
    return [(i, name) for i, name, _ in rows] + [(i, abbrev) for i, _, abbrev in rows if abbrev]


def _resolve_launch_named(engine: Engine, what: str, value: str | None) -> list[int]:
    if value is None or not value.strip():
        return []
    return resolve_named_ids([value], launch_named(engine, what), what)


# Which feeds a subscription follows (README, "Slash commands").
FEEDS = ("events", "launches", "all")
MAX_EXCLUDE_WORDS = 10
MAX_EXCLUDE_WORD = 50


def parse_feed(value: str) -> str:
    """Parse the ``feed`` option (``events``, ``launches`` or ``all``) or raise UsageError."""
    name = value.strip().lower()
    if name not in FEEDS:
        raise UsageError(f"feed must be events, launches or all, not {value[:30]!r}")
    return name


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


def parse_exclude(value: str | None) -> list[str]:
    """Parse ``exclude`` (a comma list of words, or ``none``) into the words to skip."""
    if value is None or value.strip().lower() in ("", "none"):
        return []
    words: list[str] = []
    for part in value.split(","):
        word = " ".join(part.split())
        if not word or word.lower() in (w.lower() for w in words):
            continue
        if len(word) > MAX_EXCLUDE_WORD:
            raise UsageError(f"an exclude word is at most {MAX_EXCLUDE_WORD} characters")
        words.append(word)
    if len(words) > MAX_EXCLUDE_WORDS:
        raise UsageError(f"exclude takes at most {MAX_EXCLUDE_WORDS} words")
    return words


def _resolve(engine: Engine, model: type, value: str | None, what: str) -> list[int]:
    if value is None or not value.strip():
        return []
    return resolve_named_ids([value], _named(engine, model), what)


# The named things a filter option autocompletes, by the option's name.
NAMED: dict[str, type] = {"type": EventTypeRow, "agency": AgencyRow, "program": ProgramRow}


def named_choices(engine: Engine, option: str, text: str) -> list[Choice]:
    """Return autocomplete choices for the ``type``, ``agency`` or ``program`` option."""
    return name_choices(engine, NAMED[option], text)


def name_choices(engine: Engine, model: type, text: str) -> list[Choice]:
    """Return autocomplete choices for types, agencies or programs matching ``text``."""
    with session_scope(engine) as session:
        rows = queries.search_names(session=session, model=model, text=text, limit=MAX_CHOICES)
    choices = []
    for row in rows:
        abbrev = getattr(row, "abbrev", None)
        label = f"{row.name} ({abbrev})" if abbrev and abbrev != row.name else row.name
        choices.append(Choice(name=label[:100], value=str(row.id)))
    return choices


# --- lookups ----------------------------------------------------------------------------------


def upcoming(engine: Engine, filters: Filters, *, now: datetime, count: int) -> list[Event]:
    """Return the next ``count`` events matching ``filters``."""
    if not 1 <= count <= 25:
        raise UsageError("count must be between 1 and 25")
    with session_scope(engine) as session:
        rows = queries.upcoming_events(
            session=session,
            after=now,
            type_ids=filters.type_ids,
            agency_ids=filters.agency_ids,
            program_ids=filters.program_ids,
            limit=count,
        )
        return [event_from_snapshot(r.snapshot) for r in rows]


def search(engine: Engine, query: str, *, now: datetime, limit: int = 10) -> list[Event]:
    """Return events whose name contains ``query``, upcoming first."""
    text = query.strip()
    if not text:
        raise UsageError("type part of an event's name to search for")
    if len(text) > 100:
        raise UsageError("a search is at most 100 characters")
    with session_scope(engine) as session:
        rows = queries.search_events(session=session, query=text, limit=limit, upcoming_from=now)
        return [event_from_snapshot(r.snapshot) for r in rows]


def find_event(engine: Engine, value: str, *, now: datetime) -> Event:
    """Return the event named by an id (as autocomplete sends) or a name; raise UsageError."""
    text = value.strip().lstrip("#")
    if is_id(text) and len(text) < 12:
        with session_scope(engine) as session:
            row = queries.get_event(session=session, event_id=int(text))
            if row is not None:
                return event_from_snapshot(row.snapshot)
    found = search(engine, value, now=now, limit=1) if value.strip() else []
    if not found:
        raise UsageError(f"no event matching '{value[:100]}' in the store")
    return found[0]


def event_choices(engine: Engine, text: str, *, now: datetime) -> list[Choice]:
    """Return autocomplete choices for the ``event`` option (upcoming first)."""
    if text.strip():
        events = search(engine, text[:100], now=now, limit=MAX_CHOICES)
    else:
        events = upcoming(engine, Filters(), now=now, count=MAX_CHOICES)
    choices = []
    for event in events:
        when = f" · {event.date:%Y-%m-%d}" if event.date else ""
        choices.append(Choice(name=f"{event.name}{when}"[:100], value=str(event.id)))
    return choices


def live(engine: Engine) -> list[Event]:
    """Return the events whose webcast is live now."""
    with session_scope(engine) as session:
        return [event_from_snapshot(r.snapshot) for r in queries.live_events(session=session)]


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
        existing = queries.guild_subscriptions(session=session, guild_id=guild_id)
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
        return queries.add_subscription(session=session, subscription=sub)


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
        sub = queries.get_guild_subscription(
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
        existing = queries.guild_subscriptions(session=session, guild_id=guild_id)
        _refuse_duplicate(sub, existing, change="edit that one to change")
        session.add(sub)
        session.flush()
        return Edited(subscription=sub, resumed=was_paused)


def parse_subscription_id(value: str) -> int:
    """Parse the ``subscription`` option (``12`` or ``#12``) or raise UsageError."""
    text = value.strip().lstrip("#").split(" ", 1)[0]
    if not is_id(text) or len(text) > 12:
        raise UsageError(f"'{value[:50]}' is not a subscription number — see /alerts list")
    return int(text)


def guild_subscription(engine: Engine, guild_id: int, value: str) -> Subscription:
    """Return this guild's subscription named by ``value``; other guilds' do not exist here."""
    sub_id = parse_subscription_id(value)
    with session_scope(engine) as session:
        sub = queries.get_guild_subscription(
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
        queries.remove_subscription(session=session, guild_id=guild_id, subscription_id=sub.id)
    return sub


def guild_subscriptions(engine: Engine, guild_id: int) -> list[Subscription]:
    """Return one guild's subscriptions."""
    with session_scope(engine) as session:
        return queries.guild_subscriptions(session=session, guild_id=guild_id)


def subscription_choices(engine: Engine, guild_id: int, text: str) -> list[Choice]:
    """Return autocomplete choices for this guild's subscriptions."""
    names = _name_maps(engine)
    choices = []
    needle = text.strip().lstrip("#").lower()
    for sub in guild_subscriptions(engine, guild_id):
        label = f"#{sub.id} · {describe_filters(sub, names)}"
        if needle and needle not in label.lower():
            continue
        choices.append(Choice(name=label[:100], value=str(sub.id)))
    return choices[:MAX_CHOICES]


def _name_maps(engine: Engine) -> dict[str, dict[int, str]]:
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
    names = _name_maps(engine)
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


STYLES = ("feed", "card")


def parse_style(value: str) -> str:
    """Parse the ``style`` option (``feed`` or ``card``) or raise UsageError."""
    name = value.strip().lower()
    if name not in STYLES:
        raise UsageError(f"style must be feed or card, not {value!r}")
    return name


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


# --- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """What ``/status`` shows."""

    last_success_at: datetime | None
    last_error: str | None
    next_poll_at: datetime | None
    budget_remaining: int
    budget_limit: int
    pending: int
    failed: int
    events: int
    paused: list[Subscription]


def status(
    engine: Engine,
    *,
    guild_id: int | None,
    budget_remaining: int,
    budget_limit: int,
    next_poll_at: datetime | None,
) -> Status:
    """Return the sync, budget and outbox status (paused subscriptions of this guild)."""
    with session_scope(engine) as session:
        state = queries.sync_state(session=session)
        return Status(
            last_success_at=state.last_success_at,
            last_error=state.last_error,
            next_poll_at=next_poll_at,
            budget_remaining=budget_remaining,
            budget_limit=budget_limit,
            pending=queries.count_deliveries(session=session, state=DeliveryState.PENDING),
            failed=queries.count_deliveries(session=session, state=DeliveryState.FAILED),
            events=queries.count_events(session=session),
            paused=queries.paused_subscriptions(session=session, guild_id=guild_id),
        )


def poll_line(health: PollHealth) -> str:
    """Describe polling for ``/status``: the next poll, or loudly that it is overdue."""
    if health.next_poll_at is None:
        return "not planned yet"
    stamp = int(health.next_poll_at.timestamp())
    if not health.overdue:
        return f"<t:{stamp}:F> (<t:{stamp}:R>)"
    last = health.last_attempt or health.last_poll
    ended = f"; the last poll ended <t:{int(last.timestamp())}:R>" if last else ""
    return (
        f"⚠️ overdue — it was due <t:{stamp}:R> and has not finished{ended}. "
        "LL2 may be hanging or unreachable; the bot keeps trying."
    )


# --- guilds and channels going away ---------------------------------------------------------


def forget_guild(engine: Engine, guild_id: int) -> int:
    """Remove every subscription of a guild the bot left; return how many."""
    with session_scope(engine) as session:
        return queries.remove_guild(session=session, guild_id=guild_id)


def pause_channel(engine: Engine, channel_id: int, reason: str) -> list[int]:
    """Pause the subscriptions of a channel that is gone; return their ids."""
    with session_scope(engine) as session:
        return queries.pause_subscriptions(session=session, reason=reason, channel_id=channel_id)
