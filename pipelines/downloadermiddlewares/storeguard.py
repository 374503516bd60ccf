"""Stop the crawl at the first write the store refuses: a full disk, a read-only store, an I/O
error. Nothing more is requested, and what was not written stays unrecorded for the next run."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final, Self

from scrapy import signals
from scrapy.exceptions import IgnoreRequest

from newsarchive.archive.files import UNWRITABLE_LOG_FIELD, store_write_failure
from newsarchive.config.exitcodes import UNWRITABLE_REASON
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.downloadermiddlewares.bans import stop_crawl
from newsarchive.pipelines.extensions.run import crawl_run

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

#: What the operator is told besides the cause and the path.
_NEXT: Final = "crawl stopped; the next run with space recaptures what is missing"


class StoreUnwritable(IgnoreRequest):
    """A request not sent, or a response not passed on, because the store takes no writes."""


class StoreGuardMiddleware:
    """Watches every write of the crawl to its store (the WARC writer's, the seen store's, text
    and metadata) for a failure no later write can escape: ENOSPC, EDQUOT, EROFS, EACCES, EPERM,
    EIO, or SQLite's equivalents. At the first one it logs one ERROR line naming the cause and
    the path, sets `storage/unwritable` to it, and closes the spider (finish reason
    `store_unwritable`, exit code 5); queued and later requests are refused.

    The capture and incremental middlewares ask `failed()` about their own errors; dropped items
    and spider errors (the seen store written from a callback) arrive by signal. No settings:
    on whenever the run has a store.
    """

    def __init__(self, crawler: Crawler, stats: StatsCollector) -> None:
        self.crawler = crawler
        self.stats = stats
        #: "CAUSE: PATH" of the first failure, once there was one.
        self.cause: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        crawl_run(crawler)  # a run locked out by another crawl writes nothing: nothing to watch
        assert crawler.stats is not None
        guard = cls(crawler, crawler.stats)
        crawler.signals.connect(guard.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(guard.spider_error, signal=signals.spider_error)
        return guard

    def process_request(self, request: Request) -> None:
        if self.cause is not None:
            raise StoreUnwritable(self.cause)

    def failed(self, exc: BaseException | None) -> bool:
        """True when `exc` means the store takes no more writes; the first one stops the crawl."""
        cause = store_write_failure(exc)
        if cause is None:
            return False
        if self.cause is None:
            self.cause = cause
            logger.error(
                "Store not writable (%s): %s", cause, _NEXT, extra={UNWRITABLE_LOG_FIELD: cause}
            )
            self.stats.set_value(StatsKeys.STORAGE_UNWRITABLE, cause)
            if self.crawler.engine is not None and self.crawler.engine.spider is not None:
                stop_crawl(self.crawler, UNWRITABLE_REASON, StoreUnwritable(cause))
        return True

    def item_dropped(self, item: Any, response: Response | None, exception: BaseException) -> None:
        self.failed(exception)

    def spider_error(self, failure: Failure, response: Response) -> None:
        self.failed(failure.value)


def store_guard(crawler: Crawler) -> StoreGuardMiddleware | None:
    """The crawl's guard, for the components that write to the store (None when it is off)."""
    return crawler.get_downloader_middleware(StoreGuardMiddleware)


def store_failed(crawler: Crawler, exc: BaseException) -> bool:
    """Whether `exc` means the store takes no more writes (told to the crawl's guard)."""
    guard = store_guard(crawler)
    return guard.failed(exc) if guard is not None else store_write_failure(exc) is not None
