"""Plain records passed between the crawl and the archive (usable as Scrapy items)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ArticleCapture:
    """One fetched article page: what extraction needs, and where its WARC record is."""

    site: str
    url: str
    canonical_url: str
    status: int
    #: Response headers as received, repeated names kept.
    headers: list[tuple[str, str]]
    #: Body after content-decoding (what a browser would parse), still undecoded bytes.
    body: bytes
    fetched_at: str
    warc_filename: str | None = None
    warc_key: str | None = None
    warc_offset: int | None = None
    warc_record_id: str | None = None
    #: Title and date announced by the feed or sitemap, kept as hints.
    hint_title: str | None = None
    hint_date: str | None = None
    discovered_from: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None
