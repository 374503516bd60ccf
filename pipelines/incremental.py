"""Incremental runs: conditional requests, skipping what is archived, resuming a killed run.

`SeenState` (extension) holds the site's seen store and is the spider's frontier: it says
which discovered articles to fetch, remembers every request about to be made as pending until
its answer is recorded, and hands a killed run's pending requests to the next run; at start
it extracts the text of captures a killed run archived but never extracted.
`ConditionalRequestMiddleware` (downloader) makes requests for known URLs conditional, tells the
capture middleware which capture a 304 revisits, and records what each fetch gave.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Self

from scrapy import signals
from scrapy.exceptions import DropItem, IgnoreRequest, NotConfigured
from scrapy.utils.asyncio import run_in_thread

from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.items import ArticleCapture
from newsarchive.archive.metadata import MetadataRecord, WarcPointer
from newsarchive.archive.reader import ArchiveReadError, archived_capture
from newsarchive.archive.seen import (
    Fetch,
    Kind,
    PendingRequest,
    Plan,
    RefetchPolicy,
    SeenStore,
    open_seen_store,
    plan_article,
    reconcile_pending,
)
from newsarchive.archive.store import StoreError
from newsarchive.archive.warc import payload_digest
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.article import ArticlePipeline
from newsarchive.pipelines.downloadermiddlewares.capture import PREVIOUS_META, RECORD_META
from newsarchive.pipelines.extensions.runlock import locked_out
from newsarchive.pipelines.extensions.storage import crawler_storage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.seen import SeenEntry

logger = logging.getLogger(__name__)

#: request.meta keys: what the request is for the seen store (a Kind value); the fetch result
#: of a page, recorded once the spider has read its links; set on an unchanged payload.
TRACK_META: Final = "newsarchive_track"
FETCH_META: Final = "_newsarchive_fetch"
UNCHANGED_META: Final = "newsarchive_unchanged"
_VALIDATORS: Final = (b"If-None-Match", b"If-Modified-Since")


def _now() -> datetime:
    return datetime.now(UTC)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


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
        #: Set by from_crawler: the crawl whose pipeline extracts recovered captures.
        self.crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("INCREMENTAL_ENABLED"):
            raise NotConfigured("INCREMENTAL_ENABLED is off")
        site = getattr(crawler.spider, "site", None)
        name = getattr(site, "name", None)
        if not name:
            raise NotConfigured("incremental runs need a spider with a site config")
        refetch = getattr(site, "refetch", None)
        policy = RefetchPolicy(refetch.within_hours, refetch.every_hours) if refetch else None

        def opener() -> SeenStore:
            # The store is the ArchiveStorage extension's, which may not exist yet here.
            store = crawler_storage(crawler).store
            seen = open_seen_store(store.state_dir, name)
            found = reconcile_pending(seen, store, name)
            if found:
                logger.warning(
                    "%d articles a killed run archived but did not record; recorded now", found
                )
            return seen

        assert crawler.stats is not None
        ext = cls(opener, crawler.stats, policy)
        ext.crawler = crawler
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_dropped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
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
        if self.crawler is not None and locked_out(self.crawler):
            return  # another crawl of the site owns the seen store now
        counts = self.seen.counts()
        logger.debug("Seen store: %s", counts)
        if self.crawler is not None:
            await self.recover_texts(self.crawler)

    def item_scraped(self, item: Any) -> None:
        """Scraped or dropped: the text version it gave, "" for none (pipelines.article)."""
        if isinstance(item, ArticleCapture) and "text_key" in item.extra:
            self.seen.record_text(item.url, item.extra["text_key"])

    async def recover_texts(self, crawler: Crawler) -> None:
        """Extract, through the crawl's own pipeline, the captures a killed run archived
        without text, reading their responses back from the archive instead of fetching."""
        pipeline = crawler.get_item_pipeline(ArticlePipeline)
        if pipeline is None:
            return
        entries = self.seen.without_text()
        if not entries:
            return
        logger.info("Extracting %d articles a killed run archived without text", len(entries))
        store = crawler_storage(crawler).store
        site = getattr(getattr(crawler.spider, "site", None), "name", "")
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

    def spider_closed(self) -> None:
        if self._seen is None:
            return
        self.stats.set_value(StatsKeys.INCREMENTAL_PENDING_LEFT, self._seen.counts()["pending"])
        self._seen.close()
        self._seen = None


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
    ext = crawler.get_extension(SeenState)
    if ext is None:
        raise NotConfigured("the pipelines.incremental.SeenState extension is not enabled")
    return ext


class ConditionalRequestMiddleware:
    """Conditional requests for URLs the seen store knows; records every tracked fetch.

    Placed below the capture middleware (950): its request carries the validators, and its
    response comes back with `warc_record` set. Settings: INCREMENTAL_ENABLED.
    """

    def __init__(self, state: SeenState, stats: StatsCollector) -> None:
        self.state = state
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("INCREMENTAL_ENABLED"):
            raise NotConfigured("INCREMENTAL_ENABLED is off")
        assert crawler.stats is not None
        return cls(crawler_seen_state(crawler), crawler.stats)

    def process_request(self, request: Request) -> None:
        if not request.meta.get(TRACK_META):
            return
        # A redirect copies headers and meta from the request for the old URL: start afresh.
        for name in _VALIDATORS:
            request.headers.pop(name, None)
        request.meta.pop(PREVIOUS_META, None)
        request.meta.pop(UNCHANGED_META, None)
        entry = self.state.seen.get(request.url)
        if entry is None or entry.status != 200 or entry.fetched_at is None:
            return
        if entry.fetched_at >= self.state.started:
            # Fetched earlier in this run (a redirect to it, say): the capture middleware's
            # digest index makes the repeat a revisit; no conditional request is needed.
            return
        if entry.etag:
            request.headers[b"If-None-Match"] = entry.etag
        if entry.last_modified:
            request.headers[b"If-Modified-Since"] = entry.last_modified
        if entry.etag or entry.last_modified:
            self.stats.inc_value(StatsKeys.INCREMENTAL_CONDITIONAL)
            previous = entry.previous_capture()
            if previous is not None:
                request.meta[PREVIOUS_META] = previous

    def process_response(self, request: Request, response: Response) -> Response:
        track = request.meta.get(TRACK_META)
        if not track:
            return response
        kind = Kind(track)
        status = response.status
        entry = self.state.seen.get(request.url)
        digest = payload_digest(response.body) if status != 304 else None
        if status == 304:
            changed = False
            self.stats.inc_value(StatsKeys.INCREMENTAL_NOT_MODIFIED)
        else:
            changed = entry is None or entry.payload_digest != digest
        if not changed:
            request.meta[UNCHANGED_META] = True
        location = request.meta.get(RECORD_META)
        warc = None
        if changed and isinstance(location, CaptureRef):
            warc = replace(location, target_uri=request.url)
        fetch = Fetch(
            url=request.url,
            kind=kind,
            status=status,
            fetched_at=self.state.clock(),
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            payload_digest=digest,
            warc=warc,
            changed=changed,
        )
        if kind is Kind.ARTICLE:
            self._count_article(fetch, entry is not None and entry.fetched_at is not None)
            # Recorded at once, right after the capture: a killed run must not fetch it twice.
            self.state.seen.record_fetch(fetch)
        else:
            key = StatsKeys.INCREMENTAL_PAGES_CHANGED
            if not changed:
                key = StatsKeys.INCREMENTAL_PAGES_UNCHANGED
            self.stats.inc_value(key)
            if status == 200:
                # Kept once the spider has queued the page's links (SeenState.page_done), so a
                # run killed in between reads the page again instead of getting a 304.
                request.meta[FETCH_META] = fetch
            else:
                self.state.seen.record_fetch(fetch)
        return response

    def _count_article(self, fetch: Fetch, fetched_before: bool) -> None:
        self.stats.inc_value(StatsKeys.INCREMENTAL_FETCHED)
        if fetch.status not in (200, 304):
            self.stats.inc_value(StatsKeys.INCREMENTAL_OTHER_STATUS)
        elif not fetch.changed:
            self.stats.inc_value(StatsKeys.INCREMENTAL_UNCHANGED)
        elif fetched_before:
            self.stats.inc_value(StatsKeys.INCREMENTAL_UPDATED)
        else:
            self.stats.inc_value(StatsKeys.INCREMENTAL_NEW)

    def process_exception(self, request: Request, exception: Exception) -> None:
        if (
            request.meta.get(TRACK_META)
            and isinstance(exception, IgnoreRequest)
            and "robots.txt" in str(exception)
        ):
            # Denied now, denied next run: not worth keeping in the frontier.
            self.stats.inc_value(StatsKeys.INCREMENTAL_ROBOTS_DENIED)
            self.state.seen.settle(request.url)


class CaptureTextMiddleware:
    """Spider middleware: an article capture the spider makes no item of (not an article page,
    a duplicate) gets "" as its text in the seen store, so it is not taken at the next start
    for one a killed run left unextracted. Settings: INCREMENTAL_ENABLED.
    """

    def __init__(self, state: SeenState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("INCREMENTAL_ENABLED"):
            raise NotConfigured("INCREMENTAL_ENABLED is off")
        return cls(crawler_seen_state(crawler))

    def _new_capture(self, response: Response) -> bool:
        return (
            response.meta.get(TRACK_META) == Kind.ARTICLE.value
            and response.status == 200
            and not response.meta.get(UNCHANGED_META)
        )

    def _no_item(self, response: Response) -> None:
        self.state.seen.record_text(response.url, "")

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        watch, made = self._new_capture(response), False
        for output in result:
            made = made or isinstance(output, ArticleCapture)
            yield output
        if watch and not made:
            self._no_item(response)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        watch, made = self._new_capture(response), False
        async for output in result:
            made = made or isinstance(output, ArticleCapture)
            yield output
        if watch and not made:
            self._no_item(response)
