"""Live one-line progress on a terminal: pages, articles, errors, bytes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Self, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from newsarchive.config.errors import error_count
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.extensions.run import run_addon

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover - loop always returns


def progress_line(stats: dict[str, object], site: str) -> str:
    def num(key: str) -> int:
        value = stats.get(key, 0)
        return value if isinstance(value, int) else 0

    return (
        f"{site}: {num('response_received_count')} pages, "
        f"{num(StatsKeys.EXTRACT_OK)} articles, {error_count(stats)} errors, "
        f"{human_bytes(num(StatsKeys.ARCHIVE_BYTES))} archived"
    )


class ProgressReporter:
    """Rewrites one status line on stderr every NEWSARCHIVE_PROGRESS_INTERVAL seconds.

    Settings: NEWSARCHIVE_PROGRESS (on only when the CLI sees a terminal),
    NEWSARCHIVE_PROGRESS_INTERVAL.
    """

    def __init__(self, stats: StatsCollector, site: str, interval: float, out: TextIO) -> None:
        self.stats = stats
        self.site = site
        self.interval = interval
        self.out = out
        self._task = create_looping_call(self._tick)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = run_addon(crawler).run
        if not run.options.progress:
            # No message: an argument-less NotConfigured keeps Scrapy from warning about it,
            # and a cron run without a terminal is the normal case, not a misconfiguration.
            raise NotConfigured
        assert crawler.stats is not None
        ext = cls(crawler.stats, run.site.name, run.options.progress_interval, sys.stderr)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def _tick(self) -> None:
        self.out.write("\r\033[K" + progress_line(self.stats.get_stats(), self.site))
        self.out.flush()

    def spider_opened(self) -> None:
        self._task.start(self.interval, now=True)

    def spider_closed(self) -> None:
        if self._task.running:
            self._task.stop()
        self._tick()
        self.out.write("\n")
        self.out.flush()
