"""The crawl's extraction budget for one page: a page with more elements than any article needs
is refused before it is parsed; the pool's CPU-time limit (extraction.pool) bounds the rest.
No Scrapy import: this runs in the extraction workers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from newsarchive.extraction.documents import extract_document

if TYPE_CHECKING:
    from newsarchive.extraction.documents import Extraction, ExtractOptions

#: A start tag: `<` then a letter. Counted on the bytes, so scripts and comments count too:
#: an upper bound, at memory speed, where parsing a pathological page is what costs.
_START_TAG: Final = re.compile(rb"<[A-Za-z]")


class TooManyElements(Exception):
    """The page has more start tags than EXTRACT_MAX_ELEMENTS."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(count, limit)
        self.count = count
        self.limit = limit

    def __str__(self) -> str:
        return f"{self.count} elements, over the limit of {self.limit}"


def count_elements(body: bytes) -> int:
    """Start tags in `body` (an upper bound of its elements)."""
    return sum(1 for _ in _START_TAG.finditer(body))


def extract_within_budget(
    body: bytes,
    content_type: str | None,
    url: str | None,
    options: ExtractOptions,
    max_elements: int,
) -> Extraction | None:
    """`extract_document`, after refusing a page of more than `max_elements` elements (0: no
    limit) with TooManyElements."""
    if max_elements:
        count = count_elements(body)
        if count > max_elements:
            raise TooManyElements(count, max_elements)
    return extract_document(body, content_type, url, options)
