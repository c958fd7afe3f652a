"""Living cards end to end: the real bot, the Discord emulator and the LL2 emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.core.timeutil import utcnow
from storage.db import session_scope
from storage.models import CardMessage
from tests.e2e.test_bot import DOCKING, Stack
from tests.faults.bot import delivery_states, eventually

pytestmark = pytest.mark.slow


def cards(stack: Stack) -> list[CardMessage]:
    """Return the stored cards."""
    with session_scope(stack.engine) as session:
        found = list(session.exec(select(CardMessage)).all())
        for card in found:
            session.expunge(card)
    return found


def last_edit(stack: Stack, message_id: int) -> str:
    """Return the content of a message's latest edit ("" before any)."""
    history = stack.discord.edit_history(message_id)
    return history[-1] if history else ""


def card_text(message: dict[str, Any]) -> str:
    """Return a card message's content and embed description together."""
    embeds = message.get("embeds") or [{}]
    return f"{message.get('content')} | {embeds[0].get('description')}"


async def test_a_docking_keeps_one_card_edited_through_every_state(stack: Stack) -> None:
    """Slip, slip, live, update, complete: one card edited in order; the reminder, live and
    T-0 "starting now" pings each reply to it."""
    role = stack.discord.add_role(stack.guild.id, "Docking pings", mentionable=True)
    reply = await stack.command(
        "alerts", "add", type="Docking", style="card", mention=role, reminders="1m"
    )
    assert "style: card" in (reply.content or ""), reply.content

    first = utcnow().replace(microsecond=0) + timedelta(hours=7)
    stack.ll2.move_date(DOCKING, first)  # slip 1: the first alert makes the card
    await eventually(lambda: len(stack.messages()) == 1)
    (card,) = stack.messages()
    card_id = int(card["id"])
    assert f"<t:{int(first.timestamp())}:R>" in card_text(card)

    # Slip 2, close enough that the 1-minute reminder falls due and the docking then happens.
    soon = utcnow().replace(microsecond=0) + timedelta(seconds=75)
    stack.ll2.move_date(DOCKING, soon)
    await eventually(lambda: "Slipped" in last_edit(stack, card_id), within=30)
    assert f"~~<t:{int(first.timestamp())}:F>" in str(stack.discord.message(card_id))

    await eventually(lambda: len(stack.messages()) == 2, within=30)  # the reminder ping
    stack.ll2.set_webcast_live(DOCKING, True)
    await eventually(lambda: "LIVE" in last_edit(stack, card_id), within=30)
    await eventually(lambda: len(stack.messages()) == 3, within=30)  # the live ping
    assert stack.discord.message(card_id)["components"], "watch buttons while live"

    stack.ll2.add_update(DOCKING, "Soft capture confirmed")
    await eventually(lambda: "Soft capture" in str(stack.discord.message(card_id)), within=30)

    await eventually(lambda: utcnow() > soon + timedelta(seconds=2), within=90)
    await eventually(lambda: len(stack.messages()) == 4, within=30)  # T-0: "starting now"
    stack.ll2.set_webcast_live(DOCKING, False)
    await eventually(lambda: "Docking complete" in last_edit(stack, card_id), within=30)
    await eventually(lambda: delivery_states(stack.config.storage.url)["pending"] == 0)

    messages = stack.messages()
    assert [m["id"] for m in messages][0] == str(card_id)
    pings = messages[1:]
    assert len(pings) == 3, [m["content"] for m in pings]
    for ping in pings:
        assert str(ping["message_reference"]["message_id"]) == str(card_id)
        assert f"<@&{role.id}>" in ping["content"]
        assert not ping.get("embeds")
    assert "LIVE" in pings[1]["content"].upper()
    assert "1m" in pings[0]["content"], pings[0]["content"]
    assert "Docking starting now" in pings[2]["content"], pings[2]["content"]

    # Each state in order, and the final content is the final state.
    history = stack.discord.edit_history(card_id)
    marks = ["Slipped", "LIVE", "Docking complete"]
    positions = [next(i for i, text in enumerate(history) if mark in text) for mark in marks]
    assert positions == sorted(positions), history
    final = stack.discord.message(card_id)
    assert final is not None and "Docking complete" in final["content"]
    assert "Soft capture confirmed" in str(final["embeds"])
    assert not final.get("components"), "watch buttons go once it is over"
    (stored,) = cards(stack)
    assert (stored.message_id, stored.done) == (card_id, True)
