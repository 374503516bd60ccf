"""Plain records passed between the crawl and the archive (usable as Scrapy items)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsarchive.archive.captures import CaptureRef


@dataclass(slots=True)
class ArticleCapture:
    """One fetched article page: what extraction needs, and where its WARC record is."""

    site: str
    url: str
    canonical_url: str
    status: int
    #: Response headers as received, repeated names kept.
    headers: list[tuple[str, str]] = field(repr=False)
    #: Body after content-decoding (what a browser would parse), still undecoded bytes. Not
    #: in the repr: an item's repr reaches logs and tracebacks.
    body: bytes = field(repr=False)
    #: WARC-Date of the capture (an ISO time when nothing was archived).
    fetched_at: str
    #: The response (or revisit) record the capture middleware wrote, if any.
    warc: CaptureRef | None = None
    #: Title and date announced by the feed or sitemap, kept as hints.
    hint_title: str | None = None
    hint_date: str | None = None
    discovered_from: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


def header_value(headers: list[tuple[str, str]], name: str) -> str | None:
    """The first value of header `name` (any case) in a list of received headers."""
    lowered = name.lower()
    return next((value for key, value in headers if key.lower() == lowered), None)
