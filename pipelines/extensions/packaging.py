"""Extension that indexes (CDXJ) and packages (WACZ) the run's WARCs when the spider closes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import run_in_thread

from newsarchive.archive.cdxj import index_warc, unindexed_warcs
from newsarchive.archive.layout import META_PREFIX
from newsarchive.archive.metadata import read_metadata
from newsarchive.archive.store import StoreError
from newsarchive.archive.wacz import Page, WaczError, package_run
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.downloadermiddlewares.capture import WarcCaptureMiddleware
from newsarchive.pipelines.extensions.storage import crawler_storage

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.store import Store
    from newsarchive.pipelines.extensions.storage import ArchiveStorage

logger = logging.getLogger(__name__)


def run_pages(store: Store, site: str, warc_keys: set[str], since: datetime) -> list[Page]:
    """Articles captured into `warc_keys`, titled from their metadata records."""
    pages = []
    day = since.astimezone(UTC).date()
    last = datetime.now(UTC).date()
    while day <= last:
        for key in store.list(f"{META_PREFIX}/{site}/{day.isoformat()}"):
            record = read_metadata(store, key)
            if record.warc is not None and record.warc.key in warc_keys:
                pages.append(
                    Page(url=record.url, date=record.fetched_at, title=record.title or record.url)
                )
        day += timedelta(days=1)
    return sorted(pages, key=lambda p: (p.date, p.url))


class ArchivePackager:
    """At spider close: CDXJ for every unindexed WARC of the site, a WACZ of this run's WARCs.

    Settings: ARCHIVE_ENABLED, ARCHIVE_CDXJ_ENABLED, ARCHIVE_WACZ_ENABLED.
    """

    def __init__(self, crawler: Crawler, cdxj: bool, wacz: bool) -> None:
        assert crawler.stats is not None
        self.crawler = crawler
        self.stats: StatsCollector = crawler.stats
        self.cdxj = cdxj
        self.wacz = wacz
        self.started = datetime.now(UTC)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("ARCHIVE_ENABLED"):
            raise NotConfigured("ARCHIVE_ENABLED is off")
        cdxj = settings.getbool("ARCHIVE_CDXJ_ENABLED")
        wacz = settings.getbool("ARCHIVE_WACZ_ENABLED")
        if not cdxj and not wacz:
            raise NotConfigured("ARCHIVE_CDXJ_ENABLED and ARCHIVE_WACZ_ENABLED are off")
        ext = cls(crawler, cdxj, wacz)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    async def spider_closed(self) -> None:
        capture = self.crawler.get_downloader_middleware(WarcCaptureMiddleware)
        if capture is None:
            return
        # The capture middleware closes its file on spider_closed too; handlers run
        # concurrently, so close it here first (idempotent) before reading the file list.
        keys = await capture.close_writer()
        storage = crawler_storage(self.crawler)
        site = capture.writer.site
        if self.cdxj:
            await run_in_thread(self._index, storage.store, site, keys)
        if self.wacz and keys:
            await run_in_thread(self._package, storage, site, keys, sorted(capture.original_keys))

    def _index(self, store: Store, site: str, run_keys: list[str]) -> None:
        """This run's WARCs first (from their local copies), then any older unindexed ones."""
        try:
            older = unindexed_warcs(store, site)
        except (StoreError, OSError) as exc:
            logger.warning("Cannot list older WARCs to index, the next run retries: %s", exc)
            older = []
        for key in dict.fromkeys([*run_keys, *older]):
            try:
                index_warc(store, key)
            except StoreError as exc:
                # The store is down (expected, reported by the storage layer): the WARC is
                # safe and the next run retries its index.
                logger.error("Could not index %s: %s", key, exc)
                self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
                continue
            except (OSError, ValueError):
                logger.error("Could not index %s", key, exc_info=True)
                self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
                continue
            self.stats.inc_value(StatsKeys.PACKAGE_CDXJ)

    def _package(
        self, storage: ArchiveStorage, site: str, keys: list[str], original_keys: list[str]
    ) -> None:
        try:
            pages = run_pages(storage.store, site, set(keys), self.started)
            # Originals of this run's revisits go in too, so the package replays on its own.
            package_run(storage.store, site, storage.run_id, keys + original_keys, pages)
        except StoreError as exc:
            logger.error("Could not package run %s of %s: %s", storage.run_id, site, exc)
            self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
            return
        except (OSError, ValueError, WaczError):
            logger.error("Could not package run %s of %s", storage.run_id, site, exc_info=True)
            self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
            return
        self.stats.inc_value(StatsKeys.PACKAGE_WACZ)
