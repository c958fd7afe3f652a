"""One scan of a body's bytes tells when its strings need no cleaning (issue 13's fast path).

Whatever JSON LL2 sends, a body :func:`storable_json` passes decodes to strings with no NUL
and no lone surrogate: cleaning it would change nothing. Bodies with one (escaped, or a
surrogate encoded in UTF-8 bytes) are walked as before.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.devtools.factories import make_event
from bot.ll2.parse import clean, parse_items, storable_json
from tests.conftest import T0

_text = st.text(st.characters(codec=None, blacklist_categories=()), max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


def _bodies(value: Any) -> list[bytes]:
    """The ways a server may send ``value``: escaped ASCII, or UTF-8 (surrogates as bytes)."""
    return [
        json.dumps(value).encode("ascii"),
        json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"),
    ]


@given(_json)
def test_a_body_passed_as_storable_needs_no_cleaning(value: Any) -> None:
    """Any JSON: when the scan passes a body, cleaning its decoded value changes nothing."""
    for body in _bodies(value):
        decoded = json.loads(body)
        if storable_json(body):
            assert clean(decoded) == decoded


def test_nul_and_lone_surrogates_are_caught_however_they_are_sent() -> None:
    """An escaped NUL or surrogate, or a surrogate's UTF-8 bytes, sends the body to cleaning."""
    for value in ("a\x00b", "\ud800", "x\udfff", {"k\x00": 1}):
        for body in _bodies({"results": [value]}):
            assert not storable_json(body), body
    assert not storable_json('{"a": "x"}'.encode("utf-16"))  # not UTF-8: walked


def test_plain_text_emoji_and_escaped_accents_pass() -> None:
    """What LL2 sends every day is scanned once and parsed without the walk."""
    for value in ("Crew-12 🚀 docking", "Baïkonour", "line\nbreak", 'quote "x"'):
        assert storable_json(json.dumps({"results": [value]}, ensure_ascii=False).encode())
    assert storable_json(json.dumps({"results": ["Baïkonour"]}).encode())  # \u00ef
    # An emoji escaped as a surrogate pair is a false alarm: walked, as before.
    assert not storable_json(json.dumps({"results": ["🚀"]}).encode())


def test_an_item_parsed_as_storable_is_the_item_cleaning_would_give() -> None:
    """``storable=True`` skips the walk only: the parsed events are the same."""
    raw = [make_event(7, "Soyuz Docking 🚀", date=T0, last_updated=T0)]
    body = json.dumps({"results": raw}, ensure_ascii=False).encode()
    assert storable_json(body)
    fast, _ = parse_items(json.loads(body)["results"], storable=True)
    walked, _ = parse_items(json.loads(body)["results"])
    assert [e for e, _ in fast] == [e for e, _ in walked]
