"""Downloader middleware that writes every HTTP exchange to the rolling WARC writer.

Placed above HttpCompressionMiddleware and RedirectMiddleware, it sees each response as served:
still Content-Encoded, and including 3xx, 4xx and 5xx responses and robots.txt.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

from archive.warc import HttpExchange, RollingWarcWriter, recover_open_files
from config.stats import StatsKeys
from pipelines.storage import crawler_storage

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector


logger = logging.getLogger(__name__)

_DATE_META = "_warc_date"


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]


def exchange_from_response(request: Request, response: Response, date: datetime) -> HttpExchange:
    """The HTTP exchange as it went over the wire, from Scrapy's request and raw response."""
    request_headers = [("Host", _host_header(request.url))]
    request_headers += [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in request.headers.items()
        for value in values
    ]
    response_headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in response.headers.items()
        for value in values
    ]
    truncated = None
    if "dataloss" in response.flags:
        truncated = "disconnect"
    elif "download_maxsize" in response.flags:
        truncated = "length"
    ip = response.ip_address
    return HttpExchange(
        url=response.url,
        method=request.method,
        request_headers=request_headers,
        request_body=request.body,
        status=response.status,
        protocol=response.protocol or "HTTP/1.1",
        response_headers=response_headers,
        payload=response.body,
        ip_address=str(ip) if ip is not None else None,
        date=date,
        truncated=truncated,
    )


class WarcCaptureMiddleware:
    """Writes request and response records for every downloaded response.

    Settings: ARCHIVE_ENABLED, ARCHIVE_WARC_PREFIX, ARCHIVE_WARC_MAX_SIZE, USER_AGENT,
    ROBOTSTXT_OBEY (recorded in warcinfo).
    """

    def __init__(self, writer: RollingWarcWriter, stats: StatsCollector) -> None:
        self.writer = writer
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("ARCHIVE_ENABLED is off")
        storage = crawler_storage(crawler)
        site = getattr(getattr(crawler.spider, "site", None), "name", None) or "default"
        repaired = recover_open_files(storage.store)
        for name in repaired:
            logger.warning("Repaired WARC left open by an interrupted run: %s", name)
        writer = RollingWarcWriter(
            storage.store,
            site=site,
            prefix=settings.get("ARCHIVE_WARC_PREFIX"),
            max_size=settings.getint("ARCHIVE_WARC_MAX_SIZE"),
            warcinfo=warcinfo_fields(crawler, site, storage.run_id),
        )
        assert crawler.stats is not None
        mw = cls(writer, crawler.stats)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def process_request(self, request: Request) -> None:
        # The capture time is when the request leaves, as wget and Heritrix record it.
        request.meta[_DATE_META] = datetime.now(UTC)

    def process_response(self, request: Request, response: Response) -> Response:
        if "cached" in response.flags or not request.url.startswith(("http://", "https://")):
            self.stats.inc_value(StatsKeys.ARCHIVE_SKIPPED_CACHED)
            return response
        date = request.meta.get(_DATE_META) or datetime.now(UTC)
        try:
            location = self.writer.write_exchange(exchange_from_response(request, response, date))
        except (OSError, ValueError):
            # Disk full, or an exchange the WARC writer refuses: the page is lost to the archive,
            # which the operator must see.
            logger.error("Could not archive %s", request.url, exc_info=True)
            self.stats.inc_value(StatsKeys.ARCHIVE_ERRORS)
            return response
        request.meta["warc_record"] = location
        request.meta["fetched_at"] = location.date
        self.stats.inc_value(StatsKeys.ARCHIVE_RECORDS, 2)
        self.stats.inc_value(StatsKeys.ARCHIVE_RESPONSES)
        self.stats.inc_value(StatsKeys.ARCHIVE_BYTES, location.length)
        return response

    def spider_closed(self) -> None:
        self.writer.close()
        self.stats.set_value(StatsKeys.ARCHIVE_FILES, len(self.writer.files_closed))


def warcinfo_fields(crawler: Crawler, site: str, run_id: str) -> dict[str, str]:
    settings = crawler.settings
    version = settings.get("NEWSARCHIVE_VERSION", "0")
    return {
        "software": f"newsarchive/{version} (Scrapy, warcio)",
        "isPartOf": f"{site}/{run_id}",
        "http-header-user-agent": settings.get("USER_AGENT", ""),
        "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        "description": f"newsarchive crawl of site {site}",
    }


__all__ = ["WarcCaptureMiddleware", "exchange_from_response", "warcinfo_fields"]
