"""The crawl's store: opened once per crawler, shared by the capture middleware and pipelines."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self
from weakref import WeakKeyDictionary

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import run_in_thread

from newsarchive.archive.store import AWS_OPTIONS, Store, open_store
from newsarchive.config.stats import StatsKeys

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.signalmanager import SignalManager
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run name: 20260217T131500Z-1a2b3c4d."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def store_options(settings: BaseSettings, *, reader: bool = False) -> dict[str, Any]:
    """Options for `open_store` from settings: Scrapy's AWS_* names and STORAGE_S3_*.

    `reader` (replay, reextract): no degraded reads, so an unreachable store is an error
    instead of a listing of the local spool only.
    """
    uri = settings.get("NEWSARCHIVE_STORE") or ""
    if not uri.startswith("s3://"):
        return {}
    names = [*AWS_OPTIONS, *(name for name in settings if name.startswith("STORAGE_S3_"))]
    options = {name: settings.get(name) for name in names if settings.get(name) is not None}
    if reader:
        options["STORAGE_S3_DEGRADED_READS"] = False
    return options


#: Signal sent once the store is closed at engine_stopped (an S3 store has drained its queue
#: or given up) and the upload outcome is in the stats: the run report takes its final numbers
#: here, and the site lock is released. Objects put into the store from now on stay in an S3
#: store's spool until the next run or `newsarchive upload`.
storage_closed = object()


class ArchiveStorage:
    """Holds the store for one crawl; closed when the engine stops, after every writer.

    Settings: NEWSARCHIVE_STORE (path, file:// or s3:// URI), AWS_* and STORAGE_S3_* (S3).
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        stats: StatsCollector | None = None,
        signals: SignalManager | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.stats = stats
        self.signals = signals

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        uri = crawler.settings.get("NEWSARCHIVE_STORE")
        if not uri:
            raise NotConfigured("NEWSARCHIVE_STORE is empty")
        store = open_store(uri, **store_options(crawler.settings))
        ext = cls(store, new_run_id(), crawler.stats, crawler.signals)
        _STORAGES[crawler] = ext
        # engine_stopped comes after spider_closed, when every writer has handed its files over.
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        logger.info("Archiving run %s into %s", ext.run_id, ext.store.uri)
        return ext

    async def engine_stopped(self) -> None:
        try:
            # An S3 store drains its upload queue here: blocking, so off the reactor.
            await run_in_thread(self.store.close)
            self.record_upload_report()
        finally:
            if self.signals is not None:
                await self.signals.send_catch_log_async(storage_closed)

    def record_upload_report(self) -> None:
        """Put the remote store's upload outcome into the stats (nothing for a local store)."""
        report = self.store.upload_report()
        if report is None or self.stats is None:
            return
        # Set after the spider closed: the CLI reads stats once the crawl process has stopped.
        self.stats.set_value(StatsKeys.STORAGE_UPLOADED, report.uploaded)
        self.stats.set_value(StatsKeys.STORAGE_UPLOADED_BYTES, report.uploaded_bytes)
        for name, count in report.failures.items():
            self.stats.set_value(f"{StatsKeys.STORAGE_UPLOAD_FAILED}/{name}", count)
        self.stats.set_value(StatsKeys.STORAGE_SPOOLED_PENDING, report.pending)
        self.stats.set_value(StatsKeys.STORAGE_UNAVAILABLE, int(report.unreachable))
        if report.multipart_aborted:
            self.stats.set_value(StatsKeys.STORAGE_MULTIPART_ABORTED, report.multipart_aborted)


#: Each crawler's ArchiveStorage from the moment it is built: the site lock, an extension built
#: right after it, needs the store before Scrapy lets extensions be looked up.
_STORAGES: WeakKeyDictionary[Crawler, ArchiveStorage] = WeakKeyDictionary()


def crawler_storage(crawler: Crawler) -> ArchiveStorage:
    """The crawl's ArchiveStorage extension; components that need it cannot run without it."""
    ext = _STORAGES.get(crawler)
    if ext is None:
        raise NotConfigured("the pipelines.storage.ArchiveStorage extension is not enabled")
    return ext
