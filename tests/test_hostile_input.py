"""Hostile and broken site input, parser by parser: one bad item is skipped, never the rest."""

from __future__ import annotations

import gzip
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from newsarchive.archive.items import ArticleCapture
from newsarchive.config.sites import SiteConfigError, load_site_file, load_yaml
from newsarchive.config.stats import InvalidKind, StatsKeys
from newsarchive.extraction.jsonlimits import JSONLimitError, loads_bounded, nesting_depth
from newsarchive.pipelines.downloadermiddlewares.retry import retry_after_seconds
from newsarchive.pipelines.logformatter import ShortLogFormatter
from newsarchive.pipelines.skips import InvalidInput
from newsarchive.spiders.feeds import OnInvalid, parse_date, parse_feed
from newsarchive.spiders.news import adhoc_site
from newsarchive.spiders.sitemaps import newest_first, parse_sitemap, sitemaps_from_robots
from newsarchive.spiders.urls import canonical_host, canonicalize, join_url, same_site

if TYPE_CHECKING:
    from pathlib import Path

Skips = list[tuple[InvalidKind, str]]


def recorder() -> tuple[Skips, OnInvalid]:
    seen: Skips = []
    return seen, lambda kind, reason: seen.append((kind, reason))


# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/x",
        "http://news.example:99999/a",
        "http://news.example:-1/a",
        "javascript:alert(1)",
        "http:///p",
        "mailto:a@b.example",
        "file:///etc/passwd",
        "data:text/html,hi",
        "",
        "   ",
        "http://exa mple.com/",
    ],
)
def test_canonicalize_refuses_what_names_no_web_page(url: str) -> None:
    assert canonicalize(url) is None


def test_canonicalize_keeps_what_held() -> None:
    assert canonicalize("HTTP://News.Example:80/a?utm_source=x&b=1#frag") == (
        "http://news.example/a?b=1"
    )
    assert canonicalize("https://news.example:8443") == "https://news.example:8443/"
    assert canonicalize("http://[::1]:8080/x") == "http://[::1]:8080/x"


def test_idn_hosts_compare_in_one_form() -> None:
    assert canonicalize("http://Bücher.example/ä") == "http://xn--bcher-kva.example/%C3%A4"
    assert canonical_host("BÜCHER.example.") == "xn--bcher-kva.example"
    assert same_site("http://www.xn--bcher-kva.example/a", {"bücher.example"})
    assert same_site("http://bücher.example/a", {"www.xn--bcher-kva.example"})
    assert not same_site("http://[::1/x", {"bücher.example"})


def test_join_url_never_raises() -> None:
    assert join_url("http://a.example/b/", "c") == "http://a.example/b/c"
    assert join_url("http://a.example/", "http://[::1/x") == "http://[::1/x"
    assert join_url("http://[::1/", "c") == "c"


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "Fri, 31 Dec 9999 23:59:59 -2359",
        "soon",
    ],
)
def test_unreadable_dates_are_none_and_told(value: str) -> None:
    seen, on_invalid = recorder()
    assert parse_date(value, on_invalid) is None
    assert [kind for kind, _ in seen] == [InvalidKind.DATE]


def test_readable_dates_still_read() -> None:
    assert parse_date("2026-02-17T10:00:00+01:00") == datetime(2026, 2, 17, 9, tzinfo=UTC)
    assert parse_date("Tue, 17 Feb 2026 09:00:00 GMT") == datetime(2026, 2, 17, 9, tzinfo=UTC)


# --- feeds ------------------------------------------------------------------------------------

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel>
<item><link>http://[::1/broken</link><pubDate>Tue, 17 Feb 2026 09:00:00 GMT</pubDate></item>
<item><link>https://news.example/good-one</link><pubDate>9999-12-31T23:59:59-23:59</pubDate></item>
<item><link>/relative-story</link></item>
<item><link>https://news.example/good-two</link>
  <pubDate>Tue, 17 Feb 2026 09:00:00 GMT</pubDate></item>
</channel></rss>"""


def test_rss_bad_entries_do_not_lose_the_good_ones() -> None:
    seen, on_invalid = recorder()
    entries = parse_feed(RSS, "https://news.example/feed.xml", on_invalid)
    urls = [e.url for e in entries]
    assert urls == [
        "http://[::1/broken",  # passed on as given; the spider's canonicalize refuses it alone
        "https://news.example/good-one",
        "https://news.example/relative-story",
        "https://news.example/good-two",
    ]
    assert entries[1].date is None
    assert entries[3].date == datetime(2026, 2, 17, 9, tzinfo=UTC)
    assert [kind for kind, _ in seen] == [InvalidKind.DATE]


def test_atom_xml_base_and_relative_hrefs() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example/world/">
    <entry xml:base="2026/"><title>A</title><link href="a.html"/></entry>
    <entry><title>B</title><link rel="alternate" href="/b.html"/></entry>
    <entry><title>C</title><link href="c.html"/></entry>
    </feed>"""
    urls = [e.url for e in parse_feed(atom, "https://feeds.example/atom.xml")]
    assert urls == [
        "https://news.example/world/2026/a.html",
        "https://news.example/b.html",
        "https://news.example/world/c.html",
    ]
    bare = b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="d"/></entry></feed>'
    assert [e.url for e in parse_feed(bare, "https://news.example/x/atom")] == [
        "https://news.example/x/d"
    ]


def test_json_feed_too_deep_is_skipped_not_raised() -> None:
    seen, on_invalid = recorder()
    deep = b'{"items": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    assert parse_feed(deep, "https://news.example/feed.json", on_invalid) == []
    assert [kind for kind, _ in seen] == [InvalidKind.JSON]


def test_json_feed_good_items_and_relative_urls() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
        b'{"url": "/a", "date_published": "9999-12-31T23:59:59-23:59"}, 7, {"url": 5},'
        b'{"external_url": "https://news.example/b", "title": "B"}]}'
    )
    entries = parse_feed(body, "https://news.example/feed.json")
    assert [(e.url, e.date, e.title) for e in entries] == [
        ("https://news.example/a", None, None),
        ("https://news.example/b", None, "B"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        # XXE: an external entity naming a local file
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<rss><channel><item><title>&x;</title><link>https://news.example/x</link></item>"
        b"</channel></rss>",
        # external DTD
        b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:9/evil.dtd">'
        b"<rss><channel><item><title>t</title><link>https://news.example/x</link></item>"
        b"</channel></rss>",
        # billion laughs
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
        )
        + b"]><rss><channel><item><title>&j;</title><link>https://news.example/x</link>"
        b"</item></channel></rss>",
    ],
    ids=["xxe", "external-dtd", "billion-laughs"],
)
def test_feeds_neither_leak_nor_expand_entities(body: bytes) -> None:
    entries = parse_feed(body)
    # libxml2 may refuse the whole billion-laughs document; it must neither raise nor expand.
    assert [e.url for e in entries] in (["https://news.example/x"], [])
    assert all("root:" not in (e.title or "") and len(e.title or "") < 1000 for e in entries)


def test_not_a_feed_is_told() -> None:
    seen, on_invalid = recorder()
    assert parse_feed(b"\x00\x01 not xml", on_invalid=on_invalid) == []
    assert [kind for kind, _ in seen] == [InvalidKind.FEED]


# --- JSON limits ------------------------------------------------------------------------------


def test_loads_bounded() -> None:
    assert loads_bounded('{"a": ["[[[[", {"b": 1}]}', max_depth=3) == {"a": ["[[[[", {"b": 1}]}
    with pytest.raises(JSONLimitError, match="deeper"):
        loads_bounded("[" * 100_000 + "]" * 100_000)
    with pytest.raises(JSONLimitError, match="bytes"):
        loads_bounded(b'"' + b"x" * 100 + b'"', max_bytes=50)
    assert nesting_depth(b'["\\"[[", {}]') == 2


def test_deep_jsonld_does_not_break_extraction() -> None:
    from newsarchive.extraction.documents import ExtractOptions, extract_document  # noqa: PLC0415

    deep = "[" * 100_000 + "]" * 100_000
    html = (
        "<html><head><title>Story</title>"
        f'<script type="application/ld+json">{deep}</script></head>'
        "<body><article><h1>Story</h1>"
        + "<p>Words of the story here.</p>" * 30
        + "</article></body></html>"
    ).encode()
    result = extract_document(
        html, "text/html; charset=utf-8", "https://news.example/story", ExtractOptions()
    )
    assert result is not None


# --- sitemaps and robots ----------------------------------------------------------------------

INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://news.example/old.xml</loc><lastmod>2019-01-01</lastmod></sitemap>
<sitemap><loc>/new.xml</loc><lastmod>2026-02-01</lastmod></sitemap>
<sitemap><loc>https://news.example/undated.xml</loc></sitemap>
<sitemap><loc>https://news.example/mid.xml</loc><lastmod>9999-12-31T23:59:59-23:59</lastmod></sitemap>
</sitemapindex>"""


def test_sitemap_index_children_newest_first() -> None:
    seen, on_invalid = recorder()
    sitemap = parse_sitemap(INDEX, base_url="https://news.example/index.xml", on_invalid=on_invalid)
    kept, left_out = newest_first(sitemap.sitemaps, 2)
    assert [c.url for c in kept] == ["https://news.example/new.xml", "https://news.example/old.xml"]
    assert left_out == 2
    assert [kind for kind, _ in seen] == [InvalidKind.DATE]


def test_gzip_bomb_sitemap_is_not_decoded_past_the_limit() -> None:
    head = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://n.example/a</loc></url>'
    bomb = gzip.compress(head + b" " * 60_000_000 + b"</urlset>", compresslevel=9)
    assert len(bomb) < 200_000
    seen, on_invalid = recorder()
    sitemap = parse_sitemap(bomb, max_size=1_000_000, on_invalid=on_invalid)
    assert sitemap.entries == []
    assert sitemap.sitemaps == []
    assert [kind for kind, _ in seen] == [InvalidKind.SITEMAP]
    small = gzip.compress(head + b"</urlset>")
    assert [e.url for e in parse_sitemap(small, max_size=1_000_000).entries] == [
        "https://n.example/a"
    ]


@pytest.mark.parametrize(
    "body", [b"\x1f\x8b\x08\x00garbage", b"\x1f\x8b", gzip.compress(b"<urlset>")[:12]]
)
def test_corrupt_gzip_sitemap_is_skipped(body: bytes) -> None:
    seen, on_invalid = recorder()
    assert parse_sitemap(body, max_size=1000, on_invalid=on_invalid).entries == []
    assert [kind for kind, _ in seen] == [InvalidKind.SITEMAP]


def test_sitemap_xxe_does_not_leak() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://n.example/&x;</loc></url></urlset>"
    )
    assert all("root:" not in e.url for e in parse_sitemap(body).entries)


def test_robots_sitemap_lines_survive_a_bad_one() -> None:
    robots = (
        b"User-agent: *\nDisallow: /private/\n"
        b"Sitemap: http://[::1/broken.xml\n"
        b"Sitemap: /sitemap.xml\n"
        b"sitemap: https://news.example/news.xml\n"
        b"Sitemap: \xff\xfe\n"
    )
    urls = sitemaps_from_robots(robots, "https://news.example/robots.txt")
    assert urls[:3] == [
        "http://[::1/broken.xml",
        "https://news.example/sitemap.xml",
        "https://news.example/news.xml",
    ]
    assert canonicalize(urls[0]) is None


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["²", "٣", "1e999", "-5", "Mon, 99 Foo 2026", "soon", "Fri, 31 Dec 99999 23:59:59 GMT"],
)
def test_unreadable_retry_after_is_none(value: str) -> None:
    assert retry_after_seconds(value) is None


def test_readable_retry_after() -> None:
    assert retry_after_seconds(" 7 ") == 7.0
    # Far off but readable: the middleware then gives up on it (RETRY_AFTER_MAX).
    assert (retry_after_seconds("Fri, 31 Dec 9999 23:59:59 -2359") or 0) > 1e10


# --- site YAML and --url ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 50_000, "nested too deeply|nested deeper"),
        ("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 40)), "nested deeper"),
        ("name: x\n" + "#" * 2_000_000, "over"),
        ("!!python/object/apply:os.system ['true']", "invalid YAML"),
    ],
    ids=["brackets", "block-depth", "size", "python-tag"],
)
def test_hostile_site_yaml_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SiteConfigError, match=message) as raised:
        load_site_file(path)
    assert str(path) in str(raised.value)
    with pytest.raises(SiteConfigError):
        load_yaml(text, "inline")


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "http:///p", "http://[::1/x", "ftp://a.example/"]
)
def test_adhoc_url_that_is_no_web_page_is_a_config_error(url: str) -> None:
    with pytest.raises(SiteConfigError, match="not an absolute http"):
        adhoc_site(url)


def test_adhoc_idn_site() -> None:
    site = adhoc_site("https://bücher.example/")
    assert site.name == "xn--bcher-kva-example"


# --- skips and log hygiene --------------------------------------------------------------------


def test_invalid_input_counts_every_skip_and_logs_once_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counts: list[str] = []
    invalid = InvalidInput(counts.append)
    with caplog.at_level(logging.WARNING):
        for n in range(3):
            invalid.skip(InvalidKind.URL, f"https://news.example/{n}", "x" * 10_000)
        invalid.skip(InvalidKind.DATE, "https://news.example/feed", "bad")
    assert counts == [f"{StatsKeys.DISCOVERY_SKIPPED_INVALID}/url"] * 3 + [
        f"{StatsKeys.DISCOVERY_SKIPPED_INVALID}/date"
    ]
    assert len(caplog.records) == 2
    assert all(len(r.getMessage()) < 600 for r in caplog.records)
    assert "https://news.example/0" in caplog.records[0].getMessage()


def _capture(body: bytes) -> ArticleCapture:
    return ArticleCapture(
        site="news",
        url="https://news.example/a",
        canonical_url="https://news.example/a",
        status=200,
        headers=[("Set-Cookie", "c" * 5000)] * 100,
        body=body,
        fetched_at="2026-02-17T00:00:00Z",
    )


def test_article_capture_repr_is_short() -> None:
    text = repr(_capture(b"<p>" * 50_000))
    assert len(text) < 500
    assert "https://news.example/a" in text


def test_log_formatter_names_items_by_url(tmp_path: Path) -> None:
    from scrapy import Request  # noqa: PLC0415
    from scrapy.exceptions import DropItem  # noqa: PLC0415
    from scrapy.http import HtmlResponse  # noqa: PLC0415
    from scrapy.utils.test import get_crawler  # noqa: PLC0415
    from twisted.python.failure import Failure  # noqa: PLC0415

    from newsarchive.spiders.news import NewsSpider  # noqa: PLC0415

    crawler = get_crawler(NewsSpider)
    spider = NewsSpider(adhoc_site("https://news.example/"))
    spider.crawler = crawler
    item = _capture(b"<p>" * 2_000_000)
    long_url = "https://news.example/" + "a" * 10_000
    request = Request(long_url)
    response = HtmlResponse(long_url, body=item.body, request=request)
    formatter = ShortLogFormatter()
    results = [
        formatter.dropped(item, DropItem("no text: " + "x" * 10_000), response, spider),
        formatter.scraped(item, response, spider),
        formatter.item_error(item, ValueError("y" * 10_000), response, spider),
        formatter.crawled(request, response, spider),
        formatter.spider_error(Failure(ValueError("q")), request, response, spider),
        formatter.download_error(Failure(ValueError("q")), request, spider, "z" * 10_000),
        formatter.scraped(
            {"url": "https://news.example/d", "body": "b" * 10_000}, response, spider
        ),
    ]
    lines = [r["msg"] % r["args"] for r in results]
    assert all(len(line) < 1200 for line in lines), [len(line) for line in lines]
    assert lines[0].startswith("Dropped https://news.example/a: no text: ")
    assert lines[1] == "Scraped https://news.example/a"
    assert lines[6] == "Scraped https://news.example/d"
