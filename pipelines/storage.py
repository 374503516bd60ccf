"""The crawl's store: opened once per crawler, shared by the capture middleware and pipelines."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured

from archive.store import Store, open_store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run name: 20260217T131500Z-1a2b3c4d."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


class ArchiveStorage:
    """Holds the store for one crawl; closed when the engine stops, after every writer.

    Settings: NEWSARCHIVE_STORE (path, file:// or s3:// URI).
    """

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        uri = crawler.settings.get("NEWSARCHIVE_STORE")
        if not uri:
            raise NotConfigured("NEWSARCHIVE_STORE is empty")
        options = {
            name: crawler.settings.get(name)
            for name in (
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_ENDPOINT_URL",
                "AWS_REGION_NAME",
                "AWS_USE_SSL",
                "AWS_VERIFY",
            )
            if crawler.settings.get(name) is not None
        }
        ext = cls(open_store(uri, **options) if options else open_store(uri), new_run_id())
        # engine_stopped comes after spider_closed, when every writer has handed its files over.
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        logger.info("Archiving run %s into %s", ext.run_id, ext.store.uri)
        return ext

    def engine_stopped(self) -> None:
        self.store.close()


def crawler_storage(crawler: Crawler) -> ArchiveStorage:
    """The crawl's ArchiveStorage extension; components that need it cannot run without it."""
    ext = crawler.get_extension(ArchiveStorage)
    if ext is None:
        raise NotConfigured("the pipelines.storage.ArchiveStorage extension is not enabled")
    return ext
