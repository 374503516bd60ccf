"""CDXJ indexes of WARC files (responses and revisits), built with cdxj-indexer."""

from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING, BinaryIO, Final

from cdxj_indexer.main import CDXJIndexer

from newsarchive.archive.layout import (
    INDEX_PREFIX,
    WARC_PREFIX,
    WARC_SUFFIXES,
    parse_warc_key,
    site_prefix,
    warc_index_key,
)

if TYPE_CHECKING:
    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

CDXJ_CONTENT_TYPE: Final = "text/x-cdxj"
#: Request records are looked up through their response; warcinfo and metadata are no captures.
INDEXED_RECORDS: Final = "response,revisit"


def cdxj_index(stream: BinaryIO, filename: str) -> bytes:
    """The sorted CDXJ lines of one WARC stream, `filename` as the lines' file name."""
    out = io.StringIO()
    indexer = CDXJIndexer(
        out,
        [stream],
        filename=filename,
        sort=True,
        records=INDEXED_RECORDS,
        # Adds the request method and body to non-GET lines, as pywb indexes them.
        post_append=True,
    )
    indexer.process_all()
    return out.getvalue().encode("utf-8")


def parse_cdxj(data: bytes) -> list[tuple[str, str, dict[str, str]]]:
    """(urlkey, timestamp, fields) of each line of a CDXJ index."""
    lines = []
    for line in data.decode("utf-8").splitlines():
        if not line.strip():
            continue
        urlkey, timestamp, fields = line.split(" ", 2)
        lines.append((urlkey, timestamp, json.loads(fields)))
    return lines


def open_warc(store: Store, warc_key: str) -> BinaryIO:
    """A committed WARC, from its local staged copy while that exists, else from the store.

    The staged copy lets a run index and package its files while a remote store is down.
    """
    path = store.staging_path(warc_key)
    try:
        return path.open("rb")
    except FileNotFoundError:
        # Uploaded and removed from the spool (or never local): read it back from the store.
        return store.open_read(warc_key)


def index_warc(store: Store, warc_key: str) -> str:
    """Index one stored WARC and store the index at `layout.index_key`; returns that key."""
    with open_warc(store, warc_key) as stream:
        data = cdxj_index(stream, parse_warc_key(warc_key)[2])
    key = warc_index_key(warc_key)
    store.put_bytes(key, data, CDXJ_CONTENT_TYPE, {"warc-key": warc_key})
    logger.info("Indexed %s: %d captures", warc_key, data.count(b"\n"))
    return key


def unindexed_warcs(store: Store, site: str) -> list[str]:
    """Keys of the site's WARCs that have no CDXJ index yet (new, or recovered after a crash)."""
    indexed = set(store.list(site_prefix(INDEX_PREFIX, site)))
    return [
        key
        for key in store.list(site_prefix(WARC_PREFIX, site))
        if key.endswith(WARC_SUFFIXES) and warc_index_key(key) not in indexed
    ]
