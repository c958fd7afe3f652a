"""Discord permission bits and the permission computation Discord documents.

https://discord.com/developers/docs/topics/permissions#permission-overwrites
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .world import Channel, Guild

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_AUDIT_LOG = 1 << 7
PRIORITY_SPEAKER = 1 << 8
STREAM = 1 << 9
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
VIEW_GUILD_INSIGHTS = 1 << 19
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
MANAGE_NICKNAMES = 1 << 27
MANAGE_ROLES = 1 << 28
MANAGE_WEBHOOKS = 1 << 29
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_EVENTS = 1 << 33
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
MODERATE_MEMBERS = 1 << 40
CREATE_EVENTS = 1 << 44
SEND_POLLS = 1 << 49
USE_EXTERNAL_APPS = 1 << 50

# Every permission Discord currently defines (bits 0..52); what an owner or admin holds.
ALL = (1 << 53) - 1

# What a fresh server's @everyone role typically grants, minus Mention @everyone
# (servers that care about pings turn that one off; tests opt back in explicitly).
DEFAULT_EVERYONE = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | STREAM
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | CREATE_PRIVATE_THREADS
    | SEND_MESSAGES_IN_THREADS
    | SEND_POLLS
    | USE_EXTERNAL_APPS
)

# The managed role a bot gets when invited with the usual "send and embed" scopes.
DEFAULT_BOT = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | (SEND_MESSAGES_IN_THREADS | USE_EXTERNAL_EMOJIS | ADD_REACTIONS)
)

# Permissions that only mean something on text channels; lost without View Channel.
_TEXT_NEEDS_SEND = MENTION_EVERYONE | SEND_TTS_MESSAGES | ATTACH_FILES | EMBED_LINKS


def base_permissions(guild: Guild, user_id: int) -> int:
    """Return a member's guild-wide permissions: @everyone plus their roles, admin = all."""
    if user_id == guild.owner_id:
        return ALL
    member = guild.members.get(user_id)
    everyone = guild.roles.get(guild.id)
    permissions = everyone.permissions if everyone is not None else 0
    role_ids: Iterable[int] = member.role_ids if member is not None else ()
    for role_id in role_ids:
        role = guild.roles.get(role_id)
        if role is not None:
            permissions |= role.permissions
    if permissions & ADMINISTRATOR:
        return ALL
    return permissions


def channel_permissions(guild: Guild, channel: Channel, user_id: int) -> int:
    """Return a member's channel permissions: base, then @everyone, role, member overwrites."""
    base = base_permissions(guild, user_id)
    if base & ADMINISTRATOR or base == ALL:
        return ALL
    # Threads inherit their parent's overwrites.
    source = channel
    if channel.is_thread and channel.parent_id is not None:
        source = guild.channels.get(channel.parent_id, channel)
    overwrites = {ow.id: ow for ow in source.overwrites}
    permissions = base
    everyone = overwrites.get(guild.id)
    if everyone is not None:
        permissions = (permissions & ~everyone.deny) | everyone.allow
    member = guild.members.get(user_id)
    allow = deny = 0
    for role_id in member.role_ids if member is not None else ():
        ow = overwrites.get(role_id)
        if ow is not None and ow.type == 0:
            allow |= ow.allow
            deny |= ow.deny
    permissions = (permissions & ~deny) | allow
    ow = overwrites.get(user_id)
    if ow is not None and ow.type == 1:
        permissions = (permissions & ~ow.deny) | ow.allow
    # Discord's implicit rules: no View Channel means nothing at all; no Send Messages
    # takes the permissions that only apply to sending with it.
    if not permissions & VIEW_CHANNEL:
        return 0
    if not channel.is_thread and not permissions & SEND_MESSAGES:
        permissions &= ~_TEXT_NEEDS_SEND
    return permissions
