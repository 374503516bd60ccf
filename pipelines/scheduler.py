"""The crawl's scheduler: Scrapy's own, with the requests waiting to be fetched kept on disk.

A news sitemap hands the spider thousands of article URLs at once. Held in memory, each waits
as a Request with its headers, meta and cached fingerprint and URL parts, about 2 KB: 40 MB of
the crawl process for 20,000 articles (bench/crawl.py). On disk each costs one pickle.

The queue is Scrapy's disk queue (SCHEDULER_DISK_QUEUE) in a folder of the store's working
state, one per site, emptied when a run opens it and removed when it closes: Scrapy's resuming
(JOBDIR) is not used, so the duplicate filter and the spider's state stay as they were. What a
killed run had queued comes back through the seen store's pending frontier. A request that
cannot be pickled waits in memory (stat `scheduler/unserializable`). A run locked out by
another crawl of its site fetches nothing, and keeps its queue in memory.
"""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING, Self

from scrapy.core.scheduler import Scheduler
from scrapy.exceptions import NotConfigured

from newsarchive.archive.layout import safe_segment
from newsarchive.pipelines.extensions.run import crawl_run

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy.crawler import Crawler
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

#: Under the store's state folder: one queue folder per site.
QUEUE_DIR = "queues"


class DiskQueueScheduler(Scheduler):
    """Scrapy's scheduler with its disk queue in `state/queues/SITE` (see the module)."""

    queue_dir: Path | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        scheduler = super().from_crawler(crawler)
        try:
            run = crawl_run(crawler)
        except NotConfigured:
            return scheduler
        queue_dir = run.store.state_dir / QUEUE_DIR / safe_segment(run.site.name)
        # A killed run's queue is not resumed: the seen store re-issues its requests.
        shutil.rmtree(queue_dir, ignore_errors=True)
        # Read by `open`, which builds the disk queue there (as it would under JOBDIR).
        scheduler.dqdir = scheduler._dqdir(str(queue_dir))
        scheduler.queue_dir = queue_dir
        return scheduler

    def close(self, reason: str) -> Deferred[None] | None:
        result = super().close(reason)
        if self.queue_dir is not None:
            shutil.rmtree(self.queue_dir, ignore_errors=True)
        return result
