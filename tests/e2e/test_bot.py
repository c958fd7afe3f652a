"""End to end: the real `tminus run` code path against loopback LL2 and Discord emulators."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.config import Config
from bot.core.timeutil import utcnow
from bot.devtools.discord_emulator import DiscordEmulator, Guild, Member
from bot.devtools.discord_emulator import permissions as perms
from bot.devtools.factories import make_event
from bot.devtools.ll2_emulator import LL2Emulator
from storage import outbox, queries, subscriptions
from storage.db import session_scope
from storage.models import DeliveryState
from tests.faults.bot import eventually

pytestmark = pytest.mark.slow

DOCKING = 7001
EVA = 7002
# DESIGN.md: /alerts add [channel] [feed] [type] [agency] [provider] [location] [program]
# [exclude] [kinds] [reminders] [mention] [style] [scheduled_events]; edit takes the same.
ALERT_OPTIONS = {
    "channel",
    "feed",
    "type",
    "agency",
    "provider",
    "location",
    "program",
    "exclude",
    "kinds",
    "reminders",
    "mention",
    "style",
    "scheduled_events",
}
DESIGN_COMMANDS = {
    "events": {
        "next": {"type", "agency", "program"},
        "upcoming": {"type", "agency", "program", "count"},
        "search": {"query"},
        "show": {"event"},
        "live": set(),
    },
    "launches": {
        "next": {"provider", "location", "program"},
        "upcoming": {"provider", "location", "program", "count"},
        "search": {"query"},
        "show": {"launch"},
        "live": set(),
    },
    "alerts": {
        "add": ALERT_OPTIONS,
        "edit": {"subscription", *ALERT_OPTIONS},
        "remove": {"subscription"},
        "list": set(),
        "test": {"subscription"},
        "why": {"item"},
    },
    "status": None,
}


def e2e_events() -> list[dict[str, Any]]:
    """Return a docking and a spacewalk a few hours out, relative to the real clock."""
    now = utcnow().replace(microsecond=0)
    old = now - timedelta(days=3)
    return [
        make_event(DOCKING, "Soyuz MS-29 Docking", date=now + timedelta(hours=5), last_updated=old),
        make_event(
            EVA, "US Spacewalk 94", type_name="EVA", date=now + timedelta(hours=6), last_updated=old
        ),
    ]


@dataclass
class Stack:
    """Both emulators, the bot running in the background, and the store it writes."""

    ll2: LL2Emulator
    discord: DiscordEmulator
    engine: Engine
    config: Config
    guild: Guild
    channel_id: int
    moderator: Member
    member: Member

    async def command(
        self, name: str, sub: str | None = None, user: Member | None = None, **options: Any
    ) -> Any:
        """Invoke a slash command as the moderator (or ``user``) in the main channel."""
        result = await self.discord.invoke_command(
            self.guild.id,
            self.channel_id,
            (user or self.moderator).user.id,
            name,
            {k: v for k, v in options.items() if v is not None},
            subcommand=sub,
        )
        return await result.response(timeout=5)

    def messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Return the bot's alert messages in a channel (interaction replies excluded)."""
        return [
            m
            for m in self.discord.messages(channel_id or self.channel_id)
            if m.get("interaction_metadata") is None
            and m.get("interaction") is None
            and m.get("webhook_id") is None
        ]


def delivery_count(engine: Engine, state: DeliveryState) -> int:
    """Return how many deliveries are in ``state``."""
    with session_scope(engine) as session:
        return outbox.count_deliveries(session=session, state=state)


def _nothing_pending(engine: Engine) -> bool:
    with session_scope(engine) as session:
        return outbox.count_deliveries(session=session, state=DeliveryState.PENDING) == 0


async def poll_stored_and_delivered(stack: Stack) -> None:
    """Wait until a poll LL2 answered after this call has been committed to the store and
    the outbox is empty: any message that poll could cause has been posted by then."""
    mark = utcnow()

    def poll_answered() -> datetime | None:
        polls = [
            r.time
            for r in stack.ll2.requests
            if "last_updated__gte" in r.query and r.status == 200 and r.time > mark
        ]
        return min(polls, default=None)

    await eventually(lambda: poll_answered() is not None)
    answered = poll_answered()
    assert answered is not None

    def committed() -> bool:
        with session_scope(stack.engine) as session:
            done = queries.sync_state(session=session).last_success_at
        if done is None:
            return False
        return done.replace(tzinfo=done.tzinfo or UTC) >= answered

    await eventually(committed)
    await eventually(lambda: _nothing_pending(stack.engine))


async def test_commands_sync_with_the_design_names_options_and_descriptions(stack: Stack) -> None:
    """Start → READY → the slash commands of DESIGN.md, each with a description."""
    synced = {c["name"]: c for c in stack.discord.synced_commands()}
    assert set(synced) == set(DESIGN_COMMANDS)
    for name, subs in DESIGN_COMMANDS.items():
        command = synced[name]
        assert command["description"]
        if subs is None:
            continue
        found = {o["name"]: o for o in command.get("options", [])}
        assert set(found) == set(subs)
        for sub, options in subs.items():
            assert found[sub]["description"]
            names = {o["name"] for o in found[sub].get("options", [])}
            assert names == options, (name, sub)
            for option in found[sub].get("options", []):
                assert option["description"]
    assert synced["alerts"]["default_member_permissions"] == str(perms.MANAGE_CHANNELS)


async def test_docking_subscription_gets_live_and_update_messages_once(stack: Stack) -> None:
    """`/alerts add type:Docking`, then a live flip and an update → one message each."""
    reply = await stack.command("alerts", "add", type="Docking")
    assert reply.ephemeral and "Subscribed" in (reply.content or "")
    stack.ll2.set_webcast_live(DOCKING, True)
    await eventually(lambda: len(stack.messages()) == 1)
    live = stack.messages()[0]
    assert "LIVE" in str(live["embeds"]).upper()
    buttons = [c for row in live["components"] for c in row["components"]]
    assert buttons and all(b["style"] == 5 and b["url"].startswith("https://") for b in buttons)
    stack.ll2.add_update(DOCKING, "Hard capture confirmed")
    await eventually(lambda: len(stack.messages()) == 2)
    assert "Hard capture confirmed" in str(stack.messages()[1]["embeds"])
    stack.ll2.add_update(EVA, "Spacewalk prep under way")  # not a docking
    await poll_stored_and_delivered(stack)
    with session_scope(stack.engine) as session:
        comments = [u.comment for u in queries.event_updates(session=session, event_id=EVA)]
    assert "Spacewalk prep under way" in comments, "the poll that saw the EVA update is stored"
    assert len(stack.messages()) == 2


async def test_member_without_manage_channels_is_refused_and_nothing_stored(stack: Stack) -> None:
    """A member lacking Manage Channels gets an ephemeral refusal; nothing is stored."""
    result = await stack.discord.invoke_command(
        stack.guild.id,
        stack.channel_id,
        stack.member.user.id,
        "alerts",
        {"type": "Docking"},
        subcommand="add",
        check_default_permissions=False,  # as if an admin overrode the default
    )
    reply = await result.response()
    assert reply.ephemeral and "Manage Channels" in (reply.content or "")
    with session_scope(stack.engine) as session:
        assert subscriptions.guild_subscriptions(session=session, guild_id=stack.guild.id) == []


async def test_a_guild_cannot_see_or_touch_another_guilds_subscription(stack: Stack) -> None:
    """Guild B cannot list, remove or test guild A's subscription."""
    await stack.command("alerts", "add", type="Docking")
    with session_scope(stack.engine) as session:
        (sub,) = subscriptions.guild_subscriptions(session=session, guild_id=stack.guild.id)
    other = stack.discord.add_guild("Rival Club")
    other_mod = stack.discord.add_moderator(other.id)
    other_channel = other.channel_named("general").id
    await stack.discord.gateway.flush()  # the new guild's GUILD_CREATE is on the bot's socket

    async def as_other(sub_name: str, **options: Any) -> Any:
        result = await stack.discord.invoke_command(
            other.id, other_channel, other_mod.user.id, "alerts", options, subcommand=sub_name
        )
        return await result.response()

    listed = await as_other("list")
    assert f"#{sub.id}" not in (listed.content or "")
    for action in ("remove", "test"):
        reply = await as_other(action, subscription=str(sub.id))
        assert reply.ephemeral and f"no subscription #{sub.id}" in (reply.content or "")
    with session_scope(stack.engine) as session:
        assert len(subscriptions.guild_subscriptions(session=session, guild_id=stack.guild.id)) == 1


async def test_ll2_mentions_cannot_ping_anyone(stack: Stack) -> None:
    """`@everyone` and a role mention in LL2 text produce a message that cannot ping them."""
    role = stack.discord.add_role(stack.guild.id, "launch-pings", mentionable=True)
    await stack.command("alerts", "add", type="Docking", mention=role)
    stack.ll2.add_update(DOCKING, f"@everyone hatch open <@&{stack.guild.id}> <@&{role.id}>")
    await eventually(lambda: len(stack.messages()) == 1)
    sent = stack.discord.requests_to("POST", "/channels/{channel_id}/messages")[-1].json
    assert sent["allowed_mentions"]["parse"] == []
    # discord.py sends role ids as integers; Discord accepts either.
    assert [str(r) for r in sent["allowed_mentions"].get("roles", [])] == [str(role.id)]
    assert sent["content"].startswith(f"<@&{role.id}>")


async def test_forbidden_channel_pauses_the_subscription_with_a_reason(stack: Stack) -> None:
    """A 403 on the channel pauses the subscription and `/alerts list` says why."""
    await stack.command("alerts", "add", type="Docking")
    stack.discord.set_channel_fault(stack.channel_id, 403, 50013)
    stack.ll2.set_webcast_live(DOCKING, True)

    def paused() -> bool:
        with session_scope(stack.engine) as session:
            return bool(
                subscriptions.paused_subscriptions(session=session, guild_id=stack.guild.id)
            )

    await eventually(paused)
    listed = await stack.command("alerts", "list")
    assert "paused" in (listed.content or "") and "Missing Permissions" in (listed.content or "")


async def test_rate_limits_are_waited_out_and_the_message_arrives_once(stack: Stack) -> None:
    """429s on the channel route are retried by discord.py; exactly one message lands."""
    await stack.command("alerts", "add", type="Docking")
    stack.discord.rate_limit_next("POST /channels/{channel_id}/messages", times=3, retry_after=0.2)
    stack.ll2.set_webcast_live(DOCKING, True)
    await eventually(lambda: len(stack.messages()) == 1)
    # once the delivery is marked sent nothing retries it: a second message would be here now
    await eventually(lambda: _nothing_pending(stack.engine))
    assert delivery_count(stack.engine, DeliveryState.SENT) == 1
    assert len(stack.messages()) == 1


async def test_lookups_answer_from_the_store_without_asking_ll2(stack: Stack) -> None:
    """`/events show`, `next type:Docking`, `search query:Soyuz` and autocomplete use no LL2."""
    before = len([r for r in stack.ll2.requests if "api-throttle" not in r.path])
    # The bot keeps polling on its own; lookups must not add requests of their own, so
    # compare against what the poll schedule alone explains: no /event/{id}/ or search.
    show = await stack.command("events", "show", event=str(DOCKING))
    assert "Soyuz MS-29 Docking" in str(show.embeds)
    nxt = await stack.command("events", "next", type="Docking")
    assert "Soyuz MS-29 Docking" in str(nxt.embeds)
    found = await stack.command("events", "search", query="Soyuz")
    assert "Soyuz MS-29 Docking" in str(found.embeds)
    result = await stack.discord.autocomplete(
        stack.guild.id,
        stack.channel_id,
        stack.member.user.id,
        "events",
        {"event": "soy"},
        focused="event",
        subcommand="show",
    )
    choices = (await result.response()).choices or []
    assert any(c["value"] == str(DOCKING) for c in choices)
    lookups = [
        r
        for r in stack.ll2.requests[before:]
        if "search" in r.query or r.path.rstrip("/").split("/")[-1].isdigit()
    ]
    assert lookups == []


async def test_unknown_type_gets_a_did_you_mean(stack: Stack) -> None:
    """`/events next type:Dockng` answers ephemerally with the closest type name."""
    reply = await stack.command("events", "next", type="Dockng")
    assert reply.ephemeral
    assert "no such event type 'Dockng'" in (reply.content or "")
    assert "Docking" in (reply.content or "")


async def test_every_request_the_bot_sent_validated_against_discords_openapi(
    stack: Stack,
) -> None:
    """Commands, lookups and an alert later, the emulator recorded no invalid request."""
    await stack.command("alerts", "add", type="Docking")
    await stack.command("events", "upcoming")
    await stack.command("status")
    stack.ll2.set_webcast_live(DOCKING, True)
    await eventually(lambda: len(stack.messages()) == 1)
    assert stack.discord.validation_errors == []


async def test_add_says_which_permission_the_bot_lacks(stack: Stack) -> None:
    """`/alerts add` in a channel where the bot cannot send names the missing permission."""
    stack.discord.deny_bot(stack.channel_id, perms.SEND_MESSAGES)
    await asyncio.sleep(0.2)  # CHANNEL_UPDATE reaches the bot's cache
    reply = await stack.command("alerts", "add", type="Docking")
    assert reply.ephemeral and "Send Messages" in (reply.content or "")
    with session_scope(stack.engine) as session:
        assert subscriptions.guild_subscriptions(session=session, guild_id=stack.guild.id) == []


async def test_bad_options_get_clear_answers(stack: Stack) -> None:
    """Unknown kinds, bad reminder leads and a bad subscription id each get one clear line."""
    kinds = await stack.command("alerts", "add", kinds="webcast,update")
    assert "no such alert kind 'webcast'" in (kinds.content or "")
    leads = await stack.command("alerts", "add", reminders="1 hour")
    assert "'1 hour' is not a reminder lead" in (leads.content or "")
    remove = await stack.command("alerts", "remove", subscription="@everyone")
    assert "is not a subscription number" in (remove.content or "")
    assert all(r.ephemeral for r in (kinds, leads, remove))


async def test_hostile_options_get_helpful_answers_not_something_went_wrong(stack: Stack) -> None:
    """`²` (a digit to str.isdigit, not to int), `all` mixed with kinds, a 30 s lead."""
    answers = {
        "type": await stack.command("alerts", "add", type="²"),
        "subscription": await stack.command("alerts", "remove", subscription="²"),
        "event": await stack.command("events", "show", event="²"),
        "all": await stack.command("alerts", "add", kinds="all,update"),
        "lead": await stack.command("alerts", "add", reminders="30s"),
    }
    texts = {name: answer.content or "" for name, answer in answers.items()}
    assert "no such event type '²'" in texts["type"]
    assert "is not a subscription number" in texts["subscription"]
    assert "²" in texts["event"]
    assert "'all' cannot be combined" in texts["all"]
    assert "must be between 1m and 14d" in texts["lead"]
    assert not any("went wrong" in text.lower() for text in texts.values()), texts
    assert all(answer.ephemeral for name, answer in answers.items() if name != "event")
    with session_scope(stack.engine) as session:
        assert subscriptions.guild_subscriptions(session=session, guild_id=stack.guild.id) == []


async def test_server_errors_are_retried_until_the_alert_lands(stack: Stack) -> None:
    """Two 503s on the channel route, then success: one message, delivery marked sent."""
    await stack.command("alerts", "add", type="Docking")
    stack.discord.fail_next("POST /channels/{channel_id}/messages", 503, times=2)
    stack.ll2.set_webcast_live(DOCKING, True)
    await eventually(lambda: len(stack.messages()) == 1, within=30)

    def sent() -> int:
        with session_scope(stack.engine) as session:
            return outbox.count_deliveries(session=session, state=DeliveryState.SENT)

    await eventually(lambda: sent() == 1)  # recorded just after Discord accepted it
    assert len(stack.messages()) == 1


async def test_leaving_a_guild_removes_its_subscriptions(stack: Stack) -> None:
    """GUILD_DELETE (the bot was removed) deletes that guild's subscriptions."""
    await stack.command("alerts", "add", type="Docking")
    stack.discord.remove_guild(stack.guild.id)

    def gone() -> bool:
        with session_scope(stack.engine) as session:
            return not subscriptions.guild_subscriptions(session=session, guild_id=stack.guild.id)

    await eventually(gone)


async def test_deleted_channel_pauses_its_subscriptions(stack: Stack) -> None:
    """CHANNEL_DELETE pauses the subscriptions of that channel, with the reason."""
    await stack.command("alerts", "add", type="Docking")
    stack.discord.delete_channel(stack.channel_id)

    def paused() -> list[str]:
        with session_scope(stack.engine) as session:
            return [
                s.paused_reason or ""
                for s in subscriptions.paused_subscriptions(
                    session=session, guild_id=stack.guild.id
                )
            ]

    await eventually(lambda: bool(paused()))
    assert "deleted" in paused()[0]


async def test_status_reports_sync_budget_and_queue(stack: Stack) -> None:
    """`/status` shows the last sync, LL2 requests left and pending alerts, ephemerally."""

    async def status_fields() -> dict[str, str]:
        reply = await stack.command("status")
        assert reply.ephemeral
        return {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}

    fields = await status_fields()
    assert fields["Last sync"].startswith("<t:")
    # The next poll is planned when the first poll (both feeds' seeds) has finished.
    for _ in range(50):
        if fields["Next LL2 poll"] != "not planned yet":
            break
        await asyncio.sleep(0.2)
        fields = await status_fields()
    assert fields["Next LL2 poll"].startswith("<t:"), fields["Next LL2 poll"]
    assert "overdue" not in fields["Next LL2 poll"]
    assert " of 3600" in fields["LL2 requests left this hour"]
    assert fields["Alerts pending"] == "0"
    assert fields["Paused subscriptions"] == "none"


async def test_alerts_test_posts_a_sample_to_the_channel(stack: Stack) -> None:
    """`/alerts test` posts one sample alert in the subscription's channel."""
    await stack.command("alerts", "add", type="Docking")
    with session_scope(stack.engine) as session:
        (sub,) = subscriptions.guild_subscriptions(session=session, guild_id=stack.guild.id)
    reply = await stack.command("alerts", "test", subscription=str(sub.id))
    assert reply.ephemeral and "Sent a test alert" in (reply.content or "")
    assert len(stack.messages()) == 1
    assert "Test alert" in stack.messages()[0]["content"]


async def test_type_and_subscription_options_autocomplete(stack: Stack) -> None:
    """`type` offers matching event types; `subscription` offers only this guild's."""
    await stack.command("alerts", "add", type="Docking")
    types = await stack.discord.autocomplete(
        stack.guild.id,
        stack.channel_id,
        stack.moderator.user.id,
        "alerts",
        {"type": "dock"},
        focused="type",
        subcommand="add",
    )
    assert [c["name"] for c in (await types.response()).choices or []] == ["Docking", "Undocking"]
    subs = await stack.discord.autocomplete(
        stack.guild.id,
        stack.channel_id,
        stack.moderator.user.id,
        "alerts",
        {"subscription": ""},
        focused="subscription",
        subcommand="remove",
    )
    choices = (await subs.response()).choices or []
    assert len(choices) == 1 and "type: Docking" in choices[0]["name"]


async def test_error_answers_quote_user_text_as_typed_not_as_markdown(stack: Stack) -> None:
    """A typo full of markdown is echoed escaped and shortened, with the right suggestion."""
    reply = await stack.command("events", "next", type="**DOCKNG**" + "x" * 100)
    assert reply.ephemeral
    assert "\\*\\*DOCKNG\\*\\*" in (reply.content or "")
    assert "…'" in (reply.content or "")
    caps = await stack.command("events", "next", type="DOCKNG")
    assert "did you mean Docking?" in (caps.content or "")
