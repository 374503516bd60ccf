"""CDXJ indexes of WARC files (responses and revisits): built while a WARC is written, from
the record locations the writer knows, or with cdxj-indexer by reading a finished file; both
give the same lines."""

from __future__ import annotations

import io
import json
import logging
import re
import tempfile
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import surt
from warcio.bufferedreaders import BufferedReader
from warcio.statusandheaders import StatusAndHeadersParser
from warcio.timeutils import iso_date_to_timestamp

from newsarchive.archive.layout import (
    INDEX_PREFIX,
    WARC_PREFIX,
    WARC_SUFFIXES,
    parse_warc_key,
    site_prefix,
    warc_index_key,
)

if TYPE_CHECKING:
    from newsarchive.archive.captures import CaptureRef
    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

CDXJ_CONTENT_TYPE: Final = "text/x-cdxj"
#: Request records are looked up through their response; warcinfo and metadata are no captures.
INDEXED_RECORDS: Final = "response,revisit"
#: cdxj-indexer's `mime` is the Content-Type up to the first ";" or blank (its `RE_SPACE`;
#: tests/archive check the lines equal its own). cdxj-indexer itself is imported only where a
#: finished file is read: it loads pyamf and pkg_resources, about 7 MB the crawl process
#: does not need while it indexes as it writes.
_MIME_END: Final = re.compile(r"[;\s]")
#: Methods whose request body cdxj-indexer (post_append) folds into the URL key.
_BODY_METHODS: Final = ("POST", "PUT")


def cdxj_index(stream: BinaryIO, filename: str) -> bytes:
    """The sorted CDXJ lines of one WARC stream, `filename` as the lines' file name."""
    from cdxj_indexer.main import CDXJIndexer  # noqa: PLC0415 - see _MIME_END

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
        from cdxj_indexer.postquery import append_method_query  # noqa: PLC0415 - see _MIME_END

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


def index_warc(store: Store, warc_key: str) -> str:
    """Index one stored WARC by reading it, and store the index; returns the index's key."""
    with open_warc(store, warc_key) as stream:
        data = cdxj_index(stream, parse_warc_key(warc_key)[2])
    return put_index(store, warc_key, data)


def put_index(store: Store, warc_key: str, data: bytes) -> str:
    """Store the CDXJ index of a WARC at `layout.warc_index_key`; returns that key."""
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
