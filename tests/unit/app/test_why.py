"""``/alerts why``: each subscription's match or miss, and what the outbox did for the item."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app.why import explain_item, explain_text
from bot.core.timeutil import utcnow
from bot.devtools.factories import make_event
from bot.pipeline.records import event_from_snapshot
from storage import outbox, subscriptions
from storage.db import make_engine, session_scope, upgrade
from storage.models import DeliveryState, Subscription

GUILD, OTHER_GUILD = 100, 200
ALERTS, LAUNCH_ONLY, STARLINK, DOCKINGS, QUIET = 11, 12, 13, 14, 15


def test_why_explains_match_merge_filter_miss_exclude_pause_and_a_dropped_reminder(
    tmp_path: Path,
) -> None:
    """One docking, six subscriptions of a server, one of another server."""
    now = utcnow().replace(microsecond=0)
    item = event_from_snapshot(
        make_event(7, "Crew-9 Docking", date=now + timedelta(hours=2), last_updated=now)
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'why.db'}")
    upgrade(engine)

    def sub(channel: int, guild: int = GUILD, **kwargs: Any) -> int:
        with session_scope(engine) as session:
            row = subscriptions.add_subscription(
                session=session,
                subscription=Subscription(
                    guild_id=guild, channel_id=channel, created_at=now, **kwargs
                ),
            )
            assert row.id is not None
            return row.id

    first = sub(ALERTS)
    second = sub(ALERTS, kinds=["update"], mention_role_id=5)  # same channel: merged
    launches = sub(LAUNCH_ONLY, feed="launches")
    starlink = sub(STARLINK, exclude=["starlink", "docking"])
    dockings = sub(DOCKINGS, paused_reason="Missing Access: the bot cannot see <#14>")
    quiet = sub(QUIET, reminder_leads=[600])
    stranger = sub(999, guild=OTHER_GUILD)

    def row(
        key: str, channel: int, kind: str, subs: list[int], **extra: object
    ) -> dict[str, object]:
        return {
            "dedupe_key": key,
            "guild_id": GUILD,
            "channel_id": channel,
            "feed": "events",
            "item_id": "7",
            "kind": kind,
            "payload": {"message": {"content": "x"}},
            "created_at": now,
            "next_attempt_at": now,
            "subscription_ids": subs,
            **extra,
        }

    with session_scope(engine) as session:
        outbox.enqueue_deliveries(
            session=session,
            rows=[
                row("a", ALERTS, "update", [first, second]),
                row("b", DOCKINGS, "update", [dockings]),
                row(
                    "c",
                    QUIET,
                    "reminder",
                    [quiet],
                    state=DeliveryState.DROPPED.value,
                    last_error="missed by 0:07:00 (grace 0:05:00)",
                ),
                row("d", QUIET, "update", [quiet], attempts=2, last_error="Discord 503: down"),
            ],
        )
    with session_scope(engine) as session:
        [sent] = [d for d in outbox.due_deliveries(session=session, now=now) if d.dedupe_key == "a"]
        assert sent.id is not None
        outbox.mark_sent(session=session, delivery_id=sent.id, now=now, message_id=555)
        [failed] = [
            d for d in outbox.due_deliveries(session=session, now=now) if d.dedupe_key == "b"
        ]
        assert failed.id is not None
        outbox.mark_final(
            session=session,
            delivery_id=failed.id,
            state=DeliveryState.FAILED,
            error="403 50001: Missing Access",
        )

    verdicts = {v.subscription.id: v for v in explain_item(engine, GUILD, item).verdicts}
    text = explain_text(explain_item(engine, GUILD, item))
    engine.dispose()

    assert stranger not in verdicts and "999" not in text  # guild-isolated
    assert verdicts[first].matches and [o.state for o in verdicts[first].outcomes] == ["sent"]
    assert "https://discord.com/channels/100/11/555" in verdicts[first].outcomes[0].text
    assert [o.state for o in verdicts[second].outcomes] == ["merged"]
    assert f"subscription #{first}'s message" in verdicts[second].outcomes[0].text
    assert verdicts[second].kinds == ["update"]
    assert not verdicts[launches].matches
    assert verdicts[launches].reasons == ["feed: it follows launches only, and this is an event"]
    assert not verdicts[starlink].matches
    assert verdicts[starlink].reasons == ["exclude: 'docking' is in its name"]
    assert verdicts[dockings].matches and verdicts[dockings].paused is not None
    assert [o.state for o in verdicts[dockings].outcomes] == ["failed"]
    assert "Missing Access" in verdicts[dockings].outcomes[0].text
    assert [o.state for o in verdicts[quiet].outcomes] == ["skipped", "retrying"]
    assert "grace" in verdicts[quiet].outcomes[0].text
    assert "next attempt <t:" in verdicts[quiet].outcomes[1].text
    assert "paused: Missing Access" in text
    assert "does not match — exclude" in text
