"""Package a site's archive (or a date range of it) into one WACZ, streamed, with each article's
title and extracted text in pages/pages.jsonl for ReplayWeb.page's full-text search."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from newsarchive.archive.collection import replay_index, site_warc_keys
from newsarchive.archive.layout import META_PREFIX, WARC_PREFIX, key_site, parse_warc_key
from newsarchive.archive.metadata import MetadataError, MetadataRecord, read_metadata
from newsarchive.archive.wacz import Page, store_warcs, write_wacz_file

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)


class PackageError(Exception):
    """Nothing to package (no WARC in the range), or the store could not be read."""


@dataclass(frozen=True, slots=True)
class PackageResult:
    path: Path
    warcs: int
    pages: int
    captures: int


def store_sites(store: Store) -> list[str]:
    return sorted({key_site(key) for key in store.list(WARC_PREFIX)})


def _days(since: date, until: date) -> Iterator[date]:
    day = since
    while day <= until:
        yield day
        day += timedelta(days=1)


def _newest_records(store: Store, site: str, days: Iterator[date]) -> list[MetadataRecord]:
    """One metadata record per capture: the newest extraction of it."""
    found: dict[tuple[str, str], MetadataRecord] = {}
    for day in days:
        for key in store.list(f"{META_PREFIX}/{site}/{day.isoformat()}"):
            if not key.endswith(".json"):
                continue
            try:
                record = read_metadata(store, key)
            except (MetadataError, KeyError) as exc:
                logger.warning("Skipping unreadable metadata record %s: %s", key, exc)
                continue
            ident = (record.url, record.fetched_at)
            held = found.get(ident)
            if held is None or (held.reextracted_at or "") < (record.reextracted_at or ""):
                found[ident] = record
    return sorted(found.values(), key=lambda r: (r.fetched_at, r.url))


def article_pages(
    store: Store, site: str, warc_keys: set[str], since: date, until: date, *, text: bool = True
) -> list[Page]:
    """Articles captured into `warc_keys`, titled (and with text) from their metadata."""
    pages = []
    for record in _newest_records(store, site, _days(since, until)):
        if record.warc is None or record.warc.key not in warc_keys:
            continue
        body = None
        if text and record.text_key:
            try:
                body = store.get_bytes(record.text_key).decode("utf-8")
            except KeyError:
                logger.warning("Text %s of %s is missing", record.text_key, record.url)
        pages.append(Page(record.url, record.fetched_at, record.title or record.url, body))
    return pages


def package_site(
    store: Store,
    site: str,
    output: Path,
    since: date | None = None,
    until: date | None = None,
) -> PackageResult:
    """Write one WACZ of `site`'s WARCs opened between `since` and `until` (UTC days)."""
    every = site_warc_keys(store, site)
    chosen = site_warc_keys(store, site, since, until)
    if not chosen:
        raise PackageError(f"no WARC of site {site} in {store.uri} in that range")
    lines, needed = replay_index(store, chosen, every)
    first = date.fromisoformat(parse_warc_key(chosen[0])[1])
    last = max(until or first, datetime.now(UTC).date())
    pages = article_pages(store, site, set(chosen), since or first, last)
    span = f"{since or 'start'} to {until or 'now'}"
    count = write_wacz_file(
        output,
        store_warcs(store, needed),
        lines,
        pages,
        title=f"newsarchive {site} ({span})",
    )
    logger.info("Packaged %d WARCs and %d pages of %s into %s", count, len(pages), site, output)
    return PackageResult(output, count, len(pages), len(lines))
