"""Extension that indexes (CDXJ) and packages (WACZ) the run's WARCs as the run finishes."""

from __future__ import annotations

import logging
import zipfile
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import NotConfigured

from newsarchive.archive.backfill import (
    missing_packages,
    package_warcs,
    site_warcs,
    unindexed_warcs,
)
from newsarchive.archive.cdxj import index_warc
from newsarchive.archive.store import StoreError
from newsarchive.archive.wacz import WaczError
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.downloadermiddlewares.capture import WarcCaptureMiddleware
from newsarchive.pipelines.extensions.run import enabled_run

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.run import CrawlRun
    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)


class ArchivePackager:
    """When the run finishes (`CrawlRun.finish`, right after the WARC writer closed): CDXJ for
    every WARC of the site still unindexed (the writer indexes those it closes), a WACZ of this
    run's WARCs.

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
        run = enabled_run(crawler, lambda options: options.archive, "ARCHIVE_ENABLED")
        options = run.options
        if not options.cdxj and not options.wacz:
            raise NotConfigured("ARCHIVE_CDXJ_ENABLED and ARCHIVE_WACZ_ENABLED are off")
        ext = cls(crawler, run, options.cdxj, options.wacz)
        run.steps.package = ext.package
        return ext

    def package(self, keys: list[str]) -> None:
        """Index and package the WARCs this run closed (blocking), and any closed WARC of an
        earlier run left in no package (a run killed before this step, a recovered file)."""
        capture = self.crawler.get_downloader_middleware(WarcCaptureMiddleware)
        if capture is None:
            return
        site = self.run.site.name
        if self.cdxj:
            indexed = set(capture.writer.keys_indexed)
            # The writer indexed the files it closed as it wrote them; what is left (a failed
            # index upload, a WARC recovered from a killed run) is indexed by reading it.
            self.stats.inc_value(StatsKeys.PACKAGE_CDXJ, len(indexed))
            self._index(self.run.store, site, [key for key in keys if key not in indexed])
        if not self.wacz:
            return
        orphans = self._orphans(site, keys)
        if not self.stats.get_value(StatsKeys.ARCHIVE_RESPONSES):
            # Only revisits: the run's package would repeat what earlier ones hold.
            if keys:
                logger.info("Run %s archived nothing new: no WACZ of its own", self.run.run_id)
            keys = []
        if keys or orphans:
            self._package(site, [*orphans, *keys], len(orphans))

    def _orphans(self, site: str, keys: list[str]) -> list[str]:
        store = self.run.store
        try:
            found = missing_packages(store, site, site_warcs(store, site))
        except (StoreError, OSError, ValueError, zipfile.BadZipFile) as exc:
            logger.warning("Cannot tell which WARCs are in no package, next run retries: %s", exc)
            return []
        return [key for key in found if key not in keys]

    def _index(self, store: Store, site: str, run_keys: list[str]) -> None:
        """This run's unindexed WARCs first (from their local copies), then older ones."""
        try:
            older = unindexed_warcs(store, site)
        except (StoreError, OSError) as exc:
            logger.warning("Cannot list older WARCs to index, the next run retries: %s", exc)
            older = []
        for key in dict.fromkeys([*run_keys, *older]):
            try:
                index = index_warc(store, key)
            except StoreError as exc:
                # The store is down (expected, reported by the storage layer): the WARC is
                # safe and the next run retries its index.
                logger.error("Could not index %s: %s", key, exc)
                self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
                continue
            except Exception:  # any cause costs this WARC's index only, never the others'
                logger.error("Could not index %s", key, exc_info=True)
                self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
                continue
            self.stats.inc_value(StatsKeys.PACKAGE_CDXJ)
            if index.skipped:
                self.stats.inc_value(StatsKeys.PACKAGE_CDXJ_SKIPPED, len(index.skipped))

    def _package(self, site: str, keys: list[str], orphans: int) -> None:
        """A WACZ of this run's WARCs only (and of earlier WARCs left in none): its revisits
        point into earlier runs' packages (never copied, so packages grow with what changed);
        `newsarchive package` builds one package over many runs."""
        store, run_id = self.run.store, self.run.run_id
        try:
            # One per worker of a scaled-out run (the run's name carries the worker).
            package_warcs(store, site, self.run.name, keys, self.started.astimezone(UTC).date())
        except StoreError as exc:
            logger.error("Could not package run %s of %s: %s", run_id, site, exc)
            self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
            return
        except (OSError, ValueError, WaczError):
            logger.error("Could not package run %s of %s", run_id, site, exc_info=True)
            self.stats.inc_value(StatsKeys.PACKAGE_FAILED)
            return
        self.stats.inc_value(StatsKeys.PACKAGE_WACZ)
        if orphans:
            logger.warning("Packaged %d WARCs earlier runs left in no package", orphans)
            self.stats.inc_value(StatsKeys.PACKAGE_BACKFILLED, orphans)
