"""`/alerts edit` end to end: the real bot, the Discord emulator and the LL2 emulator."""

from __future__ import annotations

import asyncio

import pytest

from bot.devtools.discord_emulator import permissions as perms
from storage import subscriptions
from storage.db import session_scope
from storage.models import Subscription
from tests.e2e.test_bot import DOCKING, Stack
from tests.faults.bot import delivery_states, eventually

pytestmark = pytest.mark.slow


def only_subscription(stack: Stack) -> Subscription:
    """Return the guild's one subscription as stored."""
    with session_scope(stack.engine) as session:
        (sub,) = subscriptions.guild_subscriptions(session=session, guild_id=stack.guild.id)
    return sub


async def test_edit_changes_kinds_in_place_and_alerts_follow(stack: Stack) -> None:
    """`kinds:update` edited to `webcast_live`: same subscription; an update no longer posts."""
    await stack.command("alerts", "add", type="Docking", kinds="update")
    before = only_subscription(stack)
    reply = await stack.command("alerts", "edit", subscription=str(before.id), kinds="webcast_live")
    assert reply.ephemeral and "Updated" in (reply.content or "")
    assert "kinds: webcast_live" in (reply.content or "")
    after = only_subscription(stack)
    assert (after.id, after.type_ids, after.kinds) == (before.id, before.type_ids, ["webcast_live"])
    assert after.reminder_leads == before.reminder_leads

    stack.ll2.add_update(DOCKING, "Hard capture confirmed")  # no longer a kind it wants
    stack.ll2.set_webcast_live(DOCKING, True)
    await eventually(lambda: len(stack.messages()) >= 1)
    # The update came no later than the live flip: once nothing is pending, it would be here.
    await eventually(lambda: delivery_states(stack.config.storage.url)["pending"] == 0)
    (live,) = stack.messages()
    assert "LIVE" in str(live["embeds"]).upper()
    assert "Hard capture confirmed" not in str(live)


async def test_edit_resumes_a_paused_subscription_once_the_permission_is_granted(
    stack: Stack,
) -> None:
    """Paused by a 403: edit names the missing permission and keeps it paused; granted, it
    resumes and the next alert is posted."""
    await stack.command("alerts", "add", type="Docking")
    sub = only_subscription(stack)
    stack.discord.deny_bot(stack.channel_id, perms.SEND_MESSAGES)
    stack.ll2.set_webcast_live(DOCKING, True)
    await eventually(lambda: only_subscription(stack).paused_reason is not None)

    refused = await stack.command("alerts", "edit", subscription=str(sub.id))
    assert refused.ephemeral
    assert "missing" in (refused.content or "") and "Send Messages" in (refused.content or "")
    assert f"#{sub.id} stays paused" in (refused.content or "")
    assert only_subscription(stack).paused_reason is not None

    stack.discord.set_overwrite(stack.channel_id, stack.discord.bot_user.id, deny=0)
    reply = None
    for _ in range(50):  # CHANNEL_UPDATE reaches the bot's cache shortly
        reply = await stack.command("alerts", "edit", subscription=str(sub.id))
        if "Resumed" in (reply.content or ""):
            break
        await asyncio.sleep(0.1)
    assert reply is not None and reply.ephemeral and "Resumed" in (reply.content or "")
    resumed = only_subscription(stack)
    assert (resumed.id, resumed.paused_reason) == (sub.id, None)

    stack.ll2.add_update(DOCKING, "Hatch open")
    await eventually(lambda: len(stack.messages()) == 1)
    assert "Hatch open" in str(stack.messages()[0]["embeds"])


async def test_another_guild_cannot_edit_this_guilds_subscription(stack: Stack) -> None:
    """Guild B editing guild A's subscription by number gets "no subscription"; nothing moves."""
    await stack.command("alerts", "add", type="Docking", kinds="update")
    sub = only_subscription(stack)
    other = stack.discord.add_guild("Rival Club")
    other_mod = stack.discord.add_moderator(other.id)
    other_channel = other.channel_named("general").id
    for _ in range(50):  # GUILD_CREATE reaches the bot's cache shortly
        result = await stack.discord.invoke_command(
            other.id,
            other_channel,
            other_mod.user.id,
            "alerts",
            {"subscription": str(sub.id), "kinds": "reminder"},
            subcommand="edit",
        )
        reply = await result.response(timeout=5)
        if "no subscription" in (reply.content or ""):
            break
        await asyncio.sleep(0.1)
    assert reply.ephemeral and f"no subscription #{sub.id}" in (reply.content or "")
    assert only_subscription(stack).kinds == ["update"]
