"""A real crawl of a hostile loopback site: good articles archived, bad input skipped, counted."""

from __future__ import annotations

import gzip
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from scrapy import signals
from scrapy.crawler import CrawlerRunner
from scrapy.utils.defer import deferred_f_from_coro_f

from newsarchive.cli.settings import build_settings
from newsarchive.config.sites import parse_site
from newsarchive.config.stats import InvalidKind, StatsKeys
from newsarchive.spiders.news import NewsSpider

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from newsarchive.archive.items import ArticleCapture

INVALID = StatsKeys.DISCOVERY_SKIPPED_INVALID
FILLERS = 5


def _article(title: str, head: str = "") -> bytes:
    paragraphs = "".join(
        f"<p>{title}: paragraph {n} of a story long enough for the extractor to keep it, "
        "with a few more words about the council, the budget and the river.</p>"
        for n in range(8)
    )
    return (
        f"<!doctype html><html><head><title>{title}</title>{head}</head><body><article>"
        f"<h1>{title}</h1>{paragraphs}</article></body></html>"
    ).encode()


def _index(*children: str) -> bytes:
    items = "".join(f"<sitemap><loc>{c}</loc></sitemap>" for c in children)
    return (
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>'
    ).encode()


def _pages(base: str) -> dict[str, tuple[str, bytes]]:
    """Path -> (content type, body) of the hostile site at `base` (http://127.0.0.1:PORT)."""
    other_origin = base.replace("127.0.0.1", "localhost")
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>
    <item><link>http://[::1/broken</link></item>
    <item><link>{base.rsplit(":", 1)[0]}:99999/port</link></item>
    <item><link>javascript:alert(1)</link></item>
    <item><title>One</title><link>{base}/news/good-1.html</link>
      <pubDate>Tue, 17 Feb 2026 09:00:00 GMT</pubDate></item>
    <item><title>Two</title><link>/news/good-2.html</link>
      <pubDate>9999-12-31T23:59:59-23:59</pubDate></item>
    <item><link>{base}/news/refresh-away.html</link></item>
    <item><link>{base}/news/refresh-move.html</link></item>
    <item><link>{base}/news/refresh-self.html</link></item>
    </channel></rss>"""
    bomb = gzip.compress(
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + b" " * 30_000_000,
        compresslevel=9,
    )
    pages: dict[str, tuple[str, bytes]] = {
        "/robots.txt": (
            "text/plain",
            b"User-agent: *\nAllow: /\nSitemap: http://[::1/x.xml\nSitemap: /sitemap-index.xml\n",
        ),
        "/feed.xml": ("application/rss+xml", feed.encode()),
        "/feed.json": (
            "application/feed+json",
            b'{"items": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
        ),
        "/sitemap-index.xml": (
            "application/xml",
            _index(
                "/chain/1.xml",
                "/bomb.xml.gz",
                "/articles.xml",
                *(f"/filler-{n}.xml" for n in range(FILLERS)),
            )
            .replace(b"<loc>/chain", b"<lastmod>2026-02-03</lastmod><loc>/chain")
            .replace(b"<loc>/bomb", b"<lastmod>2026-02-02</lastmod><loc>/bomb")
            .replace(b"<loc>/articles", b"<lastmod>2026-02-01</lastmod><loc>/articles"),
        ),
        "/bomb.xml.gz": ("application/gzip", bomb),
        "/corrupt.xml.gz": ("application/gzip", b"\x1f\x8b\x08\x00 not gzip at all"),
        "/articles.xml": (
            "application/xml",
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>/news/good-3.html</loc><lastmod>0001-01-01T00:00:00+23:59</lastmod></url>"
            b"<url><loc>http://[::1/broken-too</loc></url>"
            b"</urlset>",
        ),
        "/news/good-1.html": ("text/html", _article("Good one")),
        "/news/good-2.html": ("text/html", _article("Good two")),
        "/news/good-3.html": ("text/html", _article("Good three")),
        "/news/moved.html": ("text/html", _article("Moved story")),
        "/news/refresh-away.html": (
            "text/html",
            _article(
                "Away", f'<meta http-equiv="refresh" content="0; url={other_origin}/news/x.html">'
            ),
        ),
        "/news/refresh-move.html": (
            "text/html",
            _article("Move", '<meta http-equiv="refresh" content="0; url=/news/moved.html">'),
        ),
        "/news/refresh-self.html": (
            "text/html",
            _article("Self", '<meta http-equiv="refresh" content="0; url=refresh-self.html">'),
        ),
    }
    for n in range(1, 50):  # an endless chain of indexes, as far as the crawl would go
        pages[f"/chain/{n}.xml"] = ("application/xml", _index(f"/chain/{n + 1}.xml"))
    for n in range(FILLERS):
        pages[f"/filler-{n}.xml"] = ("application/xml", _index("/corrupt.xml.gz"))
    return pages


class _Handler(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, tuple[str, bytes]]] = {}
    requested: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requested.append(self.path)
        page = self.pages.get(self.path)
        if page is None:
            self.send_error(404)
            return
        content_type, body = page
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile_site() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"requested": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    handler.pages = _pages(base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, handler
    finally:
        server.shutdown()
        server.server_close()


@deferred_f_from_coro_f
async def test_hostile_site_good_articles_archived_bad_input_counted(
    hostile_site: tuple[str, type[_Handler]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base, handler = hostile_site
    site = parse_site(
        {
            "name": "hostile",
            "feeds": [f"{base}/feed.xml", f"{base}/feed.json"],
            "start_urls": [f"{base}/"],
            "max_age_days": None,
        },
        "test",
    )
    settings = build_settings(
        str(tmp_path / "store"),
        None,
        {
            "AUTOTHROTTLE_ENABLED": False,
            "DOWNLOAD_DELAY": 0,
            "EXTRACT_WORKERS": 0,
            "SITEMAP_MAX_DEPTH": 3,
            "SITEMAP_MAX_CHILDREN": 3,
            "SITEMAP_MAX_DECOMPRESSED_BYTES": 1_000_000,
        },
        interactive=False,
    )
    runner = CrawlerRunner(settings)
    crawler = runner.create_crawler(NewsSpider)
    items: list[ArticleCapture] = []
    crawler.signals.connect(
        lambda item: items.append(item), signal=signals.item_scraped, weak=False
    )
    with caplog.at_level(logging.DEBUG):
        await crawler.crawl_async(site_config=site)
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()

    assert stats["finish_reason"] == "finished"
    assert stats.get("log_count/ERROR", 0) == 0
    archived = {item.canonical_url: item for item in items}
    assert set(archived) == {
        f"{base}/news/good-1.html",
        f"{base}/news/good-2.html",
        f"{base}/news/good-3.html",
        f"{base}/news/moved.html",  # followed from refresh-move, judged on its own
        f"{base}/news/refresh-self.html",  # a self-refresh is the article itself
    }
    # Each article is stored under its own URL with its own text.
    assert b"Moved story" in archived[f"{base}/news/moved.html"].body
    assert archived[f"{base}/news/moved.html"].url == f"{base}/news/moved.html"
    assert stats[StatsKeys.EXTRACT_OK] == 5

    # [::1 link, :99999 port, javascript: (feed); [::1 (robots Sitemap:, sitemap <loc>)
    assert stats[f"{INVALID}/{InvalidKind.URL}"] >= 5
    assert stats[f"{INVALID}/{InvalidKind.DATE}"] >= 2
    assert stats[f"{INVALID}/{InvalidKind.JSON}"] == 1
    assert stats[f"{INVALID}/{InvalidKind.SITEMAP}"] == 1  # the bomb (the corrupt one is unfetched)
    assert stats[f"{INVALID}/{InvalidKind.SITEMAP_CHILDREN}"] == FILLERS
    assert stats[f"{INVALID}/{InvalidKind.SITEMAP_DEPTH}"] == 1
    assert stats[StatsKeys.DISCOVERY_META_REFRESH] == 2
    # The endless chain was cut: index -> 1 -> 2 -> 3, never 4; no filler was fetched.
    assert "/chain/3.xml" in handler.requested
    assert "/chain/4.xml" not in handler.requested
    assert not any(path.startswith("/filler-") for path in handler.requested)

    # Logged once per kind, with the URL; no line carries a body.
    skip_lines = [r.getMessage() for r in caplog.records if "Skipped invalid" in r.getMessage()]
    assert len(skip_lines) == len({line.split()[2] for line in skip_lines})
    long_lines = [
        line[:100]
        for r in caplog.records
        for line in r.getMessage().splitlines()
        if len(line) > 500
    ]
    assert long_lines == []
