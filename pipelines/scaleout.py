"""Scale-out: many crawl processes on many machines share one frontier through scrapy-redis.

With REDIS_URL set, the add-on (`pipelines.scaleoutaddon`) swaps in `RedisScheduler`, the
smallest adapter over scrapy-redis that is correct on current Scrapy: its queue
(`PriorityQueue`) and duplicate filter (`RFPDupeFilter`) under per-run keys, with persistence
always on (upstream's SCHEDULER_PERSIST=False lets the first worker to close delete the shared
queue); no deprecated calls (upstream passes `spider=` to stats and calls `Spider.log`); never
a blocking pop (upstream's SCHEDULER_IDLE_BEFORE_CLOSE `brpop`s on the reactor); seeds go
through the duplicate filter like any request. The spider's own async `start()` seeds
(`newsarchive seed`), so upstream's `RedisSpider` and its `start_requests`/`spider_idle`
feeding are not used.

`ScaleOut` is the worker: heartbeat and in-flight ledger (archive.frontier), idle closing
measured per instance and reset by every response, and the repair of a dead worker's files.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Final, Self

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from newsarchive.archive.frontier import Heartbeat
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.downloadermiddlewares.capture import WarcCaptureMiddleware
from newsarchive.pipelines.extensions.run import run_addon
from newsarchive.pipelines.extensions.seen import SeenState
from newsarchive.pipelines.scaleoutaddon import SEED_ROLE, WORKER_ROLE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.frontier import SharedFrontier
    from newsarchive.archive.run import CrawlRun

logger = logging.getLogger(__name__)

#: request.meta key: the id of the request's entry in this worker's in-flight ledger.
LEDGER_META: Final = "_newsarchive_ledger"


class ScaleOut:
    """One process's part in a scaled-out run: a seeder pushes requests and stops; a worker
    beats its heartbeat, records what it took, reaps dead workers and closes once the queue has
    been empty, with nothing in flight anywhere, for SCALEOUT_IDLE_CLOSE seconds (0: never).

    Settings: REDIS_URL, SCALEOUT_ROLE, SCALEOUT_IDLE_CLOSE, SCALEOUT_HEARTBEAT.
    """

    def __init__(self, crawler: Crawler, run: CrawlRun) -> None:
        self.crawler = crawler
        self.run = run
        # SCALEOUT_* settings, read where used.
        self.options = run.options
        self.heartbeat: Heartbeat | None = None
        #: Per instance, not per class (upstream's idle timer is a class attribute).
        self.last_busy = time.monotonic()
        self._texts: str = "todo"  # -> "running" -> "done"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = run_addon(crawler).run
        options = run.options
        if options.scaleout_role not in (SEED_ROLE, WORKER_ROLE):
            raise NotConfigured(f"SCALEOUT_ROLE must be seed or worker: {options.scaleout_role}")
        ext = cls(crawler, run)
        for name in ("spider_opened", "spider_idle", "response_received", "spider_closed"):
            crawler.signals.connect(getattr(ext, name), signal=getattr(signals, name))
        return ext

    @property
    def active(self) -> bool:
        """A worker whose run holds the site (a locked-out run takes nothing)."""
        return self.options.scaleout_role == WORKER_ROLE and not self.run.locked_out

    @property
    def frontier(self) -> SharedFrontier:
        assert self.run.frontier is not None
        return self.run.frontier

    def spider_opened(self) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(StatsKeys.SCALEOUT_SHARED, 1)
        if not self.active:
            return
        self.heartbeat = Heartbeat(self.frontier, self.options.scaleout_heartbeat, self._repair)
        self.heartbeat.start()
        logger.info(
            "Worker %s on run %s of %s: %d requests queued",
            self.frontier.worker,
            self.run.run_id,
            self.run.site.name,
            self.frontier.queued(),
        )

    def response_received(self) -> None:
        if self.active:
            self.last_busy = time.monotonic()
            self.frontier.count_response()

    def release(self, request: Request) -> None:
        """The request's work is done here (its callback ran, or it went back to the queue)."""
        ledger_id = request.meta.get(LEDGER_META)
        if ledger_id and self.active:
            self.frontier.release(ledger_id)

    def spider_idle(self) -> None:
        if not self.active:
            return
        frontier = self.frontier
        # Idle means nothing of this worker is downloading or in a callback: whatever its
        # ledger still holds (failed downloads, robots.txt refusals) has been handled.
        frontier.clear_ledger()
        now = time.monotonic()
        if not frontier.drained():
            self.last_busy = now
            raise DontCloseSpider
        idle_close = self.options.scaleout_idle_close
        if idle_close <= 0 or now - self.last_busy < idle_close:
            raise DontCloseSpider
        if self._texts != "done":
            if self._texts == "todo":
                self._texts = "running"
                deferred_from_coro(self._recover_texts())
            raise DontCloseSpider

    async def _recover_texts(self) -> None:
        """Extract what a dead worker archived without text (its requests, fetched again,
        came back unchanged): only from committed WARCs, never a live worker's open one."""
        try:
            state = self.crawler.get_extension(SeenState)
            if state is not None and state.store is not None:
                await state.recover_texts(self.crawler, state.store, committed_only=True)
        finally:
            self._texts = "done"

    def _repair(self, dead: list[str]) -> None:
        """Before a dead worker's requests go back to the queue (heartbeat thread): repair the
        WARCs it left open on this machine, so their captures are in the digest index."""
        logger.warning("Workers %s of %s stopped beating", ", ".join(dead), self.run.site.name)
        capture = self.crawler.get_downloader_middleware(WarcCaptureMiddleware)
        if capture is not None:
            capture.recover_files()
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(StatsKeys.SCALEOUT_DEAD_WORKERS, len(dead))

    def spider_closed(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None
        if self.active:
            self.frontier.leave()


def crawl_scaleout(crawler: Crawler) -> ScaleOut:
    """The crawl's `ScaleOut` extension, for the scheduler and the ledger middleware."""
    scaleout = crawler.get_extension(ScaleOut)
    if scaleout is None:
        raise NotConfigured("the ScaleOut extension is not enabled (ScaleOutAddon, REDIS_URL)")
    return scaleout


class LedgerQueue(PriorityQueue):  # type: ignore[misc]  # scrapy-redis ships no type hints
    """scrapy-redis's priority queue, popped into the worker's in-flight ledger atomically."""

    def __init__(self, spider: Spider, scaleout: ScaleOut) -> None:
        frontier = scaleout.frontier
        assert frontier.keys is not None
        super().__init__(server=frontier.client, spider=spider, key=frontier.keys.queue)
        self.frontier = frontier

    def pop(self, timeout: int = 0) -> Request | None:
        taken = self.frontier.take()
        if taken is None:
            return None
        data, ledger_id = taken
        request: Request = self._decode_request(data)
        request.meta[LEDGER_META] = ledger_id
        return request


class RedisScheduler(Scheduler):  # type: ignore[misc]  # scrapy-redis ships no type hints
    """scrapy-redis's scheduler on the run's keys, for seeders and workers alike. A seeder only
    enqueues; a worker pops without blocking. Settings: REDIS_URL, SCALEOUT_*."""

    def __init__(self, scaleout: ScaleOut, stats: StatsCollector) -> None:
        self.scaleout = scaleout
        frontier = scaleout.run.frontier
        if frontier is None or frontier.keys is None:
            raise NotConfigured("the run has no shared frontier (REDIS_URL)")
        super().__init__(
            server=frontier.client,
            persist=True,
            queue_key=frontier.keys.queue,
            dupefilter=RFPDupeFilter(frontier.client, key=frontier.keys.dupefilter),
            idle_before_close=0,
        )
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawl_scaleout(crawler), crawler.stats)

    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.queue = LedgerQueue(spider, self.scaleout)

    def close(self, reason: str) -> None:
        """Keep the queue and duplicate filter: other workers go on."""

    def enqueue_request(self, request: Request) -> bool:
        if self.scaleout.run.locked_out:
            return False
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value(StatsKeys.SCALEOUT_ENQUEUED)
        self.queue.push(request)
        # A redirect or a retry of a request this worker took: the queue holds its work now.
        self.scaleout.release(request)
        return True

    def next_request(self) -> Request | None:
        if not self.scaleout.active:
            return None
        request: Request | None = self.queue.pop()
        if request is not None:
            self.stats.inc_value(StatsKeys.SCALEOUT_DEQUEUED)
        return request

    def has_pending_requests(self) -> bool:
        return self.scaleout.active and len(self.queue) > 0


class LedgerMiddleware:
    """Spider middleware: a request's ledger entry goes once its callback's output has been
    taken (its new requests are in the queue), or when the callback failed."""

    def __init__(self, scaleout: ScaleOut) -> None:
        self.scaleout = scaleout

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawl_scaleout(crawler))

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        yield from result
        if response.request is not None:
            self.scaleout.release(response.request)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for output in result:
            yield output
        if response.request is not None:
            self.scaleout.release(response.request)

    def process_spider_exception(self, response: Response, exception: Exception) -> None:
        if response.request is not None:
            self.scaleout.release(response.request)
