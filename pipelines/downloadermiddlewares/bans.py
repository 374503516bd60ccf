"""Stop crawling a site that keeps answering 429 or 403, instead of hammering it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from newsarchive.config.stats import StatsKeys

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: The spider's close reason when a site bans us; the run report says why.
BANNED_REASON = "banned"


class BannedRequest(IgnoreRequest):
    """A request not sent because the site's crawl was stopped for a ban."""


class BanGuardMiddleware:
    """Closes the spider after BANS_THRESHOLD answers in a row with a code in BANS_HTTP_CODES.

    Any other answer resets the count: one forbidden page is a page, a run of them is a wall.
    Placed above the retry middleware, so retries of a 429 count too. Settings: BANS_ENABLED,
    BANS_THRESHOLD (0 turns it off), BANS_HTTP_CODES.
    """

    def __init__(
        self, crawler: Crawler, stats: StatsCollector, threshold: int, codes: set[int]
    ) -> None:
        self.crawler = crawler
        self.stats = stats
        self.threshold = threshold
        self.codes = codes
        self.in_a_row = 0
        self.stopped: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        threshold = settings.getint("BANS_THRESHOLD")
        if not settings.getbool("BANS_ENABLED") or threshold <= 0:
            raise NotConfigured("BANS_ENABLED is off or BANS_THRESHOLD is 0")
        codes = {int(code) for code in settings.getlist("BANS_HTTP_CODES")}
        assert crawler.stats is not None
        return cls(crawler, crawler.stats, threshold, codes)

    def process_request(self, request: Request) -> None:
        if self.stopped is not None:
            raise BannedRequest(self.stopped)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in self.codes:
            self.in_a_row = 0
            return response
        self.stats.inc_value(f"{StatsKeys.BANS_RESPONSES}/{response.status}")
        self.in_a_row += 1
        if self.in_a_row >= self.threshold and self.stopped is None:
            self.stopped = (
                f"stopped after {self.in_a_row} answers in a row with HTTP "
                f"{'/'.join(map(str, sorted(self.codes)))} (last: {response.status} for "
                f"{request.url})"
            )
            spider = self.crawler.spider
            site = getattr(getattr(spider, "site", None), "name", "site")
            logger.warning("%s: banned or walled: %s", site, self.stopped)
            self.stats.set_value(StatsKeys.BANS_STOPPED, 1)
            self.stats.set_value(StatsKeys.BANS_REASON, self.stopped)
            stop_crawl(self.crawler, BANNED_REASON, BannedRequest(self.stopped))
        return response


def stop_crawl(crawler: Crawler, reason: str, refusal: IgnoreRequest) -> None:
    """Close the spider with `reason`, now: the requests already past process_request that wait
    in the downloader's slots for their delay fail with `refusal`, or they would still be sent."""
    assert crawler.engine is not None
    _drop_queued(crawler.engine.downloader.slots.values(), refusal)
    deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


def _drop_queued(slots: Iterable[Slot], refusal: IgnoreRequest) -> None:
    for slot in slots:
        while slot.queue:
            _request, deferred = slot.queue.popleft()
            deferred.errback(refusal)
