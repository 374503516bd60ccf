"""The spider of `newsarchive get`: fetches the given URLs as articles, discovering nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request

from newsarchive.spiders.news import (
    CANONICAL_URL_META,
    DISCOVERED_FROM_META,
    HINT_DATE_META,
    HINT_TITLE_META,
    NewsSpider,
)
from newsarchive.spiders.urls import canonicalize

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: discovered_from of a `get` capture.
SOURCE = "newsarchive get"


class SingleUrlSpider(NewsSpider):
    """Each start URL of the site is requested once as an article, archived and extracted as a
    crawl would (robots.txt, politeness, the capture and extraction components); an article
    already archived is asked for again, conditionally, so an unchanged one becomes a revisit."""

    name = "single"

    async def start(self) -> AsyncIterator[Any]:
        for url in self.site.start_urls:
            canonical = canonicalize(url) or url
            yield Request(
                url,
                callback=self.parse_article,
                dont_filter=True,
                meta={
                    CANONICAL_URL_META: canonical,
                    HINT_TITLE_META: None,
                    HINT_DATE_META: None,
                    DISCOVERED_FROM_META: SOURCE,
                },
            )
