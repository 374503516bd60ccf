"""Incremental runs: the site's seen store as the spider's frontier.

`SeenState` says which discovered articles to fetch, remembers every request about to be made
as pending until its answer is recorded, and hands a killed run's pending requests to the next
run; at start it extracts the text of captures a killed run archived but never extracted. The
seen store itself is the run's (`archive.run.CrawlRun.seen`), closed when the run finishes.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Self

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.asyncio import run_in_thread

from newsarchive.archive.items import ArticleCapture
from newsarchive.archive.metadata import MetadataRecord, WarcPointer
from newsarchive.archive.reader import ArchiveReadError, archived_capture
from newsarchive.archive.seen import Fetch, Kind, PendingRequest, Plan, RefetchPolicy, plan_article
from newsarchive.archive.store import StoreError
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.article import ArticlePipeline
from newsarchive.pipelines.extensions.run import enabled_run

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.seen import SeenEntry, SeenStore
    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

#: request.meta keys: what the request is for the seen store (a Kind value); the fetch result
#: of a page, recorded once the spider has read its links; set on an unchanged payload.
TRACK_META: Final = "newsarchive_track"
FETCH_META: Final = "_newsarchive_fetch"
UNCHANGED_META: Final = "newsarchive_unchanged"


def _now() -> datetime:
    return datetime.now(UTC)


class SeenState:
    """The site's seen store for one run, and the frontier the spider asks.

    Settings: INCREMENTAL_ENABLED; the site's `refetch:` policy.
    """

    def __init__(
        self,
        opener: Callable[[], SeenStore],
        stats: StatsCollector,
        policy: RefetchPolicy | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._opener = opener
        self._seen: SeenStore | None = None
        self.stats = stats
        self.policy = policy
        self.clock = clock
        self.started = clock()
        self._planned: set[str] = set()
        self._skipped: set[str] = set()
        #: Set by from_crawler: the crawl whose pipeline extracts recovered captures, from
        #: this store, of this site.
        self.crawler: Crawler | None = None
        self.store: Store | None = None
        self.site = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = enabled_run(crawler, lambda options: options.incremental, "INCREMENTAL_ENABLED")
        refetch = run.site.refetch
        policy = RefetchPolicy(refetch.within_hours, refetch.every_hours) if refetch else None
        assert crawler.stats is not None
        # The run opens the seen store on first use and closes it when it finishes.
        ext = cls(lambda: run.seen, crawler.stats, policy)
        ext.crawler = crawler
        ext.site = run.site.name
        ext.store = run.store
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_dropped)
        return ext

    @property
    def seen(self) -> SeenStore:
        if self._seen is None:
            self._seen = self._opener()
        return self._seen

    # --- the frontier, as the spider sees it ----------------------------------------------

    def plan_article(self, url: str, announced: datetime | None, meta: dict[str, Any]) -> bool:
        """Whether to request a discovered article; if so it is pending until answered."""
        entry = self.seen.get(url)
        plan = plan_article(entry, announced, self.clock(), self.policy)
        if plan is Plan.SKIP:
            if url not in self._skipped:  # counted once, however many sources list it
                self._skipped.add(url)
                self.stats.inc_value(StatsKeys.INCREMENTAL_SKIPPED_SEEN)
            if announced is not None:
                self.seen.record_announced(url, announced)
            if entry is not None and entry.pending:
                self.seen.settle(url)  # a refetch left pending that is no longer due
            return False
        if plan in (Plan.ANNOUNCED, Plan.POLICY):
            self.stats.inc_value(f"{StatsKeys.INCREMENTAL_REFETCH}/{plan.value}")
        self._track(PendingRequest(url, Kind.ARTICLE, "parse_article", dict(meta), announced))
        meta[TRACK_META] = Kind.ARTICLE.value
        return True

    def defer(self, url: str, announced: datetime | None, meta: dict[str, Any]) -> None:
        """An article found over `max_articles`: into the backlog, unless archived and not
        due (then there is nothing to take later)."""
        if plan_article(self.seen.get(url), announced, self.clock(), self.policy) is Plan.SKIP:
            return
        self.seen.add_backlog(PendingRequest(url, Kind.ARTICLE, "parse_article", meta, announced))
        self.stats.inc_value(StatsKeys.INCREMENTAL_BACKLOG_ADDED)

    def backlog(self) -> list[PendingRequest]:
        """Articles earlier runs found over `max_articles`, oldest announcement first."""
        return self.seen.backlog()

    def drop_backlog(self, url: str) -> None:
        self.seen.drop_backlog(url)

    def due(self, entry: SeenEntry) -> bool:
        """Whether an archived article is to be fetched again now, announced or not."""
        return plan_article(entry, None, self.clock(), self.policy) is not Plan.SKIP

    def plan_page(self, url: str, callback: str, meta: dict[str, Any]) -> None:
        """A feed, sitemap or listing page about to be requested (always, conditionally)."""
        self._track(PendingRequest(url, Kind.PAGE, callback, dict(meta)))
        meta[TRACK_META] = Kind.PAGE.value

    def note_announced(self, url: str, announced: datetime | None) -> None:
        """Another feed/sitemap date for an article already planned in this run."""
        if announced is not None and url in self._planned:
            self.seen.record_announced(url, announced)

    def resume(self) -> list[PendingRequest]:
        """Requests an earlier run made pending and never saw answered."""
        pending = self.seen.pending()
        if pending:
            self.stats.set_value(StatsKeys.INCREMENTAL_RESUMED, len(pending))
            logger.info("Resuming %d requests left pending by an earlier run", len(pending))
        return pending

    def unchanged(self, response: Response) -> bool:
        """True when the response repeats (304, or the same payload) what is archived."""
        return bool(response.meta.get(UNCHANGED_META))

    def page_done(self, response: Response) -> None:
        """The spider has queued the page's links: its validators may now be kept."""
        fetch = response.meta.pop(FETCH_META, None)
        if isinstance(fetch, Fetch):
            self.seen.record_fetch(fetch)

    def _track(self, request: PendingRequest) -> None:
        self._planned.add(request.url)
        self.seen.add_pending(request)

    # --- signals ----------------------------------------------------------------------------

    async def spider_opened(self) -> None:
        counts = self.seen.counts()
        logger.debug("Seen store: %s", counts)
        if self.crawler is not None and self.store is not None:
            await self.recover_texts(self.crawler, self.store)

    def item_scraped(self, item: Any) -> None:
        """Scraped or dropped: the text version it gave, "" for none (pipelines.article)."""
        if isinstance(item, ArticleCapture) and "text_key" in item.extra:
            self.seen.record_text(item.url, item.extra["text_key"])

    async def recover_texts(
        self, crawler: Crawler, store: Store, *, committed_only: bool = False
    ) -> None:
        """Extract, through the crawl's own pipeline, the captures a killed run archived
        without text, reading their responses back from the archive instead of fetching.
        `committed_only`: leave captures whose WARC is not in the store yet (another live
        process's open file) to that process."""
        pipeline = crawler.get_item_pipeline(ArticlePipeline)
        if pipeline is None:
            return
        entries = self.seen.without_text()
        if committed_only:
            entries = [e for e in entries if e.warc is not None and store.exists(e.warc.warc_key)]
        if not entries:
            return
        logger.info("Extracting %d articles a killed run archived without text", len(entries))
        site = self.site
        for entry in entries:
            try:
                capture = await run_in_thread(archived_capture, store, _capture_source(site, entry))
            except ArchiveReadError as exc:
                # The archive cannot give this response (a record lost with a killed WARC's
                # tail, say): said once, not tried at every start.
                logger.warning("Cannot extract %s from the archive: %s", entry.url, exc)
                self.stats.inc_value(StatsKeys.INCREMENTAL_TEXTS_RECOVER_FAILED)
                self.seen.record_text(entry.url, "")
                continue
            except (StoreError, OSError) as exc:
                logger.warning(
                    "Cannot read %s from the store, next run retries: %s", entry.url, exc
                )
                self.stats.inc_value(StatsKeys.INCREMENTAL_TEXTS_RECOVER_FAILED)
                continue
            with contextlib.suppress(DropItem):  # counted and logged by the pipeline
                await pipeline.process_item(capture)
            if "text_key" in capture.extra:
                self.seen.record_text(entry.url, capture.extra["text_key"])
            if capture.extra.get("text_key"):
                self.stats.inc_value(StatsKeys.INCREMENTAL_TEXTS_RECOVERED)


def _capture_source(site: str, entry: SeenEntry) -> MetadataRecord:
    """What `archived_capture` reads a capture by, from its seen store entry."""
    assert entry.warc is not None
    return MetadataRecord(
        url=entry.url,
        site=site,
        fetched_at=entry.warc.date,
        feed_date=entry.announced.isoformat() if entry.announced else None,
        warc=WarcPointer.of(entry.warc),
    )


def crawler_seen_state(crawler: Crawler) -> SeenState:
    """The crawl's SeenState, for the middlewares that record into it."""
    ext = crawler.get_extension(SeenState)
    if ext is None:
        raise NotConfigured("the pipelines.extensions.seen.SeenState extension is not enabled")
    return ext
