"""Retries on 429/503 wait as long as the server's Retry-After asks."""

from __future__ import annotations

import http.server
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy import Request, Spider
from scrapy.crawler import CrawlerRunner
from scrapy.utils.defer import deferred_f_from_coro_f

from newsarchive.cli.settings import build_settings
from newsarchive.pipelines.downloadermiddlewares.retry import retry_after_seconds

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


class _Busy(http.server.BaseHTTPRequestHandler):
    """Answers 429 with Retry-After: 1 to the first request of each path, then 200."""

    hits: ClassVar[list[tuple[str, float]]] = []

    def do_GET(self) -> None:
        first = not any(path == self.path for path, _ in self.hits)
        self.hits.append((self.path, time.monotonic()))
        status, headers = (429, [("Retry-After", "1")]) if first else (200, [])
        if self.path.startswith("/too-long"):
            status, headers = 503, [("Retry-After", "3600")]
        body = b"<html><body>ok</body></html>"
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _OneShot(Spider):
    name = "oneshot"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.statuses: list[int] = []

    async def start(self) -> AsyncIterator[Request]:
        for url in self.urls:
            yield Request(url, callback=self.parse)

    def parse(self, response: Any) -> None:
        self.statuses.append(response.status)


def test_retry_after_values() -> None:
    now = datetime(2026, 2, 17, 13, 15, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@deferred_f_from_coro_f
async def test_retry_waits_for_retry_after(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    _Busy.hits.clear()
    try:
        # A spider with no site config: the network policy lets it reach loopback only if told.
        overrides = {"RETRY_AFTER_MAX": 10, "ROBOTSTXT_OBEY": False, "NETWORK_ALLOW": ["127.0.0.1"]}
        settings = build_settings(str(tmp_path), None, overrides, interactive=False)
        crawler = CrawlerRunner(settings).create_crawler(_OneShot)
        await crawler.crawl_async(urls=[f"{base}/a", f"{base}/too-long"])
    finally:
        server.shutdown()
        server.server_close()
    spider = crawler.spider
    assert isinstance(spider, _OneShot)
    a_hits = [t for path, t in _Busy.hits if path == "/a"]
    assert len(a_hits) == 2
    assert a_hits[1] - a_hits[0] >= 0.9  # waited the second Retry-After asked for
    # A wait beyond RETRY_AFTER_MAX is not honoured: one attempt, the 503 reaches the spider.
    assert [p for p, _ in _Busy.hits].count("/too-long") == 1
    assert sorted(spider.statuses) == [200, 503]
