"""Text and metadata objects of one extraction, as the crawl and re-extraction store them.

No Scrapy import, so re-extraction worker processes load only extraction and the archive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from newsarchive.archive.layout import text_key
from newsarchive.archive.metadata import (
    MetadataRecord,
    WarcPointer,
    capture_time,
    metadata_object,
    write_metadata,
)
from newsarchive.archive.store import StoreObject
from newsarchive.extraction.version import EXTRACTOR_VERSION

if TYPE_CHECKING:
    from collections.abc import Mapping

    from newsarchive.archive.items import ArticleCapture
    from newsarchive.archive.store import Store
    from newsarchive.extraction.documents import Extraction


def _capture_fields(capture: ArticleCapture) -> dict[str, Any]:
    """What every metadata record says of its capture, whatever extraction gave."""
    return {
        "url": capture.url,
        "canonical_url": capture.canonical_url,
        "crawl_url": capture.canonical_url,
        "site": capture.site,
        "fetched_at": capture.fetched_at,
        "http_status": capture.status,
        "content_type": capture.header("Content-Type"),
        "warc": WarcPointer.of(capture.warc),
        "discovered_from": capture.discovered_from,
        "feed_title": capture.hint_title,
        "feed_date": capture.hint_date,
    }


def _object_meta(capture: ArticleCapture, version: str) -> dict[str, str]:
    object_meta = {"charset": "utf-8", "extractor-version": version}
    if capture.warc is not None and capture.warc.record_id:
        object_meta["warc-record-id"] = capture.warc.record_id
    return object_meta


def metadata_record(
    capture: ArticleCapture,
    result: Extraction,
    text_key: str,
    extra: Mapping[str, Any] | None = None,
) -> MetadataRecord:
    """The metadata record stored beside the text, linking it back to its WARC record.

    `extra` adds fields (re-extraction records where it came from).
    """
    # Records are written in the model's field order, so the order here changes nothing.
    fields: dict[str, Any] = {
        **_capture_fields(capture),
        **{k: v for k, v in result.metadata.items() if k != "canonical_url"},
        "canonical_url": result.metadata.get("canonical_url") or capture.canonical_url,
        "encoding": result.encoding,
        "text_sha256": result.text_sha256,
        "text_key": text_key,
        "extractor_version": result.extractor_version,
        "extraction_settings": result.settings_hash,
        **(extra or {}),
    }
    return MetadataRecord.model_validate(fields)


def extraction_objects(
    capture: ArticleCapture,
    result: Extraction,
    *,
    extra: Mapping[str, Any] | None = None,
) -> tuple[MetadataRecord, list[StoreObject]]:
    """The metadata record of an extraction, and the objects `store_extraction` writes: the
    text, then the metadata (a record never points at a text not stored yet)."""
    when = capture_time(capture.fetched_at)
    version = result.extractor_version
    tkey = text_key(capture.site, capture.canonical_url, when, version)
    record = metadata_record(capture, result, tkey, extra)
    object_meta = _object_meta(capture, version)
    text = StoreObject(
        tkey, result.text.encode("utf-8") + b"\n", "text/plain; charset=utf-8", object_meta
    )
    return record, [text, metadata_object(record, object_meta)]


def store_extraction(
    store: Store,
    capture: ArticleCapture,
    result: Extraction,
    *,
    extra: Mapping[str, Any] | None = None,
) -> MetadataRecord:
    """Write text and metadata objects (text first); returns the metadata record."""
    record, objects = extraction_objects(capture, result, extra=extra)
    store.put_many(objects)
    return record


def store_not_extracted(store: Store, capture: ArticleCapture, reason: str) -> MetadataRecord:
    """Write the metadata record of a capture archived without text, saying why (`reason`,
    a config.stats.NotExtracted value); returns it. Keyed by the current extractor version,
    so a later extraction of the capture writes its record over this one."""
    record = MetadataRecord.model_validate(
        {
            **_capture_fields(capture),
            "extractor_version": EXTRACTOR_VERSION,
            "not_extracted": reason,
        }
    )
    write_metadata(store, record, _object_meta(capture, EXTRACTOR_VERSION))
    return record
