"""The emulated Discord world: application, bot user, guilds with roles, channels and members.

Each dataclass knows how to render itself the way Discord's API and gateway render it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from . import permissions as perms
from .snowflake import iso_now, snowflake_time


class ChannelType(IntEnum):
    """The channel types the emulator models."""

    TEXT = 0
    CATEGORY = 4
    ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12


THREAD_TYPES = frozenset({10, 11, 12})


@dataclass
class User:
    """A Discord user (a person or the bot)."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """Render as Discord's user object."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": self.avatar,
            "avatar_decoration_data": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "primary_guild": None,
            "collectibles": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    color: int = 0
    hoist: bool = False
    managed: bool = False
    bot_id: int | None = None

    def to_payload(self) -> dict[str, Any]:
        """Render as Discord's role object."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Overwrite:
    """A channel permission overwrite; type 0 targets a role, 1 a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_payload(self) -> dict[str, Any]:
        """Render as Discord's overwrite object."""
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class Channel:
    """A guild channel or thread."""

    id: int
    guild_id: int
    name: str
    type: int = ChannelType.TEXT
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    overwrites: list[Overwrite] = field(default_factory=list)
    owner_id: int | None = None
    last_message_id: int | None = None

    @property
    def is_thread(self) -> bool:
        """Whether this channel is a thread."""
        return int(self.type) in THREAD_TYPES

    def to_payload(self) -> dict[str, Any]:
        """Render as Discord's channel object."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": int(self.type),
            "guild_id": str(self.guild_id),
            "name": self.name,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "last_message_id": None if self.last_message_id is None else str(self.last_message_id),
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if self.is_thread:
            data.update(
                owner_id=str(self.owner_id or 0),
                message_count=0,
                member_count=1,
                total_message_sent=0,
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": snowflake_time(self.id).isoformat(),
                    "locked": False,
                    "create_timestamp": snowflake_time(self.id).isoformat(),
                },
            )
            return data
        data.update(
            position=self.position,
            permission_overwrites=[ow.to_payload() for ow in self.overwrites],
            nsfw=self.nsfw,
        )
        if self.type != ChannelType.CATEGORY:
            data["topic"] = self.topic
        return data


@dataclass
class Member:
    """A guild member: a user plus their roles in that guild."""

    user: User
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def to_payload(self, *, with_user: bool = True) -> dict[str, Any]:
        """Render as Discord's guild member object."""
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_payload()
        return data


@dataclass
class Guild:
    """A guild, with its roles, channels (and threads) and members, all keyed by id."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    bot_role_id: int | None = None
    bot_is_member: bool = True
    preferred_locale: str = "en-US"

    @property
    def everyone_role(self) -> Role:
        """The @everyone role."""
        return self.roles[self.id]

    def channel_named(self, name: str) -> Channel:
        """Return the channel (or thread) with this name."""
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"guild {self.name!r} has no channel named {name!r}")

    def channel_list(self) -> list[Channel]:
        """Return the non-thread channels."""
        return [c for c in self.channels.values() if not c.is_thread]

    def thread_list(self) -> list[Channel]:
        """Return the threads."""
        return [c for c in self.channels.values() if c.is_thread]

    def permissions_in(self, channel_id: int | None, user_id: int) -> int:
        """Return a member's permissions in a channel (or guild-wide when channel_id is None)."""
        channel = None if channel_id is None else self.channels.get(channel_id)
        if channel is None:
            return perms.base_permissions(self, user_id)
        return perms.channel_permissions(self, channel, user_id)

    def to_rest_payload(self) -> dict[str, Any]:
        """Render as the guild object GET /guilds/{id} returns."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "features": [],
            "roles": [r.to_payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_presences": None,
            "max_members": 25_000_000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.preferred_locale,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw": False,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
        }

    def to_gateway_payload(self, *, bot_user_id: int, with_all_members: bool) -> dict[str, Any]:
        """Render as the GUILD_CREATE event data, members trimmed as the intents demand."""
        data = self.to_rest_payload()
        members = [
            m.to_payload()
            for uid, m in self.members.items()
            if with_all_members or uid == bot_user_id
        ]
        bot_member = self.members.get(bot_user_id)
        data.update(
            joined_at=bot_member.joined_at if bot_member is not None else iso_now(),
            large=False,
            unavailable=False,
            lazy=True,
            member_count=len(self.members),
            members=members,
            channels=[c.to_payload() for c in self.channel_list()],
            threads=[c.to_payload() for c in self.thread_list()],
            presences=[],
            voice_states=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
            embedded_activities=[],
            activity_instances=[],
        )
        return data


@dataclass
class World:
    """Everything the emulator knows: the application, its bot user and the guilds it is in."""

    application_id: int
    bot_user: User
    token: str
    owner: User
    guilds: dict[int, Guild] = field(default_factory=dict)
    application_name: str = "tminus"
    application_flags: int = 0
    # Privileged intents the application is allowed (members 1<<1, presences 1<<8,
    # message content 1<<15); IDENTIFY asking for others is closed with 4014.
    allowed_privileged_intents: int = (1 << 1) | (1 << 8) | (1 << 15)

    def channel(self, channel_id: int) -> tuple[Guild, Channel] | None:
        """Find a channel and its guild."""
        for guild in self.guilds.values():
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return guild, channel
        return None

    def bot_guilds(self) -> list[Guild]:
        """Return the guilds the bot is a member of."""
        return [g for g in self.guilds.values() if g.bot_is_member]

    def application_payload(self) -> dict[str, Any]:
        """Render as GET /oauth2/applications/@me returns it."""
        return {
            "id": str(self.application_id),
            "name": self.application_name,
            "icon": None,
            "description": "Spaceflight alerts",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.owner.to_payload(),
            "flags": self.application_flags,
            "team": None,
            "rpc_origins": [],
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "approximate_guild_count": len(self.bot_guilds()),
            "bot": self.bot_user.to_payload(),
            "integration_types_config": {"0": {}},
            "install_params": None,
        }
