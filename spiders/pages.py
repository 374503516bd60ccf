"""What an HTML page says about itself: article or listing, its links, feeds and next page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from scrapy.utils.response import get_base_url

from newsarchive.extraction.jsonlimits import loads_bounded
from newsarchive.spiders.urls import join_url

if TYPE_CHECKING:
    from scrapy.http import TextResponse

PageKind = Literal["article", "listing", "unknown"]

#: schema.org types that mean "this page is one article".
ARTICLE_TYPES = frozenset(
    {
        "Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle",
        "OpinionNewsArticle", "BackgroundNewsArticle", "ReviewNewsArticle", "BlogPosting",
        "LiveBlogPosting", "Report", "ScholarlyArticle", "TechArticle",
    }
)  # fmt: skip
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")


def _jsonld_types(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, list):
        for child in node:
            found |= _jsonld_types(child)
    elif isinstance(node, dict):
        kind = node.get("@type")
        if isinstance(kind, str):
            found.add(kind)
        elif isinstance(kind, list):
            found |= {k for k in kind if isinstance(k, str)}
        if "@graph" in node:
            found |= _jsonld_types(node["@graph"])
    return found


def page_kind(response: TextResponse) -> PageKind:
    og_type = (response.css('meta[property="og:type"]::attr(content)').get() or "").strip()
    if og_type.lower() == "article":
        return "article"
    for block in response.css('script[type="application/ld+json"]::text').getall():
        try:
            data = loads_bounded(block)
        except ValueError:
            continue  # broken (or absurdly deep) JSON-LD is common; the other signals decide
        if _jsonld_types(data) & ARTICLE_TYPES:
            return "article"
    if og_type.lower() in ("website", "section", "blog"):
        return "listing"
    return "unknown"


def _base_url(response: TextResponse) -> str:
    """What relative links resolve against: <base href>, else the page's URL."""
    try:
        return get_base_url(response)
    except ValueError:  # a <base href> urljoin cannot parse
        return response.url


def page_links(response: TextResponse) -> list[str]:
    """Absolute http(s) links of the page's anchors, in document order."""
    links = []
    for href in response.css("a::attr(href)").getall():
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        url = join_url(_base_url(response), href)
        if url.startswith(("http://", "https://")):
            links.append(url)
    return links


def next_page_links(response: TextResponse) -> list[str]:
    hrefs = response.css('link[rel="next"]::attr(href), a[rel~="next"]::attr(href)').getall()
    return [join_url(_base_url(response), h.strip()) for h in hrefs if h.strip()]


def announced_feeds(response: TextResponse) -> list[str]:
    feeds = []
    for link in response.css('link[rel~="alternate"]'):
        kind = (link.attrib.get("type") or "").lower()
        href = link.attrib.get("href")
        if href and kind in _FEED_TYPES:
            feeds.append(join_url(_base_url(response), href.strip()))
    return feeds
