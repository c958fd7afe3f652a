"""The REST v10 route handlers: commands, guilds, channels, messages, interactions, webhooks."""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import permissions as perms
from .api import (
    JSON,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    ApiError,
    Handler,
    Reply,
    Request,
    form_error,
    unknown,
)
from .interactions import EPHEMERAL, LOADING, InteractionResult, find_command
from .snowflake import iso_now
from .validate import FieldError
from .world import Channel, Guild

if TYPE_CHECKING:
    from .snowflake import SnowflakeFactory
    from .world import User, World


@dataclass
class NonceEntry:
    """A nonce seen in a channel: which message it made, and when (monotonic seconds)."""

    message_id: int
    at: float


class RestRoutes:
    """Discord's REST routes, mixed into DiscordEmulator (which owns the state they touch)."""

    world: World
    snowflakes: SnowflakeFactory
    nonce_window: float
    shard_count: int
    _messages: dict[int, list[JSON]]
    _message_index: dict[int, JSON]
    _deleted_messages: dict[int, JSON]
    _edits: dict[int, list[JSON]]
    _nonces: dict[tuple[int, int, str], NonceEntry]
    _global_commands: list[JSON]
    _guild_commands: dict[int, list[JSON]]
    _interactions: dict[int, InteractionResult]
    _interactions_by_token: dict[str, InteractionResult]

    if TYPE_CHECKING:
        # Properties of DiscordEmulator.
        @property
        def bot_user(self) -> User: ...

        @property
        def application_id(self) -> int: ...

        @property
        def gateway_url(self) -> str: ...

        @property
        def base_url(self) -> str: ...

        def _route(
            self, method: str, template: str, handler: Handler, *, auth: bool = True
        ) -> None: ...

        def dispatch(self, event: str, data: JSON) -> int: ...

        def bot_user_payload(self) -> JSON: ...

        def guild(self, guild_id: int) -> Guild: ...

        def _require_channel_in_world(self, channel_id: int) -> tuple[Guild, Channel]: ...

    # --- route table --------------------------------------------------------------------

    def _register_routes(self) -> None:
        r = self._route
        r("GET", "/gateway", self._get_gateway, auth=False)
        r("GET", "/gateway/bot", self._get_gateway_bot)
        r("GET", "/users/@me", self._get_me)
        r("GET", "/users/{user_id}", self._get_user)
        r("GET", "/oauth2/applications/@me", self._get_application)
        r("GET", "/applications/@me", self._get_application)
        r("GET", "/applications/{application_id}/commands", self._get_commands)
        r("PUT", "/applications/{application_id}/commands", self._put_commands)
        r("POST", "/applications/{application_id}/commands", self._post_command)
        r("GET", "/applications/{application_id}/commands/{command_id}", self._get_command)
        r("PATCH", "/applications/{application_id}/commands/{command_id}", self._patch_command)
        r("DELETE", "/applications/{application_id}/commands/{command_id}", self._delete_command)
        r("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands)
        r("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands)
        r("POST", "/applications/{application_id}/guilds/{guild_id}/commands", self._post_command)
        r(
            "GET",
            "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
            self._get_command,
        )
        r(
            "PATCH",
            "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
            self._patch_command,
        )
        r(
            "DELETE",
            "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
            self._delete_command,
        )
        r("GET", "/channels/{channel_id}", self._get_channel)
        r("GET", "/channels/{channel_id}/messages", self._list_messages)
        r("POST", "/channels/{channel_id}/messages", self._post_message)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self._patch_message)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message)
        r("GET", "/guilds/{guild_id}", self._get_guild)
        r("GET", "/guilds/{guild_id}/channels", self._get_guild_channels)
        r("GET", "/guilds/{guild_id}/roles", self._get_guild_roles)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member)
        r(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self._callback,
            auth=False,
        )
        r("POST", "/webhooks/{webhook_id}/{webhook_token}", self._post_followup, auth=False)
        for which in ("@original", "{message_id}"):
            tpl = f"/webhooks/{{webhook_id}}/{{webhook_token}}/messages/{which}"
            r("GET", tpl, self._get_webhook_message, auth=False)
            r("PATCH", tpl, self._patch_webhook_message, auth=False)
            r("DELETE", tpl, self._delete_webhook_message, auth=False)

    # --- users, gateway, application ----------------------------------------------------

    async def _get_gateway(self, req: Request) -> Reply:
        # Discord's /gateway answers only "url"; the shard fields are harmless extras here,
        # so clients written against either endpoint find the emulator.
        return await self._get_gateway_bot(req)

    async def _get_gateway_bot(self, req: Request) -> Reply:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        body = {"url": self.gateway_url, "shards": self.shard_count, "session_start_limit": limit}
        return Reply(body=body)

    async def _get_me(self, req: Request) -> Reply:
        return Reply(body=self.bot_user_payload())

    async def _get_user(self, req: Request) -> Reply:
        uid = int(req.params["user_id"])
        if uid == self.bot_user.id:
            return Reply(body=self.bot_user.to_payload())
        for guild in self.world.guilds.values():
            if uid in guild.members:
                return Reply(body=guild.members[uid].user.to_payload())
        raise unknown("User", 10013)

    async def _get_application(self, req: Request) -> Reply:
        return Reply(body=self.world.application_payload())

    # --- application commands -----------------------------------------------------------

    def _command_store(self, req: Request) -> list[JSON]:
        if int(req.params["application_id"]) != self.application_id:
            raise ApiError(*MISSING_ACCESS)
        if "guild_id" not in req.params:
            return self._global_commands
        gid = int(req.params["guild_id"])
        guild = self.world.guilds.get(gid)
        if guild is None or not guild.bot_is_member:
            raise ApiError(*MISSING_ACCESS)
        return self._guild_commands.setdefault(gid, [])

    def _materialise_command(self, req: Request, body: JSON, existing: list[JSON]) -> JSON:
        kind = int(body.get("type") or 1)
        previous = find_command(existing, body["name"], kind)
        command: JSON = {
            "id": previous["id"] if previous else str(self.snowflakes.next()),
            "application_id": str(self.application_id),
            "version": str(self.snowflakes.next()),
            "type": kind,
            "name": body["name"],
            "name_localizations": body.get("name_localizations"),
            "description": body.get("description") or "",
            "description_localizations": body.get("description_localizations"),
            "default_member_permissions": (
                None
                if body.get("default_member_permissions") is None
                else str(body["default_member_permissions"])
            ),
            "dm_permission": body.get("dm_permission", True),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
            "nsfw": bool(body.get("nsfw", False)),
        }
        if body.get("options"):
            command["options"] = body["options"]
        if "guild_id" in req.params:
            command["guild_id"] = req.params["guild_id"]
        return command

    async def _get_commands(self, req: Request) -> Reply:
        return Reply(body=self._command_store(req))

    async def _put_commands(self, req: Request) -> Reply:
        store = self._command_store(req)
        names = [(c.get("name"), int(c.get("type") or 1)) for c in req.json or []]
        if len(set(names)) != len(names):
            raise form_error(
                FieldError(
                    (),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            )
        new = [self._materialise_command(req, c, store) for c in req.json or []]
        store[:] = new
        return Reply(body=new)

    async def _post_command(self, req: Request) -> Reply:
        store = self._command_store(req)
        command = self._materialise_command(req, req.json, store)
        existed = any(c["id"] == command["id"] for c in store)
        store[:] = [c for c in store if c["id"] != command["id"]] + [command]
        return Reply(200 if existed else 201, command)

    def _find_stored_command(self, req: Request) -> tuple[list[JSON], JSON]:
        store = self._command_store(req)
        for command in store:
            if command["id"] == req.params["command_id"]:
                return store, command
        raise unknown("application command", 10063)

    async def _get_command(self, req: Request) -> Reply:
        return Reply(body=self._find_stored_command(req)[1])

    async def _patch_command(self, req: Request) -> Reply:
        store, command = self._find_stored_command(req)
        merged = {**command, **(req.json or {})}
        updated = self._materialise_command(req, merged, store)
        store[:] = [updated if c["id"] == command["id"] else c for c in store]
        return Reply(body=updated)

    async def _delete_command(self, req: Request) -> Reply:
        store, command = self._find_stored_command(req)
        store.remove(command)
        return Reply(204)

    # --- guilds and channels ------------------------------------------------------------

    def _bot_guild(self, req: Request) -> Guild:
        guild = self.world.guilds.get(int(req.params["guild_id"]))
        if guild is None:
            raise unknown("Guild", 10004)
        if not guild.bot_is_member:
            raise ApiError(*MISSING_ACCESS)
        return guild

    async def _get_guild(self, req: Request) -> Reply:
        guild = self._bot_guild(req)
        data = guild.to_rest_payload()
        if req.query.get("with_counts") in ("true", "1"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return Reply(body=data)

    async def _get_guild_channels(self, req: Request) -> Reply:
        return Reply(body=[c.to_payload() for c in self._bot_guild(req).channel_list()])

    async def _get_guild_roles(self, req: Request) -> Reply:
        return Reply(body=[r.to_payload() for r in self._bot_guild(req).roles.values()])

    async def _get_member(self, req: Request) -> Reply:
        guild = self._bot_guild(req)
        member = guild.members.get(int(req.params["user_id"]))
        if member is None:
            raise unknown("Member", 10007)
        return Reply(body=member.to_payload())

    def _channel_of(self, req: Request) -> tuple[Guild, Channel]:
        # _check_channel already refused unknown, deleted, faulted and invisible channels.
        return self._require_channel_in_world(int(req.params["channel_id"]))

    async def _get_channel(self, req: Request) -> Reply:
        return Reply(body=self._channel_of(req)[1].to_payload())

    # --- messages -----------------------------------------------------------------------

    def _bot_perms(self, guild: Guild, channel: Channel) -> int:
        return guild.permissions_in(channel.id, self.bot_user.id)

    def _mentions(
        self, guild: Guild, channel: Channel, body: JSON
    ) -> tuple[bool, list[str], list[JSON]]:
        """Work out who a message really pings, as Discord does with allowed_mentions."""
        content = body.get("content") or ""
        allowed = body.get("allowed_mentions")
        if allowed is None:
            parse, role_ids, user_ids = {"users", "roles", "everyone"}, set(), set()
        else:
            parse = set(allowed.get("parse") or [])
            role_ids = {str(r) for r in allowed.get("roles") or []}
            user_ids = {str(u) for u in allowed.get("users") or []}
            for kind, ids in (("roles", role_ids), ("users", user_ids)):
                if kind in parse and ids:
                    message = f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.'
                    raise form_error(
                        FieldError(
                            ("allowed_mentions",),
                            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                            message,
                        )
                    )
        can_mention_all = bool(self._bot_perms(guild, channel) & perms.MENTION_EVERYONE)
        everyone = (
            ("@everyone" in content or "@here" in content)
            and "everyone" in parse
            and can_mention_all
        )
        roles = []
        for rid in dict.fromkeys(re.findall(r"<@&(\d+)>", content)):
            role = guild.roles.get(int(rid))
            if role is None or not ("roles" in parse or rid in role_ids):
                continue
            if role.mentionable or can_mention_all:
                roles.append(rid)
        users = []
        for uid in dict.fromkeys(re.findall(r"<@!?(\d+)>", content)):
            member = guild.members.get(int(uid))
            if member is not None and ("users" in parse or uid in user_ids):
                users.append(member.user.to_payload())
        return everyone, roles, users

    def _new_message(
        self,
        guild: Guild,
        channel: Channel,
        body: JSON,
        files: list[JSON],
        *,
        kind: int = 0,
        extra: JSON | None = None,
    ) -> JSON:
        everyone, roles, users = self._mentions(guild, channel, body)
        message_id = self.snowflakes.next()
        embeds = [
            {"type": "rich", **e, "content_scan_version": 0} for e in body.get("embeds") or []
        ]
        message: JSON = {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "author": self.bot_user.to_payload(),
            "content": body.get("content") or "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": everyone,
            "mentions": users,
            "mention_roles": roles,
            "attachments": [
                {
                    "id": str(self.snowflakes.next()),
                    "filename": f["filename"],
                    "size": f["size"],
                    "url": f"{self.base_url}/attachments/{channel.id}/{f['filename']}",
                    "proxy_url": f"{self.base_url}/attachments/{channel.id}/{f['filename']}",
                    "content_type": f.get("content_type"),
                }
                for f in files
            ],
            "embeds": embeds,
            "components": body.get("components") or [],
            "pinned": False,
            "type": kind,
            "flags": int(body.get("flags") or 0),
        }
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
        if extra:
            message.update(extra)
        self._message_index[message_id] = message
        return message

    def _publish(self, guild: Guild, channel: Channel, message: JSON) -> None:
        """Make a message visible in its channel and tell the gateway."""
        self._messages.setdefault(channel.id, []).append(message)
        channel.last_message_id = int(message["id"])
        event = dict(message)
        event["guild_id"] = str(guild.id)
        bot_member = guild.members.get(self.bot_user.id)
        if bot_member is not None:
            event["member"] = bot_member.to_payload(with_user=False)
        self.dispatch("MESSAGE_CREATE", event)

    @staticmethod
    def _is_empty(body: JSON, files: list[JSON]) -> bool:
        return not (
            body.get("content")
            or body.get("embeds")
            or body.get("components")
            or files
            or body.get("sticker_ids")
            or body.get("poll")
            or body.get("attachments")
        )

    async def _post_message(self, req: Request) -> Reply:
        guild, channel = self._channel_of(req)
        body: JSON = req.json or {}
        needed = perms.SEND_MESSAGES_IN_THREADS if channel.is_thread else perms.SEND_MESSAGES
        if not self._bot_perms(guild, channel) & needed:
            raise ApiError(*MISSING_PERMISSIONS)
        nonce = body.get("nonce")
        now = time.monotonic()
        key = (channel.id, self.bot_user.id, str(nonce))
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen is not None and now - seen.at < self.nonce_window:
                if seen.message_id in self._deleted_messages:
                    # Discord keeps the nonce pointing at the deleted message for its window
                    # and answers Unknown Message instead of posting (docs/architecture.md,
                    # invariant 10).
                    raise unknown("Message", 10008)
                existing = self._message_index.get(seen.message_id)
                if existing is not None:
                    return Reply(200, existing)
        if self._is_empty(body, req.files):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = self._new_message(guild, channel, body, req.files)
        self._publish(guild, channel, message)
        if nonce is not None:
            self._nonces[key] = NonceEntry(int(message["id"]), now)
        return Reply(200, message)

    def _channel_message(self, req: Request) -> tuple[Guild, Channel, JSON]:
        guild, channel = self._channel_of(req)
        message = self._message_index.get(int(req.params["message_id"]))
        if (
            message is None
            or message["channel_id"] != str(channel.id)
            or message not in self._messages.get(channel.id, [])
        ):
            raise unknown("Message", 10008)
        return guild, channel, message

    async def _list_messages(self, req: Request) -> Reply:
        guild, channel = self._channel_of(req)
        if not self._bot_perms(guild, channel) & perms.READ_MESSAGE_HISTORY:
            return Reply(body=[])
        limit = max(1, min(100, int(req.query.get("limit", 50))))
        items = list(reversed(self._messages.get(channel.id, [])))
        if "before" in req.query:
            items = [m for m in items if int(m["id"]) < int(req.query["before"])]
        if "after" in req.query:
            items = [m for m in items if int(m["id"]) > int(req.query["after"])]
        return Reply(body=items[:limit])

    async def _get_message(self, req: Request) -> Reply:
        guild, channel, message = self._channel_message(req)
        if not self._bot_perms(guild, channel) & perms.READ_MESSAGE_HISTORY:
            raise ApiError(*MISSING_ACCESS)
        return Reply(body=message)

    def _apply_edit(self, guild: Guild, channel: Channel, message: JSON, body: JSON) -> None:
        for key in ("content", "components"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ("" if key == "content" else [])
                )
        if "embeds" in body:
            message["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS (4) can be toggled by an edit; the rest stay as they were.
            message["flags"] = (int(message["flags"]) & ~4) | (int(body["flags"]) & 4)
        if "content" in body or "allowed_mentions" in body:
            probe = {
                "content": message["content"],
                "allowed_mentions": body.get("allowed_mentions"),
            }
            everyone, roles, users = self._mentions(guild, channel, probe)
            message.update(mention_everyone=everyone, mention_roles=roles, mentions=users)
        message["edited_timestamp"] = iso_now()

    async def _patch_message(self, req: Request) -> Reply:
        guild, channel, message = self._channel_message(req)
        if message["author"]["id"] != str(self.bot_user.id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body: JSON = req.json or {}
        # Work on a copy so an edit Discord refuses (say, conflicting allowed_mentions)
        # leaves the message untouched; then update in place, keeping its identity.
        updated = copy.deepcopy(message)
        self._apply_edit(guild, channel, updated, body)
        message.clear()
        message.update(updated)
        self._record_edit(message, body)
        event = dict(message, guild_id=str(guild.id))
        self.dispatch("MESSAGE_UPDATE", event)
        return Reply(body=message)

    def _record_edit(self, message: JSON, body: JSON) -> None:
        """Keep what each edit asked for and the message it left, in order, for assertions."""
        self._edits.setdefault(int(message["id"]), []).append(
            {"body": body, "message": copy.deepcopy(message)}
        )

    def _remove_message(self, guild: Guild, channel: Channel, message: JSON) -> None:
        """Take a message out of its channel (it stays readable as deleted) and tell the gateway."""
        self._messages[channel.id].remove(message)
        self._deleted_messages[int(message["id"])] = message
        self.dispatch(
            "MESSAGE_DELETE",
            {"id": message["id"], "channel_id": str(channel.id), "guild_id": str(guild.id)},
        )

    async def _delete_message(self, req: Request) -> Reply:
        guild, channel, message = self._channel_message(req)
        if message["author"]["id"] != str(self.bot_user.id) and not (
            self._bot_perms(guild, channel) & perms.MANAGE_MESSAGES
        ):
            raise ApiError(*MISSING_PERMISSIONS)
        self._remove_message(guild, channel, message)
        return Reply(204)

    # --- interaction callbacks and webhooks ---------------------------------------------

    def _interaction_message(
        self, result: InteractionResult, body: JSON, *, kind: int, files: list[JSON], flags: int
    ) -> JSON:
        payload = result.payload
        guild = self.guild(int(payload["guild_id"]))
        channel = guild.channels.get(int(payload["channel_id"]))
        if channel is None:
            raise unknown("Channel", 10003)
        user = payload["member"]["user"]
        extra = {
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "interaction_metadata": {
                "id": payload["id"],
                "type": payload["type"],
                "user": user,
                "authorizing_integration_owners": payload["authorizing_integration_owners"],
                "name": payload["data"]["name"],
            },
        }
        message = self._new_message(
            guild, channel, {**body, "flags": flags}, files, kind=kind, extra=extra
        )
        if not flags & EPHEMERAL:
            self._publish(guild, channel, message)
        return message

    async def _callback(self, req: Request) -> Reply:
        result = self._interactions.get(int(req.params["interaction_id"]))
        if result is None or result.token != req.params["interaction_token"]:
            raise unknown("interaction", 10062)
        if result.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - result.created > result.deadline:
            raise unknown("interaction", 10062)
        body: JSON = req.json or {}
        kind = body.get("type")
        data = body.get("data") or {}
        result.callbacks.append(body)
        resource: JSON = {"type": kind}
        flags = int(data.get("flags") or 0)
        if kind == 4:
            if self._is_empty(data, req.files):
                result.callbacks.pop()
                raise ApiError(400, 50006, "Cannot send an empty message")
            result.original = self._interaction_message(
                result, data, kind=20, files=req.files, flags=flags
            )
            resource["message"] = result.original
        elif kind == 5:
            result.original = self._interaction_message(
                result, {"content": ""}, kind=20, files=[], flags=(flags & EPHEMERAL) | LOADING
            )
            resource["message"] = result.original
        await result.notify("callback", body)
        if req.query.get("with_response") not in ("1", "true", "True"):
            return Reply(204)
        interaction = {
            "id": str(result.id),
            "type": result.payload["type"],
            "response_message_id": result.original["id"] if result.original else None,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(flags & EPHEMERAL),
        }
        return Reply(200, {"interaction": interaction, "resource": resource})

    def _webhook_interaction(self, req: Request) -> InteractionResult:
        if int(req.params["webhook_id"]) != self.application_id:
            raise unknown("Webhook", 10015)
        result = self._interactions_by_token.get(req.params["webhook_token"])
        if result is None:
            raise unknown("Webhook", 10015)
        if time.monotonic() - result.created > 15 * 60:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return result

    async def _post_followup(self, req: Request) -> Reply:
        result = self._webhook_interaction(req)
        if not result.acknowledged:
            raise unknown("Webhook", 10015)
        body: JSON = req.json or {}
        if self._is_empty(body, req.files):
            raise ApiError(400, 50006, "Cannot send an empty message")
        flags = int(body.get("flags") or 0)
        if result.loading and result.original is not None:
            # The first followup after a defer replaces the "thinking…" message, keeping
            # the defer's ephemerality.
            original = result.original
            self._fill_loading(result, original, body, flags)
            message = original
        else:
            message = self._interaction_message(result, body, kind=0, files=req.files, flags=flags)
        result.followups.append(message)
        await result.notify("followup", message)
        if req.query.get("wait") in ("true", "1", "True"):
            return Reply(200, message)
        return Reply(204)

    def _fill_loading(
        self, result: InteractionResult, original: JSON, body: JSON, flags: int
    ) -> None:
        guild = self.guild(int(result.payload["guild_id"]))
        channel = guild.channels[int(result.payload["channel_id"])]
        ephemeral = original["flags"] & EPHEMERAL
        self._apply_edit(guild, channel, original, body)
        original["flags"] = ephemeral | (flags & ~(EPHEMERAL | LOADING))
        original["edited_timestamp"] = None
        if not ephemeral and original not in self._messages.get(channel.id, []):
            self._publish(guild, channel, original)

    def _webhook_message(self, req: Request, result: InteractionResult) -> JSON:
        which = req.path.rsplit("/", 1)[-1]
        if which == "@original":
            if result.original is None:
                raise unknown("Message", 10008)
            return result.original
        for message in result.followups:
            if message["id"] == which:
                return message
        if result.original is not None and result.original["id"] == which:
            return result.original
        raise unknown("Message", 10008)

    async def _get_webhook_message(self, req: Request) -> Reply:
        result = self._webhook_interaction(req)
        return Reply(body=self._webhook_message(req, result))

    async def _patch_webhook_message(self, req: Request) -> Reply:
        result = self._webhook_interaction(req)
        message = self._webhook_message(req, result)
        body: JSON = req.json or {}
        if message is result.original and result.loading:
            self._fill_loading(result, message, body, int(body.get("flags") or 0))
        else:
            guild = self.guild(int(result.payload["guild_id"]))
            channel = guild.channels[int(result.payload["channel_id"])]
            self._apply_edit(guild, channel, message, body)
            self._record_edit(message, body)
        await result.notify("edit", message)
        return Reply(body=message)

    async def _delete_webhook_message(self, req: Request) -> Reply:
        result = self._webhook_interaction(req)
        message = self._webhook_message(req, result)
        channel_messages = self._messages.get(int(message["channel_id"]), [])
        if message in channel_messages:
            channel_messages.remove(message)
        if message is result.original:
            result.original = None
            result.original_deleted = True
        await result.notify("delete", message)
        return Reply(204)
