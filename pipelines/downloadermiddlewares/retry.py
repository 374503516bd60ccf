"""Retries that honour the server's `Retry-After` on 429 and 503 before asking again."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Self

from scrapy.downloadermiddlewares.retry import RetryMiddleware

from newsarchive.config.stats import InvalidKind
from newsarchive.pipelines.skips import InvalidInput

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

_RETRY_AFTER_CODES = {429, 503}


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    # str.isdigit() accepts "²" and other Unicode digits float() refuses: ASCII only.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, waiting as long as `Retry-After` asks (up to a cap).

    Settings: the RETRY_* settings, plus RETRY_AFTER_MAX (seconds; a longer wait is not
    honoured: the request gives up, as hammering or stalling the crawl would be worse).
    """

    max_wait: float
    invalid: InvalidInput

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        mw = super().from_crawler(crawler)
        mw.max_wait = crawler.settings.getfloat("RETRY_AFTER_MAX")
        mw.invalid = InvalidInput(mw._inc)
        return mw

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        if response.status in _RETRY_AFTER_CODES and not request.meta.get("dont_retry"):
            header = response.headers.get(b"Retry-After")
            text = header.decode("latin-1") if header else None
            wait = retry_after_seconds(text)
            if text and text.strip() and wait is None:
                # Unreadable: Scrapy's own backoff applies, as with no header at all.
                self.invalid.skip(InvalidKind.RETRY_AFTER, request.url, f"{text[:40]!r}")
            if wait is not None:
                if wait > self.max_wait:
                    logger.warning(
                        "Not retrying %s: Retry-After %.0fs exceeds RETRY_AFTER_MAX %.0fs",
                        request.url,
                        wait,
                        self.max_wait,
                    )
                    return response
                await asyncio.sleep(wait)
        return super().process_response(request, response)
