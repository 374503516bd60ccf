"""Item pipeline: extract each captured article (in worker processes) and store text + metadata."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Self

from scrapy.exceptions import DropItem, NotConfigured

from newsarchive.archive.items import ArticleCapture
from newsarchive.config.stats import StatsKeys
from newsarchive.extraction.documents import ExtractOptions, extract_document
from newsarchive.extraction.records import store_extraction
from newsarchive.extraction.sitemodel import SiteModel, load_site_model, save_site_model
from newsarchive.extraction.workers import die_with_parent
from newsarchive.pipelines.extensions.run import crawl_run

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)


class ArticlePipeline:
    """Runs extraction off the reactor and stores the results.

    Settings: EXTRACT_ENABLED, EXTRACT_WORKERS (0 = a thread), EXTRACT_FAVOR_PRECISION,
    EXTRACT_INCLUDE_COMMENTS; per-site `extraction:` overrides and `language` from the site YAML.
    The site's repeated-block model (extraction.sitemodel) learns from every article, in this
    process, and is kept in the store's state between runs.
    """

    def __init__(
        self,
        store: Store,
        options: ExtractOptions,
        workers: int,
        stats: StatsCollector,
        site_model: SiteModel | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.options = options
        self.stats = stats
        self.site_model = site_model
        self.state_dir = state_dir
        self.executor: Executor
        if workers > 0:
            # spawn: forking a process that runs a Twisted reactor and threads is unsafe.
            # Workers die with the crawl, so a killed crawl leaves no process holding its pipes.
            self.executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
        else:
            self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = crawl_run(crawler)
        if not run.options.extract:
            raise NotConfigured("EXTRACT_ENABLED is off")
        assert crawler.stats is not None
        state_dir = run.store.state_dir
        site_model = load_site_model(state_dir, run.site.name) or SiteModel(run.site.name)
        return cls(
            run.store,
            ExtractOptions.build(run.options, run.site),
            run.options.extract_workers,
            crawler.stats,
            site_model,
            state_dir,
        )

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleCapture):
            return item
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self.executor,
                extract_document,
                item.body,
                item.header("Content-Type"),
                item.url,
                self.options,
            )
        except Exception as exc:  # any extractor bug must cost one page, not the run
            self.stats.inc_value(StatsKeys.EXTRACT_FAILED)
            logger.warning("Extraction failed for %s: %r", item.url, exc, exc_info=True)
            item.extra["text_key"] = ""  # settled: the seen store does not expect a text
            raise DropItem(f"extraction failed: {exc!r}") from exc
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
        try:
            record = await asyncio.to_thread(store_extraction, self.store, item, result)
        except OSError as exc:
            self.stats.inc_value(f"{StatsKeys.STORAGE_FAILED}/{type(exc).__name__}")
            logger.error("Could not store text of %s", item.url, exc_info=True)
            raise DropItem(f"storage failed: {exc!r}") from exc
        self.stats.inc_value(StatsKeys.EXTRACT_OK)
        self.stats.inc_value(StatsKeys.STORAGE_OBJECTS, 2)
        # The seen store (pipelines.extensions.seen) records which text version a capture gave;
        # a storage failure leaves none, so the next run extracts the capture again.
        item.extra["text_key"] = record.text_key or ""
        return item

    def close_spider(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)
        if self.site_model is not None and self.state_dir is not None:
            try:
                save_site_model(self.state_dir, self.site_model)
            except OSError:
                # the next run starts this site's model from its last saved counts
                logger.warning("Could not save the site model", exc_info=True)
