"""Parse sitemap indexes, sitemaps and Google News sitemaps (plain or gzipped)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from scrapy.utils.gz import gunzip

from newsarchive.spiders.feeds import Entry, parse_date, safe_xml_parser


@dataclass(slots=True)
class Sitemap:
    """What one sitemap document holds: child sitemaps, or page entries."""

    sitemaps: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    #: True when entries come with `news:news` blocks: every entry is an article.
    is_news: bool = False


def parse_sitemap(body: bytes, max_size: int = 0) -> Sitemap:
    if body[:2] == b"\x1f\x8b":
        body = gunzip(body, max_size=max_size)
    result = Sitemap()
    try:
        root = etree.fromstring(body, parser=safe_xml_parser())
    except etree.XMLSyntaxError:
        return result
    if root is None:
        return result
    kind = etree.QName(root).localname
    if kind == "sitemapindex":
        for loc in root.xpath("./*[local-name()='sitemap']/*[local-name()='loc']"):
            if loc.text and loc.text.strip():
                result.sitemaps.append(loc.text.strip())
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
            Entry(url=locs[0].text.strip(), date=parse_date(date_text), title=title)
        )
    return result
