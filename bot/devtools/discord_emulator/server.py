"""DiscordEmulator: a loopback Discord (REST v10 + gateway) that the real discord.py talks to."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from . import permissions as perms
from .api import MISSING_ACCESS, ApiError, Handler, RecordedRequest, Reply, Request, unknown
from .faults import Fault, RateLimitModel, parse_route
from .gateway import Gateway, GatewaySession
from .interactions import (
    CommandNotPermitted,
    CommandNotSynced,
    InteractionResult,
    OptionContext,
    command_data,
    find_command,
    interaction_payload,
)
from .rest import NonceEntry, RestRoutes
from .scheduled_events import EXTERNAL_SCHEMAS, ScheduledEventChange, ScheduledEventRoutes
from .snowflake import SnowflakeFactory
from .validate import (
    SPEC_PATH,
    FieldError,
    ValidationFailure,
    check_message_limits,
    dedupe,
    error_tree,
    load_spec,
)
from .world import Channel, ChannelType, Guild, Member, Overwrite, Role, User, World

JSON = dict[str, Any]
DEFAULT_TOKEN = "emulator.bot.token"  # noqa: S105 - the emulator's own, not a secret


@dataclass
class _Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    auth: bool
    n_params: int


@dataclass
class Counters:
    """How many 429s the emulator sent, by cause."""

    rate_limited: Counter[str] = field(default_factory=Counter)

    @property
    def total_429(self) -> int:
        """All 429s sent."""
        return sum(self.rate_limited.values())


class DiscordEmulator(RestRoutes, ScheduledEventRoutes):
    """A loopback Discord: ``async with DiscordEmulator() as emu:`` then point discord.py at it.

    World building: ``add_guild``, ``add_channel``, ``add_thread``, ``add_role``,
    ``add_member``, ``add_moderator``, ``set_overwrite``, ``deny_bot``, ``delete_channel``,
    ``remove_guild``, ``delete_message`` (a person deletes one). Interactions:
    ``invoke_command``, ``autocomplete``. Faults: ``fail_next``, ``rate_limit_next``,
    ``set_channel_fault``, ``rate_limits``, ``latency``. Records: ``requests``,
    ``validation_errors``, ``messages()``, ``message()``, ``edit_history()``, ``edits()``,
    ``is_deleted()``, ``synced_commands()``. Scheduled events: see scheduled_events.py.
    Shards: ``shard_count`` (what /gateway/bot recommends), ``connected_shards()``.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_name: str = "tminus",
        heartbeat_interval: int = 41250,
        host: str = "127.0.0.1",
        port: int = 0,
        validate: bool = True,
        rate_limits: RateLimitModel | None = None,
        latency: float = 0.0,
        nonce_window: float = 300.0,
        interaction_deadline: float = 3.0,
        spec_path: Path = SPEC_PATH,
        shard_count: int = 1,
    ) -> None:
        self.snowflakes = SnowflakeFactory()
        self.world = World(
            application_id=self.snowflakes.next(),
            bot_user=User(id=self.snowflakes.next(), username=bot_name, bot=True),
            token=token,
            owner=User(id=self.snowflakes.next(), username="app-owner"),
        )
        self.host = host
        self.port = port
        self.validate = validate
        self.rate_limits = rate_limits if rate_limits is not None else RateLimitModel()
        self.latency = latency
        self.nonce_window = nonce_window
        self.interaction_deadline = interaction_deadline
        # What GET /gateway/bot recommends; AutoShardedClient without shard_count uses it.
        self.shard_count = shard_count
        self.spec = load_spec(spec_path)
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[ValidationFailure] = []
        self.faults: list[Fault] = []
        self.channel_faults: dict[int, tuple[int, int, str]] = {}
        self.deleted_channels: set[int] = set()
        self.counters = Counters()
        self.gateway = Gateway(self, heartbeat_interval)
        self._messages: dict[int, list[JSON]] = {}
        self._message_index: dict[int, JSON] = {}
        self._deleted_messages: dict[int, JSON] = {}
        self._edits: dict[int, list[JSON]] = {}
        self._scheduled_events: dict[int, dict[int, JSON]] = {}
        self._scheduled_event_changes: dict[int, list[ScheduledEventChange]] = {}
        self._nonces: dict[tuple[int, int, str], NonceEntry] = {}
        self._global_commands: list[JSON] = []
        self._guild_commands: dict[int, list[JSON]] = {}
        self._interactions: dict[int, InteractionResult] = {}
        self._interactions_by_token: dict[str, InteractionResult] = {}
        self._routes: list[_Route] = []
        self._runner: web.AppRunner | None = None
        self._register_routes()
        self._register_scheduled_event_routes()

    # --- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start serving on host:port (port 0 picks a free one)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle_api)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None)
        assert sockets  # noqa: S101 - started just above
        self.port = sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Close gateway connections and stop the server."""
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The REST root: what discord.http.Route.BASE must be set to."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway websocket URL (also READY's resume_gateway_url)."""
        return f"ws://{self.host}:{self.port}"

    @property
    def token(self) -> str:
        """The bot token the emulator accepts."""
        return self.world.token

    @property
    def application_id(self) -> int:
        """The application id."""
        return self.world.application_id

    @property
    def bot_user(self) -> User:
        """The bot user."""
        return self.world.bot_user

    # --- world building ---------------------------------------------------------------

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        channels: Iterable[str] = ("general",),
        bot_permissions: int = perms.DEFAULT_BOT,
        everyone_permissions: int = perms.DEFAULT_EVERYONE,
        owner: User | None = None,
    ) -> Guild:
        """Create a guild with @everyone, an owner, the bot (with a managed role) and text channels.

        Dispatches GUILD_CREATE when a bot is connected (the bot was just invited).
        """
        gid = self.snowflakes.next()
        owner = owner or User(
            id=self.snowflakes.next(), username=f"{name.split()[0].lower()}-owner"
        )
        guild = Guild(id=gid, name=name, owner_id=owner.id)
        guild.roles[gid] = Role(id=gid, name="@everyone", permissions=everyone_permissions)
        bot_role = Role(
            id=self.snowflakes.next(),
            name=self.bot_user.username,
            permissions=bot_permissions,
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.bot_role_id = bot_role.id
        guild.members[owner.id] = Member(user=owner)
        guild.members[self.bot_user.id] = Member(user=self.bot_user, role_ids=[bot_role.id])
        self.world.guilds[gid] = guild
        for position, channel_name in enumerate(channels):
            self._new_channel(guild, channel_name, ChannelType.TEXT, position=position)
        for session in self.gateway.sessions_for_guild(guild.id):
            self.gateway.dispatch(
                "GUILD_CREATE", self.guild_create_payload(guild, session, joined=True), session
            )
        return guild

    def guild(self, guild_id: int) -> Guild:
        """Return a guild by id."""
        return self.world.guilds[int(guild_id)]

    def channel(self, channel_id: int) -> Channel:
        """Return a channel (or thread) by id."""
        found = self.world.channel(int(channel_id))
        if found is None:
            raise KeyError(f"no channel {channel_id}")
        return found[1]

    def _new_channel(self, guild: Guild, name: str, kind: int, **kwargs: Any) -> Channel:
        channel = Channel(
            id=self.snowflakes.next(), guild_id=guild.id, name=name, type=kind, **kwargs
        )
        guild.channels[channel.id] = channel
        return channel

    def add_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: int = ChannelType.TEXT,  # noqa: A002 - Discord's field name
        parent_id: int | None = None,
        topic: str | None = None,
        overwrites: Iterable[Overwrite] = (),
        bot_can_view: bool = True,
        bot_can_send: bool = True,
    ) -> Channel:
        """Add a channel (text 0, category 4, announcement 5); optionally deny the bot View/Send."""
        guild = self.guild(guild_id)
        channel = self._new_channel(
            guild,
            name,
            type,
            position=len(guild.channel_list()),
            parent_id=parent_id,
            topic=topic,
            overwrites=list(overwrites),
        )
        deny = (0 if bot_can_view else perms.VIEW_CHANNEL) | (
            0 if bot_can_send else perms.SEND_MESSAGES
        )
        if deny:
            channel.overwrites.append(Overwrite(id=self.bot_user.id, type=1, deny=deny))
        self.dispatch("CHANNEL_CREATE", channel.to_payload())
        return channel

    def add_thread(
        self,
        guild_id: int,
        parent_id: int,
        name: str,
        *,
        type: int = ChannelType.PUBLIC_THREAD,  # noqa: A002
    ) -> Channel:
        """Add a thread under a channel."""
        guild = self.guild(guild_id)
        thread = self._new_channel(
            guild, name, type, parent_id=parent_id, owner_id=self.bot_user.id
        )
        data = thread.to_payload()
        data["newly_created"] = True
        self.dispatch("THREAD_CREATE", data)
        return thread

    def add_role(
        self, guild_id: int, name: str, *, permissions: int = 0, mentionable: bool = False
    ) -> Role:
        """Add a role; the bot can ping it only if mentionable (or the bot has Mention Everyone)."""
        guild = self.guild(guild_id)
        role = Role(
            id=self.snowflakes.next(),
            name=name,
            permissions=permissions,
            position=len(guild.roles),
            mentionable=mentionable,
        )
        guild.roles[role.id] = role
        self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_payload()})
        return role

    def add_member(
        self,
        guild_id: int,
        username: str,
        *,
        roles: Iterable[Role | int] = (),
        permissions: int | None = None,
    ) -> Member:
        """Add a member; ``permissions`` gives them a personal role with those permissions."""
        guild = self.guild(guild_id)
        role_ids = [r.id if isinstance(r, Role) else int(r) for r in roles]
        if permissions is not None:
            role_ids.append(self.add_role(guild.id, f"{username}-role", permissions=permissions).id)
        member = Member(user=User(id=self.snowflakes.next(), username=username), role_ids=role_ids)
        guild.members[member.user.id] = member
        data = member.to_payload()
        data["guild_id"] = str(guild.id)
        self.dispatch("GUILD_MEMBER_ADD", data)
        return member

    def add_moderator(self, guild_id: int, username: str = "moderator") -> Member:
        """Add a member whose role grants Manage Channels."""
        return self.add_member(guild_id, username, permissions=perms.MANAGE_CHANNELS)

    def set_overwrite(
        self, channel_id: int, target_id: int, *, allow: int = 0, deny: int = 0
    ) -> Overwrite:
        """Set a channel overwrite for a role or a member (the kind is taken from the id)."""
        guild, channel = self._require_channel_in_world(channel_id)
        kind = 0 if target_id in guild.roles else 1
        channel.overwrites = [ow for ow in channel.overwrites if ow.id != target_id]
        overwrite = Overwrite(id=target_id, type=kind, allow=allow, deny=deny)
        channel.overwrites.append(overwrite)
        self.dispatch("CHANNEL_UPDATE", channel.to_payload())
        return overwrite

    def deny_bot(self, channel_id: int, permissions: int) -> Overwrite:
        """Deny the bot permissions in a channel through a member overwrite."""
        return self.set_overwrite(channel_id, self.bot_user.id, deny=permissions)

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel: CHANNEL_DELETE, and every later request to it gets 404 10003."""
        guild, channel = self._require_channel_in_world(channel_id)
        del guild.channels[channel.id]
        self.deleted_channels.add(channel.id)
        event = "THREAD_DELETE" if channel.is_thread else "CHANNEL_DELETE"
        self.dispatch(event, channel.to_payload())

    def remove_guild(self, guild_id: int) -> None:
        """Kick the bot from a guild: GUILD_DELETE, and its channels answer 403 Missing Access."""
        guild = self.guild(guild_id)
        guild.bot_is_member = False
        self.dispatch("GUILD_DELETE", {"id": str(guild.id)})

    def permissions(self, guild_id: int, channel_id: int | None, user_id: int) -> int:
        """Compute a member's permissions in a channel (guild-wide when channel_id is None)."""
        return self.guild(guild_id).permissions_in(channel_id, user_id)

    def _require_channel_in_world(self, channel_id: int) -> tuple[Guild, Channel]:
        found = self.world.channel(int(channel_id))
        if found is None:
            raise KeyError(f"no channel {channel_id}")
        return found

    # --- gateway helpers ----------------------------------------------------------------

    def bot_user_payload(self) -> JSON:
        """The bot's user object as /users/@me and READY give it."""
        data = self.bot_user.to_payload()
        data.update(verified=True, mfa_enabled=False, email=None, locale="en-US", bot=True)
        return data

    def guild_create_payload(
        self, guild: Guild, session: GatewaySession, *, joined: bool = False
    ) -> JSON:
        """GUILD_CREATE data for a session (members trimmed to the bot without GUILD_MEMBERS).

        After READY a guild "becomes available" (``unavailable: false``); a guild the bot
        just joined comes without the key, which is how discord.py tells on_guild_join apart.
        """
        data = guild.to_gateway_payload(
            bot_user_id=self.bot_user.id, with_all_members=bool(session.intents & (1 << 1))
        )
        data["guild_scheduled_events"] = self.scheduled_events_payload(guild.id)
        if joined:
            del data["unavailable"]
        return data

    def dispatch(self, event: str, data: JSON) -> int:
        """Send a dispatch event to the session of its guild's shard; return how many got it."""
        return self.gateway.dispatch(event, data)

    def connected_shards(self) -> list[tuple[int, int]]:
        """Return (shard_id, shard_count) for each shard with a connected session."""
        return self.gateway.connected_shards()

    async def flush(self) -> None:
        """Wait until every queued gateway event has been written to the sockets."""
        await self.gateway.flush()

    async def drop_connections(self, code: int = 4000) -> None:
        """Close the gateway websockets (4000: discord.py reconnects and RESUMEs)."""
        await self.gateway.drop(code)

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to connected clients."""
        self.gateway.send_op(7)

    def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; non-resumable ends the sessions (client re-IDENTIFYs)."""
        if not resumable:
            for session in self.gateway.live_sessions():
                session.alive = False
        self.gateway.send_op(9, resumable)

    # --- interactions -------------------------------------------------------------------

    def synced_commands(self, guild_id: int | None = None) -> list[JSON]:
        """Return the commands the bot synced (global, or for one guild)."""
        if guild_id is None:
            return list(self._global_commands)
        return list(self._guild_commands.get(int(guild_id), []))

    def _lookup_command(self, guild_id: int, name: str) -> JSON:
        command = find_command(self._guild_commands.get(guild_id, []), name) or find_command(
            self._global_commands, name
        )
        if command is None:
            raise CommandNotSynced(
                f"/{name} is not synced: global commands "
                f"{[c['name'] for c in self._global_commands]}, guild {guild_id} commands "
                f"{[c['name'] for c in self._guild_commands.get(guild_id, [])]}"
            )
        return command

    async def invoke_command(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        subcommand_group: str | None = None,
        subcommand: str | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        check_default_permissions: bool = True,
    ) -> InteractionResult:
        """Send a slash command (INTERACTION_CREATE type 2) to the bot, as a member would.

        ``options`` maps option names to values (ids, or Channel/Role/Member objects for
        channel/role/user options). ``permissions`` overrides ``member.permissions``. Raises
        CommandNotSynced / CommandNotPermitted / InteractionError when a real client could not
        send it (unknown command or option, hidden by default_member_permissions, bad value).
        """
        return await self._send_interaction(
            2,
            guild_id,
            channel_id,
            user_id,
            name,
            options or {},
            subcommand_group=subcommand_group,
            subcommand=subcommand,
            permissions=permissions,
            locale=locale,
            check_default_permissions=check_default_permissions,
            focused=None,
        )

    async def autocomplete(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        subcommand_group: str | None = None,
        subcommand: str | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
    ) -> InteractionResult:
        """Send an autocomplete request (type 4); ``options[focused]`` is what the user typed."""
        return await self._send_interaction(
            4,
            guild_id,
            channel_id,
            user_id,
            name,
            options,
            subcommand_group=subcommand_group,
            subcommand=subcommand,
            permissions=permissions,
            locale=locale,
            check_default_permissions=True,
            focused=focused,
        )

    async def _send_interaction(
        self,
        kind: int,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, Any],
        *,
        subcommand_group: str | None,
        subcommand: str | None,
        permissions: int | None,
        locale: str,
        check_default_permissions: bool,
        focused: str | None,
    ) -> InteractionResult:
        guild = self.guild(guild_id)
        channel = guild.channels.get(int(channel_id))
        if channel is None:
            raise KeyError(f"channel {channel_id} is not in guild {guild_id}")
        member = guild.members.get(int(user_id))
        if member is None:
            raise KeyError(f"user {user_id} is not a member of guild {guild_id}")
        command = self._lookup_command(guild.id, name)
        computed = guild.permissions_in(channel.id, member.user.id)
        member_permissions = computed if permissions is None else permissions
        required = command.get("default_member_permissions")
        if check_default_permissions and required is not None:
            needed = int(required)
            if needed == 0 or (computed & needed) != needed:
                raise CommandNotPermitted(
                    f"/{name} needs permissions {needed}; {member.user.username} has {computed} "
                    "(pass check_default_permissions=False to model an admin override)"
                )
        ctx = OptionContext(guild=guild, user_id=member.user.id)
        data = command_data(
            ctx,
            command,
            options,
            subcommand_group=subcommand_group,
            subcommand=subcommand,
            focused=focused,
        )
        interaction_id = self.snowflakes.next()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        payload = interaction_payload(
            interaction_id=interaction_id,
            token=token,
            application_id=self.application_id,
            kind=kind,
            data=data,
            guild=guild,
            channel=channel,
            member=member,
            member_permissions=member_permissions,
            app_permissions=guild.permissions_in(channel.id, self.bot_user.id),
            locale=locale,
        )
        if not self.gateway.sessions_for_guild(guild.id):
            raise RuntimeError(
                f"no bot session is connected for guild {guild.id}'s shard "
                f"(connected shards: {self.connected_shards()})"
            )
        result = InteractionResult(payload, self.interaction_deadline)
        self._interactions[interaction_id] = result
        self._interactions_by_token[token] = result
        self.dispatch("INTERACTION_CREATE", payload)
        return result

    # --- faults -------------------------------------------------------------------------

    def fail_next(
        self,
        route: str,
        status: int,
        *,
        times: int | None = 1,
        code: int | None = None,
        message: str | None = None,
        channel_id: int | None = None,
        retry_after: float = 0.05,
        is_global: bool = False,
        via: bool = True,
    ) -> Fault:
        """Answer the next ``times`` requests matching ``"METHOD /path/{param}"`` with an error.

        403 defaults to 50013 Missing Permissions (``code=50001``: Missing Access), 404 to
        10003 Unknown Channel, 429 to a rate limit with ``retry_after`` (``via=False``: a
        Cloudflare ban), 500/502/503/504 to server errors. ``times=None``: until removed.
        """
        method, regex = parse_route(route)
        fault = Fault(
            method=method,
            path=regex,
            status=status,
            times=times,
            channel_id=channel_id,
            code=code,
            message=message,
            retry_after=retry_after,
            is_global=is_global,
            via=via,
        )
        self.faults.append(fault)
        return fault

    def rate_limit_next(
        self,
        route: str,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        channel_id: int | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching requests with 429 (with Via, so clients retry)."""
        return self.fail_next(
            route,
            429,
            times=times,
            retry_after=retry_after,
            is_global=is_global,
            channel_id=channel_id,
        )

    def set_channel_fault(self, channel_id: int, status: int = 403, code: int = 50001) -> None:
        """Make every request to a channel fail permanently (e.g. 403 50001 Missing Access)."""
        message = {50001: "Missing Access", 50013: "Missing Permissions", 10003: "Unknown Channel"}
        self.channel_faults[int(channel_id)] = (status, code, message.get(code, f"Error {code}"))

    def clear_faults(self) -> None:
        """Remove injected and per-channel faults."""
        self.faults.clear()
        self.channel_faults.clear()

    # --- records ------------------------------------------------------------------------

    def messages(self, channel_id: int) -> list[JSON]:
        """Return a channel's messages, oldest first (non-ephemeral interaction replies too)."""
        return list(self._messages.get(int(channel_id), []))

    def message(self, message_id: int) -> JSON | None:
        """Return a message by id in its latest state (ephemeral and deleted ones too), or None."""
        return self._message_index.get(int(message_id))

    def is_deleted(self, message_id: int) -> bool:
        """Whether a message was deleted (by the bot or by a person)."""
        return int(message_id) in self._deleted_messages

    def edits(self, message_id: int) -> list[JSON]:
        """Return each edit of a message in order: ``{"body": sent, "message": after}``."""
        return list(self._edits.get(int(message_id), []))

    def edit_history(self, message_id: int) -> list[str]:
        """Return a message's content after each edit, in order (not the original content)."""
        return [e["message"]["content"] for e in self._edits.get(int(message_id), [])]

    def delete_message(self, channel_id: int, message_id: int) -> None:
        """Delete a message as a person with Manage Messages would (MESSAGE_DELETE follows)."""
        guild, channel = self._require_channel_in_world(channel_id)
        message = self._message_index.get(int(message_id))
        if message is None or message not in self._messages.get(channel.id, []):
            raise KeyError(f"no message {message_id} in channel {channel_id}")
        self._remove_message(guild, channel, message)

    def requests_to(self, method: str, template: str) -> list[RecordedRequest]:
        """Return the recorded requests for one route, e.g. ("POST", "/channels/{channel_id}")."""
        return [r for r in self.requests if r.method == method.upper() and r.template == template]

    def interactions(self) -> list[InteractionResult]:
        """Return every interaction sent, oldest first."""
        return list(self._interactions.values())

    # --- the REST front door ------------------------------------------------------------

    def _route(self, method: str, template: str, handler: Handler, *, auth: bool = True) -> None:
        regex = re.compile(
            "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "/?$"
        )
        self._routes.append(_Route(method, template, regex, handler, auth, template.count("{")))
        self._routes.sort(key=lambda r: r.n_params)

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], bool]:
        path_known = False
        for route in self._routes:
            m = route.regex.match(path)
            if m is None:
                continue
            path_known = True
            if route.method == method:
                return route, m.groupdict(), True
        return None, {}, path_known

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return self._json(404, {"message": "404: Not Found", "code": 0})

    @staticmethod
    def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
        out = {"Via": "1.1 google", **(headers or {})}
        if status == 204 or body is None:
            return web.Response(status=status, headers=out)
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/plain", headers=out)
        # Exactly "application/json", no charset: discord.py compares the header verbatim.
        out["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(body).encode(), headers=out)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[JSON]]:
        if not request.body_exists:
            return None, []
        if request.content_type == "multipart/form-data":
            body: Any = None
            files: list[JSON] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader)  # noqa: S101 - no nested multipart
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    content = await part.read()
                    files.append(
                        {
                            "field": part.name,
                            "filename": part.filename,
                            "size": len(content),
                            "content_type": part.headers.get("Content-Type"),
                        }
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    async def _handle_api(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        method = request.method
        record = RecordedRequest(
            method=method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=None,
            time=time.time(),
        )
        self.requests.append(record)
        headers: dict[str, str] = {}
        try:
            body, files = await self._read_body(request)
            record.json = body
            if self.latency:
                await asyncio.sleep(self.latency)
            route, params, path_known = self._match(method, path)
            if route is None:
                if path_known:
                    raise ApiError(405, 0, "405: Method Not Allowed")
                raise ApiError(404, 0, "404: Not Found")
            record.template = route.template
            if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise ApiError(401, 0, "401: Unauthorized")
            channel_id = int(params["channel_id"]) if "channel_id" in params else None
            reply = self._limits_and_faults(method, route, path, params, channel_id, headers)
            if reply is None:
                self._check_channel(channel_id)
                if self.validate and body is not None:
                    self._validate(method, path, route.template, body)
                reply = await route.handler(
                    Request(method, path, params, request.query, body, files, record)
                )
            headers.update(reply.headers)
            record.status, record.response = reply.status, reply.body
            return self._json(reply.status, reply.body, headers)
        except ApiError as exc:
            record.status, record.response = exc.status, exc.body
            return self._json(exc.status, exc.body, headers)

    def _limits_and_faults(
        self,
        method: str,
        route: _Route,
        path: str,
        params: dict[str, str],
        channel_id: int | None,
        headers: dict[str, str],
    ) -> Reply | None:
        webhookish = route.template.startswith(("/interactions/", "/webhooks/"))
        if not webhookish:
            retry = self.rate_limits.check_global(time.monotonic())
            if retry is not None:
                self.counters.rate_limited["global"] += 1
                return Reply(
                    429,
                    {
                        "message": "You are being rate limited.",
                        "retry_after": round(retry, 3),
                        "global": True,
                    },
                    {
                        "Retry-After": str(max(1, int(retry + 0.999))),
                        "X-RateLimit-Global": "true",
                        "X-RateLimit-Scope": "global",
                    },
                )
        for fault in self.faults:
            if fault.matches(method, path, channel_id):
                fault.hits += 1
                status, body, extra = fault.body_and_headers()
                if status == 429:
                    self.counters.rate_limited["injected"] += 1
                return Reply(status, body, extra)
        if webhookish:
            return None
        major = "+".join(params[k] for k in ("channel_id", "guild_id") if k in params)
        state = self.rate_limits.check_bucket(method, route.template, major)
        if state is None:
            return None
        headers.update(state.headers)
        if state.retry_after is not None:
            self.counters.rate_limited["route"] += 1
            return Reply(
                429,
                {
                    "message": "You are being rate limited.",
                    "retry_after": round(state.retry_after, 3),
                    "global": False,
                },
            )
        return None

    def _check_channel(self, channel_id: int | None) -> None:
        if channel_id is None:
            return
        if channel_id in self.channel_faults:
            status, code, message = self.channel_faults[channel_id]
            raise ApiError(status, code, message)
        if channel_id in self.deleted_channels:
            raise unknown("Channel", 10003)
        found = self.world.channel(channel_id)
        if found is None:
            raise unknown("Channel", 10003)
        guild, channel = found
        if (
            not guild.bot_is_member
            or not guild.permissions_in(channel.id, self.bot_user.id) & perms.VIEW_CHANNEL
        ):
            raise ApiError(*MISSING_ACCESS)

    def _validate(self, method: str, path: str, template: str, body: Any) -> None:
        spec_template = self.spec.match(template) or self.spec.match(path)
        errors: list[FieldError] = []
        external = EXTERNAL_SCHEMAS.get((method, template))
        if external is not None and isinstance(body, dict) and body.get("entity_type") in (3, None):
            errors = self.spec.validate_component(external, body)
        elif spec_template is not None:
            errors = self.spec.validate_body(spec_template, method, body)
        errors += self._extra_checks(method, template, body)
        errors = dedupe(errors)
        if errors:
            failure = ValidationFailure(
                method=method, path=path, template=spec_template, body=body, errors=errors
            )
            self.validation_errors.append(failure)
            raise ApiError(400, 50035, "Invalid Form Body", error_tree(errors))

    @staticmethod
    def _extra_checks(method: str, template: str, body: Any) -> list[FieldError]:
        if template == "/interactions/{interaction_id}/{interaction_token}/callback":
            if isinstance(body, dict) and body.get("type") in (4, 7):
                return check_message_limits(body.get("data"), ("data",))
            return []
        message_routes = (
            "/channels/{channel_id}/messages",
            "/channels/{channel_id}/messages/{message_id}",
            "/webhooks/{webhook_id}/{webhook_token}",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        )
        if template in message_routes and method in ("POST", "PATCH"):
            return check_message_limits(body)
        return []
