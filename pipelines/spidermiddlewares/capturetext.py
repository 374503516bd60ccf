"""Spider middleware: article captures the spider made no item of expect no text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from newsarchive.archive.items import ArticleCapture
from newsarchive.archive.seen import Kind
from newsarchive.pipelines.extensions.run import enabled_run
from newsarchive.pipelines.extensions.seen import (
    TRACK_META,
    UNCHANGED_META,
    crawler_seen_state,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from newsarchive.pipelines.extensions.seen import SeenState


class CaptureTextMiddleware:
    """Spider middleware: an article capture the spider makes no item of (not an article page,
    a duplicate) gets "" as its text in the seen store, so it is not taken at the next start
    for one a killed run left unextracted. Settings: INCREMENTAL_ENABLED.
    """

    def __init__(self, state: SeenState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        enabled_run(crawler, lambda options: options.incremental, "INCREMENTAL_ENABLED")
        return cls(crawler_seen_state(crawler))

    def _new_capture(self, response: Response) -> bool:
        return (
            response.meta.get(TRACK_META) == Kind.ARTICLE.value
            and response.status == 200
            and not response.meta.get(UNCHANGED_META)
        )

    def _no_item(self, response: Response) -> None:
        self.state.seen.record_text(response.url, "")

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        watch, made = self._new_capture(response), False
        for output in result:
            made = made or isinstance(output, ArticleCapture)
            yield output
        if watch and not made:
            self._no_item(response)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        watch, made = self._new_capture(response), False
        async for output in result:
            made = made or isinstance(output, ArticleCapture)
            yield output
        if watch and not made:
            self._no_item(response)
