"""Export the archive's articles: one row per article (its latest capture, that capture's newest
extraction), streamed to JSON Lines or Parquet. The columns are `COLUMNS`, documented in the
README; Parquet needs pyarrow (the `export` extra)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, TextIO

from newsarchive.archive.layout import META_PREFIX, parse_meta_key, safe_segment, url_hash
from newsarchive.archive.metadata import MetadataError, read_metadata

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from newsarchive.archive.metadata import MetadataRecord
    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

#: The export's columns, in order, and their types: (name, "string" | "strings" | "int" |
#: "timestamp"). A stable schema: columns are only ever added at the end.
COLUMNS: Final = (
    ("site", "string"),
    ("url", "string"),
    ("canonical_url", "string"),
    ("title", "string"),
    ("authors", "strings"),
    ("published", "string"),
    ("modified", "string"),
    ("language", "string"),
    ("text", "string"),
    ("warc_file", "string"),
    ("warc_offset", "int"),
    ("warc_record_id", "string"),
    ("captured_at", "timestamp"),
    ("extractor_version", "string"),
)
FORMATS: Final = ("jsonl", "parquet")
#: Rows per Parquet row group: memory stays bounded however large the archive.
_BATCH: Final = 256


class ExportError(Exception):
    """The export cannot be made as asked (a format whose library is missing)."""


@dataclass(slots=True)
class ExportSummary:
    rows: int = 0
    #: Metadata records that could not be read, by key, with why.
    unreadable: dict[str, str] | None = None


def _latest(keys: Iterable[str]) -> Iterator[list[str]]:
    """For each URL (hash) in the keys, the keys of every version of its latest capture."""
    captures: dict[tuple[str, str], dict[str, list[str]]] = {}
    for key in keys:
        parts = parse_meta_key(key)
        if parts is None:
            continue
        url_hash, stamp = parts.stem.split("-", 1)
        by_time = captures.setdefault((parts.site, url_hash), {})
        by_time.setdefault(stamp, []).append(key)
    for site_url in sorted(captures):
        by_time = captures[site_url]
        yield by_time[max(by_time)]


def select_keys(
    store: Store, site: str | None, since: date | None, until: date | None
) -> Iterator[list[str]]:
    """The metadata keys of each article's latest capture made within [since, until] (UTC)."""
    prefix = f"{META_PREFIX}/{safe_segment(site)}" if site else META_PREFIX
    first, last = since.isoformat() if since else "", until.isoformat() if until else "9999"

    def wanted(key: str) -> bool:
        parts = parse_meta_key(key)
        return parts is not None and first <= parts.day <= last

    return _latest(key for key in store.list(prefix) if wanted(key))


def row(store: Store, record: MetadataRecord) -> dict[str, Any]:
    """One export row of a metadata record (its text read from the store)."""
    text = None
    if record.text_key:
        try:
            text = store.get_bytes(record.text_key).decode("utf-8")
            # The stored form ends the text with a newline; the extraction's text has none.
            text = text.removesuffix("\n")
        except KeyError:
            logger.warning("%s: text %s is missing", record.url, record.text_key)
    warc = record.warc
    return {
        "site": record.site,
        "url": record.url,
        "canonical_url": record.canonical_url or record.crawl_url or record.url,
        "title": record.title,
        "authors": list(record.authors),
        "published": record.published,
        "modified": record.modified,
        "language": record.language,
        "text": text,
        "warc_file": warc.key if warc else None,
        "warc_offset": warc.offset if warc else None,
        "warc_record_id": warc.record_id if warc else None,
        "captured_at": record.captured.isoformat().replace("+00:00", "Z"),
        "extractor_version": record.extractor_version,
    }


def _newest(
    store: Store, keys: list[str], unreadable: dict[str, str] | None
) -> dict[str, Any] | None:
    """The row of the newest extraction among a capture's metadata keys."""
    records = []
    for key in keys:
        try:
            records.append(read_metadata(store, key))
        except (KeyError, MetadataError) as exc:
            if unreadable is not None:
                unreadable[key] = str(exc) or type(exc).__name__
    if not records:
        return None
    # The newest extraction of the capture: the last re-extraction, else the crawl's.
    return row(store, max(records, key=lambda r: r.reextracted_at or ""))


def article_row(store: Store, site: str, canonical_url: str) -> dict[str, Any] | None:
    """The row of one article (by the canonical URL its crawl requested), or None."""
    stem = url_hash(canonical_url) + "-"
    keys = [
        key
        for key in store.list(f"{META_PREFIX}/{safe_segment(site)}")
        if (parts := parse_meta_key(key)) is not None and parts.stem.startswith(stem)
    ]
    latest = next(_latest(keys), None)
    return _newest(store, latest, None) if latest else None


def iter_rows(
    store: Store,
    *,
    site: str | None = None,
    since: date | None = None,
    until: date | None = None,
    unreadable: dict[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The rows, one article at a time; unreadable records are skipped (noted in `unreadable`)."""
    for keys in select_keys(store, site, since, until):
        item = _newest(store, keys, unreadable)
        if item is not None:
            yield item


def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for item in rows:
        out.write(json.dumps(item, ensure_ascii=False) + "\n")
        count += 1
    return count


def parquet_schema() -> Any:
    """The pyarrow schema of `COLUMNS`; ExportError when pyarrow is not installed."""
    try:
        import pyarrow as pa  # noqa: PLC0415 - optional: only Parquet exports need it
    except ImportError:
        raise ExportError(
            "Parquet export needs pyarrow: pip install 'newsarchive[export]'"
        ) from None
    types = {
        "string": pa.string(),
        "strings": pa.list_(pa.string()),
        "int": pa.int64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema([(name, types[kind]) for name, kind in COLUMNS])


def write_parquet(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Rows into a Parquet file, a row group per `_BATCH` rows."""
    schema = parquet_schema()
    import pyarrow as pa  # noqa: PLC0415 - optional, checked by parquet_schema
    import pyarrow.parquet as pq  # noqa: PLC0415

    count = 0
    batch: list[dict[str, Any]] = []
    with pq.ParquetWriter(str(path), schema) as writer:

        def flush() -> None:
            if batch:
                for item in batch:
                    item["captured_at"] = _timestamp(item["captured_at"])
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch.clear()

        for item in rows:
            batch.append(item)
            count += 1
            if len(batch) >= _BATCH:
                flush()
        flush()
        if count == 0:
            writer.write_table(schema.empty_table())
    return count


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
