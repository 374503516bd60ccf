"""Parse sitemap indexes, sitemaps and Google News sitemaps (plain or gzipped)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree
from scrapy.utils.gz import gunzip

from newsarchive.config.stats import InvalidKind
from newsarchive.spiders.feeds import (
    Entry,
    OnInvalid,
    ignore_invalid,
    parse_date,
    safe_xml_parser,
)
from newsarchive.spiders.urls import join_url


@dataclass(slots=True)
class Sitemap:
    """What one sitemap document holds: child sitemaps (with their <lastmod>), or page entries."""

    sitemaps: list[Entry] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    #: True when entries come with `news:news` blocks: every entry is an article.
    is_news: bool = False


def parse_sitemap(
    body: bytes,
    max_size: int = 0,
    base_url: str = "",
    on_invalid: OnInvalid = ignore_invalid,
) -> Sitemap:
    """A sitemap or index; gzip is decompressed up to `max_size` bytes (0: no limit), and a
    body past it or corrupt gives an empty Sitemap (told to `on_invalid`), never an error."""
    result = Sitemap()
    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip(body, max_size=max_size)
        except ValueError as exc:  # scrapy's _DecompressionMaxSizeExceeded
            on_invalid(InvalidKind.SITEMAP, f"gzip body over {max_size} bytes: {exc}")
            return result
        except (OSError, EOFError, zlib.error, struct.error) as exc:
            on_invalid(InvalidKind.SITEMAP, f"corrupt gzip body: {exc}")
            return result
    try:
        root = etree.fromstring(body, parser=safe_xml_parser(), base_url=base_url or None)
    except etree.XMLSyntaxError as exc:
        on_invalid(InvalidKind.SITEMAP, f"not XML: {exc}")
        return result
    if root is None:
        on_invalid(InvalidKind.SITEMAP, "not XML")
        return result
    kind = etree.QName(root).localname
    if kind == "sitemapindex":
        for child in root.xpath("./*[local-name()='sitemap']"):
            locs = child.xpath("./*[local-name()='loc']")
            if not locs or not locs[0].text or not locs[0].text.strip():
                continue
            lastmod = child.xpath("./*[local-name()='lastmod']")
            date = parse_date(lastmod[0].text if lastmod else None, on_invalid)
            result.sitemaps.append(Entry(url=join_url(base_url, locs[0].text.strip()), date=date))
        return result
    for url in root.xpath("./*[local-name()='url']"):
        locs = url.xpath("./*[local-name()='loc']")
        if not locs or not locs[0].text or not locs[0].text.strip():
            continue
        news = url.xpath("./*[local-name()='news']")
        title = None
        date_text = None
        if news:
            result.is_news = True
            pub = news[0].xpath(".//*[local-name()='publication_date']")
            date_text = pub[0].text if pub else None
            titles = news[0].xpath("./*[local-name()='title']")
            title = titles[0].text.strip() if titles and titles[0].text else None
        if not date_text:
            lastmod = url.xpath("./*[local-name()='lastmod']")
            date_text = lastmod[0].text if lastmod else None
        result.entries.append(
            Entry(
                url=join_url(base_url, locs[0].text.strip()),
                date=parse_date(date_text, on_invalid),
                title=title,
            )
        )
    return result


_UNDATED = datetime.min.replace(tzinfo=UTC)


def newest_first(children: list[Entry], limit: int) -> tuple[list[Entry], int]:
    """The `limit` most recent child sitemaps by <lastmod> (undated ones last; ties keep
    document order), and how many were left out."""
    ranked = sorted(children, key=lambda child: child.date or _UNDATED, reverse=True)
    return ranked[:limit], max(0, len(ranked) - limit)


def sitemaps_from_robots(body: bytes, base_url: str) -> list[str]:
    """The `Sitemap:` URLs of a robots.txt, resolved against its URL.

    Scrapy's sitemap_urls_from_robots stops at the first line urljoin cannot parse (an unclosed
    IPv6 literal); here such a line is passed on as given, for canonicalize to refuse alone.
    """
    urls = []
    for line in body.splitlines():
        if line.lstrip()[:8].lower() == b"sitemap:":
            url = line.partition(b":")[2].strip().decode("utf-8", "replace")
            if url:
                urls.append(join_url(base_url, url))
    return urls
