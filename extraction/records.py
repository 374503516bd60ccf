"""Text and metadata objects of one extraction, as the crawl and re-extraction store them.

No Scrapy import, so re-extraction worker processes load only extraction and the archive.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from newsarchive.archive.layout import meta_key, text_key

if TYPE_CHECKING:
    from collections.abc import Mapping

    from newsarchive.archive.items import ArticleCapture
    from newsarchive.archive.store import Store
    from newsarchive.extraction.documents import Extraction


def capture_time(fetched_at: str) -> datetime:
    """The capture time of a `fetched_at` value (WARC-Date or ISO), in UTC, for store keys."""
    return datetime.fromisoformat(fetched_at.replace("Z", "+00:00")).astimezone(UTC)


def metadata_record(capture: ArticleCapture, result: Extraction, text_key: str) -> dict[str, Any]:
    """The metadata JSON stored beside the text, linking it back to its WARC record."""
    record: dict[str, Any] = {
        "url": capture.url,
        "canonical_url": result.metadata.get("canonical_url") or capture.canonical_url,
        "crawl_url": capture.canonical_url,
        "site": capture.site,
        **{k: v for k, v in result.metadata.items() if k != "canonical_url"},
        "fetched_at": capture.fetched_at,
        "http_status": capture.status,
        "content_type": capture.header("Content-Type"),
        "encoding": result.encoding,
        "text_sha256": result.text_sha256,
        "text_key": text_key,
        "extractor_version": result.extractor_version,
        "warc": {
            "filename": capture.warc_filename,
            "key": capture.warc_key,
            "offset": capture.warc_offset,
            "record_id": capture.warc_record_id,
        },
        "discovered_from": capture.discovered_from,
        "feed_title": capture.hint_title,
        "feed_date": capture.hint_date,
    }
    return record


def store_extraction(
    store: Store,
    capture: ArticleCapture,
    result: Extraction,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write text and metadata objects (text first); returns the metadata record.

    `extra` adds keys to the metadata record (re-extraction records where it came from).
    """
    when = capture_time(capture.fetched_at)
    version = result.extractor_version
    tkey = text_key(capture.site, capture.canonical_url, when, version)
    record = metadata_record(capture, result, tkey)
    if extra:
        record.update(extra)
    object_meta = {"charset": "utf-8", "extractor-version": version}
    if capture.warc_record_id:
        object_meta["warc-record-id"] = capture.warc_record_id
    store.put_bytes(
        tkey, result.text.encode("utf-8") + b"\n", "text/plain; charset=utf-8", object_meta
    )
    store.put_bytes(
        meta_key(capture.site, capture.canonical_url, when, version),
        json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"),
        "application/json",
        object_meta,
    )
    return record
