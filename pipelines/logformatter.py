"""Scrapy's log lines, made short: items are named by URL, never printed whole.

Scrapy's LogFormatter prints an item's repr when it is scraped, dropped or fails: for an
article that is its whole body (one cron mail line was 6.7 MB). A failed download is a
warning (one bad page, recovered from): config.errors counts it once, from the downloader's
stats, so an ERROR line must not count it again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final, Self, TypeAlias

from itemadapter import ItemAdapter, is_item
from scrapy.logformatter import LogFormatter, LogFormatterResult

from newsarchive.archive.files import store_write_failure
from newsarchive.config.logfilters import demote_errors
from newsarchive.pipelines.skips import shorten

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

    #: The `response` Scrapy hands the item formatters.
    _ItemResponse: TypeAlias = Response | Failure | None

#: A URL or message in a log line is cut to this many characters.
MAX_LOGGED = 500
#: Logs a failed robots.txt fetch at ERROR itself, with no setting to change it.
_ROBOTS_LOGGER: Final = "scrapy.downloadermiddlewares.robotstxt"


def item_url(item: Any) -> str:
    """What names an item in a log line: its URL, else its type."""
    url = getattr(item, "url", None)
    if url is None and is_item(item):
        url = ItemAdapter(item).get("url")
    return shorten(str(url), MAX_LOGGED) if url else type(item).__name__


class ShortLogFormatter(LogFormatter):
    """LogFormatter whose lines carry an item's URL and the reason, each cut to MAX_LOGGED
    characters; a failed download at WARNING (the robots.txt middleware's "Error downloading"
    too). Set as LOG_FORMATTER in config/settings.py, with RETRY_GIVE_UP_LOG_LEVEL = WARNING."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        demote_errors(_ROBOTS_LOGGER)
        return cls()

    def crawled(self, request: Request, response: Response, spider: Spider) -> LogFormatterResult:
        result = super().crawled(request, response, spider)
        args = dict(result["args"])
        args["request"] = f"<{request.method} {shorten(request.url, MAX_LOGGED)}>"
        args["referer"] = shorten(str(args["referer"]), MAX_LOGGED)
        return {"level": result["level"], "msg": result["msg"], "args": args}

    def scraped(self, item: Any, response: _ItemResponse, spider: Spider) -> LogFormatterResult:
        return {"level": logging.DEBUG, "msg": "Scraped %(item)s", "args": {"item": item_url(item)}}

    def dropped(
        self, item: Any, exception: BaseException, response: _ItemResponse, spider: Spider
    ) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        # The store refusing writes is said once, by the store guard, not once per item.
        level = logging.DEBUG if store_write_failure(exception) else result["level"]
        return {
            "level": level,
            "msg": "Dropped %(item)s: %(reason)s",
            "args": {"item": item_url(item), "reason": shorten(str(exception), MAX_LOGGED)},
        }

    def item_error(
        self, item: Any, exception: BaseException, response: _ItemResponse, spider: Spider
    ) -> LogFormatterResult:
        return {
            "level": logging.ERROR,
            "msg": "Error processing %(item)s: %(reason)s",
            "args": {"item": item_url(item), "reason": shorten(repr(exception), MAX_LOGGED)},
        }

    def spider_error(
        self, failure: Failure, request: Request, response: Response | Failure, spider: Spider
    ) -> LogFormatterResult:
        return {
            "level": logging.ERROR,
            "msg": "Spider error processing <%(method)s %(url)s>",
            "args": {"method": request.method, "url": shorten(request.url, MAX_LOGGED)},
        }

    def download_error(
        self, failure: Failure, request: Request, spider: Spider, errmsg: str | None = None
    ) -> LogFormatterResult:
        args: dict[str, Any] = {
            "method": request.method,
            "url": shorten(request.url, MAX_LOGGED),
            "errmsg": shorten(errmsg or failure.getErrorMessage(), MAX_LOGGED),
        }
        return {
            "level": logging.WARNING,
            "msg": "Error downloading <%(method)s %(url)s>: %(errmsg)s",
            "args": args,
        }
