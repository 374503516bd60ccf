"""CDXJ indexes of WARC files (responses and revisits): built while a WARC is written, from
the record locations the writer knows, or with cdxj-indexer by reading a finished file; both
give the same lines."""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import surt
from cdxj_indexer.main import CDXJIndexer
from cdxj_indexer.postquery import append_method_query
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.statusandheaders import StatusAndHeadersParser
from warcio.timeutils import iso_date_to_timestamp

from newsarchive.archive.layout import parse_warc_key, warc_index_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    from newsarchive.archive.captures import CaptureRef
    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

CDXJ_CONTENT_TYPE: Final = "text/x-cdxj"
#: Request records are looked up through their response; warcinfo and metadata are no captures.
INDEXED_RECORDS: Final = "response,revisit"
#: cdxj-indexer's `mime` is the Content-Type up to the first ";" or blank.
_MIME_END: Final = CDXJIndexer.RE_SPACE
#: Methods whose request body cdxj-indexer (post_append) folds into the URL key.
_BODY_METHODS: Final = ("POST", "PUT")


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


class _BrotliDecompressor:
    """brotlipy's decompressor API, which warcio's reader expects (webrecorder/warcio#73), over
    Google's brotli (the one Scrapy uses, pinned here), whose Decompressor has `process` and
    takes no attributes: without this, cdxj-indexer fails on any WARC holding a br response."""

    def __init__(self, decompressor: Any) -> None:
        self._decompressor = decompressor
        self.unused_data = None

    def decompress(self, data: bytes) -> bytes:
        return bytes(self._decompressor.process(data))

    def flush(self) -> bytes:
        return b""


def _warcio_reads_brotli() -> None:
    try:
        # optional, as it is for Scrapy; brotli ships no type hints
        import brotli  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:
        return
    if not hasattr(brotli.Decompressor, "process"):
        return  # brotlipy (or brotlicffi): warcio's own factory works
    BufferedReader.DECOMPRESSORS["br"] = lambda: _BrotliDecompressor(brotli.Decompressor())


_warcio_reads_brotli()


def _url_key(url: str) -> str:
    try:
        return str(surt.surt(url))
    except Exception:  # cdxj-indexer falls back to the URL on any surt failure
        return url


def _parse_head(head: bytes) -> Any:
    # The parser replay tools and cdxj-indexer read the record with: same decoding, same folding.
    return StatusAndHeadersParser([], verify=False).parse(io.BytesIO(head))


def capture_line(
    capture: CaptureRef,
    record_type: str,
    http_head: bytes,
    *,
    method: str = "GET",
    request_head: bytes = b"",
    request_body: bytes = b"",
) -> str:
    """The CDXJ line cdxj-indexer writes for one response or revisit record we wrote.

    `http_head` is the record's HTTP head as written; for a response to a POST or PUT, the
    request record's head and body too (its method and body go into the URL key, as pywb
    indexes them). `capture.length` must be set (the writer always knows it).
    """
    head = _parse_head(http_head)
    fields: dict[str, str] = {"url": capture.target_uri}
    if record_type == "revisit":
        fields["mime"] = "warc/revisit"
    else:
        content_type = head.get_header("Content-Type")
        if content_type is not None:
            fields["mime"] = _MIME_END.split(content_type, 1)[0].strip()
    status = head.get_statuscode()
    if status is not None:
        fields["status"] = status
    if capture.payload_digest:
        fields["digest"] = capture.payload_digest
    fields["length"] = str(capture.length)
    fields["offset"] = str(capture.offset)
    fields["filename"] = capture.filename
    urlkey = _url_key(capture.target_uri)
    # cdxj-indexer joins a response (never a revisit) with the request record that follows it.
    if record_type == "response" and method.upper() in _BODY_METHODS:
        request = _parse_head(request_head)
        query, suffix = append_method_query(
            method,
            request.get_header("Content-Type"),
            request.get_header("Content-Length"),
            io.BytesIO(request_body),
            capture.target_uri,
        )
        fields["requestBody"] = query
        fields["method"] = method.upper()
        urlkey = _url_key(capture.target_uri + suffix)
    timestamp = iso_date_to_timestamp(capture.date)
    return f"{urlkey} {timestamp} {json.dumps(fields)}\n"


class CdxjLines:
    """The CDXJ lines of one WARC as it is written, kept in a temporary file (not in memory: a
    1 GB WARC holds tens of thousands of captures) until the file is closed."""

    def __init__(self) -> None:
        self._spill = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.count = 0

    def add(self, line: str) -> None:
        self._spill.write(line)
        self.count += 1

    def mark(self) -> tuple[int, int]:
        """Where the lines end now, for `rollback`."""
        return self._spill.tell(), self.count

    def rollback(self, mark: tuple[int, int]) -> None:
        """Drop the lines added since `mark` (their records were cut back)."""
        position, self.count = mark
        self._spill.seek(position)
        self._spill.truncate()

    def data(self) -> bytes:
        """All lines, sorted as cdxj-indexer sorts them (as strings)."""
        self._spill.seek(0)
        lines = self._spill.readlines()
        self._spill.seek(0, io.SEEK_END)
        lines.sort()
        return "".join(lines).encode("utf-8")

    def close(self) -> None:
        self._spill.close()


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
    """Index one stored WARC by reading it, and store the index (records that cannot be
    indexed left out, see `index_records`)."""
    with open_warc(store, warc_key) as stream:
        index = index_records(stream, parse_warc_key(warc_key)[2])
    put_index(store, warc_key, index.data)
    return index


def put_index(store: Store, warc_key: str, data: bytes) -> str:
    """Store the CDXJ index of a WARC at `layout.warc_index_key`; returns that key."""
    key = warc_index_key(warc_key)
    store.put_bytes(key, data, CDXJ_CONTENT_TYPE, {"warc-key": warc_key})
    logger.info("Indexed %s: %d captures", warc_key, data.count(b"\n"))
    return key
