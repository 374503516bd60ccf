"""CDXJ indexes of WARC files (responses and revisits), built with cdxj-indexer."""

from __future__ import annotations

import io
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from cdxj_indexer.main import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.layout import (
    INDEX_PREFIX,
    WARC_PREFIX,
    WARC_SUFFIXES,
    parse_warc_key,
    site_prefix,
    warc_index_key,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

CDXJ_CONTENT_TYPE: Final = "text/x-cdxj"
#: Request records are looked up through their response; warcinfo and metadata are no captures.
INDEXED_RECORDS: Final = "response,revisit"


class _Undecoded:
    """warcio's record iterator, each record's content read as stored.

    cdxj-indexer buffers every record through warcio's ``content_stream()``, which undoes the
    HTTP Content-Encoding. No CDXJ field needs the decoded body (the digest is the record's
    WARC-Payload-Digest, the MIME type its Content-Type), and decoding costs a run its index:
    warcio's ``br`` decoder fails on every response with brotli >= 1.1 (it sets
    ``unused_data`` on a ``brotli.Decompressor``, which has none), a gzip body corrupt past its
    first block raises, and a compression bomb would be inflated into a temporary file.
    """

    def __init__(self, records: ArchiveIterator) -> None:
        self._records = records
        #: The records still being indexed: cdxj-indexer closes each one's spooled copy once
        #: its line is written, so after a failure only these can hold one open.
        self.recent: deque[Any] = deque(maxlen=3)

    def __iter__(self) -> Iterator[Any]:
        for record in self._records:
            record.content_stream = _raw_content(record)
            self.recent.append(record)
            yield record

    def close(self) -> None:
        for record in self.recent:
            spool = getattr(record, "buffered_stream", None)
            if spool is not None:
                spool.close()

    def __getattr__(self, name: str) -> Any:
        # get_record_offset, get_record_length and the rest: the iterator's own.
        return getattr(self._records, name)


def _raw_content(record: Any) -> Any:
    return lambda: record.raw_stream


class _Indexer(CDXJIndexer):  # type: ignore[misc]  # cdxj-indexer ships no type hints
    records: _Undecoded | None = None

    def _create_record_iter(self, input_: BinaryIO) -> _Undecoded:
        self.records = _Undecoded(super()._create_record_iter(input_))
        return self.records


@dataclass(frozen=True, slots=True)
class CdxjIndex:
    """The sorted CDXJ lines of one WARC, and the records that could not be indexed."""

    data: bytes
    #: (offset, cause) of each capture record left out.
    skipped: tuple[tuple[int, str], ...] = ()


def _index(stream: BinaryIO, filename: str) -> bytes:
    out = io.StringIO()
    indexer = _Indexer(
        out,
        [stream],
        filename=filename,
        sort=True,
        records=INDEXED_RECORDS,
        # Adds the request method and body to non-GET lines, as pywb indexes them.
        post_append=True,
    )
    try:
        indexer.process_all()
    finally:
        if indexer.records is not None:
            indexer.records.close()
    return out.getvalue().encode("utf-8")


def index_records(stream: BinaryIO, filename: str) -> CdxjIndex:
    """The CDXJ index of one WARC stream, `filename` as the lines' file name.

    A record that cannot be indexed costs that record only: the file is then indexed record
    by record, and each one that fails is logged and listed in `skipped`.
    """
    start = stream.tell()
    try:
        return CdxjIndex(_index(stream, filename))
    except Exception as exc:  # any indexer failure: fall back to one record at a time
        logger.warning("Indexing %s record by record: %s", filename, _cause(exc))
    stream.seek(start)
    return _index_each(stream, filename)


def cdxj_index(stream: BinaryIO, filename: str) -> bytes:
    """The sorted CDXJ lines of one WARC stream (records that cannot be indexed left out)."""
    return index_records(stream, filename).data


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _spans(stream: BinaryIO) -> Iterator[tuple[int, int, str]]:
    """(offset, length, type) of each record, headers only parsed; stops at damage."""
    records = ArchiveIterator(stream, no_record_parse=True)
    try:
        for record in records:
            record_type = record.rec_type
            # The offset and length are known once the record is read to its end.
            records.read_to_end(record)
            yield records.get_record_offset(), records.get_record_length(), record_type
    except Exception as exc:  # warcio's errors on a damaged file are of any type
        logger.warning("WARC unreadable past offset %d: %s", records.offset, _cause(exc))


def _index_each(stream: BinaryIO, filename: str) -> CdxjIndex:
    lines: list[str] = []
    skipped: list[tuple[int, str]] = []
    for offset, length, record_type in list(_spans(stream)):
        if record_type not in INDEXED_RECORDS.split(","):
            continue
        stream.seek(offset)
        try:
            data = _index(io.BytesIO(stream.read(length)), filename)
        except Exception as exc:  # the one record is skipped, whatever the cause
            logger.warning(
                "Skipped %s record at offset %d of %s: %s", record_type, offset, filename,
                _cause(exc),
            )  # fmt: skip
            skipped.append((offset, _cause(exc)))
            continue
        for line in data.decode("utf-8").splitlines():
            urlkey, timestamp, fields = line.split(" ", 2)
            entry = json.loads(fields)
            entry["offset"] = str(offset)
            lines.append(f"{urlkey} {timestamp} {json.dumps(entry)}\n")
    return CdxjIndex("".join(sorted(lines)).encode("utf-8"), tuple(skipped))


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


def index_warc(store: Store, warc_key: str) -> CdxjIndex:
    """Index one stored WARC and store the index at `layout.index_key`."""
    with open_warc(store, warc_key) as stream:
        index = index_records(stream, parse_warc_key(warc_key)[2])
    key = warc_index_key(warc_key)
    store.put_bytes(key, index.data, CDXJ_CONTENT_TYPE, {"warc-key": warc_key})
    logger.info("Indexed %s: %d captures", warc_key, index.data.count(b"\n"))
    return index


def unindexed_warcs(store: Store, site: str) -> list[str]:
    """Keys of the site's WARCs that have no CDXJ index yet (new, or recovered after a crash)."""
    indexed = set(store.list(site_prefix(INDEX_PREFIX, site)))
    return [
        key
        for key in store.list(site_prefix(WARC_PREFIX, site))
        if key.endswith(WARC_SUFFIXES) and warc_index_key(key) not in indexed
    ]
