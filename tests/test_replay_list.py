"""The replay article list: URLs shown as readers type them, links kept as archived."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsarchive.replay.app import ReplayArticle, article_list_html, display_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://xn--bcher-kva.example/%C3%BCber/%E2%82%AC?q=%C3%A9",
            "https://bücher.example/über/€?q=é",
        ),
        ("http://[::1]:8080/a%20b", "http://[::1]:8080/a b"),
        # Latin-1 escapes are not UTF-8: shown escaped, not as replacement characters.
        ("http://news.example/%E9t%E9", "http://news.example/%E9t%E9"),
        ("https://xn--99999999999.example/", "https://xn--99999999999.example/"),  # not punycode
        ("https://news.example/a", "https://news.example/a"),
    ],
)
def test_display_url(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_article_list_links_the_archived_url_and_shows_the_decoded_one() -> None:
    url = "https://xn--bcher-kva.example/%C3%BCber"
    article = ReplayArticle("news", url, "T", datetime(2026, 3, 1, tzinfo=UTC))
    page = article_list_html([article])
    assert f'href="/archive/20260301000000/{url}"' in page
    assert '<div class="url">https://bücher.example/über</div>' in page
    assert "overflow-wrap:anywhere" in page
