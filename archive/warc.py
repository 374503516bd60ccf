"""WARC/1.1 records written to any binary stream, and the rolling, crash-recoverable WARC writer."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import http
import logging
import os
import re
import socket
import threading
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from io import BytesIO
from typing import TYPE_CHECKING, Any, BinaryIO, Concatenate, Final, ParamSpec, Protocol
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.cdxj import CdxjLines, capture_line, put_index
from newsarchive.archive.layout import WARC_PREFIX, check_key, safe_segment, warc_key
from newsarchive.archive.resource import Resource

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

#: WARC 1.1 section 5.13: values allowed in WARC-Truncated.
TRUNCATION_REASONS: Final = frozenset({"length", "time", "disconnect", "unspecified"})
#: warcio writes the 1.0 URI unless the writer is set to WARC/1.1; pin it so that never drifts.
REVISIT_PROFILE: Final = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
#: WARC 1.1 section 6.7.2: a conditional request answered 304; the block is the 304's head.
NOT_MODIFIED_PROFILE: Final = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
CONFORMS_TO: Final = (
    "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
)
WARC_CONTENT_TYPE: Final = "application/warc"
#: warcinfo fields every file must carry (replay tools and our verify command read them).
REQUIRED_WARCINFO: Final = ("isPartOf", "http-header-user-agent")
_HTTP_VERSIONS: Final = frozenset({"HTTP/1.0", "HTTP/1.1"})
#: Scrapy's handlers name HTTP/2 "h2" (Twisted) or "HTTP/2" (httpx); WARC-Protocol uses ALPN ids.
_ALPN_IDS: Final = {"h2": "h2", "HTTP/2": "h2", "HTTP/2.0": "h2", "h3": "h3", "HTTP/3": "h3"}
#: warcio compresses at level 9; zlib's default 6 is <1% larger on HTML and 20-40% cheaper.
_GZIP_LEVEL: Final = 6
_SCAN_CHUNK: Final = 1 << 20
#: A WARC header block larger than this is not something we wrote; treat it as damage.
_MAX_WARC_HEAD: Final = 1 << 16
#: Record types written first in an exchange, each followed by its request record.
_CAPTURE_TYPES: Final = frozenset({"response", "revisit"})


_P = ParamSpec("_P")


class Writable(Protocol):
    """Any binary output: a file, a socket wrapper, BytesIO (what warcio's writer accepts)."""

    def write(self, data: bytes, /) -> int | None: ...


@dataclass(frozen=True, slots=True)
class HttpExchange:
    """One HTTP request and its response, as seen on the wire.

    Header names and values are the wire bytes decoded as latin-1, so they are written back
    byte for byte; a value that latin-1 cannot encode is written as UTF-8.
    """

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    protocol: str
    response_headers: list[tuple[str, str]]
    payload: bytes
    ip_address: str | None
    date: datetime
    truncated: str | None = None

    def __post_init__(self) -> None:
        # Fail when the exchange is built, not halfway through writing a record.
        parts = urlsplit(self.url)
        if not parts.scheme or not parts.netloc:
            raise ValueError(f"WARC-Target-URI must be absolute: {self.url!r}")
        if self.date.tzinfo is None or self.date.utcoffset() is None:
            raise ValueError("exchange date must be timezone-aware")
        if self.protocol not in _HTTP_VERSIONS and self.protocol not in _ALPN_IDS:
            raise ValueError(f"unsupported protocol {self.protocol!r}")
        if self.truncated is not None and self.truncated not in TRUNCATION_REASONS:
            raise ValueError(f"unknown truncation reason {self.truncated!r}")
        if not 100 <= self.status <= 999:
            raise ValueError(f"invalid HTTP status {self.status}")


def payload_digest(data: bytes) -> str:
    """The WARC-Payload-Digest value of a payload: ``sha1:`` plus base32, as warcio writes it."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")  # noqa: S324 - WARC convention, not security


def make_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def format_warc_date(when: datetime) -> str:
    """WARC-Date with microseconds always present (warcio drops them when they are zero)."""
    if when.tzinfo is None:
        raise ValueError("WARC dates must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def default_software() -> str:
    return f"newsarchive/{_version('newsarchive')} warcio/{_version('warcio')}"


def warcinfo_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The warcinfo body: our defaults, overridden and extended by `fields`, validated."""
    out = {
        "software": default_software(),
        "format": "WARC File Format 1.1",
        "conformsTo": CONFORMS_TO,
        "robots": "obey",
    }
    out.update(fields)
    missing = [name for name in REQUIRED_WARCINFO if not out.get(name)]
    if missing:
        raise ValueError(f"warcinfo lacks {', '.join(missing)}")
    for name, value in out.items():
        if not name or any(c in name for c in ":\r\n") or any(c in value for c in "\r\n"):
            raise ValueError(f"invalid warcinfo field {name!r}: {value!r}")
    return out


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _wire(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


class _WireHeaders(StatusAndHeaders):  # type: ignore[misc]  # warcio ships no type hints
    """An HTTP head written back as received.

    warcio's own buffer %-encodes any non-ASCII header value (RFC 8187 style), which changes
    what a replayed page gets; here latin-1 round-trips the wire bytes instead.
    """

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        lines = [f"{self.protocol} {self.statusline}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        self.headers_buff = b"".join(_wire(line) + b"\r\n" for line in lines) + b"\r\n"


def _http_headers(headers: list[tuple[str, str]], body_length: int) -> list[tuple[str, str]]:
    """Headers that describe the body as stored: de-chunked, with its real length."""
    wanted = str(body_length)
    lengths = [v.strip() for n, v in headers if n.lower() == "content-length"]
    rewrite = any(v != wanted for v in lengths)
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        # h2 pseudo-headers live in the status/request line of an HTTP/1.1 record.
        if name.startswith(":"):
            continue
        # The payload is already transfer-decoded; keeping the header would make every
        # replay tool try to de-chunk it again.
        if lower == "transfer-encoding":
            continue
        if lower == "content-length" and rewrite:
            if not any(n.lower() == "content-length" for n, _ in out):
                out.append((name, wanted))
            # pywb's convention for a header it had to change: keep the original beside it.
            out.append(("X-Archive-Orig-Content-Length", value))
            continue
        out.append((name, value))
    return out


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    target = parts.path or "/"
    return f"{target}?{parts.query}" if parts.query else target


class _CountingOutput:
    """Counts bytes so offsets work on streams without tell(); completes short raw writes."""

    def __init__(self, out: Writable, offset: int) -> None:
        self.out = out
        self.offset = offset

    def write(self, data: bytes) -> None:
        while data:
            written = self.out.write(data)
            if written is None:
                raise BlockingIOError("non-blocking stream refused a WARC write")
            data = data[written:]
            self.offset += written


class _MemberSink:
    """What warcio writes one record into: a gzip member of its own, or plain bytes."""

    def __init__(self, out: _CountingOutput, gzip: bool) -> None:
        self.out = out
        self.compressor = (
            zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16) if gzip else None
        )

    def write(self, data: bytes) -> None:
        if self.compressor is not None:
            data = self.compressor.compress(data)
        if data:
            self.out.write(data)

    def flush(self) -> None:
        # warcio flushes after each record; the member is ended by finish() instead.
        pass

    def finish(self) -> None:
        if self.compressor is not None:
            self.out.write(self.compressor.flush())


class WarcRecordWriter:
    """Writes WARC/1.1 records to any binary stream; one gzip member per record when gzip is on.

    Not locked: `RollingWarcWriter` serialises access.
    """

    def __init__(
        self,
        out: Writable,
        *,
        gzip: bool = True,
        offset: int = 0,
        id_factory: Callable[[], str] = make_record_id,
        warc_key: str = "",
        lines: CdxjLines | None = None,
    ) -> None:
        self._out = _CountingOutput(out, offset)
        #: Store key of the file `out` writes, for the `CaptureRef`s returned.
        self.warc_key = warc_key
        #: Where the CDXJ line of each capture goes once its records are written, if anywhere.
        self.lines = lines
        self._gzip = gzip
        self._new_id = id_factory
        # Only used to build records and lay out their headers; the bytes go through _MemberSink.
        self._builder = WARCWriter(None, gzip=False, warc_version="1.1")

    @property
    def offset(self) -> int:
        """Offset of the next record (start offset plus bytes written)."""
        return self._out.offset

    def write_warcinfo(
        self, fields: Mapping[str, str], *, filename: str | None, date: datetime
    ) -> None:
        body = b"".join(f"{k}: {v}\r\n".encode() for k, v in fields.items())
        record_id = self._new_id()
        warc_date = format_warc_date(date)
        headers = {"WARC-Type": "warcinfo", "WARC-Record-ID": record_id}
        if filename:
            headers["WARC-Filename"] = filename
        headers["WARC-Date"] = warc_date
        record = self._builder.create_warc_record(
            "",
            "warcinfo",
            payload=BytesIO(body),
            length=len(body),
            warc_headers_dict=headers,
            warc_content_type="application/warc-fields",
        )
        self._write(record)

    def write_exchange(self, exchange: HttpExchange) -> CaptureRef:
        """Response then request (warcio's and pywb's order); returns the response's place."""
        response_id, request_id = self._new_id(), self._new_id()
        warc_date = format_warc_date(exchange.date)
        digest = payload_digest(exchange.payload)
        headers = self._capture_headers("response", exchange, response_id, warc_date, request_id)
        if exchange.truncated:
            headers["WARC-Truncated"] = exchange.truncated
        headers["WARC-Payload-Digest"] = digest
        response = self._builder.create_warc_record(
            exchange.url,
            "response",
            payload=BytesIO(exchange.payload),
            length=len(exchange.payload),
            warc_headers_dict=headers,
            http_headers=self._response_head(exchange),
        )
        request = self._request_record(exchange, request_id, warc_date, response_id)
        offset, length = self._write(response)
        self._write(request)
        capture = CaptureRef(
            exchange.url, warc_date, response_id, self.warc_key, offset, length, digest
        )
        if self.lines is not None:
            self.lines.add(
                capture_line(
                    capture,
                    "response",
                    response.http_headers.headers_buff,
                    method=exchange.method,
                    request_head=request.http_headers.headers_buff,
                    request_body=exchange.request_body,
                )
            )
        return capture

    def write_revisit(
        self,
        exchange: HttpExchange,
        original: CaptureRef,
        *,
        profile: str = REVISIT_PROFILE,
    ) -> CaptureRef:
        """A revisit plus its request; only the HTTP head is stored.

        `REVISIT_PROFILE` needs the exchange's payload to be the original's; `NOT_MODIFIED_PROFILE`
        needs a 304 answer (no payload), and the original is the capture the request revalidated.
        """
        if not original.payload_digest:
            raise ValueError(f"revisit of {exchange.url}: the original {original} has no digest")
        if profile == REVISIT_PROFILE:
            digest = payload_digest(exchange.payload)
            if digest.lower() != original.payload_digest.lower():
                raise ValueError(
                    f"revisit of {exchange.url}: payload {digest} differs from the original's "
                    f"{original.payload_digest}"
                )
        elif profile == NOT_MODIFIED_PROFILE:
            if exchange.status != http.HTTPStatus.NOT_MODIFIED or exchange.payload:
                raise ValueError(
                    f"server-not-modified revisit of {exchange.url} needs an empty 304, "
                    f"got {exchange.status} with {len(exchange.payload)} bytes"
                )
        else:
            raise ValueError(f"unknown revisit profile {profile!r}")
        revisit_id, request_id = self._new_id(), self._new_id()
        warc_date = format_warc_date(exchange.date)
        headers = self._capture_headers("revisit", exchange, revisit_id, warc_date, request_id)
        headers |= {
            "WARC-Profile": profile,
            "WARC-Refers-To": original.record_id,
            "WARC-Refers-To-Target-URI": original.target_uri,
            "WARC-Refers-To-Date": original.date,
            # Replay tools find the payload by this digest; for a 304 it is the original's too.
            "WARC-Payload-Digest": original.payload_digest,
        }
        if profile == REVISIT_PROFILE:
            # The block holds the HTTP head only: the payload is cut on purpose. A 304 has
            # no payload, so nothing is cut there.
            headers["WARC-Truncated"] = "length"
        revisit = self._builder.create_warc_record(
            exchange.url,
            "revisit",
            warc_headers_dict=headers,
            warc_content_type="application/http; msgtype=response",
            http_headers=self._response_head(exchange),
        )
        request = self._request_record(exchange, request_id, warc_date, revisit_id)
        offset, length = self._write(revisit)
        self._write(request)
        capture = CaptureRef(
            exchange.url,
            warc_date,
            revisit_id,
            self.warc_key,
            offset,
            length,
            original.payload_digest,
        )
        if self.lines is not None:
            self.lines.add(capture_line(capture, "revisit", revisit.http_headers.headers_buff))
        return capture

    @staticmethod
    def _capture_headers(
        record_type: str, exchange: HttpExchange, record_id: str, warc_date: str, concurrent: str
    ) -> dict[str, str]:
        headers = {
            "WARC-Type": record_type,
            "WARC-Record-ID": record_id,
            "WARC-Date": warc_date,
            "WARC-Target-URI": exchange.url,
        }
        if exchange.ip_address and record_type != "request":
            headers["WARC-IP-Address"] = exchange.ip_address
        if exchange.protocol not in _HTTP_VERSIONS:
            # WARC-Protocol (IIPC proposal, used by Browsertrix): the HTTP/1.1 form above is ours.
            headers["WARC-Protocol"] = _ALPN_IDS[exchange.protocol]
        headers["WARC-Concurrent-To"] = concurrent
        return headers

    @staticmethod
    def _http_version(exchange: HttpExchange) -> str:
        # Replay tools only parse HTTP/1.x messages, so h2 and h3 are stored in HTTP/1.1 form.
        return exchange.protocol if exchange.protocol in _HTTP_VERSIONS else "HTTP/1.1"

    def _response_head(self, exchange: HttpExchange) -> _WireHeaders:
        return _WireHeaders(
            f"{exchange.status} {reason_phrase(exchange.status)}",
            _http_headers(exchange.response_headers, len(exchange.payload)),
            protocol=self._http_version(exchange),
        )

    def _request_record(
        self, exchange: HttpExchange, record_id: str, warc_date: str, concurrent: str
    ) -> Any:
        head = _WireHeaders(
            f"{_request_target(exchange.url)} {self._http_version(exchange)}",
            _http_headers(exchange.request_headers, len(exchange.request_body)),
            protocol=exchange.method,
        )
        return self._builder.create_warc_record(
            exchange.url,
            "request",
            payload=BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            warc_headers_dict=self._capture_headers(
                "request", exchange, record_id, warc_date, concurrent
            ),
            http_headers=head,
        )

    def _write(self, record: Any) -> tuple[int, int]:
        start = self._out.offset
        sink = _MemberSink(self._out, self._gzip)
        self._builder.out = sink
        self._builder.write_record(record)
        sink.finish()
        return start, self._out.offset - start


@dataclass(slots=True)
class _OpenWarc:
    filename: str
    key: str
    final_path: Path
    open_path: Path
    fh: BinaryIO
    writer: WarcRecordWriter
    records: int = 0
    lines: CdxjLines | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _sanitise_host(host: str) -> str:
    cleaned = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9.-]", "-", host)).strip(".-")
    # A DNS label is at most 63 characters; longer would push file names past safe_segment.
    return cleaned[:63] or "localhost"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rolling(
    write: Callable[Concatenate[WarcRecordWriter, _P], CaptureRef],
) -> Callable[Concatenate[RollingWarcWriter, _P], CaptureRef]:
    """A `WarcRecordWriter` write as a `RollingWarcWriter` method, with the same arguments."""

    def rolling(self: RollingWarcWriter, /, *args: _P.args, **kwargs: _P.kwargs) -> CaptureRef:
        with self._lock:
            return self._write(lambda writer: write(writer, *args, **kwargs))

    rolling.__doc__ = write.__doc__
    return rolling


class RollingWarcWriter(Resource):
    """Writes captures into ``PREFIX-TIMESTAMP-SERIAL-HOST-PID.warc.gz`` files of about `max_size`.

    Each file is written as ``NAME.warc.gz.open`` at the store's staging path, under an
    exclusive flock so `recover_open_files` in another process leaves it alone; each capture is
    on disk (fdatasync) before its write returns; on close the file is fsynced, renamed and
    committed to the store. Files are only created for a first capture.
    Writes, rolls and `close` hold one lock; `on_close(filename, key)` runs under it after each
    commit (also for a roll inside `write_exchange`), so it must not call back into the writer.
    With `index`, each file's CDXJ index is built from the records as they are written and
    stored beside it when it closes (`keys_indexed`), so nothing reads the file back for it.
    """

    def __init__(
        self,
        store: Store,
        *,
        site: str,
        prefix: str = "NEWSARCHIVE",
        max_size: int = 1_000_000_000,
        warcinfo: Mapping[str, str],
        on_close: Callable[[str, str], None] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        id_factory: Callable[[], str] = make_record_id,
        index: bool = False,
    ) -> None:
        if max_size <= 0:
            raise ValueError(f"max_size must be positive, got {max_size}")
        self.store = store
        self.site = safe_segment(site)
        self.prefix = prefix
        self.max_size = max_size
        self.warcinfo = warcinfo_fields(warcinfo)
        self.on_close = on_close
        self._clock = clock
        self._id_factory = id_factory
        self.index = index
        # Host and process: the workers of a scaled-out run share a store and a clock.
        self._host = f"{_sanitise_host(socket.gethostname())}-{os.getpid()}"
        # A bad prefix should fail now, not at the first capture of a run.
        safe_segment(self._filename(datetime(2000, 1, 1, tzinfo=UTC), 99999))
        self._lock = threading.Lock()
        self._serial = 0
        self._file: _OpenWarc | None = None
        self.files_closed: list[str] = []
        #: Store keys of `files_closed`, in the same order.
        self.keys_closed: list[str] = []
        #: Those of `keys_closed` whose CDXJ index the writer stored (`index` on).
        self.keys_indexed: list[str] = []
        self.bytes_written = 0
        self.records_written = 0

    @property
    def current_filename(self) -> str | None:
        return self._file.filename if self._file else None

    @property
    def current_size(self) -> int:
        return self._file.writer.offset if self._file else 0

    #: `WarcRecordWriter`'s, on the current file under the lock; roll once the file reaches
    #: `max_size`.
    write_exchange = _rolling(WarcRecordWriter.write_exchange)
    write_revisit = _rolling(WarcRecordWriter.write_revisit)

    def close(self) -> None:
        """Close the current file (end of run); the next capture starts a new one."""
        with self._lock:
            self._close_current()

    def _exit(self) -> None:
        self.close()

    def _filename(self, when: datetime, serial: int) -> str:
        # IIPC/Heritrix naming: a 17-digit timestamp, milliseconds included.
        stamp = when.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        return f"{self.prefix}-{stamp}-{serial:05d}-{self._host}.warc.gz"

    def _write(self, op: Callable[[WarcRecordWriter], CaptureRef]) -> CaptureRef:
        current = self._file or self._open()
        start = current.writer.offset
        lines = current.lines.mark() if current.lines is not None else None
        try:
            written = op(current.writer)
            # Durable before recorded: the caller records the capture (seen store, digest
            # index) once this returns, so a crash or full disk never leaves a URL recorded
            # as archived without its records.
            os.fdatasync(current.fh.fileno())
        except BaseException as exc:
            if current.lines is not None and lines is not None:
                current.lines.rollback(lines)
            self._cut_back(current, start)
            if isinstance(exc, OSError) and exc.filename is None:
                exc.filename = str(current.open_path)  # a failed write() names no file
            raise
        current.records += 2
        self.records_written += 2
        self.bytes_written += current.writer.offset - start
        if current.writer.offset >= self.max_size:
            self._close_current()
        return written

    def _open(self) -> _OpenWarc:
        when = self._clock()
        filename = self._filename(when, self._serial)
        self._serial += 1
        key = warc_key(self.site, filename, when)
        final_path = self.store.staging_path(key)
        open_path = final_path.with_name(final_path.name + ".open")
        # Unbuffered: every record reaches the OS whole, so a crash loses at most the last one,
        # and a failed write can be cut back exactly.
        fh = open_path.open("xb", buffering=0)
        lines = CdxjLines() if self.index else None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            writer = WarcRecordWriter(fh, id_factory=self._id_factory, warc_key=key, lines=lines)
            writer.write_warcinfo(self.warcinfo, filename=filename, date=when)
        except BaseException:
            fh.close()
            open_path.unlink(missing_ok=True)
            if lines is not None:
                lines.close()
            raise
        self.bytes_written += writer.offset
        self._file = _OpenWarc(filename, key, final_path, open_path, fh, writer, lines=lines)
        logger.info("Opened WARC %s", open_path)
        return self._file

    def _cut_back(self, current: _OpenWarc, offset: int) -> None:
        """Drop a half-written capture so the file stays a sequence of whole records."""
        try:
            os.ftruncate(current.fh.fileno(), offset)
            current.fh.seek(offset)
        except OSError:
            logger.exception(
                "Cannot cut %s back after a failed write; leaving it for recover_open_files",
                current.open_path,
            )
            self._file = None
            current.fh.close()
            if current.lines is not None:
                current.lines.close()
            return
        current.writer = WarcRecordWriter(
            current.fh,
            offset=offset,
            id_factory=self._id_factory,
            warc_key=current.key,
            lines=current.lines,
        )

    def _close_current(self) -> None:
        current = self._file
        if current is None:
            return
        self._file = None
        try:
            self._finish(current)
        finally:
            if current.lines is not None:
                current.lines.close()

    def _finish(self, current: _OpenWarc) -> None:
        if current.records == 0:
            # Only warcinfo (every capture failed): no empty WARCs.
            current.fh.close()
            current.open_path.unlink(missing_ok=True)
            logger.info("Discarded WARC %s: no captures", current.open_path)
            return
        try:
            os.fsync(current.fh.fileno())
            # Rename before closing, so the flock covers the file until it has its final name.
            current.open_path.replace(current.final_path)
            _fsync_dir(current.final_path.parent)
        finally:
            current.fh.close()
        metadata = {"site": self.site, "records": str(current.records)}
        try:
            self.store.commit_file(current.key, current.final_path, WARC_CONTENT_TYPE, metadata)
        except Exception:
            logger.exception(
                "Cannot commit WARC %s; it stays at %s", current.key, current.final_path
            )
            raise
        self.files_closed.append(current.filename)
        self.keys_closed.append(current.key)
        logger.info(
            "Closed WARC %s: %d records, %d bytes",
            current.key,
            current.records,
            current.writer.offset,
        )
        if current.lines is not None:
            try:
                put_index(self.store, current.key, current.lines.data())
            except Exception:  # any store failure: the WARC is safe, and is indexed by reading it
                logger.error("Could not store the CDXJ index of %s", current.key, exc_info=True)
            else:
                self.keys_indexed.append(current.key)
        if self.on_close is not None:
            self.on_close(current.filename, current.key)


class _RecordCheck:
    """Follows one decompressed record and tells whether it is a whole WARC record."""

    def __init__(self) -> None:
        self.head = b""
        self.head_length = -1
        self.content_length = -1
        self.warc_type = ""
        self.record_id = ""
        self.concurrent_to = ""
        self.total = 0
        self.tail = b""
        self.broken = False

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.total += len(data)
        self.tail = (self.tail + data)[-4:]
        if self.head_length >= 0 or self.broken:
            return
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            self.broken = len(self.head) > _MAX_WARC_HEAD
            return
        self.head_length = end + 4
        lines = self.head[:end].decode("utf-8", "replace").split("\r\n")
        if not lines[0].startswith("WARC/1."):
            self.broken = True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length" and value.isdigit():
                self.content_length = int(value)
            elif name == "warc-type":
                self.warc_type = value
            elif name == "warc-record-id":
                self.record_id = value
            elif name == "warc-concurrent-to":
                self.concurrent_to = value
        self.head = b""

    def complete(self) -> bool:
        return (
            not self.broken
            and self.head_length >= 0
            and self.content_length >= 0
            and self.total == self.head_length + self.content_length + 4
            and self.tail == b"\r\n\r\n"
        )


class _ExchangeCheck:
    """Follows whole records and tells where the last whole exchange ends.

    `WarcRecordWriter` writes a capture (response or revisit) then the request concurrent to
    it; a run killed between the two leaves a capture that `verify` rejects and replay tools
    treat as unpaired, so a capture only counts once its request is read. Other records
    (warcinfo) stand alone.
    """

    def __init__(self) -> None:
        #: End offset of the last whole unit, and how many non-warcinfo records lie before it.
        self.good_end = 0
        self.records = 0
        self._capture = ""  # record id of a capture still waiting for its request
        self.broken = False

    def record(self, check: _RecordCheck, end: int) -> None:
        if check.warc_type in _CAPTURE_TYPES:
            # Two captures in a row, or one without an id: not what our writer lays out.
            self.broken = bool(self._capture) or not check.record_id
            self._capture = check.record_id
            return
        if check.warc_type == "request":
            self.broken = not self._capture or check.concurrent_to != self._capture
            self._capture = ""
            self.records += 0 if self.broken else 2
        else:
            self.broken = bool(self._capture)
            self.records += 0 if self.broken or check.warc_type == "warcinfo" else 1
        if not self.broken:
            self.good_end = end


def _complete_prefix(stream: BinaryIO) -> tuple[int, int]:
    """Length of the run of whole exchanges (and warcinfo) at the start, and how many records
    it holds that are not warcinfo. Reads in bounded chunks, whatever the records' sizes."""
    units = _ExchangeCheck()
    offset = 0  # file offset of buf[0]
    decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
    check = _RecordCheck()
    buf = b""
    while True:
        if not buf:
            buf = stream.read(_SCAN_CHUNK)
            if not buf:
                return units.good_end, units.records
        try:
            # Bounded output, so one huge record never has to fit in memory.
            check.feed(decomp.decompress(buf, _SCAN_CHUNK))
        except zlib.error:
            return units.good_end, units.records
        if not decomp.eof:
            offset += len(buf) - len(decomp.unconsumed_tail)
            buf = decomp.unconsumed_tail
            continue
        if not check.complete():
            return units.good_end, units.records
        end = offset + len(buf) - len(decomp.unused_data)
        units.record(check, end)
        if units.broken:
            return units.good_end, units.records
        offset, buf = end, decomp.unused_data
        decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
        check = _RecordCheck()


def recover_open_files(
    store: Store,
    root: Path | None = None,
    *,
    site: str | None = None,
    on_close: Callable[[str, str], None] | None = None,
) -> list[str]:
    """Repair the ``*.warc.gz.open`` files a crashed run left behind; return the keys committed.

    `root` is the local folder that holds staged WARCs, i.e. where ``staging_path("warcs/...")``
    points; by default it is found by asking the store (for `LocalStore`: ``root/warcs``).
    Each file is cut back to its last whole exchange (a capture and its request record, so a
    response whose request was never written goes too), renamed and committed; one with no
    capture left is deleted. Files still locked by a live writer are skipped. What was cut was
    never reported as captured: a capture is only recorded (digest index, seen store) once
    both of its records are written.
    """
    warcs_root = root if root is not None else store.staging_path(f"{WARC_PREFIX}/probe").parent
    scan_root = warcs_root / safe_segment(site) if site else warcs_root
    if not scan_root.is_dir():
        return []
    recovered: list[str] = []
    for open_path in sorted(scan_root.rglob("*.warc.gz.open")):
        final_path = open_path.with_name(open_path.name.removesuffix(".open"))
        try:
            key = check_key(f"{WARC_PREFIX}/{final_path.relative_to(warcs_root).as_posix()}")
        except ValueError:
            logger.exception("Cannot recover %s: no store key maps to it", open_path)
            continue
        if store.staging_path(key).resolve() != final_path.resolve():
            logger.error("Cannot recover %s: the store stages %s elsewhere", open_path, key)
            continue
        if _repair(open_path, final_path):
            store.commit_file(key, final_path, WARC_CONTENT_TYPE, {"recovered": "true"})
            recovered.append(key)
            if on_close is not None:
                on_close(final_path.name, key)
    return recovered


def _repair(open_path: Path, final_path: Path) -> bool:
    """Cut, rename or delete one open file; True when a final file now exists."""
    with open_path.open("r+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("Skipping %s: a live writer holds it", open_path)
            return False
        size = os.fstat(fh.fileno()).st_size
        good_end, records = _complete_prefix(fh)
        if records == 0:
            open_path.unlink()
            logger.warning("Deleted %s: no complete exchange in %d bytes", open_path, size)
            return False
        if final_path.exists():
            logger.error("Cannot recover %s: %s already exists", open_path, final_path)
            return False
        fh.truncate(good_end)
        os.fsync(fh.fileno())
        open_path.replace(final_path)
        _fsync_dir(final_path.parent)
    logger.warning(
        "Recovered %s: kept %d bytes with %d records, cut %d bytes",
        final_path,
        good_end,
        records,
        size - good_end,
    )
    return True
