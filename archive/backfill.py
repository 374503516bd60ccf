"""Nothing left behind: WARCs a killed run left open are closed, and every closed WARC gets its
CDXJ index, its digest entries and (with per-run packages) a place in a package.

A run that is killed, or a store that is down, can leave any of these steps undone for a WARC:
the crawl's start-up, `newsarchive upload` and `newsarchive verify` call `backfill` to find and
do what is missing. No Scrapy here.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final

from newsarchive.archive.cdxj import index_warc, open_warc
from newsarchive.archive.collection import index_lines
from newsarchive.archive.files import write_atomic
from newsarchive.archive.layout import (
    DIGEST_PREFIX,
    INDEX_PREFIX,
    META_PREFIX,
    WACZ_PREFIX,
    WARC_PREFIX,
    WARC_SUFFIXES,
    digest_key,
    key_site,
    parse_warc_key,
    safe_segment,
    site_prefix,
    wacz_key,
    warc_index_key,
)
from newsarchive.archive.metadata import MetadataError, read_metadata
from newsarchive.archive.store import StoreError
from newsarchive.archive.wacz import Page, package_keys
from newsarchive.archive.warc import recover_open_files

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from newsarchive.archive.digests import DigestIndex
    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

#: Where a package's members are: `archive/NAME.warc.gz` (WACZ 1.1.1).
_ARCHIVE_MEMBER: Final = "archive/"


@dataclass(slots=True)
class Backfill:
    """What one pass found missing (store keys of WARCs) and whether it could make it."""

    recovered: list[str] = field(default_factory=list)
    #: WARCs that had no CDXJ index, no digests object, or are in no package.
    unindexed: list[str] = field(default_factory=list)
    undigested: list[str] = field(default_factory=list)
    unpackaged: list[str] = field(default_factory=list)
    #: "KEY: reason" for each step that failed (the store is down, say): retried next time.
    failed: list[str] = field(default_factory=list)


def recover_warcs(store: Store, site: str | None = None) -> list[str]:
    """Close the WARCs killed runs left open (of `site`, or of every site); their keys."""
    recovered = recover_open_files(store, site=site)
    for key in recovered:
        logger.warning("Repaired WARC left open by an interrupted run: %s", key)
    return recovered


def site_warcs(store: Store, site: str) -> list[str]:
    return [k for k in store.list(site_prefix(WARC_PREFIX, site)) if k.endswith(WARC_SUFFIXES)]


def stored_sites(store: Store) -> list[str]:
    """Sites with WARCs in the store."""
    # WARC keys are warcs/SITE/DAY/FILE: anything else under warcs/ names no site.
    return sorted({key_site(key) for key in store.list(WARC_PREFIX) if key.count("/") >= 3})


def missing_indexes(store: Store, site: str, warcs: Iterable[str]) -> list[str]:
    indexed = set(store.list(site_prefix(INDEX_PREFIX, site)))
    return [key for key in warcs if warc_index_key(key) not in indexed]


def unindexed_warcs(store: Store, site: str) -> list[str]:
    """Keys of the site's WARCs that have no CDXJ index yet (new, or recovered after a crash)."""
    return missing_indexes(store, site, site_warcs(store, site))


def missing_digests(store: Store, site: str, warcs: Iterable[str]) -> list[str]:
    """WARCs with no digests object (one is written for every closed WARC, empty when it holds
    revisits only, so a missing one always means an undone step)."""
    published = set(store.list(site_prefix(DIGEST_PREFIX, site)))
    return [key for key in warcs if digest_key(site, parse_warc_key(key)[2]) not in published]


def packaged_warcs(store: Store, site: str) -> set[str]:
    """File names of the WARCs held by the site's packages (read from each package's zip
    directory once, then from a cache in the store's local state)."""
    cache_path = store.state_dir / "packages" / f"{safe_segment(site)}.json"
    try:
        cache: dict[str, list[str]] = json.loads(cache_path.read_bytes())
    except (FileNotFoundError, ValueError):
        cache = {}
    packages = [k for k in store.list(site_prefix(WACZ_PREFIX, site)) if k.endswith(".wacz")]
    changed = False
    for key in packages:
        if key in cache:
            continue
        with open_warc(store, key) as stream, zipfile.ZipFile(stream) as package:
            cache[key] = [
                name.removeprefix(_ARCHIVE_MEMBER)
                for name in package.namelist()
                if name.startswith(_ARCHIVE_MEMBER)
            ]
        changed = True
    if changed:
        write_atomic(cache_path, json.dumps(cache, sort_keys=True).encode("utf-8"))
    wanted = set(packages)
    return {name for key, names in cache.items() if key in wanted for name in names}


def missing_packages(store: Store, site: str, warcs: Iterable[str]) -> list[str]:
    """WARCs in no package that need one: those holding a full capture. A WARC of revisits
    only (an empty digests object) is left out, as a run that archived nothing new writes no
    package: its captures' payloads are in the packages of the WARCs they refer to."""
    packaged = packaged_warcs(store, site)
    sizes = {info.key: info.size for info in store.list_info(site_prefix(DIGEST_PREFIX, site))}
    return [
        key
        for key in warcs
        if parse_warc_key(key)[2] not in packaged
        and sizes.get(digest_key(site, parse_warc_key(key)[2]), 1) > 0
    ]


def _days(since: date, until: date) -> Iterator[date]:
    day = since
    while day <= until:
        yield day
        day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ArticlePages:
    """The article pages of a package, in capture order. Only titles and text keys are held:
    iterating reads each text from the store as its page is written, so a whole site's texts
    (or its full metadata records) never sit in memory at once."""

    store: Store
    #: Each page (without its text) and the store key of its text, if it is to be included.
    entries: list[tuple[Page, str | None]]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Page]:
        for page, text_key in self.entries:
            if text_key is None:
                yield page
                continue
            try:
                body = self.store.get_bytes(text_key).decode("utf-8")
            except KeyError:
                logger.warning("Text %s of %s is missing", text_key, page.url)
                yield page
                continue
            yield replace(page, text=body)


def article_pages(
    store: Store, site: str, warc_keys: set[str], since: date, until: date, *, text: bool = True
) -> ArticlePages:
    """Articles captured into `warc_keys`, titled (and with text) from their metadata: one per
    capture, from the newest extraction of it."""
    # (url, WARC-Date) -> the page, its text key, and when it was re-extracted ("" if never)
    found: dict[tuple[str, str], tuple[Page, str | None, str]] = {}
    for day in _days(since, until):
        for key in store.list(f"{site_prefix(META_PREFIX, site)}/{day.isoformat()}"):
            if not key.endswith(".json"):
                continue
            try:
                record = read_metadata(store, key)
            except (MetadataError, KeyError) as exc:
                logger.warning("Skipping unreadable metadata record %s: %s", key, exc)
                continue
            if record.warc is None or record.warc.key not in warc_keys:
                continue
            ident = (record.url, record.fetched_at)
            held = found.get(ident)
            reextracted = record.reextracted_at or ""
            if held is None or held[2] < reextracted:
                page = Page(record.url, record.fetched_at, record.title or record.url)
                found[ident] = (page, (record.text_key or None) if text else None, reextracted)
    ordered = sorted(found.values(), key=lambda entry: (entry[0].date, entry[0].url))
    return ArticlePages(store, [(page, text_key) for page, text_key, _ in ordered])


def package_warcs(store: Store, site: str, name: str, keys: list[str], since: date) -> str:
    """One WACZ of `keys` (indexed WARCs of `site`) at `wacz/SITE/NAME.wacz`; its key.

    WARCs of earlier days (a killed run's, packaged by a later one) bring their own days'
    pages: `since` is moved back to the first of them.
    """
    first = min([since, *(date.fromisoformat(parse_warc_key(k)[1]) for k in keys)])
    # Titles only: per-run packages stay small (`newsarchive package` adds the text).
    pages = article_pages(store, site, set(keys), first, datetime.now(UTC).date(), text=False)
    lines = sorted(line for key in keys for line in index_lines(store, key) if line.strip())
    key = wacz_key(site, name)
    package_keys(
        store,
        key,
        keys,
        lines,
        pages,
        title=f"newsarchive {site} {name}",
        metadata={"site": site, "run": name},
    )
    return key


def backfill(
    store: Store,
    site: str,
    *,
    digests: DigestIndex | None = None,
    index: bool = True,
    packages: bool = False,
) -> Backfill:
    """Index (CDXJ) and publish the digests of every closed WARC of `site` lacking them (with
    `digests`), and list those in no package (with `packages`: the caller packages them)."""
    found = Backfill()
    warcs = site_warcs(store, site)
    if index:
        found.unindexed = missing_indexes(store, site, warcs)
        for key in found.unindexed:
            _step(found, key, lambda k: index_warc(store, k))
    if digests is not None:
        found.undigested = missing_digests(store, site, warcs)
        for key in found.undigested:
            _step(found, key, lambda k: digests.index_warc(parse_warc_key(k)[2], k))
    if packages:
        found.unpackaged = missing_packages(store, site, warcs)
    return found


def _step(found: Backfill, key: str, step: Callable[[str], object]) -> None:
    try:
        step(key)
    except (StoreError, OSError, ValueError) as exc:
        # The store is down or the file unreadable: the WARC is safe, the next pass retries.
        logger.error("Could not backfill %s: %s", key, exc)
        found.failed.append(f"{key}: {exc}")
