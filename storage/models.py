"""SQLModel tables: events, launches and their parts, subscriptions, the outbox, sync state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Table,
    Text,
    UniqueConstraint,
    event,
    inspect,
    select,
)
from sqlalchemy.orm import column_property
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _utc(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class EventRow(SQLModel, table=True):
    """An event as last seen, with normalised columns for lookups and its snapshot."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_date", "date"),
        Index("ix_events_type_date", "type_id", "date"),
        Index("ix_events_last_updated", "last_updated"),
        Index("ix_events_name_lower", "name_lower"),
    )

    id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    name: str
    name_lower: str
    slug: str | None = None
    type_id: int | None = None
    type_name: str | None = None
    date: datetime | None = _utc(default=None, nullable=True)
    date_precision: str | None = None
    webcast_live: bool = False
    last_updated: datetime = _utc()
    # The alert-relevant state as last diffed (dict of Event fields), for change detection.
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # No longer written: always ``{}`` (migration 0009). LL2's JSON as received was stored
    # here beside the snapshot; nothing read it, and encoding each item twice was a good
    # part of storing a page (issue 13). The column stays so every revision's schema takes
    # the same writer.
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    first_seen_at: datetime = _utc()
    seen_at: datetime = _utc()


class EventTypeRow(SQLModel, table=True):
    """An LL2 event type seen in an event or the config list."""

    __tablename__ = "event_types"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str


class AgencyRow(SQLModel, table=True):
    """An agency seen in an event."""

    __tablename__ = "agencies"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str
    abbrev: str | None = None


class ProgramRow(SQLModel, table=True):
    """A program seen in an event."""

    __tablename__ = "programs"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str


class EventAgency(SQLModel, table=True):
    """Link between an event and an agency."""

    __tablename__ = "event_agencies"
    __table_args__ = (Index("ix_event_agencies_agency", "agency_id"),)

    event_id: int = Field(
        primary_key=True, sa_type=BigInteger, foreign_key="events.id", ondelete="CASCADE"
    )
    agency_id: int = Field(primary_key=True)


class EventProgram(SQLModel, table=True):
    """Link between an event and a program."""

    __tablename__ = "event_programs"
    __table_args__ = (Index("ix_event_programs_program", "program_id"),)

    event_id: int = Field(
        primary_key=True, sa_type=BigInteger, foreign_key="events.id", ondelete="CASCADE"
    )
    program_id: int = Field(primary_key=True)


class EventUpdateRow(SQLModel, table=True):
    """An entry of an event's ``updates`` list."""

    __tablename__ = "event_updates"

    id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    event_id: int = Field(
        sa_type=BigInteger, foreign_key="events.id", index=True, ondelete="CASCADE"
    )
    comment: str | None = Field(default=None, sa_type=Text)
    info_url: str | None = Field(default=None, sa_type=Text)
    created_by: str | None = None
    created_on: datetime | None = _utc(default=None, nullable=True)


class VideoLinkRow(SQLModel, table=True):
    """A webcast link of an event."""

    __tablename__ = "video_links"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(
        sa_type=BigInteger, foreign_key="events.id", index=True, ondelete="CASCADE"
    )
    url: str = Field(sa_type=Text)
    priority: int | None = None
    publisher: str | None = None
    title: str | None = Field(default=None, sa_type=Text)
    language_code: str | None = None
    start_time: datetime | None = _utc(default=None, nullable=True, index=True)
    end_time: datetime | None = _utc(default=None, nullable=True)
    live: bool | None = None


class Subscription(SQLModel, table=True):
    """A channel's (or a console's) wish to hear about some events."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_guild", "guild_id"),
        Index("ix_subscriptions_channel", "channel_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int | None = Field(default=None, sa_type=BigInteger)
    channel_id: int | None = Field(default=None, sa_type=BigInteger)
    # Empty list = any. Ids, so renames in LL2 do not break a subscription.
    type_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    agency_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    program_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # ``events``, ``launches`` or ``all``. Subscriptions made before launches existed follow
    # events only (migration 0005 says so); a new one follows every feed unless told.
    feed: str = Field(default="all", sa_column_kwargs={"server_default": "all"})
    # Launch filters (LL2 launch service provider and pad location ids); empty = any.
    provider_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    location_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Words: an item whose name or mission contains one (any case) is skipped ("Starlink").
    exclude: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reminder_leads: list[int] = Field(  # seconds
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    mention_role_id: int | None = Field(default=None, sa_type=BigInteger)
    paused_reason: str | None = None
    # ``feed`` (one message per alert) or ``card`` (one living message per item;
    # docs/architecture.md invariant 10).
    style: str = "feed"
    # Mirror matching items as Discord guild scheduled events (docs/architecture.md, invariant 11).
    scheduled_events: bool = False
    # Why only the scheduled-event part is paused (a 403 from Discord); alerts go on.
    scheduled_events_paused_reason: str | None = None
    # For subscriptions made from CLI flags (``tminus watch``): one row per distinct flag set.
    implicit_key: str | None = Field(default=None, unique=True)
    created_by: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = _utc()


class DeliveryState(StrEnum):
    """Where a delivery is in the outbox."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"


class DeliveryPayload(SQLModel, table=True):
    """The alert JSON of one alert and role set, stored once for every delivery carrying it.

    One alert to 10,000 channels is 10,000 deliveries with the same ~2.5 KB payload but for
    its ``key`` and ``subscription``; those two are kept on each delivery (its dedupe key and
    ``payload_subscription_id``) and stored here as null (issue 13).
    """

    __tablename__ = "delivery_payloads"

    id: int | None = Field(default=None, primary_key=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class Delivery(SQLModel, table=True):
    """One alert for one destination: the transactional outbox.

    A destination is a channel (one message per channel per alert, however many of its
    subscriptions match) or a console subscription (``tminus watch``). Alerts are keyed by
    (feed, item id) so every feed's items share the outbox.

    ``payload`` is always filled once loaded: either stored on the row itself (rows from
    before migration 0008, and payloads that are not shared) or, when ``payload_id`` is set,
    built from the shared :class:`DeliveryPayload` with this row's key and subscription.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_deliveries_dedupe_key"),
        Index("ix_deliveries_state_due", "state", "next_attempt_at"),
        # The cluster's channel claims (PostgreSQL); no SQLite query uses it (migration 0010).
        Index("ix_deliveries_channel", "channel_id").ddl_if(dialect="postgresql"),
        # A guild's deliveries (the bot left it), and one item's in a guild (``/alerts why``).
        Index("ix_deliveries_guild_item", "guild_id", "feed", "item_id"),
        Index("ix_deliveries_payload", "payload_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # destination:feed:item id:kind:discriminator (``channel:<id>`` or ``console:<sub id>``).
    dedupe_key: str
    # The schema-0001 key of a row carried over by migration 0002. A row pending then may
    # already have been posted with a nonce derived from it, so its nonce stays that one.
    legacy_key: str | None = None
    guild_id: int | None = Field(default=None, sa_type=BigInteger)
    channel_id: int | None = Field(default=None, sa_type=BigInteger)  # None: the console
    feed: str
    item_id: str
    kind: str
    # The alert JSON line of README's "Command line" (its ``message`` is what Discord gets).
    # Stored as NULL when shared (``payload_id``); loading fills it (see the class doc).
    payload: dict[str, Any] = Field(sa_column=Column(JSON(none_as_null=True), nullable=True))
    payload_id: int | None = Field(default=None, foreign_key="delivery_payloads.id")
    # The alert JSON's ``subscription`` (the first subscription served) of a shared payload.
    payload_subscription_id: int | None = None
    state: str = DeliveryState.PENDING.value
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    next_attempt_at: datetime = _utc()
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = _utc()
    sent_at: datetime | None = _utc(default=None, nullable=True)

    @property
    def nonce_key(self) -> str:
        """Return the key the Discord nonce is derived from (stable across the upgrade)."""
        return self.legacy_key or self.dedupe_key


class DeliverySubscription(SQLModel, table=True):
    """A subscription a delivery serves: several when their filters overlap in one channel.

    On SQLite the table is ``WITHOUT ROWID`` (migration 0011): the primary key is the table,
    so a link is written to two b-trees (the table and the subscription index), not three.
    """

    __tablename__ = "delivery_subscriptions"
    __table_args__ = (
        Index("ix_delivery_subscriptions_subscription", "subscription_id"),
        {"sqlite_with_rowid": False},
    )

    delivery_id: int = Field(primary_key=True, foreign_key="deliveries.id", ondelete="CASCADE")
    subscription_id: int = Field(
        primary_key=True, foreign_key="subscriptions.id", ondelete="CASCADE"
    )


# A delivery's shared payload comes back with the row itself (one correlated lookup by
# primary key), so every ``select(Delivery)`` — the worker's, the claims', ``/alerts why`` —
# gets ``Delivery.payload`` filled without knowing where it is stored.
_payloads: Table = DeliveryPayload.__table__  # type: ignore[attr-defined]
_deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]
inspect(Delivery).add_property(
    "shared_payload",
    column_property(
        select(_payloads.c.payload)
        .where(_payloads.c.id == _deliveries.c.payload_id)
        .scalar_subquery()
    ),
)


def _fill_payload(delivery: Delivery) -> None:
    """Set a loaded delivery's ``payload`` from its shared payload, as if stored on the row."""
    state = delivery.__dict__
    shared = state.get("shared_payload")
    if state.get("payload") is not None or shared is None:
        return
    payload = dict(shared)
    if "key" in payload:
        payload["key"] = delivery.dedupe_key
    if "subscription" in payload:
        payload["subscription"] = delivery.payload_subscription_id
    # Committed, not changed: a later flush must not write the payload back onto the row.
    set_committed_value(delivery, "payload", payload)


@event.listens_for(Delivery, "load")
def _on_delivery_load(delivery: Delivery, _context: Any) -> None:
    _fill_payload(delivery)


@event.listens_for(Delivery, "refresh")
def _on_delivery_refresh(delivery: Delivery, _context: Any, attrs: Any) -> None:
    if attrs is None or "payload" in attrs or "shared_payload" in attrs:
        _fill_payload(delivery)


class SyncState(SQLModel, table=True):
    """Progress of one feed (``events``, ``launches``): watermarks, last success, budget."""

    __tablename__ = "sync_state"

    feed: str = Field(primary_key=True)
    # The newest LL2 ``last_updated`` committed: polls resume from here.
    watermark: datetime | None = _utc(default=None, nullable=True)
    # Reminders due up to here have been enqueued (or dropped past their grace).
    reminders_watermark: datetime | None = _utc(default=None, nullable=True)
    seeded: bool = False
    last_attempt_at: datetime | None = _utc(default=None, nullable=True)
    last_success_at: datetime | None = _utc(default=None, nullable=True)
    last_upcoming_refresh_at: datetime | None = _utc(default=None, nullable=True)
    last_types_refresh_at: datetime | None = _utc(default=None, nullable=True)
    last_error: str | None = Field(default=None, sa_type=Text)
    budget_limit: int | None = None
    budget_remaining: int | None = None
    budget_checked_at: datetime | None = _utc(default=None, nullable=True)
    next_poll_at: datetime | None = _utc(default=None, nullable=True)


class LL2BudgetRow(SQLModel, table=True):
    """A request budget's hour record, so a restart (or a peer) does not overspend LL2."""

    __tablename__ = "ll2_budget"

    name: str = Field(primary_key=True)
    # ISO 8601 UTC times of the requests counted in the last hour, oldest first.
    sent: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    blocked_until: datetime | None = _utc(default=None, nullable=True)
    per_hour: int
    saved_at: datetime = _utc()


class CardMessage(SQLModel, table=True):
    """The living card of one item in one channel (docs/architecture.md, invariant 10).

    ``generation`` counts re-creations after a person deleted the card: the creation nonce is
    derived from it, so a re-created card never reuses a deleted message's nonce.
    """

    __tablename__ = "card_messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "feed", "item_id", name="uq_card_messages_item"),
        Index("ix_card_messages_item", "feed", "item_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int | None = Field(default=None, sa_type=BigInteger)
    channel_id: int = Field(sa_type=BigInteger)
    feed: str
    item_id: str
    generation: int = 0
    # None while the card is (re-)created: the message a person deleted is forgotten.
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    # The item state last written (its ``last_updated``): older states never overwrite it.
    version: datetime | None = _utc(default=None, nullable=True)
    # What the card remembers across states: the date it showed, dates it slipped from, live.
    history: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # A claim on the card while one process edits it (several ``tminus run`` processes).
    claimed_until: datetime | None = _utc(default=None, nullable=True)
    done: bool = False  # the item reached its outcome: nothing more to edit
    created_at: datetime = _utc()
    edited_at: datetime | None = _utc(default=None, nullable=True)


class ScheduledEventRow(SQLModel, table=True):
    """A Discord guild scheduled event we made for one item, and what we last set on it."""

    __tablename__ = "scheduled_events"
    __table_args__ = (
        UniqueConstraint("guild_id", "feed", "item_id", name="uq_scheduled_events_item"),
        Index("ix_scheduled_events_guild", "guild_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_type=BigInteger)
    feed: str
    item_id: str
    discord_id: int | None = Field(default=None, sa_type=BigInteger)
    # What we last set: name, description, start, end, location (ISO times), to tell a
    # person's edit apart from ours.
    sent: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # scheduled, active, ended, cancelled, hands_off (a person edited it), gone
    state: str = "scheduled"
    updated_at: datetime = _utc()


# --- launches -------------------------------------------------------------------------------


class LaunchRow(SQLModel, table=True):
    """A launch as last seen, with normalised columns for lookups and its snapshot."""

    __tablename__ = "launches"
    __table_args__ = (
        Index("ix_launches_net", "net"),
        Index("ix_launches_last_updated", "last_updated"),
        Index("ix_launches_name_lower", "name_lower"),
        Index("ix_launches_provider_net", "provider_id", "net"),
        Index("ix_launches_location_net", "location_id", "net"),
        Index("ix_launches_slug", "slug"),
    )

    id: str = Field(primary_key=True, max_length=36)  # LL2's UUID, lower-case with dashes
    name: str = Field(sa_type=Text)
    name_lower: str = Field(sa_type=Text)
    slug: str | None = Field(default=None, sa_type=Text)
    # Name and mission together, lower-case: what ``search`` matches.
    search_text: str = Field(default="", sa_type=Text)
    mission_name: str | None = Field(default=None, sa_type=Text)
    status_id: int | None = None
    status_name: str | None = None
    status_abbrev: str | None = None
    net: datetime | None = _utc(default=None, nullable=True)
    net_precision: str | None = None
    window_start: datetime | None = _utc(default=None, nullable=True)
    window_end: datetime | None = _utc(default=None, nullable=True)
    provider_id: int | None = Field(default=None, sa_type=BigInteger)
    provider_name: str | None = Field(default=None, sa_type=Text)
    location_id: int | None = Field(default=None, sa_type=BigInteger)
    location_name: str | None = Field(default=None, sa_type=Text)
    webcast_live: bool = False
    last_updated: datetime = _utc()
    # The alert-relevant state as last diffed (dict of Launch fields), for change detection.
    snapshot: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # No longer written: always ``{}`` (see EventRow.raw).
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    first_seen_at: datetime = _utc()
    seen_at: datetime = _utc()


class AnnouncedDate(SQLModel, table=True):
    """The date (and precision) users were last told about an item of any feed.

    The first date seen, then each date a ``rescheduled`` alert announced. Slips compare with
    it, not with the previous snapshot, so small steps that add up are announced once they
    pass the threshold. An item without a row (stored before this table) counts from its
    stored date.
    """

    __tablename__ = "announced_dates"

    feed: str = Field(primary_key=True)
    item_id: str = Field(primary_key=True)
    date: datetime | None = _utc(default=None, nullable=True)
    precision: str | None = None


class LaunchProviderRow(SQLModel, table=True):
    """A launch service provider seen in a launch (``SpaceX``), for filters and autocomplete."""

    __tablename__ = "launch_providers"

    id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    name: str = Field(sa_type=Text)
    abbrev: str | None = None


class LaunchLocationRow(SQLModel, table=True):
    """A launch site (a pad's location) seen in a launch, for filters and autocomplete."""

    __tablename__ = "launch_locations"

    id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    name: str = Field(sa_type=Text)
    country_code: str | None = None


class LaunchProgram(SQLModel, table=True):
    """Link between a launch and a program (names in ``programs``, shared with events)."""

    __tablename__ = "launch_programs"
    __table_args__ = (Index("ix_launch_programs_program", "program_id"),)

    launch_id: str = Field(
        primary_key=True, max_length=36, foreign_key="launches.id", ondelete="CASCADE"
    )
    program_id: int = Field(primary_key=True)


class LaunchVideoRow(SQLModel, table=True):
    """A webcast link of a launch (its ``start_time`` is a moment the poll plan values)."""

    __tablename__ = "launch_videos"

    id: int | None = Field(default=None, primary_key=True)
    launch_id: str = Field(max_length=36, foreign_key="launches.id", index=True, ondelete="CASCADE")
    url: str = Field(sa_type=Text)
    priority: int | None = None
    start_time: datetime | None = _utc(default=None, nullable=True, index=True)
    live: bool | None = None


# --- the cluster (PostgreSQL; docs/architecture.md, invariant 12) ----------------------------


class ClusterLease(SQLModel, table=True):
    """A named lease (``poller``): who holds it and until when, in the database's clock."""

    __tablename__ = "cluster_lease"

    name: str = Field(primary_key=True)
    holder: str | None = None
    expires_at: datetime | None = _utc(default=None, nullable=True)
    acquired_at: datetime | None = _utc(default=None, nullable=True)


class ClusterMember(SQLModel, table=True):
    """A running ``tminus run`` process, as its last heartbeat described it (``/status``)."""

    __tablename__ = "cluster_members"

    owner: str = Field(primary_key=True)  # host:pid:random, unique per process start
    host: str
    pid: int
    shard_count: int | None = None
    shard_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    shards_up: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    leader: bool = False
    started_at: datetime = _utc()
    seen_at: datetime = _utc()


class ChannelClaim(SQLModel, table=True):
    """Which process drains a channel's pending deliveries, until when (per-channel order)."""

    __tablename__ = "channel_claims"

    channel_id: int = Field(primary_key=True, sa_type=BigInteger)
    owner: str | None = None
    claimed_until: datetime = _utc()


class RatePacer(SQLModel, table=True):
    """A pacer shared by every process: the next free send slot, in epoch seconds."""

    __tablename__ = "rate_pacers"

    name: str = Field(primary_key=True)
    next_at: float = 0.0
