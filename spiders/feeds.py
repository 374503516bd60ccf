"""Parse RSS 2.0, Atom and JSON Feed documents into (url, date, title) entries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from lxml import etree

from newsarchive.config.stats import InvalidKind
from newsarchive.extraction.jsonlimits import loads_bounded
from newsarchive.spiders.urls import join_url

logger = logging.getLogger(__name__)

#: Told (kind, reason) of each piece of input a parser skipped; the spider counts and logs it.
OnInvalid = Callable[[InvalidKind, str], None]


def ignore_invalid(kind: InvalidKind, reason: str) -> None:
    """The default OnInvalid: parsers used outside a crawl skip bad input silently."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One article announced by a feed or sitemap."""

    url: str
    date: datetime | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class JSONLimits:
    """JSON_MAX_DEPTH and JSON_MAX_BYTES, as the parsers take them."""

    max_depth: int
    max_bytes: int


def safe_xml_parser() -> etree.XMLParser:
    # No entities, no network, no giant trees: feeds and sitemaps are untrusted input.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, recover=True, huge_tree=False, remove_pis=True
    )


def parse_date(value: str | None, on_invalid: OnInvalid = ignore_invalid) -> datetime | None:
    """An aware UTC datetime from RFC 822 (RSS) or ISO 8601 (Atom, sitemaps); None if unreadable
    or out of range (year 9999 with a negative offset overflows UTC)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        on_invalid(InvalidKind.DATE, f"{value[:80]!r}: {exc}")
        return None


def _text(node: Any, *names: str) -> str | None:
    for name in names:
        found = node.xpath(f"./*[local-name()='{name}']")
        if found and found[0].text and found[0].text.strip():
            return str(found[0].text).strip()
    return None


def looks_like_feed(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith(b"{") or b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head


def parse_feed(
    body: bytes,
    base_url: str = "",
    on_invalid: OnInvalid = ignore_invalid,
    json_limits: JSONLimits | None = None,
) -> list[Entry]:
    """Entries of an RSS, Atom or JSON feed; an unreadable document gives no entries.

    Relative links are resolved against Atom's `xml:base` and then `base_url` (the feed's URL).
    """
    if body.lstrip()[:1] == b"{":
        return _parse_json_feed(body, base_url, on_invalid, json_limits)
    try:
        root = etree.fromstring(body, parser=safe_xml_parser(), base_url=base_url or None)
    except etree.XMLSyntaxError as exc:
        on_invalid(InvalidKind.FEED, f"not XML: {exc}")
        return []
    if root is None:
        on_invalid(InvalidKind.FEED, "not XML")
        return []
    entries = []
    for item in root.xpath("//*[local-name()='item' or local-name()='entry']"):
        url = None
        for link in item.xpath("./*[local-name()='link']"):
            href = link.get("href")
            rel = link.get("rel", "alternate")
            if href and rel == "alternate":
                # lxml's .base is xml:base (inherited, resolved) over the document's URL.
                url = join_url(link.base or base_url, href.strip())
                break
            if not href and link.text and link.text.strip():
                url = join_url(link.base or base_url, link.text.strip())
                break
        if not url:
            guid = item.xpath("./*[local-name()='guid']")
            if guid and guid[0].get("isPermaLink", "true") != "false" and guid[0].text:
                url = join_url(guid[0].base or base_url, guid[0].text.strip())
        if not url:
            continue
        date = parse_date(
            _text(item, "pubDate", "published", "updated", "date", "issued"), on_invalid
        )
        entries.append(Entry(url=url, date=date, title=_text(item, "title")))
    return entries


def _parse_json_feed(
    body: bytes, base_url: str, on_invalid: OnInvalid, limits: JSONLimits | None
) -> list[Entry]:
    try:
        if limits is None:
            data = loads_bounded(body)
        else:
            data = loads_bounded(body, limits.max_depth, limits.max_bytes)
    except ValueError as exc:  # JSONLimitError, JSONDecodeError, UnicodeDecodeError
        on_invalid(InvalidKind.JSON, str(exc)[:200])
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
                    url=join_url(base_url, url.strip()),
                    date=parse_date(raw_date if isinstance(raw_date, str) else None, on_invalid),
                    title=title if isinstance(title, str) else None,
                )
            )
    return entries
