"""A loopback Discord (REST v10 + gateway) for tests that drive the real discord.py.

Quick start::

    async with DiscordEmulator() as emu:
        guild = emu.add_guild("Space Club")
        with pointed_at(emu):
            bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(),
                               guild_ready_timeout=0.1)
            async with running(bot, emu):
                ...
"""

from . import permissions
from .api import RecordedRequest
from .faults import BucketRule, Fault, RateLimitModel
from .harness import pointed_at, running
from .interactions import (
    CommandNotPermitted,
    CommandNotSynced,
    InteractionError,
    InteractionReply,
    InteractionResult,
)
from .scheduled_events import ScheduledEventChange
from .server import DiscordEmulator
from .snowflake import SnowflakeFactory, snowflake_time
from .validate import FieldError, ValidationFailure, load_spec
from .world import Channel, ChannelType, Guild, Member, Overwrite, Role, User, World

__all__ = [
    "BucketRule",
    "Channel",
    "ChannelType",
    "CommandNotPermitted",
    "CommandNotSynced",
    "DiscordEmulator",
    "Fault",
    "FieldError",
    "Guild",
    "InteractionError",
    "InteractionReply",
    "InteractionResult",
    "Member",
    "Overwrite",
    "RateLimitModel",
    "RecordedRequest",
    "Role",
    "ScheduledEventChange",
    "SnowflakeFactory",
    "User",
    "ValidationFailure",
    "World",
    "load_spec",
    "permissions",
    "pointed_at",
    "running",
    "snowflake_time",
]
