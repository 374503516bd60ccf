"""Item pipeline: extract each captured article (in the extraction pool), store text + metadata."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, Self

from scrapy.exceptions import DropItem

from newsarchive.archive.items import ArticleCapture
from newsarchive.config.stats import NotExtracted, StatsKeys
from newsarchive.extraction.budget import TooManyElements, extract_within_budget
from newsarchive.extraction.documents import ExtractOptions
from newsarchive.extraction.pool import PoolConfig, shared_pools
from newsarchive.extraction.records import extraction_objects, store_not_extracted
from newsarchive.extraction.sitemodel import (
    SiteModel,
    load_site_model,
    save_site_model,
    write_site_model,
)
from newsarchive.pipelines.extensions.run import enabled_run
from newsarchive.pipelines.groupwrite import GroupWriter

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.store import Store
    from newsarchive.extraction.pool import ExtractionPool

logger = logging.getLogger(__name__)

#: Imported by each worker as it starts, so no page pays for loading the extractor.
_PRELOAD = ("newsarchive.extraction.budget",)


# eq=False: a component is compared and hashed by identity (signal receivers, lookups by object).
@dataclass(eq=False)
class ArticlePipeline:
    """Runs extraction in the process's extraction pool and stores the results.

    Settings: EXTRACT_ENABLED, EXTRACT_WORKERS ("auto"; 0 = a thread), EXTRACT_TIMEOUT,
    EXTRACT_MAX_ELEMENTS, EXTRACT_FAVOR_PRECISION, EXTRACT_INCLUDE_COMMENTS,
    EXTRACT_SITE_MODEL_SAVE_INTERVAL; per-site `extraction:` overrides and `language` from the
    site YAML. The site's repeated-block model (extraction.sitemodel) learns from every article,
    in this process, and is kept in the store's state between runs, saved as the crawl goes.
    """

    store: Store
    options: ExtractOptions
    pool: ExtractionPool
    stats: StatsCollector
    max_elements: int
    site_model: SiteModel | None
    state_dir: Path | None
    #: Seconds between saves of the site model while the crawl runs.
    model_save_interval: float = 60.0
    _model_saved_at: float = field(default_factory=time.monotonic, init=False)
    _model_saving: bool = field(default=False, init=False)
    writer: GroupWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = GroupWriter(self.store)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = enabled_run(crawler, lambda options: options.extract, "EXTRACT_ENABLED")
        assert crawler.stats is not None
        state_dir = run.store.state_dir
        site_model = load_site_model(state_dir, run.site.name) or SiteModel(run.site.name)
        # One pool for every crawl of the process (`crawl --all`), released at close_spider.
        pool = shared_pools.acquire(
            PoolConfig(
                run.options.extract_workers,
                run.options.extract_timeout,
                _PRELOAD,
                run.options.extract_worker_nice,
            )
        )
        return cls(
            run.store,
            ExtractOptions.build(run.options, run.site),
            pool,
            crawler.stats,
            run.options.extract_max_elements,
            site_model,
            state_dir,
            run.options.extract_site_model_save_interval,
        )

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleCapture):
            return item
        # Waits while the pool's queue is full: the item slots fill, and Scrapy stops
        # feeding responses to the spider until extraction catches up.
        outcome = await self.pool.run(
            extract_within_budget,
            item.body,
            item.header("Content-Type"),
            item.url,
            self.options,
            self.max_elements,
        )
        if outcome.workers_lost:
            self.stats.inc_value(StatsKeys.EXTRACT_WORKERS_LOST, outcome.workers_lost)
        if outcome.failure is not None:
            await self._not_extracted(item, NotExtracted(outcome.failure.value))
        if isinstance(outcome.error, TooManyElements):
            await self._not_extracted(item, NotExtracted.TOO_MANY_ELEMENTS, str(outcome.error))
        if outcome.error is not None:
            # An extractor bug costs one page; the seen store leaves it unsettled, so the next
            # run (a fixed extractor, say) extracts it again.
            exc = outcome.error
            self.stats.inc_value(StatsKeys.EXTRACT_FAILED)
            logger.warning("Extraction failed for %s: %r", item.url, exc, exc_info=exc)
            raise DropItem(f"extraction failed: {exc!r}")
        result = outcome.value
        if result is None:
            self.stats.inc_value(StatsKeys.EXTRACT_EMPTY)
            logger.warning("No article text in %s", item.url)
            item.extra["text_key"] = ""
            raise DropItem("no article text")
        if self.site_model is not None:
            result = self.site_model.apply(result)
            removed = len(result.metadata.get("removed_blocks", ()))
            if removed:
                self.stats.inc_value(StatsKeys.EXTRACT_SITE_BLOCKS_REMOVED, removed)
            await self._save_model_now_and_then(self.site_model)
        record, objects = extraction_objects(item, result)
        try:
            # Written with the other articles of a short window (one group commit of fsyncs).
            await self.writer.put(objects)
        except OSError as exc:
            self._storage_failed(item, exc)
        self.stats.inc_value(StatsKeys.EXTRACT_OK)
        self.stats.inc_value(StatsKeys.STORAGE_OBJECTS, 2)
        # The seen store (pipelines.extensions.seen) records which text version a capture gave;
        # a storage failure leaves none, so the next run extracts the capture again.
        item.extra["text_key"] = record.text_key or ""
        return item

    async def _not_extracted(
        self, item: ArticleCapture, why: NotExtracted, detail: str = ""
    ) -> None:
        """Record why an archived page has no text, then drop the item."""
        self.stats.inc_value(why.stat)
        logger.warning("Not extracted: %s%s: %s", why, f" ({detail})" if detail else "", item.url)
        try:
            await asyncio.to_thread(store_not_extracted, self.store, item, why)
        except OSError as exc:
            self._storage_failed(item, exc)
        self.stats.inc_value(StatsKeys.STORAGE_OBJECTS)
        if why is not NotExtracted.WORKER_LOST:
            # Settled: the page's own size or cost stopped it, and would again. A lost worker
            # says nothing of the page, so the next run extracts it again.
            item.extra["text_key"] = ""
        raise DropItem(f"not extracted: {why}")

    async def _save_model_now_and_then(self, model: SiteModel) -> None:
        """Save the site model every `model_save_interval` seconds: a killed crawl keeps what it
        learnt up to the last save (close saves the rest)."""
        if self._model_saving or self.state_dir is None:
            return
        if time.monotonic() - self._model_saved_at < self.model_save_interval:
            return
        self._model_saving = True
        # The snapshot is taken here, on the thread that updates the model; only the write waits.
        text = model.to_json()
        try:
            await asyncio.to_thread(write_site_model, self.state_dir, model.site, text)
        except OSError:
            logger.warning("Could not save the site model", exc_info=True)
        finally:
            self._model_saved_at = time.monotonic()
            self._model_saving = False

    def _storage_failed(self, item: ArticleCapture, exc: OSError) -> NoReturn:
        self.stats.inc_value(f"{StatsKeys.STORAGE_FAILED}/{type(exc).__name__}")
        logger.error("Could not store text of %s", item.url, exc_info=exc)
        raise DropItem(f"storage failed: {exc!r}") from exc

    async def close_spider(self) -> None:
        # The last crawl of the process to close stops the workers; off the reactor, as
        # stopping waits for them to exit.
        await asyncio.to_thread(shared_pools.release, self.pool)
        if self.site_model is not None and self.state_dir is not None:
            try:
                # off the reactor, like the periodic saves: the model can be about 1 MB
                await asyncio.to_thread(save_site_model, self.state_dir, self.site_model)
            except OSError:
                # the next run starts this site's model from its last saved counts
                logger.warning("Could not save the site model", exc_info=True)
