"""Redirects as Scrapy follows them, except that an unusable `Location` is not an error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Self

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware

from newsarchive.config.stats import InvalidKind
from newsarchive.pipelines.skips import InvalidInput

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

#: The statuses Scrapy's RedirectMiddleware follows.
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})


class LocationRedirectMiddleware(RedirectMiddleware):
    """Scrapy's RedirectMiddleware, with a redirect it cannot follow handed on as a response.

    Scrapy raises ValueError when `Location` names no URL it can request (`javascript:`,
    `mailto:`, an unclosed `[::1`, port 99999), which loses the exchange for the spider and
    logs an error; it silently hands on one to another scheme (`file:`, `data:`). Both reach
    the spider as the 3xx they are (counted there by status), and are counted and logged once
    per run as `discovery/skipped_invalid/location`. Settings: the REDIRECT_* settings.
    """

    invalid: InvalidInput

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        mw = super().from_crawler(crawler)
        mw.invalid = InvalidInput(mw._inc)
        return mw

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def process_response(  # type: ignore[override]  # Scrapy's keeps a deprecated spider argument
        self, request: Request, response: Response
    ) -> Request | Response:
        try:
            result = super().process_response(request, response)
        except ValueError as exc:
            self._skip(request, response, str(exc))
            return response
        if result is response and self._follows(request, response):
            # Scrapy only hands back a redirect it would follow when the target is no http(s).
            self._skip(request, response, "not an http(s) URL")
        return result

    def _follows(self, request: Request, response: Response) -> bool:
        """Whether Scrapy's rules make this response a redirect to follow."""
        meta = request.meta
        return not (
            meta.get("dont_redirect", False)
            or meta.get("handle_httpstatus_all", False)
            or response.status in meta.get("handle_httpstatus_list", ())
            or response.status in getattr(self.crawler.spider, "handle_httpstatus_list", ())
            or response.status not in REDIRECT_STATUSES
            or b"Location" not in response.headers
        )

    def _skip(self, request: Request, response: Response, reason: str) -> None:
        location = (response.headers.get(b"Location") or b"").decode("latin-1")
        self.invalid.skip(
            InvalidKind.LOCATION, request.url, f"Location {location[:80]!r} not followed: {reason}"
        )
