"""The cheap paths of bot.render (issue 13) decide exactly as the plain ones they replaced.

Each reference below is the code as it was before rendering was made cheaper: URL checks
remembered per string, text without anything to clean only stripped, and fields that pass
checked without building their problem messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from bot.render import check_limits, clean_text, embed_length, valid_url
from bot.render.payload import BUTTON_URL_LIMIT, URL_LIMIT
from bot.render.text import ZWSP, ll2_url, one_line
from tests.strategies import HOSTILE_TEXT, WEIRD_URLS, texts, urls
from tests.unit.render._helpers import PROPERTY

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def reference_clean_text(text: str | None) -> str:
    """clean_text before issue 13."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _MASS_MENTION.sub(lambda m: "@" + ZWSP + m.group(1), text)
    text = text.replace("<@", "<@" + ZWSP)
    return text.strip()


def reference_valid_url(url: object, *, limit: int = URL_LIMIT) -> str | None:
    """valid_url before issue 13."""
    if not isinstance(url, str) or not url or len(url) > limit:
        return None
    if not _URL_CHARS.fullmatch(url) or _BAD_PERCENT.search(url):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or not parts.hostname:
        return None
    if any(c in part for part in (parts.path, parts.query, parts.fragment) for c in "[]"):
        return None
    return url


_BUILT_URLS = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["https", "http", "HTTPS", "hTtP", "ftp", "https:", "http s", ""]),
        st.sampled_from(["://", ":/", ":", "://user@", ":///", "//"]),
        st.text(alphabet="aZ09.-_~:@[]%!$&'()*+,;= ", max_size=12),
        st.sampled_from(["", ":", ":80", ":99999", ":x", "]"]),
        st.text(alphabet="aZ09/?#%[]:@.-_~!$&'()*+,;=\t\"<>^` é", max_size=20),
    ),
)

_URLISH = st.one_of(
    _BUILT_URLS,
    urls(),
    texts(),
    st.text(alphabet="htps:/[]@%:0123456789abcdefAZ.?#()-_ ", max_size=40),
    st.builds(lambda tail: "https://" + tail, st.text(max_size=30)),
    st.builds(lambda tail: "http://example.com:" + tail, st.text("0123456789x-", max_size=8)),
)


class _Str(str):
    """A str subclass: not remembered, but decided (and returned) the same way."""


@PROPERTY
@given(url=_URLISH, limit=st.sampled_from([URL_LIMIT, BUTTON_URL_LIMIT, 30]))
def test_valid_url_decides_as_before(url: str, limit: int) -> None:
    """The remembered verdict equals the plain check, asked once or twice, any limit."""
    expected = reference_valid_url(url, limit=limit)
    assert valid_url(url, limit=limit) == expected
    assert valid_url(url, limit=limit) == expected  # now from the cache
    assert ll2_url(url, limit=limit) == reference_valid_url(url.strip(), limit=limit)
    odd = _Str(url)
    result = valid_url(odd, limit=limit)
    assert result == expected
    assert result is None or result is odd


def test_valid_url_known_cases() -> None:
    """Every weird URL of the strategies, and a few edge cases, decide as before."""
    cases = [*WEIRD_URLS, "https://a:99999/", "https://[::1]/", "https://a/[x]", "https://a/%zz"]
    cases += ["HTTP://A.example/", "https:///x", "mailto:a@b.c", "", "https://a/" + "x" * 3000]
    for url in cases:
        for limit in (URL_LIMIT, BUTTON_URL_LIMIT):
            assert valid_url(url, limit=limit) == reference_valid_url(url, limit=limit), url
    for other in (None, 3, b"https://a.example/", ["https://a.example/"]):
        assert valid_url(other) is None


@PROPERTY
@given(text=st.one_of(st.none(), texts(), st.text(), st.sampled_from(HOSTILE_TEXT)))
def test_clean_text_cleans_as_before(text: str | None) -> None:
    """Text with nothing to clean is only stripped; any other text is cleaned as before."""
    assert clean_text(text) == reference_clean_text(text)
    assert one_line(text) == " ".join(reference_clean_text(text).split())


class _Map(Mapping[str, Any]):
    """A read-only mapping that is not a dict: checked the long way."""

    def __init__(self, **items: Any) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def _reference_field_problems(value: Any, limit: int) -> bool:
    """Whether the check before issue 13 found a problem with a field's name or value."""
    return not isinstance(value, str) or len(value) > limit or not value.strip()


@PROPERTY
@given(
    value=st.one_of(
        st.text(),
        st.none(),
        st.integers(),
        st.just(" \u2003\n"),
        st.builds(lambda n, c: c * n, st.integers(250, 1030), st.sampled_from(["a", " ", "é"])),
        st.builds(_Str, st.text()),
    ),
    mapping=st.sampled_from([dict, _Map]),
    others=st.integers(0, 30),
)
def test_fields_checked_quickly_report_and_count_as_before(
    value: Any, mapping: type, others: int
) -> None:
    """A field's problems, and the embed's total, are the same by the quick and long path."""
    for limit, key in ((256, "name"), (1024, "value")):
        field = mapping(**{"name": "n", "value": "v", key: value})
        fine = [{"name": "f" * 10, "value": "v" * 200, "inline": False}] * others
        embed = {"title": "t", "fields": [*fine, field]}
        problems = check_limits({"content": "", "embeds": [embed], "allowed_mentions": {}})
        bad_field = _reference_field_problems(value, limit)
        assert any(f"fields[{others}]" in p for p in problems) == bad_field
        total = 1 + 210 * others + 1 + (len(value) if isinstance(value, str) else 0)
        assert any("in total" in p for p in problems) == (total > 6000)
        assert embed_length(embed) == total
        assert len(problems) == bad_field + (total > 6000) + (others + 1 > 25)
