"""`MetadataRecord`: the metadata object stored beside each extracted text (``meta/*.json``).

The only writer and reader of those objects. Field names and layout are those every earlier
version wrote, so old records read; fields a record lacks take their defaults, and fields this
model does not know (a newer extractor's) are kept and written back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.layout import meta_key
from newsarchive.archive.store import StoreObject

if TYPE_CHECKING:
    from collections.abc import Mapping

    from newsarchive.archive.store import Store

METADATA_CONTENT_TYPE: Final = "application/json"


def capture_time(fetched_at: str) -> datetime:
    """The capture time of a `fetched_at` value (WARC-Date or ISO), in UTC, for store keys."""
    return datetime.fromisoformat(fetched_at.replace("Z", "+00:00")).astimezone(UTC)


class MetadataError(ValueError):
    """A metadata object that is not JSON, or not shaped like a metadata record."""


class WarcPointer(BaseModel):
    """The record's link to its WARC record (all None when the crawl archived nothing)."""

    model_config = ConfigDict(extra="allow")

    filename: str | None = None
    key: str | None = None
    offset: int | None = None
    record_id: str | None = None

    @classmethod
    def of(cls, ref: CaptureRef | None) -> Self:
        if ref is None:
            return cls(filename=None, key=None, offset=None, record_id=None)
        return cls(
            filename=ref.filename, key=ref.warc_key, offset=ref.offset, record_id=ref.record_id
        )


class MetadataRecord(BaseModel):
    """What one extraction of one capture gave, and where the capture is.

    `fetched_at` is the capture's WARC-Date (an ISO time when nothing was archived); `url` is
    the URL fetched (the WARC-Target-URI), `crawl_url` the canonical URL the crawl requested,
    `canonical_url` the page's own. Re-extraction adds `reextracted_at` and `source_metadata`.
    """

    # Unknown fields stay: a newer extractor's metadata must survive a read and write.
    model_config = ConfigDict(extra="allow")

    url: str
    canonical_url: str | None = None
    crawl_url: str | None = None
    site: str | None = None
    # The extractor's metadata (`extraction.Article`), in its order.
    title: str | None = None
    authors: list[str] = []
    published: str | None = None
    modified: str | None = None
    language: str | None = None
    site_name: str | None = None
    description: str | None = None
    tags: list[str] = []
    image: str | None = None
    word_count: int | None = None
    paywalled: bool | None = None
    extractor_version: str | None = None
    #: Hash of the extraction settings used (extraction.documents.ExtractOptions.settings_hash);
    #: None in records written before it was kept.
    extraction_settings: str | None = None
    # The capture and its text.
    fetched_at: str
    http_status: int | None = None
    content_type: str | None = None
    encoding: str | None = None
    text_sha256: str | None = None
    text_key: str | None = None
    warc: WarcPointer | None = None
    discovered_from: str | None = None
    feed_title: str | None = None
    feed_date: str | None = None
    reextracted_at: str | None = None
    source_metadata: str | None = None
    #: Why this capture has no text (config.stats.NotExtracted: "time limit", "too many
    #: elements", "worker lost"); the record then has no text_key or text_sha256.
    not_extracted: str | None = None

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Read a stored metadata object; MetadataError when it is not one."""
        try:
            return cls.model_validate(json.loads(data))
        except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
            raise MetadataError(str(exc)) from exc

    def to_json(self) -> bytes:
        """The stored form: only the fields set (a record read back is written unchanged)."""
        fields = self.model_dump(mode="json", exclude_unset=True)
        return json.dumps(fields, ensure_ascii=False, indent=2).encode("utf-8")

    @property
    def warc_ref(self) -> CaptureRef | None:
        """The WARC record of the capture, if the record points at one.

        The target URI and date are the record's `url` and `fetched_at`: the crawl writes
        both from the capture; length and digest are not kept here.
        """
        warc = self.warc
        if warc is None or warc.key is None or warc.offset is None:
            return None
        return CaptureRef(
            target_uri=self.url,
            date=self.fetched_at,
            record_id=warc.record_id or "",
            warc_key=warc.key,
            offset=warc.offset,
        )

    @property
    def captured(self) -> datetime:
        """`fetched_at` as a UTC time."""
        return capture_time(self.fetched_at)

    @property
    def key(self) -> str:
        """Where this record is stored: `layout.meta_key` of its capture and version."""
        if not self.site or not self.extractor_version:
            raise MetadataError("a record without site or extractor_version has no key")
        return meta_key(
            self.site, self.crawl_url or self.url, self.captured, self.extractor_version
        )


def read_metadata(store: Store, key: str) -> MetadataRecord:
    """The record stored at `key`: KeyError when there is none, MetadataError when unreadable."""
    return MetadataRecord.from_json(store.get_bytes(key))


def write_metadata(
    store: Store, record: MetadataRecord, object_meta: Mapping[str, str] | None = None
) -> str:
    """Store `record` at its `key`; returns the key."""
    obj = metadata_object(record, object_meta)
    store.put_bytes(obj.key, obj.data, obj.content_type, obj.metadata)
    return obj.key


def metadata_object(
    record: MetadataRecord, object_meta: Mapping[str, str] | None = None
) -> StoreObject:
    """`record` as the object `write_metadata` stores (for `Store.put_many`)."""
    return StoreObject(record.key, record.to_json(), METADATA_CONTENT_TYPE, object_meta)
