"""Reading the archive back: a WARC's records in order, the record at a `CaptureRef`, a revisit
resolved to its original's payload, and the payload with its Content-Encoding undone.

Replay, re-extraction, verify, packaging and the crawl's recovery all read through here.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
import zlib
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.captures import CaptureRef, ref_from_json
from newsarchive.archive.items import ArticleCapture, header_value
from newsarchive.archive.layout import DIGEST_PREFIX, site_prefix

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from newsarchive.archive.metadata import MetadataRecord
    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

#: The record types a capture reference points at.
CAPTURE_TYPES: Final = ("response", "revisit")


class ArchiveReadError(Exception):
    """A record cannot be read or resolved (the message says which and why)."""


# --- iterating ----------------------------------------------------------------------------


def iter_records(
    stream: BinaryIO, warc_key: str = "", *, check_digests: bool = False
) -> Iterator[tuple[CaptureRef, Any]]:
    """Every record of a WARC stream with its reference, each once read to its end.

    Reading to the end is what gives the record its offset and length (and, with
    `check_digests`, runs warcio's digest check: see the record's ``digest_checker``); the
    block is consumed, the WARC and HTTP headers stay readable. warcio's errors pass through.
    """
    records = ArchiveIterator(stream, check_digests=check_digests)
    for record in records:
        headers = record.rec_headers
        ref = CaptureRef(
            target_uri=headers.get_header("WARC-Target-URI") or "",
            date=headers.get_header("WARC-Date") or "",
            record_id=headers.get_header("WARC-Record-ID") or "",
            warc_key=warc_key,
            offset=records.get_record_offset(),
            length=records.get_record_length(),
            payload_digest=headers.get_header("WARC-Payload-Digest"),
        )
        yield ref, record


# --- content-encoding ---------------------------------------------------------------------


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error:
        # Some servers send raw deflate without the zlib header; browsers and Scrapy accept it.
        return zlib.decompress(data, -zlib.MAX_WBITS)


def _decoders() -> dict[str, Callable[[bytes], bytes]]:
    found: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.decompress,
        "x-gzip": gzip.decompress,
        "deflate": _inflate,
    }
    try:
        # optional, as it is for Scrapy; brotli ships no type hints
        import brotli  # type: ignore[import-untyped]  # noqa: PLC0415

        found["br"] = brotli.decompress
    except ImportError:
        pass
    try:
        from backports import zstd  # noqa: PLC0415 - optional, as it is for Scrapy

        found["zstd"] = zstd.decompress
    except ImportError:
        pass
    return found


_DECODERS: Final = _decoders()


def decode_content(payload: bytes, content_encoding: str | None) -> bytes:
    """Undo Content-Encoding, last coding first, as Scrapy's HttpCompressionMiddleware does.

    Decoding stops at a coding this install cannot undo, leaving the body as Scrapy would have
    handed it to the spider. ArchiveReadError when a coding's data is damaged.
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    body = payload
    for coding in reversed(codings):
        if coding == "identity":
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            logger.warning("Content-Encoding %r not supported here; body left encoded", coding)
            break
        try:
            body = decoder(body)
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            raise ArchiveReadError(f"cannot undo Content-Encoding {coding}: {exc}") from exc
    return body


# --- one record -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArchivedResponse:
    """A response or revisit record read back: its HTTP head and payload (still encoded)."""

    ref: CaptureRef
    record_type: str
    headers: list[tuple[str, str]]
    status: int
    payload: bytes
    #: WARC-Refers-To and WARC-Profile of a revisit.
    refers_to: str | None = None
    profile: str | None = None

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    @property
    def body(self) -> bytes:
        """The payload with its Content-Encoding undone: what a browser would parse."""
        return decode_content(self.payload, self.header("Content-Encoding"))


def read_record(stream: BinaryIO, offset: int, warc_key: str = "") -> ArchivedResponse:
    """The record at `offset` of a seekable WARC stream; it must have an HTTP head."""
    where = f"{warc_key}@{offset}"
    stream.seek(offset)
    try:
        record = next(iter(ArchiveIterator(stream)), None)
        if record is None:
            raise ArchiveReadError(f"{where}: no WARC record at this offset")
        rec_headers = record.rec_headers
        http = record.http_headers
        payload = record.raw_stream.read()
    except ArchiveReadError:
        raise
    except Exception as exc:  # warcio raises many types (ArchiveLoadFailed, zlib, EOF...)
        raise ArchiveReadError(f"{where}: unreadable WARC record: {exc!r}") from exc
    if http is None:
        # A damaged member can still parse as a record whose HTTP head is gone.
        raise ArchiveReadError(
            f"{where}: unreadable WARC record: {record.rec_type} record without an HTTP head"
        )
    try:
        status = int(http.get_statuscode())
    except (TypeError, ValueError) as exc:
        raise ArchiveReadError(f"{where}: bad HTTP status line {http.statusline!r}") from exc
    ref = CaptureRef(
        target_uri=rec_headers.get_header("WARC-Target-URI") or "",
        date=rec_headers.get_header("WARC-Date") or "",
        record_id=rec_headers.get_header("WARC-Record-ID") or "",
        warc_key=warc_key,
        offset=offset,
        payload_digest=rec_headers.get_header("WARC-Payload-Digest"),
    )
    return ArchivedResponse(
        ref=ref,
        record_type=record.rec_type,
        headers=list(http.headers),
        status=status,
        payload=payload,
        refers_to=rec_headers.get_header("WARC-Refers-To"),
        profile=rec_headers.get_header("WARC-Profile"),
    )


# --- a store --------------------------------------------------------------------------------


class ArchiveReader:
    """Reads captures out of a store: keeps one WARC open, and each site's originals by
    record ID (from the digest index's durable copy) once asked for a revisit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._stream_key: str | None = None
        self._stream: BinaryIO | None = None
        self._originals: dict[str, dict[str, CaptureRef]] = {}

    def record(self, ref: CaptureRef) -> ArchivedResponse:
        """The record at `ref`, checked to be the record `ref` names (when it names one)."""
        if self._stream_key != ref.warc_key or self._stream is None:
            self.close()
            try:
                self._stream = self.store.open_read(ref.warc_key)
            except KeyError:
                raise ArchiveReadError(f"WARC {ref.warc_key} is not in the store") from None
            self._stream_key = ref.warc_key
        found = read_record(self._stream, ref.offset, ref.warc_key)
        if ref.record_id and found.ref.record_id != ref.record_id:
            raise ArchiveReadError(
                f"{ref} holds {found.ref.record_id or 'no record ID'}, "
                f"the metadata says {ref.record_id}"
            )
        return found

    def original(self, site: str, record_id: str) -> CaptureRef:
        """The response a revisit of `site` refers to, from the digest index."""
        if site not in self._originals:
            found: dict[str, CaptureRef] = {}
            for key in self.store.list(site_prefix(DIGEST_PREFIX, site)):
                for line in self.store.get_bytes(key).decode("utf-8").splitlines():
                    if line.strip():
                        capture = ref_from_json(line)
                        found[capture.record_id] = capture
            self._originals[site] = found
        try:
            return self._originals[site][record_id]
        except KeyError:
            raise ArchiveReadError(
                f"revisit refers to {record_id}, which the digest index of {site} lacks"
            ) from None

    def response(self, ref: CaptureRef, site: str) -> ArchivedResponse:
        """The archived response at `ref`, a revisit resolved to its original's payload."""
        response = self.record(ref)
        if response.record_type == "response":
            return response
        if response.record_type != "revisit" or not response.refers_to:
            raise ArchiveReadError(f"{ref} is a {response.record_type} record")
        original_ref = self.original(site, response.refers_to)
        original = self.record(dataclasses.replace(original_ref, record_id=""))
        if original.record_type != "response" or original.ref.record_id != response.refers_to:
            raise ArchiveReadError(
                f"revisit {response.ref.record_id} refers to {response.refers_to}, "
                f"not found at {original_ref}"
            )
        if response.profile and response.profile.endswith("/server-not-modified"):
            # A 304 head says little (often no Content-Type): the original's head describes it.
            return original
        # Identical payload: the revisit's own head came with this payload.
        return dataclasses.replace(response, payload=original.payload, record_type="response")

    def close(self) -> None:
        """Close the open WARC (use with `contextlib.closing`); the reader stays usable."""
        if self._stream is not None:
            self._stream.close()
        self._stream, self._stream_key = None, None


# --- a capture, as the crawl handed it to extraction ---------------------------------------


def capture_from_record(record: MetadataRecord, response: ArchivedResponse) -> ArticleCapture:
    """The ArticleCapture a metadata record and its archived response describe."""
    return ArticleCapture(
        site=record.site or "",
        url=record.url,
        canonical_url=record.crawl_url or record.canonical_url or record.url,
        status=record.http_status or response.status,
        headers=response.headers,
        body=response.body,
        fetched_at=record.fetched_at,
        warc=record.warc_ref,
        hint_title=record.feed_title,
        hint_date=record.feed_date,
        discovered_from=record.discovered_from,
    )


def archived_capture(store: Store, record: MetadataRecord) -> ArticleCapture:
    """The capture `record` describes, read back from its WARC record.

    The crawl uses it for captures a killed run archived before their text was written.
    ArchiveReadError when the record cannot give the response.
    """
    ref = record.warc_ref
    if ref is None:
        raise ArchiveReadError("metadata has no WARC key and offset")
    with closing(ArchiveReader(store)) as reader:
        return capture_from_record(record, reader.response(ref, record.site or ""))
