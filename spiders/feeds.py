"""Parse RSS 2.0, Atom and JSON Feed documents into (url, date, title) entries."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from lxml import etree

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    """One article announced by a feed or sitemap."""

    url: str
    date: datetime | None = None
    title: str | None = None


def safe_xml_parser() -> etree.XMLParser:
    # No entities, no network, no giant trees: feeds and sitemaps are untrusted input.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, recover=True, huge_tree=False, remove_pis=True
    )


def parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime from RFC 822 (RSS) or ISO 8601 (Atom, sitemaps); None if unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _text(node: Any, *names: str) -> str | None:
    for name in names:
        found = node.xpath(f"./*[local-name()='{name}']")
        if found and found[0].text and found[0].text.strip():
            return str(found[0].text).strip()
    return None


def looks_like_feed(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith(b"{") or b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head


def parse_feed(body: bytes) -> list[Entry]:
    """Entries of an RSS, Atom or JSON feed; an unreadable document gives no entries."""
    if body.lstrip()[:1] == b"{":
        return _parse_json_feed(body)
    try:
        root = etree.fromstring(body, parser=safe_xml_parser())
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    entries = []
    for item in root.xpath("//*[local-name()='item' or local-name()='entry']"):
        url = None
        for link in item.xpath("./*[local-name()='link']"):
            href = link.get("href")
            rel = link.get("rel", "alternate")
            if href and rel == "alternate":
                url = href.strip()
                break
            if not href and link.text and link.text.strip():
                url = link.text.strip()
                break
        if not url:
            guid = item.xpath("./*[local-name()='guid']")
            if guid and guid[0].get("isPermaLink", "true") != "false" and guid[0].text:
                url = guid[0].text.strip()
        if not url:
            continue
        date = parse_date(_text(item, "pubDate", "published", "updated", "date", "issued"))
        entries.append(Entry(url=url, date=date, title=_text(item, "title")))
    return entries


def _parse_json_feed(body: bytes) -> list[Entry]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return []
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        url = item.get("url") or item.get("external_url")
        if isinstance(url, str) and url:
            raw_date = item.get("date_published") or item.get("date_modified")
            title = item.get("title")
            entries.append(
                Entry(
                    url=url,
                    date=parse_date(raw_date if isinstance(raw_date, str) else None),
                    title=title if isinstance(title, str) else None,
                )
            )
    return entries
