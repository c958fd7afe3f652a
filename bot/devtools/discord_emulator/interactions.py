"""Interactions: building INTERACTION_CREATE payloads and collecting the bot's answers."""

# Test helpers take timeout= so a test reads `await result.response(timeout=5)`.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .world import Channel, Guild, Member, Role, User

EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Option types (https://discord.com/developers/docs/interactions/application-commands).
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN = 1, 2, 3, 4, 5
USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 6, 7, 8, 9, 10, 11


class InteractionError(AssertionError):
    """A test asked for an interaction a real Discord client could not send."""


class CommandNotSynced(InteractionError):
    """The command (or subcommand, or option) is not among the commands the bot synced."""


class CommandNotPermitted(InteractionError):
    """The member lacks the command's default_member_permissions, so Discord hides it."""


@dataclass
class InteractionReply:
    """What the invoking user finally sees (or, for autocomplete, the offered choices)."""

    type: int
    content: str | None = None
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    choices: list[dict[str, Any]] | None = None
    deferred: bool = False
    message: dict[str, Any] | None = None
    modal: dict[str, Any] | None = None

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user sees it (flag 64)."""
        return bool(self.flags & EPHEMERAL)


class InteractionResult:
    """One interaction sent to the bot, and everything the bot answered to it.

    Lists fill as requests arrive: ``callbacks`` (the bodies POSTed to /callback),
    ``original`` (the original response message, after edits, None once deleted),
    ``followups`` (followup message objects), ``events`` (each change, in order).
    """

    def __init__(self, payload: dict[str, Any], deadline: float) -> None:
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.created = time.monotonic()
        self.deadline = deadline
        self.callbacks: list[dict[str, Any]] = []
        self.original: dict[str, Any] | None = None
        self.original_deleted = False
        self.followups: list[dict[str, Any]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()

    @property
    def acknowledged(self) -> bool:
        """Whether the bot has sent its initial callback."""
        return bool(self.callbacks)

    @property
    def loading(self) -> bool:
        """Whether the original response is still the 'thinking…' placeholder."""
        return self.original is not None and bool(self.original.get("flags", 0) & LOADING)

    async def notify(self, kind: str, data: dict[str, Any]) -> None:
        """Record a change and wake anyone waiting on this interaction."""
        self.events.append((kind, data))
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[InteractionResult], bool], timeout: float = 5
    ) -> None:
        """Wait until predicate(self) holds; raise TimeoutError naming what arrived so far."""
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: predicate(self))
        except TimeoutError:
            seen = [kind for kind, _ in self.events] or "nothing"
            raise TimeoutError(
                f"interaction {self.payload['data'].get('name')!r}: condition not met within "
                f"{timeout}s; the bot sent {seen}"
            ) from None

    async def callback(self, timeout: float = 5) -> dict[str, Any]:
        """Wait for and return the initial callback body ({"type": 4|5|8…, "data": …})."""
        await self.wait_for(lambda r: r.acknowledged, timeout)
        return self.callbacks[0]

    async def followup(self, index: int = 0, timeout: float = 5) -> dict[str, Any]:
        """Wait for and return the index-th followup message."""
        await self.wait_for(lambda r: len(r.followups) > index, timeout)
        return self.followups[index]

    async def response(self, timeout: float = 5) -> InteractionReply:
        """Wait until the user sees a real answer and return it.

        Type 4: the message. Type 5 (deferred): waits for the edit of the original or a
        followup. Type 8: the autocomplete choices. Type 9: the modal.
        """
        first = await self.callback(timeout)
        kind = first["type"]
        data = first.get("data") or {}
        if kind == 8:
            return InteractionReply(type=8, choices=list(data.get("choices") or []))
        if kind == 9:
            return InteractionReply(type=9, modal=data)
        if kind == 5:
            await self.wait_for(lambda r: not r.loading or bool(r.followups), timeout)
        message = self.original if self.original is not None and not self.loading else None
        if message is None and self.followups:
            message = self.followups[0]
        if message is None:
            return InteractionReply(type=kind, deferred=kind in (5, 6))
        return InteractionReply(
            type=kind,
            content=message.get("content"),
            embeds=list(message.get("embeds") or []),
            components=list(message.get("components") or []),
            flags=int(message.get("flags") or 0),
            deferred=kind == 5,
            message=message,
        )


# --- building payloads ------------------------------------------------------------------


def find_command(
    commands: list[dict[str, Any]], name: str, command_type: int = 1
) -> dict[str, Any] | None:
    """Return the synced command with this name and type."""
    for cmd in commands:
        if cmd["name"] == name and int(cmd.get("type") or 1) == command_type:
            return cmd
    return None


def _ident(value: Any) -> int:
    if isinstance(value, (Channel, Role, Guild)):
        return value.id
    if isinstance(value, Member):
        return value.user.id
    if isinstance(value, User):
        return value.id
    return int(value)


@dataclass
class OptionContext:
    """What option conversion needs from the world."""

    guild: Guild
    user_id: int
    resolved: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, kind: str, key: int, value: dict[str, Any]) -> None:
        """Add an entry to ``resolved``."""
        self.resolved.setdefault(kind, {})[str(key)] = value


def _resolve_channel(ctx: OptionContext, channel_id: int, opt: dict[str, Any]) -> None:
    channel = ctx.guild.channels.get(channel_id)
    if channel is None:
        raise InteractionError(
            f"option {opt['name']!r}: channel {channel_id} is not in guild {ctx.guild.id}"
        )
    allowed = opt.get("channel_types")
    if allowed and int(channel.type) not in allowed:
        raise InteractionError(
            f"option {opt['name']!r} accepts channel types {allowed}; "
            f"#{channel.name} is {int(channel.type)}"
        )
    data = channel.to_payload()
    data["permissions"] = str(ctx.guild.permissions_in(channel.id, ctx.user_id))
    ctx.add("channels", channel.id, data)


def _resolve_role(ctx: OptionContext, role_id: int, opt: dict[str, Any]) -> None:
    role = ctx.guild.roles.get(role_id)
    if role is None:
        raise InteractionError(
            f"option {opt['name']!r}: role {role_id} is not in guild {ctx.guild.id}"
        )
    ctx.add("roles", role.id, role.to_payload())


def _resolve_user(ctx: OptionContext, user_id: int, opt: dict[str, Any]) -> None:
    member = ctx.guild.members.get(user_id)
    if member is None:
        raise InteractionError(
            f"option {opt['name']!r}: user {user_id} is not in guild {ctx.guild.id}"
        )
    ctx.add("users", user_id, member.user.to_payload())
    data = member.to_payload(with_user=False)
    data["permissions"] = str(ctx.guild.permissions_in(None, user_id))
    ctx.add("members", user_id, data)


def _convert(ctx: OptionContext, opt: dict[str, Any], value: Any) -> Any:
    kind = opt["type"]
    name = opt["name"]
    if kind == STRING:
        value = str(value)
        if opt.get("max_length") is not None and len(value) > opt["max_length"]:
            raise InteractionError(f"option {name!r} is limited to {opt['max_length']} characters")
        if opt.get("min_length") is not None and len(value) < opt["min_length"]:
            raise InteractionError(f"option {name!r} needs at least {opt['min_length']} characters")
    elif kind == INTEGER:
        value = int(value)
    elif kind == NUMBER:
        value = float(value)
    elif kind == BOOLEAN:
        value = bool(value)
    elif kind in (USER, CHANNEL, ROLE, MENTIONABLE):
        ident = _ident(value)
        if kind == CHANNEL:
            _resolve_channel(ctx, ident, opt)
        elif kind == ROLE or (kind == MENTIONABLE and ident in ctx.guild.roles):
            _resolve_role(ctx, ident, opt)
        else:
            _resolve_user(ctx, ident, opt)
        return str(ident)
    else:
        raise InteractionError(f"option {name!r}: type {kind} is not supported by the emulator")
    if kind in (INTEGER, NUMBER):
        if opt.get("min_value") is not None and value < opt["min_value"]:
            raise InteractionError(f"option {name!r} must be >= {opt['min_value']}")
        if opt.get("max_value") is not None and value > opt["max_value"]:
            raise InteractionError(f"option {name!r} must be <= {opt['max_value']}")
    choices = opt.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise InteractionError(
            f"option {name!r} only offers {[c['value'] for c in choices]}, not {value!r}"
        )
    return value


def build_options(
    ctx: OptionContext,
    definitions: list[dict[str, Any]],
    values: Mapping[str, Any],
    *,
    where: str,
    focused: str | None = None,
) -> list[dict[str, Any]]:
    """Turn ``{"name": value}`` into Discord's option list, checked against the definitions."""
    by_name = {d["name"]: d for d in definitions}
    out = []
    for name, value in values.items():
        opt = by_name.get(name)
        if opt is None:
            raise CommandNotSynced(f"{where} has no option {name!r}; it has {sorted(by_name)}")
        if name == focused:
            if not opt.get("autocomplete"):
                raise InteractionError(f"option {name!r} of {where} does not autocomplete")
            out.append({"name": name, "type": opt["type"], "value": str(value), "focused": True})
            continue
        out.append({"name": name, "type": opt["type"], "value": _convert(ctx, opt, value)})
    if focused is None:
        missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in values]
        if missing:
            raise InteractionError(f"{where} requires options {missing}")
    elif focused not in values:
        raise InteractionError(f"the focused option {focused!r} needs a value in options")
    return out


def command_data(
    ctx: OptionContext,
    command: dict[str, Any],
    options: Mapping[str, Any],
    *,
    subcommand_group: str | None,
    subcommand: str | None,
    focused: str | None = None,
) -> dict[str, Any]:
    """Build the ``data`` of an APPLICATION_COMMAND interaction for a synced command."""
    where = f"/{command['name']}"
    defs = command.get("options") or []
    wrap: list[tuple[int, str]] = []
    if subcommand_group is not None:
        group = next(
            (o for o in defs if o["type"] == SUB_COMMAND_GROUP and o["name"] == subcommand_group),
            None,
        )
        if group is None:
            raise CommandNotSynced(f"{where} has no subcommand group {subcommand_group!r}")
        where += f" {subcommand_group}"
        defs = group.get("options") or []
        wrap.append((SUB_COMMAND_GROUP, subcommand_group))
    if subcommand is not None:
        sub = next((o for o in defs if o["type"] == SUB_COMMAND and o["name"] == subcommand), None)
        if sub is None:
            raise CommandNotSynced(f"{where} has no subcommand {subcommand!r}")
        where += f" {subcommand}"
        defs = sub.get("options") or []
        wrap.append((SUB_COMMAND, subcommand))
    elif any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in defs):
        raise InteractionError(f"{where} has subcommands; pass subcommand= (and subcommand_group=)")
    built = build_options(ctx, defs, options, where=where, focused=focused)
    for kind, name in reversed(wrap):
        built = [{"type": kind, "name": name, "options": built}]
    data: dict[str, Any] = {
        "id": command["id"],
        "name": command["name"],
        "type": int(command.get("type") or 1),
        "options": built,
    }
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    if ctx.resolved:
        data["resolved"] = ctx.resolved
    return data


def interaction_payload(
    *,
    interaction_id: int,
    token: str,
    application_id: int,
    kind: int,
    data: dict[str, Any],
    guild: Guild,
    channel: Channel,
    member: Member,
    member_permissions: int,
    app_permissions: int,
    locale: str,
) -> dict[str, Any]:
    """Build the INTERACTION_CREATE event data."""
    channel_data = channel.to_payload()
    channel_data["permissions"] = str(member_permissions)
    member_data = member.to_payload()
    member_data["permissions"] = str(member_permissions)
    return {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": kind,
        "data": data,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": guild.preferred_locale, "features": []},
        "channel_id": str(channel.id),
        "channel": channel_data,
        "member": member_data,
        "token": token,
        "version": 1,
        "app_permissions": str(app_permissions),
        "locale": locale,
        "guild_locale": guild.preferred_locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": 10 * 1024 * 1024,
    }
