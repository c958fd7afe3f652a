"""``/alerts …``: subscribe channels to events; Manage Channels only, one guild at a time."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import service
from bot.app import subscriptions as subscription_store
from bot.app.client import TMinusBot
from bot.app.sink import classify, message_kwargs
from bot.app.why import explain_blocks, explain_item, find_item
from bot.core.kinds import kinds_help
from bot.core.options import UsageError
from bot.core.timeutil import utcnow
from bot.render import render_alert
from cogs import _autocomplete as autocomplete

log = logging.getLogger(__name__)

POSTABLE = (discord.TextChannel, discord.Thread)  # announcement channels are TextChannels

# The options /alerts add and /alerts edit share, described once.
OPTION_DOCS = {
    "feed": "events, launches or all (default all; type/provider/location imply their feed)",
    "type": "Only this event type (name or LL2 id), e.g. Docking — events only",
    "agency": "Only events with this agency",
    "provider": "Only launches by this provider (name, abbreviation or LL2 id), e.g. SpaceX",
    "location": "Only launches from this site (name or LL2 id), e.g. Kennedy Space Center",
    "program": "Only items of this program",
    "exclude": "Comma list of words: skip items whose name or mission has one, e.g. Starlink",
    "kinds": f"Comma list of {kinds_help()} — or all",
    "reminders": "Reminder leads like 24h,1h,10m — or none",
    "mention": "A role to mention in each alert",
    "style": "feed: a message per alert (default) · card: one living message per item",
    "scheduled_events": "Also mirror matching items as this server's Discord events",
}
FEED_CHOICES = [
    app_commands.Choice(name="all — events and launches", value="all"),
    app_commands.Choice(name="events — dockings, spacewalks, press events …", value="events"),
    app_commands.Choice(name="launches", value="launches"),
]
STYLE_CHOICES = [
    app_commands.Choice(name="feed — a message per alert", value="feed"),
    app_commands.Choice(name="card — one message per item, kept up to date", value="card"),
]


def missing_permissions(
    channel: discord.abc.GuildChannel | discord.Thread,
    me: discord.Member,
    role: discord.Role | None,
) -> list[str]:
    """Return the permissions the bot lacks to post alerts in ``channel``."""
    perms = channel.permissions_for(me)
    needed = [
        ("View Channel", perms.view_channel),
        ("Embed Links", perms.embed_links),
    ]
    if isinstance(channel, discord.Thread):
        needed.append(("Send Messages in Threads", perms.send_messages_in_threads))
    else:
        needed.append(("Send Messages", perms.send_messages))
    missing = [name for name, ok in needed if not ok]
    if role is not None and not role.mentionable and not perms.mention_everyone:
        missing.append(
            f"Mention @{role.name} (make the role mentionable or grant Mention All Roles)"
        )
    return missing


def _fit_blocks(blocks: list[str], *, limit: int) -> str:
    """Join whole blocks within ``limit`` characters, saying how many did not fit."""
    for shown in range(len(blocks), 0, -1):
        rest = len(blocks) - shown
        tail = f"\n\n… and {rest} more" if rest else ""
        text = "\n\n".join(blocks[:shown]) + tail
        if len(text) <= limit:
            return text
    return blocks[0][: limit - 1] + "…"


async def _items(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete an event or a launch (events first, 25 at most)."""
    found = [*await autocomplete.events(interaction, current)]
    found += await autocomplete.launches(interaction, current)
    return found[:25]


# The filter options /alerts add and /alerts edit share, and what autocompletes each.
FILTER_AUTOCOMPLETE = {
    "type": autocomplete.event_types,
    "agency": autocomplete.agencies,
    "provider": autocomplete.providers,
    "location": autocomplete.locations,
    "program": autocomplete.programs,
    "kinds": autocomplete.kinds,
}


class Subscriptions(commands.Cog):
    """Let server managers choose which alerts go to which channel."""

    alerts = app_commands.Group(
        name="alerts",
        description="Choose which spaceflight alerts this server gets",
        default_permissions=discord.Permissions(manage_channels=True),
        guild_only=True,
    )

    def __init__(self, bot: TMinusBot) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Refuse members without Manage Channels (default permissions can be overridden)."""
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage("alerts are set up inside a server")
        if not interaction.permissions.manage_channels:
            raise app_commands.CheckFailure(
                "you need the Manage Channels permission to change alerts"
            )
        return True

    # --- checks shared by add and edit ----------------------------------------------------

    @staticmethod
    def _postable(
        interaction: discord.Interaction, channel_id: int | None
    ) -> discord.TextChannel | discord.Thread:
        """Return the guild channel alerts would go to, or raise UsageError."""
        guild = interaction.guild
        assert guild is not None
        target = guild.get_channel_or_thread(channel_id or 0)
        if target is None or not isinstance(target, POSTABLE):
            raise UsageError("alerts can go to text, announcement and thread channels")
        return target

    @staticmethod
    def _check_can_post(
        interaction: discord.Interaction,
        target: discord.TextChannel | discord.Thread,
        mention: discord.Role | None,
        *,
        still: str = "",
    ) -> None:
        """Raise UsageError naming each permission the bot lacks to post alerts in ``target``."""
        guild = interaction.guild
        assert guild is not None
        if mention is not None and mention.is_default():
            raise UsageError("@everyone cannot be the mention role — create a role to ping")
        missing = missing_permissions(target, guild.me, mention)
        if missing:
            raise UsageError(
                f"I can't post alerts in {target.mention}: missing " + ", ".join(missing) + still
            )

    @staticmethod
    def _check_can_manage_events(interaction: discord.Interaction) -> None:
        """Raise UsageError when the bot lacks Manage Events (scheduled events need it)."""
        guild = interaction.guild
        assert guild is not None
        if not guild.me.guild_permissions.manage_events:
            raise UsageError(
                "I can't create this server's scheduled events: missing Manage Events — "
                "grant it to my role, or leave scheduled_events off (nothing was saved)"
            )

    # --- commands ---------------------------------------------------------------------------

    @alerts.command(
        name="add", description="Send alerts about matching launches and events to a channel"
    )
    @app_commands.describe(
        channel="Where alerts go (default: this channel)",
        **OPTION_DOCS,
    )
    @app_commands.autocomplete(**FILTER_AUTOCOMPLETE)
    @app_commands.choices(style=STYLE_CHOICES, feed=FEED_CHOICES)
    async def add(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.Thread | None = None,
        feed: app_commands.Choice[str] | None = None,
        type: str | None = None,
        agency: str | None = None,
        provider: str | None = None,
        location: str | None = None,
        program: str | None = None,
        exclude: str | None = None,
        kinds: str | None = None,
        reminders: str | None = None,
        mention: discord.Role | None = None,
        style: app_commands.Choice[str] | None = None,
        scheduled_events: bool | None = None,
    ) -> None:
        """Subscribe a channel."""
        assert interaction.guild_id is not None
        target = self._postable(interaction, channel.id if channel else interaction.channel_id)
        self._check_can_post(interaction, target, mention)
        if scheduled_events:
            self._check_can_manage_events(interaction)
        filters = service.resolve_filters(
            self.bot.engine,
            type=type,
            agency=agency,
            program=program,
            provider=provider,
            location=location,
        )
        sub = subscription_store.add_subscription(
            self.bot.engine,
            guild_id=interaction.guild_id,
            channel_id=target.id,
            filters=filters,
            kinds=kinds,
            reminders=reminders,
            mention_role_id=mention.id if mention else None,
            created_by=interaction.user.id,
            default_leads=self.bot.config.alerts.reminders,
            max_per_guild=self.bot.config.alerts.max_subscriptions_per_guild,
            now=utcnow(),
            style=style.value if style else None,
            scheduled_events=scheduled_events,
            feed=feed.value if feed else None,
            exclude=exclude,
        )
        await interaction.response.send_message(
            "✅ Subscribed.\n" + subscription_store.describe_subscription(self.bot.engine, sub),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @alerts.command(
        name="edit", description="Change a subscription's options, or resume a paused one"
    )
    @app_commands.describe(
        subscription="The subscription (see /alerts list)",
        channel="Move its alerts to this channel",
        **OPTION_DOCS,
    )
    @app_commands.autocomplete(
        subscription=autocomplete.subscriptions,
        **FILTER_AUTOCOMPLETE,
    )
    @app_commands.choices(style=STYLE_CHOICES, feed=FEED_CHOICES)
    async def edit(
        self,
        interaction: discord.Interaction,
        subscription: str,
        channel: discord.TextChannel | discord.Thread | None = None,
        feed: app_commands.Choice[str] | None = None,
        type: str | None = None,
        agency: str | None = None,
        provider: str | None = None,
        location: str | None = None,
        program: str | None = None,
        exclude: str | None = None,
        kinds: str | None = None,
        reminders: str | None = None,
        mention: discord.Role | None = None,
        style: app_commands.Choice[str] | None = None,
        scheduled_events: bool | None = None,
    ) -> None:
        """Change the options given; a paused subscription resumes once the bot can post."""
        guild = interaction.guild
        assert guild is not None and interaction.guild_id is not None
        sub = subscription_store.guild_subscription(
            self.bot.engine, interaction.guild_id, subscription
        )
        assert sub.id is not None
        if channel is None and guild.get_channel_or_thread(sub.channel_id or 0) is None:
            raise UsageError(
                f"subscription #{sub.id}'s channel is gone — give a new one with channel:"
            )
        target = self._postable(interaction, channel.id if channel else sub.channel_id)
        role = mention or (guild.get_role(sub.mention_role_id) if sub.mention_role_id else None)
        # The same check /alerts add makes before saving: a resumed subscription must be
        # able to post, or it would only pause again on its next alert.
        self._check_can_post(
            interaction,
            target,
            role,
            still=f" — #{sub.id} stays paused" if sub.paused_reason else "",
        )
        if scheduled_events:
            self._check_can_manage_events(interaction)
        filters = service.resolve_filters(
            self.bot.engine,
            type=type,
            agency=agency,
            program=program,
            provider=provider,
            location=location,
        )
        edited = subscription_store.edit_subscription(
            self.bot.engine,
            guild_id=interaction.guild_id,
            subscription_id=sub.id,
            channel_id=target.id if channel else None,
            filters=filters,
            kinds=kinds,
            reminders=reminders,
            mention_role_id=mention.id if mention else None,
            default_leads=self.bot.config.alerts.reminders,
            style=style.value if style else None,
            scheduled_events=scheduled_events,
            feed=feed.value if feed else None,
            exclude=exclude,
        )
        headline = "▶️ Resumed." if edited.resumed else "✏️ Updated."
        await interaction.response.send_message(
            f"{headline}\n"
            + subscription_store.describe_subscription(self.bot.engine, edited.subscription),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @alerts.command(name="remove", description="Stop a subscription")
    @app_commands.describe(subscription="The subscription (see /alerts list)")
    @app_commands.autocomplete(subscription=autocomplete.subscriptions)
    async def remove(self, interaction: discord.Interaction, subscription: str) -> None:
        """Remove one of this server's subscriptions."""
        assert interaction.guild_id is not None
        sub = subscription_store.remove_subscription(
            self.bot.engine, interaction.guild_id, subscription
        )
        await interaction.response.send_message(
            f"🗑️ Removed subscription #{sub.id} (<#{sub.channel_id}>).",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @alerts.command(name="list", description="This server's subscriptions")
    async def list_(self, interaction: discord.Interaction) -> None:
        """List this server's subscriptions."""
        assert interaction.guild_id is not None
        subs = subscription_store.guild_subscriptions(self.bot.engine, interaction.guild_id)
        if not subs:
            text = "No subscriptions yet — add one with /alerts add."
        else:
            # Paused ones first: their reasons are what a moderator must not miss, and a
            # long list is cut at the end (Discord's 2000 characters), never mid-line.
            subs = sorted(subs, key=lambda s: s.paused_reason is None)
            blocks = [subscription_store.describe_subscription(self.bot.engine, s) for s in subs]
            text = _fit_blocks(blocks, limit=2000)
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @alerts.command(name="test", description="Post a sample alert for a subscription")
    @app_commands.describe(subscription="The subscription (see /alerts list)")
    @app_commands.autocomplete(subscription=autocomplete.subscriptions)
    async def test(self, interaction: discord.Interaction, subscription: str) -> None:
        """Post a sample alert to the subscription's channel."""
        assert interaction.guild_id is not None
        sub = subscription_store.guild_subscription(
            self.bot.engine, interaction.guild_id, subscription
        )
        alert = subscription_store.sample_alert(self.bot.engine, sub, now=utcnow())
        payload = render_alert(alert, mention_role_ids=[sub.mention_role_id])
        payload["content"] = ("🧪 Test alert — " + payload["content"])[:2000]
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = self.bot.get_partial_messageable(sub.channel_id or 0, guild_id=sub.guild_id)
        try:
            await channel.send(**message_kwargs(payload))
        except discord.HTTPException as exc:
            problem = classify(exc, sub.channel_id)
            await interaction.followup.send(f"❌ Could not post: {problem}", ephemeral=True)
            return
        await interaction.followup.send(
            f"✅ Sent a test alert to <#{sub.channel_id}>.",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @alerts.command(
        name="why", description="Would each subscription here alert on an item, and what came of it"
    )
    @app_commands.describe(item="An event or a launch (pick one from the list)")
    @app_commands.autocomplete(item=_items)
    async def why(self, interaction: discord.Interaction, item: str) -> None:
        """Explain, per subscription of this server, the match and the deliveries for an item."""
        assert interaction.guild_id is not None
        found = find_item(self.bot.engine, item, now=utcnow())
        head, blocks = explain_blocks(explain_item(self.bot.engine, interaction.guild_id, found))
        body = _fit_blocks(blocks, limit=2000 - len(head) - 2)
        await interaction.response.send_message(
            f"{head}\n\n{body}",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def setup(bot: TMinusBot) -> None:
    """Load the cog."""
    await bot.add_cog(Subscriptions(bot))
