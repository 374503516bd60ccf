"""Downloader middleware that writes every HTTP exchange to the rolling WARC writer.

Placed above HttpCompressionMiddleware and RedirectMiddleware, it sees each response as served:
still Content-Encoded, and including 3xx, 4xx and 5xx responses and robots.txt. An unchanged
payload already in the store's digest index becomes a revisit record instead of a copy, also
when it was captured at another URL of the site (a reprint).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Final, Self
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import is_asyncio_available, run_in_thread

from newsarchive import __version__
from newsarchive.archive.backfill import backfill, recover_warcs
from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.store import StoreError
from newsarchive.archive.warc import (
    NOT_MODIFIED_PROFILE,
    REVISIT_PROFILE,
    HttpExchange,
    RollingWarcWriter,
    payload_digest,
)
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.downloadermiddlewares.storeguard import StoreUnwritable, store_failed
from newsarchive.pipelines.extensions.run import enabled_run

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.digests import DigestIndex


logger = logging.getLogger(__name__)

#: The values ARCHIVE_REVISITS takes.
REVISIT_MODES: Final = ("identical", "off")
#: Ports a Host header leaves out.
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

#: request.meta keys of this middleware. Read here: when the request left (set here too), and
#: the capture a conditional request revalidates (a `CaptureRef` with its payload digest, set
#: by the incremental-crawl middleware), referred to by a 304. Set here: the `CaptureRef` of
#: the response (or revisit) record written; its date is the capture's WARC-Date.
_DATE_META: Final = "_warc_date"
PREVIOUS_META: Final = "newsarchive_previous"
RECORD_META: Final = "warc_record"
#: Set when the exchange could not be archived: nothing may record it as archived.
FAILED_META: Final = "_warc_failed"


@dataclass(frozen=True, slots=True)
class Written:
    location: CaptureRef
    revisit: str | None = None  # the WARC-Profile of a revisit
    #: The capture a revisit refers to.
    original: CaptureRef | None = None


def host_header(url: str) -> str:
    """The Host value Twisted's Agent sends (it adds it on the wire; Scrapy's headers lack it)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    if parts.port is not None and _DEFAULT_PORTS.get(parts.scheme) == parts.port:
        host = host.rsplit(":", 1)[0]
    return host


def truncation(response: Response) -> str | None:
    """WARC-Truncated for a body Scrapy delivered cut short (WARC 1.1 section 5.13)."""
    if "dataloss" in response.flags:
        # The connection ended before Content-Length (or the last chunk) arrived; Scrapy keeps
        # the partial body because DOWNLOAD_FAIL_ON_DATALOSS is off.
        return "disconnect"
    if "download_stopped" in response.flags:
        # A bytes_received/headers_received handler raised StopDownload(fail=False): how
        # size limits are applied while keeping the response (Scrapy's DOWNLOAD_MAXSIZE drops
        # the whole response instead, so it never reaches here).
        return "length"
    # "partial" (no Content-Length, body ended by close) is how HTTP/1.0 servers end every
    # body, so it is not evidence of truncation.
    return None


def exchange_from_response(request: Request, response: Response, date: datetime) -> HttpExchange:
    """The HTTP exchange as it went over the wire, from Scrapy's request and raw response."""
    sent = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in request.headers.items()
        for value in values
    ]
    request_headers = sent
    if not any(name.lower() == "host" for name, _ in sent):
        request_headers = [("Host", host_header(request.url)), *sent]
    response_headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in response.headers.items()
        for value in values
    ]
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
        truncated=truncation(response),
    )


class WarcCaptureMiddleware:
    """Writes request and response (or revisit) records for every downloaded response.

    Settings: ARCHIVE_ENABLED, ARCHIVE_WARC_PREFIX, ARCHIVE_WARC_MAX_SIZE, ARCHIVE_REVISITS,
    USER_AGENT, ROBOTSTXT_OBEY (recorded in warcinfo).
    """

    def __init__(
        self, writer: RollingWarcWriter, stats: StatsCollector, digests: DigestIndex | None
    ) -> None:
        self.writer = writer
        self.stats = stats
        self.digests = digests
        #: Set by from_crawler: whose store guard hears of write failures.
        self.crawler: Crawler | None = None
        #: WARCs (store keys) holding the originals this run's revisits refer to.
        self.original_keys: set[str] = set()
        # One thread for every write: the writer takes one exchange at a time anyway, and
        # with the shared pool's threads queueing on its lock, the crawl process switched
        # threads about 40 times per page (bench/crawl.py).
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warc-writer")

    def recover_files(self) -> list[str]:
        """Repair the site's WARCs a dead worker (or an interrupted run) left open; their
        captures join the digest index. Blocking; returns the keys committed."""
        writer = self.writer
        repaired = recover_warcs(writer.store, writer.site)
        if repaired and self.digests is not None:
            backfill(writer.store, writer.site, digests=self.digests, index=False)
        self.stats.inc_value(StatsKeys.ARCHIVE_RECOVERED, len(repaired))
        return repaired

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = enabled_run(crawler, lambda options: options.archive, "ARCHIVE_ENABLED")
        revisits = run.options.revisits
        if revisits not in REVISIT_MODES:
            # Logged as an error too: a typo must not silently cost the run its archive.
            logger.error("ARCHIVE_REVISITS must be one of %s, got %r", REVISIT_MODES, revisits)
            raise NotConfigured(f"ARCHIVE_REVISITS must be one of {REVISIT_MODES}")
        site = run.site.name
        assert crawler.stats is not None
        stats = crawler.stats
        digests = run.digests if revisits == "identical" else None
        if digests is not None:
            try:
                stats.set_value(StatsKeys.ARCHIVE_DIGESTS_LOADED, digests.sync())
            except (StoreError, OSError, ValueError) as exc:
                # The local working copy still serves; a store that is down costs revisits only.
                logger.warning("Digest index not refreshed from the store: %s", exc)
        repaired = run.recover()
        stats.set_value(StatsKeys.ARCHIVE_RECOVERED, len(repaired))
        if digests is not None:
            # Recovered WARCs, and any whose digests a kill or a full disk left unpublished.
            done = backfill(run.store, site, digests=digests, index=False)
            stats.set_value(StatsKeys.ARCHIVE_DIGESTS_BACKFILLED, len(done.undigested))
        writer = RollingWarcWriter(
            run.store,
            site=site,
            prefix=run.options.warc_prefix,
            max_size=run.options.warc_max_size,
            warcinfo=warcinfo_fields(crawler, site, run.run_id),
            # Indexed while written: the end of the run need not read its WARCs back.
            index=run.options.cdxj,
        )
        mw = cls(writer, stats, digests)
        mw.crawler = crawler
        writer.on_close = mw._file_closed
        # The run closes the writer first when it finishes, and packages what it wrote.
        run.steps.close_writer = mw.close_writer
        return mw

    def process_request(self, request: Request) -> None:
        # The capture time is when the request leaves, as wget and Heritrix record it.
        request.meta[_DATE_META] = datetime.now(UTC)
        # A redirect copies the meta of the request it answers: the record written, or the
        # failure to write one, was that response's.
        request.meta.pop(RECORD_META, None)
        request.meta.pop(FAILED_META, None)

    async def process_response(self, request: Request, response: Response) -> Response:
        if "cached" in response.flags or not request.url.startswith(("http://", "https://")):
            self.stats.inc_value(StatsKeys.ARCHIVE_SKIPPED_CACHED)
            return response
        date = request.meta.get(_DATE_META) or datetime.now(UTC)
        try:
            exchange = exchange_from_response(request, response, date)
            previous = self._previous(request, exchange)
            # Off the reactor: hashing, the digest lookup, and a roll's fsync/rename/commit.
            written = await self._in_writer_thread(exchange, previous)
        except (OSError, ValueError, sqlite3.Error) as exc:
            self.stats.inc_value(StatsKeys.ARCHIVE_ERRORS)
            request.meta[FAILED_META] = True
            if self.crawler is not None and store_failed(self.crawler, exc):
                # Full disk, read-only store: the guard said so once and stops the crawl. The
                # response goes no further, so nothing records the page as archived and the
                # next run fetches it again.
                logger.debug("Could not archive %s", request.url, exc_info=True)
                raise StoreUnwritable(str(exc)) from exc
            # An exchange the WARC writer refuses: the page is lost to the archive, which the
            # operator must see.
            logger.error("Could not archive %s", request.url, exc_info=True)
            return response
        location = written.location
        request.meta[RECORD_META] = location
        self.stats.inc_value(StatsKeys.ARCHIVE_RECORDS, 2)
        if written.revisit == NOT_MODIFIED_PROFILE:
            self.stats.inc_value(StatsKeys.ARCHIVE_REVISITS_NOT_MODIFIED)
        elif written.revisit:
            self.stats.inc_value(StatsKeys.ARCHIVE_REVISITS)
        else:
            self.stats.inc_value(StatsKeys.ARCHIVE_RESPONSES)
        self.stats.inc_value(StatsKeys.ARCHIVE_BYTES, location.length or 0)
        return response

    async def _in_writer_thread(
        self, exchange: HttpExchange, previous: CaptureRef | None
    ) -> Written:
        if not is_asyncio_available():
            return await run_in_thread(self.write, exchange, previous)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.write, exchange, previous)

    def _previous(self, request: Request, exchange: HttpExchange) -> CaptureRef | None:
        value = request.meta.get(PREVIOUS_META)
        if value is None or self.digests is None or exchange.status != HTTPStatus.NOT_MODIFIED:
            return None
        if not isinstance(value, CaptureRef) or not value.payload_digest:
            logger.warning(
                "Ignoring bad %s on %s (%r); the 304 is archived as a response",
                PREVIOUS_META,
                request.url,
                value,
            )
            return None
        return value

    def write(self, exchange: HttpExchange, previous: CaptureRef | None = None) -> Written:
        """Write one exchange as a response or a revisit (blocking: call it in a thread)."""
        if previous is not None and not exchange.payload:
            location = self.writer.write_revisit(exchange, previous, profile=NOT_MODIFIED_PROFILE)
            if self.digests is not None and previous.payload_digest:
                known = self.digests.lookup(previous.payload_digest, previous.target_uri)
                if known is not None and known.record_id == previous.record_id:
                    self.original_keys.add(known.warc_key)
            return Written(location, NOT_MODIFIED_PROFILE, previous)
        if self.digests is None:
            return Written(self.writer.write_exchange(exchange))
        digest = payload_digest(exchange.payload)
        original = None if exchange.truncated else self._original(digest, exchange)
        if original is not None:
            location = self.writer.write_revisit(exchange, original)
            self.original_keys.add(original.warc_key)
            return Written(location, REVISIT_PROFILE, original)
        location = self.writer.write_exchange(exchange)
        if not exchange.truncated:
            self.digests.add(location)
        return Written(location)

    def _original(self, digest: str, exchange: HttpExchange) -> CaptureRef | None:
        """The capture a response repeats: this URI's, else (a reprint) another URI's."""
        assert self.digests is not None
        same = self.digests.lookup(digest, exchange.url)
        if same is not None or not 200 <= exchange.status < 300:
            # Error pages a site shares across URLs stay full responses: a 404 replayed
            # through some unrelated URL's capture would confuse more than it saves.
            return same
        return self.digests.lookup_payload(digest)

    def _file_closed(self, filename: str, key: str) -> None:
        if self.digests is None:
            return
        try:
            self.digests.file_closed(filename, key)
        except Exception:  # any store failure: the WARC is safe, only future revisits suffer
            logger.error("Could not publish digests of %s", key, exc_info=True)
            self.stats.inc_value(StatsKeys.ARCHIVE_DIGESTS_FAILED)

    def close_writer(self) -> list[str]:
        """Close the current WARC (blocking); returns the keys of every file this run closed."""
        self._thread.shutdown(wait=True)
        self.writer.close()
        self.stats.set_value(StatsKeys.ARCHIVE_FILES, len(self.writer.files_closed))
        return list(self.writer.keys_closed)


def warcinfo_fields(crawler: Crawler, site: str, run_id: str) -> dict[str, str]:
    settings = crawler.settings
    return {
        "software": f"newsarchive/{__version__} (Scrapy, warcio)",
        "isPartOf": f"{site}/{run_id}",
        "http-header-user-agent": settings.get("USER_AGENT", ""),
        "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        "description": f"newsarchive crawl of site {site}",
    }


__all__ = [
    "FAILED_META",
    "PREVIOUS_META",
    "RECORD_META",
    "WarcCaptureMiddleware",
    "exchange_from_response",
    "host_header",
    "warcinfo_fields",
]
