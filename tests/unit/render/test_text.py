"""Tests for bot.render.text: which URLs are usable."""

from __future__ import annotations

import pytest

from bot.render import (
    valid_url,
)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/a?b=c#d", True),
        ("http://example.com", True),
        ("https://example.com/a_(b)", True),
        ("ftp://example.com/", False),
        ("javascript:alert(1)", False),
        ("//example.com/", False),
        ("https://", False),
        ("https://exa mple.com/", False),
        ("https://example.com/\n", False),
        ("https://[::1", False),
        ("http://example.com:99999/", False),
        ("https://example.com/%zz", False),
        ("https://example.com/" + "x" * 2100, False),
        (None, False),
    ],
)
def test_valid_url_accepts_only_absolute_http_urls(url: str | None, ok: bool) -> None:
    """valid_url keeps well-formed http(s) URLs within 2048 chars and drops the rest."""
    assert (valid_url(url) is not None) is ok
