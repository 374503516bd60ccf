"""Package a site's archive (or a date range of it) into one WACZ, streamed, with each article's
title and extracted text in pages/pages.jsonl for ReplayWeb.page's full-text search."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from newsarchive.archive.backfill import article_pages
from newsarchive.archive.collection import replay_index, site_warc_keys
from newsarchive.archive.layout import parse_warc_key
from newsarchive.archive.wacz import store_warcs, write_wacz_file

if TYPE_CHECKING:
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
