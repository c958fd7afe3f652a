"""Tests for bot.render.limits: check_limits, and the guard every rendered payload passes."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.devtools.discord_emulator.validate import check_message_limits, load_spec
from bot.render import CONTENT_LIMIT, check_limits, guarded
from bot.render.payload import MessagePayload


def broken_payload() -> MessagePayload:
    """Return a payload breaking several limits at once, as a rendering bug could."""
    return {
        "content": "<@&5> " + "c" * 2500,
        "embeds": [
            {
                "title": "t" * 300,
                "description": "d" * 5000,
                "color": 0x3498DB,
                "url": "not a url",
                "author": {"name": "a" * 300},
                "fields": [{"name": "f", "value": "v" * 2000, "inline": False}] * 30,
            }
        ],
        "components": [
            {
                "type": 1,
                "components": [{"type": 2, "style": 5, "label": "x" * 100, "url": "ftp://nope"}],
            }
        ],
        "allowed_mentions": {"parse": [], "roles": ["5"]},
    }


def accepted(payload: Any) -> bool:
    """Return whether the emulator's independent validator accepts a message body."""
    spec = load_spec()
    return not (
        spec.validate_body("/channels/{channel_id}/messages", "POST", payload)
        + check_message_limits(payload)
    )


def test_a_valid_payload_passes_through_untouched(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing to fix: the same object comes back and nothing is logged."""
    payload: MessagePayload = {
        "content": "hello",
        "embeds": [{"title": "t", "color": 1}],
        "components": [],
        "allowed_mentions": {"parse": []},
    }
    with caplog.at_level(logging.ERROR):
        assert guarded(payload, what="test") is payload
    assert caplog.records == []


def test_a_payload_over_the_limits_is_logged_and_reduced_to_what_discord_accepts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The reduced message keeps the pings, the title and colour, and passes both validators."""
    payload = broken_payload()
    assert check_limits(payload) != []
    with caplog.at_level(logging.ERROR, logger="bot.render.limits"):
        reduced = guarded(payload, what="update alert for event 1")
    assert check_limits(reduced) == []
    assert accepted(reduced)
    assert reduced["allowed_mentions"] == {"parse": [], "roles": ["5"]}
    assert reduced["content"].startswith("<@&5> ")
    assert reduced["components"] == []
    embed = reduced["embeds"][0]
    assert embed["color"] == 0x3498DB
    assert embed["title"].startswith("ttt") and len(embed["title"]) == 256
    assert "fields" not in embed and "url" not in embed
    assert "update alert for event 1" in caplog.text
    assert "content: 2506 chars > 2000" in caplog.text


def test_an_embed_that_cannot_be_saved_leaves_the_content_line_alone() -> None:
    """A bad colour and nothing else: the embed is dropped, the content line still goes out."""
    payload: MessagePayload = {
        "content": "",
        "embeds": [{"color": -1}],
        "components": [],
        "allowed_mentions": {"parse": []},
    }
    reduced = guarded(payload, what="lookup of event 2")
    assert reduced["embeds"] == []
    assert reduced["content"] == "(lookup of event 2)"
    assert check_limits(reduced) == []


def test_check_limits_reports_what_discord_would_reject() -> None:
    """check_limits flags over-long text, empty fields, bad URLs, too many buttons and totals."""
    button = {"type": 2, "style": 5, "label": "x", "url": "https://a.example/"}
    bad = {
        "content": "c" * (CONTENT_LIMIT + 1),
        "embeds": [
            {
                "title": "t" * 257,
                "url": "javascript:alert(1)",
                "fields": [{"name": "n", "value": ""}, {"name": "v", "value": "v" * 1025}],
                "image": {"url": "https://exa mple.com/"},
            },
            {"description": "d" * 4096, "fields": [{"name": "f", "value": "v" * 1024}] * 2},
        ],
        "components": [{"type": 1, "components": [button] * 6}],
        "allowed_mentions": {"parse": ["roles"], "roles": ["1"]},
    }
    problems = "\n".join(check_limits(bad))
    for expected in (
        "content:",
        "embeds[0].title",
        "embeds[0].url",
        "embeds[0].fields[0].value: must not be empty",
        "embeds[0].fields[1].value",
        "embeds[0].image.url",
        "embeds[1]: 6",
        "across embeds",
        "components[0].components",
        "allowed_mentions",
    ):
        assert expected in problems, expected
