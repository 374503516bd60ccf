"""Extension: one crawl per site at a time, whichever way it was started (newsarchive or scrapy)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, Self

from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.settings import SETTINGS_PRIORITIES

from newsarchive.archive.lock import LockHeld, RunLock, site_lock
from newsarchive.config.exitcodes import LOCKED_REASON
from newsarchive.pipelines.extensions.storage import crawler_storage, storage_closed

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    from newsarchive.archive.lock import LockOwner

logger = logging.getLogger(__name__)

#: Component settings built with the engine, after this extension. A crawl that finds its
#: site locked leaves out every component of ours listed there: they would touch the archive
#: or the seen store (repair the running crawl's open WARC, re-extract its captures).
_COMPONENT_SETTINGS: Final = ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "ITEM_PIPELINES")
_OURS: Final = "newsarchive.pipelines."


class SiteLock:
    """Takes the site's run lock (`archive.lock`) in the store's state folder while the crawler
    is being built, before any middleware opens the archive, and holds it until the store has
    closed. When another live crawl holds it, this crawl does nothing: it leaves out our
    middlewares and pipelines, our extensions ask `locked_out`, and the spider closes before
    its first request with finish_reason `locked` (exit code 4).

    Comes after ArchiveStorage (it needs the store's state folder) and before every other
    component of ours. Settings: LOCK_ENABLED.
    """

    def __init__(self, lock: RunLock, site: str) -> None:
        self.lock = lock
        self.site = site
        #: Who holds the lock, when another crawl does (None: this crawl holds it).
        self.owner: LockOwner | None = None
        self.locked_out = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("LOCK_ENABLED"):
            raise NotConfigured("LOCK_ENABLED is off")
        site = getattr(getattr(crawler.spider, "site", None), "name", None)
        if not site:
            raise NotConfigured("the site lock needs a spider with a site config")
        ext = cls(site_lock(crawler_storage(crawler).store.state_dir, site), site)
        try:
            ext.lock.acquire()
        except LockHeld as exc:
            ext.locked_out, ext.owner = True, exc.owner
            logger.info("%s: not crawled, another crawl is running (%s)", site, ext.holder)
            _stand_down(crawler.settings)
            crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
            return ext
        # Released once the report is final and the store closed, not at spider_closed: the
        # next run must not start while this one still writes.
        crawler.signals.connect(ext.release, signal=storage_closed)
        return ext

    @property
    def holder(self) -> str:
        return self.owner.describe() if self.owner else "another process"

    def spider_opened(self) -> None:
        # Scrapy closes a spider whose opening raised CloseSpider before it asks for any
        # start request, so nothing of the locked crawl is fetched or written.
        raise CloseSpider(LOCKED_REASON)

    def release(self) -> None:
        self.lock.release()


def _stand_down(settings: BaseSettings) -> None:
    for name in _COMPONENT_SETTINGS:
        components = settings.getdict(name)
        for key in list(components):
            path = key if isinstance(key, str) else f"{key.__module__}.{key.__qualname__}"
            if path.startswith(_OURS):
                components[key] = None
        # Over a -s override too: a locked crawl must not touch another crawl's files.
        priority = max(settings.getpriority(name) or 0, SETTINGS_PRIORITIES["cmdline"])
        settings.set(name, components, priority=priority)


def locked_out(crawler: Crawler) -> bool:
    """True for a crawl that found its site locked by another and does nothing."""
    ext = crawler.get_extension(SiteLock)
    return ext is not None and ext.locked_out
