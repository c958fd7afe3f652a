"""Guild scheduled events (external ones), with Discord's status rules and limits.

Routes: ``GET/POST /guilds/{guild_id}/scheduled-events`` and ``GET/PATCH/DELETE
/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}``. Bodies are validated
against the OpenAPI document's External* schemas by the front door (``server._validate``);
what the document does not say is checked here, as Discord does:

* an external event (entity_type 3) needs ``entity_metadata.location`` and a
  ``scheduled_end_time`` after its start; a new or moved start must be in the future;
* status goes 1 Scheduled -> 2 Active or 4 Canceled, 2 -> 3 Completed; an Active event
  refuses any ``scheduled_start_time``; a Completed or Canceled one refuses every edit
  (180000 Cannot update a finished event);
* at most 100 uncompleted (Scheduled or Active) events per guild (30038);
* Manage Events (or Create Events, for the events the bot created itself) is required,
  else 403 50013.

Controls for tests play Discord and the people in the guild: ``start_scheduled_event``
(Discord starts an event at its start time), ``end_scheduled_event``,
``add_scheduled_event``, ``edit_scheduled_event_as_person``,
``delete_scheduled_event_as_person``; records: ``scheduled_events``,
``scheduled_event``, ``scheduled_event_changes``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import permissions as perms
from .api import JSON, MISSING_PERMISSIONS, ApiError, Reply, Request, form_error, unknown
from .validate import FieldError

if TYPE_CHECKING:
    from .api import Handler
    from .snowflake import SnowflakeFactory
    from .world import Guild, User, World

SCHEDULED, ACTIVE, COMPLETED, CANCELED = 1, 2, 3, 4
EXTERNAL = 3
GUILD_ONLY = 2
MAX_UNCOMPLETED = 100
_NEXT_STATUS = {SCHEDULED: {ACTIVE, CANCELED}, ACTIVE: {COMPLETED}}
_EDITABLE = ("name", "description", "scheduled_start_time", "scheduled_end_time", "privacy_level")

LIST_TEMPLATE = "/guilds/{guild_id}/scheduled-events"
ITEM_TEMPLATE = "/guilds/{guild_id}/scheduled-events/{guild_scheduled_event_id}"
# The document's schema for each body when the event is external (the route's own schema
# is a union of stage/voice/external, whose errors would describe the wrong branch).
EXTERNAL_SCHEMAS = {
    ("POST", LIST_TEMPLATE): "ExternalScheduledEventCreateRequest",
    ("PATCH", ITEM_TEMPLATE): "ExternalScheduledEventPatchRequestPartial",
}


@dataclass
class ScheduledEventChange:
    """One change to a scheduled event: who made it, what they sent, and the event after it."""

    actor: str  # "bot", "person" or "discord"
    action: str  # "create", "update" or "delete"
    fields: JSON
    event: JSON


def _parse_time(value: Any, field_name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise form_error(
            FieldError((field_name,), "DATE_TIME_TYPE_PARSE", "Could not parse date time.")
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


class ScheduledEventRoutes:
    """Scheduled-event routes and controls, mixed into DiscordEmulator."""

    world: World
    snowflakes: SnowflakeFactory
    _scheduled_events: dict[int, dict[int, JSON]]
    _scheduled_event_changes: dict[int, list[ScheduledEventChange]]

    if TYPE_CHECKING:

        @property
        def bot_user(self) -> User: ...

        def _route(
            self, method: str, template: str, handler: Handler, *, auth: bool = True
        ) -> None: ...

        def dispatch(self, event: str, data: JSON) -> int: ...

        def guild(self, guild_id: int) -> Guild: ...

    def _register_scheduled_event_routes(self) -> None:
        r = self._route
        r("GET", LIST_TEMPLATE, self._list_scheduled_events)
        r("POST", LIST_TEMPLATE, self._create_scheduled_event)
        r("GET", ITEM_TEMPLATE, self._get_scheduled_event)
        r("PATCH", ITEM_TEMPLATE, self._patch_scheduled_event)
        r("DELETE", ITEM_TEMPLATE, self._delete_scheduled_event)

    # --- records ------------------------------------------------------------------------

    def scheduled_events(self, guild_id: int) -> list[JSON]:
        """Return a guild's scheduled events (not deleted ones), oldest first."""
        return list(self._scheduled_events.get(int(guild_id), {}).values())

    def scheduled_event(self, guild_id: int, event_id: int) -> JSON | None:
        """Return one scheduled event, or None when it does not exist (or was deleted)."""
        return self._scheduled_events.get(int(guild_id), {}).get(int(event_id))

    def scheduled_event_changes(self, event_id: int) -> list[ScheduledEventChange]:
        """Return every change to an event (create, updates, delete), oldest first."""
        return list(self._scheduled_event_changes.get(int(event_id), []))

    def scheduled_events_payload(self, guild_id: int) -> list[JSON]:
        """What GUILD_CREATE carries as ``guild_scheduled_events``."""
        return [copy.deepcopy(e) for e in self.scheduled_events(guild_id)]

    # --- controls: Discord itself and the people in the guild ---------------------------

    def add_scheduled_event(
        self,
        guild_id: int,
        name: str,
        *,
        start: datetime,
        end: datetime,
        location: str = "https://example.com/stream",
        description: str | None = None,
        creator_id: int | None = None,
    ) -> JSON:
        """Create an external event as a person (the guild owner by default) would."""
        guild = self.guild(guild_id)
        body: JSON = {
            "name": name,
            "description": description,
            "scheduled_start_time": _iso(start),
            "scheduled_end_time": _iso(end),
            "privacy_level": GUILD_ONLY,
            "entity_type": EXTERNAL,
            "entity_metadata": {"location": location},
        }
        creator = creator_id if creator_id is not None else guild.owner_id
        return self._create(guild, body, creator_id=creator, actor="person")

    def start_scheduled_event(self, guild_id: int, event_id: int) -> JSON:
        """Start a Scheduled event, as Discord does at its start time (status 2 Active)."""
        return self._discord_status(guild_id, event_id, ACTIVE)

    def end_scheduled_event(self, guild_id: int, event_id: int) -> JSON:
        """Complete an Active event, as Discord does for external events at their end time."""
        return self._discord_status(guild_id, event_id, COMPLETED)

    def edit_scheduled_event_as_person(self, guild_id: int, event_id: int, **fields: Any) -> JSON:
        """Edit an event as a person in the Discord client would (same rules, no bot checks).

        ``fields`` are body keys (``name``, ``description``, ``scheduled_start_time``, …);
        datetimes are accepted for the times and ``location`` for entity_metadata.
        """
        guild = self.guild(guild_id)
        event = self._require_event(guild, event_id)
        body: JSON = {}
        for key, value in fields.items():
            if key == "location":
                body["entity_metadata"] = {"location": value}
            elif isinstance(value, datetime):
                body[key] = _iso(value)
            else:
                body[key] = value
        return self._update(guild, event, body, actor="person")

    def delete_scheduled_event_as_person(self, guild_id: int, event_id: int) -> None:
        """Delete an event as a person would (GUILD_SCHEDULED_EVENT_DELETE follows)."""
        guild = self.guild(guild_id)
        self._delete(guild, self._require_event(guild, event_id), actor="person")

    def _discord_status(self, guild_id: int, event_id: int, status: int) -> JSON:
        guild = self.guild(guild_id)
        event = self._require_event(guild, event_id)
        return self._update(guild, event, {"status": status}, actor="discord")

    # --- routes -------------------------------------------------------------------------

    def _event_guild(self, req: Request) -> Guild:
        guild = self.world.guilds.get(int(req.params["guild_id"]))
        if guild is None:
            raise unknown("Guild", 10004)
        if not guild.bot_is_member:
            raise ApiError(403, 50001, "Missing Access")
        return guild

    def _require_event(self, guild: Guild, event_id: int | str) -> JSON:
        event = self._scheduled_events.get(guild.id, {}).get(int(event_id))
        if event is None:
            raise unknown("Guild Scheduled Event", 10070)
        return event

    def _require_manage(self, guild: Guild, event: JSON | None) -> None:
        granted = guild.permissions_in(None, self.bot_user.id)
        if granted & perms.MANAGE_EVENTS:
            return
        own = event is None or event.get("creator_id") == str(self.bot_user.id)
        if own and granted & perms.CREATE_EVENTS:
            return
        raise ApiError(*MISSING_PERMISSIONS)

    @staticmethod
    def _with_count(req: Request, event: JSON) -> JSON:
        out = copy.deepcopy(event)
        if req.query.get("with_user_count") in ("true", "True", "1"):
            out["user_count"] = 0
        return out

    async def _list_scheduled_events(self, req: Request) -> Reply:
        guild = self._event_guild(req)
        return Reply(body=[self._with_count(req, e) for e in self.scheduled_events(guild.id)])

    async def _get_scheduled_event(self, req: Request) -> Reply:
        guild = self._event_guild(req)
        event = self._require_event(guild, req.params["guild_scheduled_event_id"])
        return Reply(body=self._with_count(req, event))

    async def _create_scheduled_event(self, req: Request) -> Reply:
        guild = self._event_guild(req)
        self._require_manage(guild, None)
        body: JSON = req.json or {}
        event = self._create(guild, body, creator_id=self.bot_user.id, actor="bot")
        return Reply(body=copy.deepcopy(event))

    async def _patch_scheduled_event(self, req: Request) -> Reply:
        guild = self._event_guild(req)
        event = self._require_event(guild, req.params["guild_scheduled_event_id"])
        self._require_manage(guild, event)
        updated = self._update(guild, event, req.json or {}, actor="bot")
        return Reply(body=copy.deepcopy(updated))

    async def _delete_scheduled_event(self, req: Request) -> Reply:
        guild = self._event_guild(req)
        event = self._require_event(guild, req.params["guild_scheduled_event_id"])
        self._require_manage(guild, event)
        self._delete(guild, event, actor="bot")
        return Reply(204)

    # --- the rules ----------------------------------------------------------------------

    @staticmethod
    def _check_external(body: JSON, *, creating: bool) -> None:
        kind = body.get("entity_type")
        if kind is None and creating:
            raise form_error(
                FieldError(("entity_type",), "BASE_TYPE_REQUIRED", "This field is required")
            )
        if kind is not None and kind != EXTERNAL:
            # Stage and voice events need a stage/voice channel; the emulator has none.
            raise form_error(
                FieldError(("channel_id",), "CHANNEL_TYPE_INVALID", "Unknown channel type.")
            )
        if body.get("channel_id") is not None:
            raise form_error(
                FieldError(
                    ("channel_id",),
                    "GUILD_SCHEDULED_EVENT_CHANNEL_ID_INVALID",
                    "External events cannot have a channel.",
                )
            )

    def _create(self, guild: Guild, body: JSON, *, creator_id: int, actor: str) -> JSON:
        self._check_external(body, creating=True)
        location = (body.get("entity_metadata") or {}).get("location")
        if not location:
            raise form_error(
                FieldError(
                    ("entity_metadata", "location"), "BASE_TYPE_REQUIRED", "This field is required"
                )
            )
        if body.get("scheduled_end_time") is None:
            raise form_error(
                FieldError(("scheduled_end_time",), "BASE_TYPE_REQUIRED", "This field is required")
            )
        start = _parse_time(body.get("scheduled_start_time"), "scheduled_start_time")
        end = _parse_time(body["scheduled_end_time"], "scheduled_end_time")
        self._check_times(start, end, start_moved=True)
        uncompleted = [
            e for e in self.scheduled_events(guild.id) if e["status"] in (SCHEDULED, ACTIVE)
        ]
        if len(uncompleted) >= MAX_UNCOMPLETED:
            raise ApiError(
                400,
                30038,
                f"Maximum number of uncompleted guild scheduled events reached ({MAX_UNCOMPLETED})",
            )
        creator = guild.members.get(creator_id)
        event_id = self.snowflakes.next()
        event: JSON = {
            "id": str(event_id),
            "guild_id": str(guild.id),
            "channel_id": None,
            "creator_id": str(creator_id),
            "name": body["name"],
            "description": body.get("description"),
            "image": None,
            "scheduled_start_time": _iso(start),
            "scheduled_end_time": _iso(end),
            "privacy_level": int(body.get("privacy_level") or GUILD_ONLY),
            "status": SCHEDULED,
            "entity_type": EXTERNAL,
            "entity_id": None,
            "entity_metadata": {"location": location},
            "recurrence_rule": None,
            "guild_scheduled_event_exceptions": [],
            "auto_start": False,
        }
        if creator is not None:
            event["creator"] = creator.user.to_payload()
        self._scheduled_events.setdefault(guild.id, {})[event_id] = event
        self._log_change(event, actor, "create", body)
        self.dispatch("GUILD_SCHEDULED_EVENT_CREATE", copy.deepcopy(event))
        return event

    @staticmethod
    def _check_times(start: datetime, end: datetime, *, start_moved: bool) -> None:
        if start_moved and start <= datetime.now(UTC):
            raise form_error(
                FieldError(
                    ("scheduled_start_time",),
                    "GUILD_SCHEDULED_EVENT_SCHEDULED_START_TIME_IN_PAST",
                    "Cannot schedule event in the past.",
                )
            )
        if end <= start:
            raise form_error(
                FieldError(
                    ("scheduled_end_time",),
                    "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
                    "The scheduled end time must be after the scheduled start time.",
                )
            )

    def _update(self, guild: Guild, event: JSON, body: JSON, *, actor: str) -> JSON:
        status = int(event["status"])
        if status in (COMPLETED, CANCELED):
            raise ApiError(400, 180000, "Cannot update a finished event")
        self._check_external(body, creating=False)
        new_status = body.get("status")
        if (
            new_status is not None
            and int(new_status) != status
            and int(new_status) not in _NEXT_STATUS.get(status, set())
        ):
            raise form_error(
                FieldError(
                    ("status",),
                    "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION",
                    f"Cannot change status from {status} to {new_status}.",
                )
            )
        if status == ACTIVE and "scheduled_start_time" in body:
            raise form_error(
                FieldError(
                    ("scheduled_start_time",),
                    "GUILD_SCHEDULED_EVENT_CANNOT_UPDATE_ACTIVE_START_TIME",
                    "Cannot update the start time of an active event.",
                )
            )
        if "entity_metadata" in body and not (body["entity_metadata"] or {}).get("location"):
            raise form_error(
                FieldError(
                    ("entity_metadata", "location"), "BASE_TYPE_REQUIRED", "This field is required"
                )
            )
        if "scheduled_end_time" in body and body["scheduled_end_time"] is None:
            raise form_error(
                FieldError(("scheduled_end_time",), "BASE_TYPE_REQUIRED", "This field is required")
            )
        start = _parse_time(
            body.get("scheduled_start_time", event["scheduled_start_time"]), "scheduled_start_time"
        )
        end = _parse_time(
            body.get("scheduled_end_time", event["scheduled_end_time"]), "scheduled_end_time"
        )
        moved = "scheduled_start_time" in body and start != _parse_time(
            event["scheduled_start_time"], "scheduled_start_time"
        )
        self._check_times(start, end, start_moved=moved)
        for key in _EDITABLE:
            if key in body:
                event[key] = body[key]
        event["scheduled_start_time"], event["scheduled_end_time"] = _iso(start), _iso(end)
        if body.get("entity_metadata"):
            event["entity_metadata"] = {"location": body["entity_metadata"]["location"]}
        if new_status is not None:
            event["status"] = int(new_status)
        self._log_change(event, actor, "update", body)
        self.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", copy.deepcopy(event))
        return event

    def _delete(self, guild: Guild, event: JSON, *, actor: str) -> None:
        del self._scheduled_events[guild.id][int(event["id"])]
        self._log_change(event, actor, "delete", {})
        self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", copy.deepcopy(event))

    def _log_change(self, event: JSON, actor: str, action: str, fields: JSON) -> None:
        self._scheduled_event_changes.setdefault(int(event["id"]), []).append(
            ScheduledEventChange(actor, action, copy.deepcopy(fields), copy.deepcopy(event))
        )
