"""The service cogs call: the per-guild subscription cap and /alerts edit, on a real store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.app import service, subscriptions
from bot.config import load_config
from bot.core.options import UsageError
from storage import subscriptions as sub_queries
from storage.db import session_scope
from storage.models import Subscription
from tests.conftest import T0

GUILD = 1001
OTHER_GUILD = 2002
LEADS = (timedelta(hours=24), timedelta(hours=1))


def add(
    engine: Engine, channel_id: int, *, cap: int = 50, guild_id: int = GUILD, **kw: object
) -> Subscription:
    """Add one subscription with sensible defaults; return it."""
    options: dict[str, object] = {
        "filters": service.Filters(),
        "kinds": None,
        "reminders": None,
        "mention_role_id": None,
        **kw,
    }
    return subscriptions.add_subscription(
        engine,
        guild_id=guild_id,
        channel_id=channel_id,
        created_by=7,
        default_leads=LEADS,
        max_per_guild=cap,
        now=T0,
        **options,  # type: ignore[arg-type]
    )


def stored(engine: Engine, guild_id: int = GUILD) -> list[Subscription]:
    """Return a guild's subscriptions as the store holds them."""
    with session_scope(engine) as session:
        return sub_queries.guild_subscriptions(session=session, guild_id=guild_id)


# --- the cap ------------------------------------------------------------------------------


def test_a_raised_cap_from_the_config_file_accepts_120_subscriptions(
    engine: Engine, tmp_path: Path
) -> None:
    """max_subscriptions_per_guild = 200 in config.toml lets one server hold 120."""
    path = tmp_path / "config.toml"
    path.write_text("[alerts]\nmax_subscriptions_per_guild = 200\n", encoding="utf-8")
    cap = load_config(path, env={}).alerts.max_subscriptions_per_guild
    for channel_id in range(120):
        add(engine, 10_000 + channel_id, cap=cap)
    assert len(stored(engine)) == 120


def test_the_default_cap_refuses_the_51st_naming_the_key(engine: Engine) -> None:
    """With the default config the 51st subscription is refused and the message names the key."""
    cap = load_config(None, env={}).alerts.max_subscriptions_per_guild
    for channel_id in range(50):
        add(engine, 10_000 + channel_id, cap=cap)
    with pytest.raises(UsageError) as refused:
        add(engine, 99_999, cap=cap)
    assert str(refused.value).startswith(
        "this server has 50 subscriptions, the most allowed (alerts.max_subscriptions_per_guild)"
    )
    assert len(stored(engine)) == 50
    add(engine, 99_999, cap=cap, guild_id=OTHER_GUILD)  # the cap is per server


# --- /alerts edit -------------------------------------------------------------------------


def test_edit_changes_only_the_options_given(engine: Engine) -> None:
    """New kinds replace the old; filters, leads, channel and mention stay as they were."""
    sub = add(
        engine,
        500,
        filters=service.Filters(type_ids=(2,), agency_ids=(63,)),
        kinds="update",
        reminders="1h",
        mention_role_id=42,
    )
    assert sub.id is not None
    edited = subscriptions.edit_subscription(
        engine, guild_id=GUILD, subscription_id=sub.id, kinds="webcast_live,reminder"
    )
    assert not edited.resumed
    (now,) = stored(engine)
    assert now.id == sub.id
    assert now.kinds == ["webcast_live", "reminder"]
    assert (now.type_ids, now.agency_ids, now.program_ids) == ([2], [63], [])
    assert now.reminder_leads == [3600]
    assert (now.channel_id, now.mention_role_id) == (500, 42)


def test_edit_replaces_a_filter_reminders_channel_and_mention(engine: Engine) -> None:
    """Each given option is stored in place of the old value."""
    sub = add(engine, 500, filters=service.Filters(type_ids=(2,)))
    assert sub.id is not None
    subscriptions.edit_subscription(
        engine,
        guild_id=GUILD,
        subscription_id=sub.id,
        channel_id=600,
        filters=service.Filters(type_ids=(7,)),
        reminders="none",
        mention_role_id=43,
    )
    (now,) = stored(engine)
    assert (now.channel_id, now.type_ids, now.reminder_leads, now.mention_role_id) == (
        600,
        [7],
        [],
        43,
    )


def test_edit_resumes_a_paused_subscription(engine: Engine) -> None:
    """A paused subscription, edited (even with no option), is active again."""
    sub = add(engine, 500)
    assert sub.id is not None
    with session_scope(engine) as session:
        sub_queries.pause_subscriptions(
            session=session, reason="403 Missing Permissions", subscription_ids=[sub.id]
        )
    assert stored(engine)[0].paused_reason is not None
    edited = subscriptions.edit_subscription(engine, guild_id=GUILD, subscription_id=sub.id)
    assert edited.resumed
    assert stored(engine)[0].paused_reason is None
    with session_scope(engine) as session:
        assert [s.id for s in sub_queries.active_subscriptions(session=session)] == [sub.id]


def test_edit_with_nothing_to_change_says_so(engine: Engine) -> None:
    """An active subscription edited with its own values is refused with a clear line."""
    sub = add(engine, 500, kinds="update")
    assert sub.id is not None
    with pytest.raises(UsageError, match="already has those options"):
        subscriptions.edit_subscription(
            engine, guild_id=GUILD, subscription_id=sub.id, kinds="update"
        )


def test_a_guild_cannot_edit_another_guilds_subscription(engine: Engine) -> None:
    """Guild B naming guild A's subscription gets "no subscription", and nothing changes."""
    sub = add(engine, 500, kinds="update")
    assert sub.id is not None
    with pytest.raises(UsageError, match=f"no subscription #{sub.id} in this server"):
        subscriptions.edit_subscription(
            engine, guild_id=OTHER_GUILD, subscription_id=sub.id, kinds="reminder"
        )
    assert stored(engine)[0].kinds == ["update"]


def test_edit_into_a_copy_of_another_subscription_is_refused(engine: Engine) -> None:
    """Two alike subscriptions in one channel would only merge: the edit is refused."""
    first = add(engine, 500, kinds="update")
    second = add(engine, 500, kinds="reminder")
    assert second.id is not None
    with pytest.raises(UsageError, match=f"already has this subscription \\(#{first.id}\\)"):
        subscriptions.edit_subscription(
            engine, guild_id=GUILD, subscription_id=second.id, kinds="update"
        )
    assert [s.kinds for s in stored(engine)] == [["update"], ["reminder"]]


def test_edit_checks_kinds_and_leads_like_add(engine: Engine) -> None:
    """A bad kind or lead in an edit is the same clear error as in add; nothing changes."""
    sub = add(engine, 500, kinds="update")
    assert sub.id is not None
    with pytest.raises(UsageError, match="no such alert kind 'webcast'"):
        subscriptions.edit_subscription(
            engine, guild_id=GUILD, subscription_id=sub.id, kinds="webcast"
        )
    with pytest.raises(UsageError, match="'1 hour' is not a reminder lead"):
        subscriptions.edit_subscription(
            engine, guild_id=GUILD, subscription_id=sub.id, reminders="1 hour"
        )
    assert stored(engine)[0].kinds == ["update"]
