"""The crawl's run as a Scrapy add-on: opened before any component is built, finished once the
engine has stopped. Components ask it for the site, store, run ID, seen store and digests."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.utils.asyncio import run_in_thread

from newsarchive.archive.run import CrawlRun
from newsarchive.config.exitcodes import LOCKED_REASON
from newsarchive.config.options import Options
from newsarchive.config.stats import StatsKeys

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

logger = logging.getLogger(__name__)


class RunAddon:
    """Opens the crawl's `CrawlRun` (store, run ID, site lock) from the settings while the
    crawler is built, before every extension, middleware and pipeline; at engine_stopped,
    after every writer, runs `CrawlRun.finish` (its fixed order) off the reactor.

    A run that finds its site locked by another crawl closes its spider before the first
    request with finish_reason `locked` (exit code 4); every component that touches the archive
    asks `crawl_run` and is left out (NotConfigured) instead.

    Settings: NEWSARCHIVE_SITE, NEWSARCHIVE_STORE, LOCK_ENABLED, AWS_*, STORAGE_S3_*.
    """

    def __init__(self, crawler: Crawler, run: CrawlRun) -> None:
        self.crawler = crawler
        self.run = run
        run.steps.count = self.count

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        options = Options.from_settings(crawler.settings)
        if options.site is None:
            raise NotConfigured("no site: set NEWSARCHIVE_SITE or run the news spider")
        if not options.store:
            raise NotConfigured("NEWSARCHIVE_STORE is empty")
        addon = cls(crawler, CrawlRun.open(options.site, options))
        crawler.signals.connect(addon.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(addon.engine_stopped, signal=signals.engine_stopped)
        return addon

    def update_settings(self, settings: Settings) -> None:
        """Nothing to change: the components of a locked-out run leave themselves out."""

    def spider_opened(self) -> None:
        if self.run.locked_out:
            # Scrapy closes a spider whose opening raised CloseSpider before it asks for any
            # start request, so nothing of the locked crawl is fetched or written.
            raise CloseSpider(LOCKED_REASON)

    async def engine_stopped(self) -> None:
        # Blocking (an S3 store drains its queue), so off the reactor.
        await run_in_thread(self.run.finish)

    def count(self) -> None:
        """The seen store's leftovers and the store's upload outcome, into the stats (set
        after the spider closed: the CLI reads stats once the crawl process has stopped)."""
        stats = self.crawler.stats
        if stats is None:
            return
        if self.run.pending_left is not None:
            stats.set_value(StatsKeys.INCREMENTAL_PENDING_LEFT, self.run.pending_left)
        if self.run.backlog_left is not None:
            stats.set_value(StatsKeys.INCREMENTAL_BACKLOG, self.run.backlog_left)
        report = self.run.upload
        if report is None:
            return
        stats.set_value(StatsKeys.STORAGE_UPLOADED, report.uploaded)
        stats.set_value(StatsKeys.STORAGE_UPLOADED_BYTES, report.uploaded_bytes)
        for name, count in report.failures.items():
            stats.set_value(f"{StatsKeys.STORAGE_UPLOAD_FAILED}/{name}", count)
        stats.set_value(StatsKeys.STORAGE_SPOOLED_PENDING, report.pending)
        stats.set_value(StatsKeys.STORAGE_UNAVAILABLE, int(report.unreachable))
        if report.multipart_aborted:
            stats.set_value(StatsKeys.STORAGE_MULTIPART_ABORTED, report.multipart_aborted)


def run_addon(crawler: Crawler) -> RunAddon:
    addon = crawler.get_addon(RunAddon)
    if addon is None:
        raise NotConfigured("the newsarchive run add-on (pipelines.extensions.run) is not enabled")
    return addon


def crawl_run(crawler: Crawler) -> CrawlRun:
    """The crawl's run, for a component that touches the archive or the seen store. Raises
    NotConfigured for a run locked out by another crawl: the component is left out."""
    run = run_addon(crawler).run
    if run.locked_out:
        # No message: Scrapy would log one WARNING per component; the run logged the lock once.
        raise NotConfigured
    return run


def enabled_run(crawler: Crawler, enabled: Callable[[Options], bool], setting: str) -> CrawlRun:
    """`crawl_run` for a component switched by one setting: NotConfigured("<setting> is off")
    when `enabled(options)` is false."""
    run = crawl_run(crawler)
    if not enabled(run.options):
        raise NotConfigured(f"{setting} is off")
    return run
