"""Scrapy's log messages about a failed download, as warnings: one bad page, recovered from (it
is counted once, as an error of the run, by config.errors from the downloader's stats)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, Self

from scrapy.logformatter import LogFormatter

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.logformatter import LogFormatterResult
    from twisted.python.failure import Failure

#: Logs a failed robots.txt fetch at ERROR itself, with no setting to change it.
_ROBOTS_LOGGER: Final = "scrapy.downloadermiddlewares.robotstxt"


class _AsWarning(logging.Filter):
    """Lowers a logger's ERROR records to WARNING before any handler (or the log counter of
    Scrapy's stats) sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class DownloadWarningsLogFormatter(LogFormatter):
    """Scrapy's LogFormatter with `download_error` at WARNING; also lowers the robots.txt
    middleware's "Error downloading" to WARNING. Settings: LOG_FORMATTER names it."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        robots = logging.getLogger(_ROBOTS_LOGGER)
        if not any(isinstance(f, _AsWarning) for f in robots.filters):
            robots.addFilter(_AsWarning())
        return cls()

    def download_error(
        self,
        failure: Failure,
        request: Request,
        spider: Spider,
        errmsg: str | None = None,
    ) -> LogFormatterResult:
        result = super().download_error(failure, request, spider, errmsg)
        result["level"] = logging.WARNING
        return result
