"""Conditional requests for URLs the seen store knows, and a record of every tracked fetch."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING, Final, Self

from scrapy.exceptions import IgnoreRequest

from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.seen import Fetch, Kind
from newsarchive.archive.warc import payload_digest
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.downloadermiddlewares.capture import (
    FAILED_META,
    PREVIOUS_META,
    RECORD_META,
)
from newsarchive.pipelines.downloadermiddlewares.storeguard import StoreUnwritable, store_failed
from newsarchive.pipelines.extensions.run import enabled_run
from newsarchive.pipelines.extensions.seen import (
    FETCH_META,
    TRACK_META,
    UNCHANGED_META,
    crawler_seen_state,
)

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

    from newsarchive.pipelines.extensions.seen import SeenState

_VALIDATORS: Final = (b"If-None-Match", b"If-Modified-Since")


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


class ConditionalRequestMiddleware:
    """Conditional requests for URLs the seen store knows; records every tracked fetch.

    Placed below the capture middleware (950): its request carries the validators, and its
    response comes back with `warc_record` set. Settings: INCREMENTAL_ENABLED.
    """

    def __init__(self, crawler: Crawler, state: SeenState, stats: StatsCollector) -> None:
        #: Whose store guard hears of write failures.
        self.crawler = crawler
        self.state = state
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        enabled_run(crawler, lambda options: options.incremental, "INCREMENTAL_ENABLED")
        assert crawler.stats is not None
        return cls(crawler, crawler_seen_state(crawler), crawler.stats)

    def process_request(self, request: Request) -> None:
        if not request.meta.get(TRACK_META):
            return
        # A redirect copies headers and meta from the request for the old URL: start afresh.
        for name in _VALIDATORS:
            request.headers.pop(name, None)
        request.meta.pop(PREVIOUS_META, None)
        request.meta.pop(UNCHANGED_META, None)
        entry = self.state.seen.get(request.url)
        if entry is None or entry.status != 200 or entry.fetched_at is None:
            return
        redirected = request.meta.get("redirect_urls") and entry.kind is Kind.ARTICLE
        if redirected and not self.state.due(entry):
            # A redirect (from a URL a killed run left pending, say) to an article archived
            # and not due again: the spider never planned it, so it is not fetched.
            self.stats.inc_value(StatsKeys.INCREMENTAL_REDIRECT_ARCHIVED)
            raise IgnoreRequest(f"redirect to {request.url}, archived and not due again")
        if entry.fetched_at >= self.state.started:
            # Fetched earlier in this run (a redirect to it, say): the capture middleware's
            # digest index makes the repeat a revisit; no conditional request is needed.
            return
        if entry.etag:
            request.headers[b"If-None-Match"] = entry.etag
        if entry.last_modified:
            request.headers[b"If-Modified-Since"] = entry.last_modified
        if entry.etag or entry.last_modified:
            self.stats.inc_value(StatsKeys.INCREMENTAL_CONDITIONAL)
            previous = entry.previous_capture()
            if previous is not None:
                request.meta[PREVIOUS_META] = previous

    def process_response(self, request: Request, response: Response) -> Response:
        track = request.meta.get(TRACK_META)
        if not track or request.meta.get(FAILED_META):
            # Not archived: the URL stays pending, so the next run fetches it again.
            return response
        try:
            return self._record(request, response, Kind(track))
        except (OSError, sqlite3.Error) as exc:
            if store_failed(self.crawler, exc):
                raise StoreUnwritable(str(exc)) from exc
            raise

    def _record(self, request: Request, response: Response, kind: Kind) -> Response:
        status = response.status
        entry = self.state.seen.get(request.url)
        digest = payload_digest(response.body) if status != 304 else None
        if status == 304:
            changed = False
            self.stats.inc_value(StatsKeys.INCREMENTAL_NOT_MODIFIED)
        else:
            changed = entry is None or entry.payload_digest != digest
        if not changed:
            request.meta[UNCHANGED_META] = True
        location = request.meta.get(RECORD_META)
        warc = None
        if changed and isinstance(location, CaptureRef):
            warc = replace(location, target_uri=request.url)
        fetch = Fetch(
            url=request.url,
            kind=kind,
            status=status,
            fetched_at=self.state.clock(),
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            payload_digest=digest,
            warc=warc,
            changed=changed,
        )
        if kind is Kind.ARTICLE:
            self._count_article(fetch, entry is not None and entry.fetched_at is not None)
            # Recorded at once, right after the capture: a killed run must not fetch it twice.
            self.state.seen.record_fetch(fetch)
        else:
            key = StatsKeys.INCREMENTAL_PAGES_CHANGED
            if not changed:
                key = StatsKeys.INCREMENTAL_PAGES_UNCHANGED
            self.stats.inc_value(key)
            if status == 200:
                # Kept once the spider has queued the page's links (SeenState.page_done), so a
                # run killed in between reads the page again instead of getting a 304.
                request.meta[FETCH_META] = fetch
            else:
                self.state.seen.record_fetch(fetch)
        return response

    def _count_article(self, fetch: Fetch, fetched_before: bool) -> None:
        self.stats.inc_value(StatsKeys.INCREMENTAL_FETCHED)
        if fetch.status not in (200, 304):
            self.stats.inc_value(StatsKeys.INCREMENTAL_OTHER_STATUS)
        elif not fetch.changed:
            self.stats.inc_value(StatsKeys.INCREMENTAL_UNCHANGED)
        elif fetched_before:
            self.stats.inc_value(StatsKeys.INCREMENTAL_UPDATED)
        else:
            self.stats.inc_value(StatsKeys.INCREMENTAL_NEW)

    def process_exception(self, request: Request, exception: Exception) -> None:
        if (
            request.meta.get(TRACK_META)
            and isinstance(exception, IgnoreRequest)
            and "robots.txt" in str(exception)
        ):
            # Denied now, denied next run: not worth keeping in the frontier.
            self.stats.inc_value(StatsKeys.INCREMENTAL_ROBOTS_DENIED)
            self.state.seen.settle(request.url)
