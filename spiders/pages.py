"""What an HTML page says about itself: article or listing, its links, feeds and next page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

from newsarchive.extraction.jsonlimits import loads_bounded
from newsarchive.spiders.document import xpath
from newsarchive.spiders.urls import join_url

if TYPE_CHECKING:
    from newsarchive.spiders.document import HtmlPage

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
# What cssselect makes of the CSS selectors these replaced (`[rel~="next"]`: a word of @rel).
_OG_TYPE: Final = xpath('//meta[@property="og:type"]/@content')
_JSON_LD: Final = xpath('//script[@type="application/ld+json"]/text()')
_ANCHOR_HREFS: Final = xpath("//a/@href")
_NEXT_HREFS: Final = xpath(
    "//link[@rel='next']/@href"
    " | //a[@rel and contains(concat(' ', normalize-space(@rel), ' '), ' next ')]/@href"
)
_ALTERNATES: Final = xpath(
    "//link[@rel and contains(concat(' ', normalize-space(@rel), ' '), ' alternate ')]"
)
CANONICAL_HREFS: Final = xpath('//link[@rel="canonical"]/@href')


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


def page_kind(page: HtmlPage) -> PageKind:
    og_types = page.select(_OG_TYPE)
    og_type = og_types[0].strip() if og_types else ""
    if og_type.lower() == "article":
        return "article"
    for block in page.select(_JSON_LD):
        try:
            data = loads_bounded(block)
        except ValueError:
            continue  # broken (or absurdly deep) JSON-LD is common; the other signals decide
        if _jsonld_types(data) & ARTICLE_TYPES:
            return "article"
    if og_type.lower() in ("website", "section", "blog"):
        return "listing"
    return "unknown"


def page_links(page: HtmlPage) -> list[str]:
    """Absolute http(s) links of the page's anchors, in document order."""
    links = []
    for href in page.select(_ANCHOR_HREFS):
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        url = join_url(page.base_url, href)
        if url.startswith(("http://", "https://")):
            links.append(url)
    return links


def next_page_links(page: HtmlPage) -> list[str]:
    hrefs = page.select(_NEXT_HREFS)
    return [join_url(page.base_url, h.strip()) for h in hrefs if h.strip()]


def announced_feeds(page: HtmlPage) -> list[str]:
    feeds = []
    for link in page.elements(_ALTERNATES):
        kind = (link.get("type") or "").lower()
        href = link.get("href")
        if href and kind in _FEED_TYPES:
            feeds.append(join_url(page.base_url, href.strip()))
    return feeds
