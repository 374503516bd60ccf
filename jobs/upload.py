"""Batch job: send what an S3 store's local spool still holds (after an outage or a kill).

It finishes what a killed crawl left undone before sending: WARCs left open are closed (as the
crawl's start-up does) and get their CDXJ index and digest entries; then it checks that every
metadata record it sent points at a WARC that is in the bucket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from newsarchive.archive.backfill import backfill, recover_warcs
from newsarchive.archive.digests import DigestIndex
from newsarchive.archive.layout import META_PREFIX, parse_warc_key
from newsarchive.archive.metadata import MetadataError, read_metadata
from newsarchive.archive.store import StoreError, UploadReport, open_store

if TYPE_CHECKING:
    from collections.abc import Mapping

    from newsarchive.archive.s3 import S3Store
    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class UploadOutcome:
    """What `upload` did and what is still wrong."""

    report: UploadReport
    #: WARCs a killed run left open, closed and sent.
    recovered: list[str] = field(default_factory=list)
    #: Metadata records sent whose WARC is not in the bucket: key -> that WARC's key.
    dangling: dict[str, str] = field(default_factory=dict)
    #: Backfill steps that failed ("KEY: reason"); the next upload or crawl retries them.
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.report.pending or self.dangling or self.failed)


def drain(store_uri: str, store_options: Mapping[str, Any] | None = None) -> UploadReport | None:
    """Open and close the store: opening an S3 store aborts stale multipart uploads and queues
    its spool, closing sends it; what is left after (None for a local store)."""
    return drain_store(open_store(store_uri, **dict(store_options or {})))


def drain_store(store: Store) -> UploadReport | None:
    """Close an opened store so it uploads its spool; what is left after."""
    store.close()
    return store.upload_report()


def upload(store: S3Store) -> UploadOutcome:
    """Recover the spool's open WARCs, index them, send everything, check metadata pointers.

    WARCs a live crawl still writes are locked and left alone (and metadata pointing into them
    is reported as dangling, until that crawl closes them).
    """
    recovered = recover_warcs(store)
    failed: list[str] = []
    for site in sorted({parse_warc_key(key)[0] for key in recovered}):
        digests = DigestIndex(store, site)
        try:
            failed += backfill(store, site, digests=digests).failed
        except StoreError as exc:
            failed.append(f"{site}: {exc}")
        finally:
            digests.close()
    # What each spooled metadata record points at, read before it leaves the spool.
    pointers = _spooled_pointers(store)
    report = drain_store(store)
    assert report is not None
    dangling = {
        meta: warc
        for meta, warc in pointers.items()
        if not store.spool.holds(meta) and not _uploaded(store, warc)
    }
    for meta, warc in sorted(dangling.items()):
        logger.error("%s was uploaded, its WARC %s was not", meta, warc)
    return UploadOutcome(report, recovered, dangling, failed)


def _spooled_pointers(store: S3Store) -> dict[str, str]:
    pointers = {}
    for key in store.spool.listing(META_PREFIX):
        if not key.endswith(".json"):
            continue
        try:
            warc = read_metadata(store, key).warc
        except (KeyError, MetadataError):
            continue  # sent as it is; verify reports it
        if warc is not None and warc.key:
            pointers[key] = warc.key
    return pointers


def _uploaded(store: S3Store, key: str) -> bool:
    """In the bucket (a copy still in the spool is not)."""
    if store.spool.holds(key):
        return False
    try:
        return store.exists(key)
    except StoreError:
        return False
