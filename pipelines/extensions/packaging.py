"""Extension that indexes (CDXJ) and packages (WACZ) the run's WARCs as the run finishes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import NotConfigured

from newsarchive.archive.cdxj import index_warc, unindexed_warcs
from newsarchive.archive.collection import index_lines
from newsarchive.archive.layout import META_PREFIX, wacz_key
from newsarchive.archive.metadata import read_metadata
from newsarchive.archive.store import StoreError
from newsarchive.archive.wacz import Page, WaczError, package_keys
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.downloadermiddlewares.capture import WarcCaptureMiddleware
from newsarchive.pipelines.extensions.run import crawl_run

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.run import CrawlRun
    from newsarchive.archive.store import Store

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
    """When the run finishes (`CrawlRun.finish`, right after the WARC writer closed): CDXJ for
    every unindexed WARC of the site, a WACZ of this run's WARCs.

    Settings: ARCHIVE_ENABLED, ARCHIVE_CDXJ_ENABLED, ARCHIVE_WACZ_ENABLED.
    """

    def __init__(self, crawler: Crawler, run: CrawlRun, cdxj: bool, wacz: bool) -> None:
        assert crawler.stats is not None
        self.crawler = crawler
        self.stats: StatsCollector = crawler.stats
        self.run = run
        self.cdxj = cdxj
        self.wacz = wacz
        self.started = datetime.now(UTC)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = crawl_run(crawler)
        options = run.options
        if not options.archive:
            raise NotConfigured("ARCHIVE_ENABLED is off")
        if not options.cdxj and not options.wacz:
            raise NotConfigured("ARCHIVE_CDXJ_ENABLED and ARCHIVE_WACZ_ENABLED are off")
        ext = cls(crawler, run, options.cdxj, options.wacz)
        run.steps.package = ext.package
        return ext

    def package(self, keys: list[str]) -> None:
        """Index and package the WARCs this run closed (blocking)."""
        capture = self.crawler.get_downloader_middleware(WarcCaptureMiddleware)
        if capture is None:
            return
        site = self.run.site.name
        if self.cdxj:
            self._index(self.run.store, site, keys)
        if self.wacz and keys:
            if not self.stats.get_value(StatsKeys.ARCHIVE_RESPONSES):
                # Only revisits: the run's package would repeat what earlier ones hold.
                logger.info("Run %s archived nothing new: no WACZ", self.run.run_id)
                return
            self._package(site, keys)

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

    def _package(self, site: str, keys: list[str]) -> None:
        """A WACZ of this run's WARCs only: its revisits point into earlier runs' packages
        (never copied, so packages grow with what changed); `newsarchive package` builds one
        package over many runs."""
        store, run_id = self.run.store, self.run.run_id
        try:
            pages = run_pages(store, site, set(keys), self.started)
            lines = sorted(line for key in keys for line in index_lines(store, key) if line.strip())
            package_keys(
                store,
                wacz_key(site, run_id),
                keys,
                lines,
                pages,
                title=f"newsarchive {site} {run_id}",
                metadata={"site": site, "run": run_id},
            )
        except StoreError as exc:
            logger.error("Could not package run %s of %s: %s", run_id, site, exc)
            self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
            return
        except (OSError, ValueError, WaczError):
            logger.error("Could not package run %s of %s", run_id, site, exc_info=True)
            self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
            return
        self.stats.inc_value(StatsKeys.PACKAGE_WACZ)
