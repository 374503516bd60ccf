"""Identical payloads at another URL of a site (reprints): revisits across URIs, read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.digests import DigestIndex
from newsarchive.archive.local import LocalStore
from newsarchive.archive.reader import ArchiveReader
from newsarchive.archive.warc import REVISIT_PROFILE, HttpExchange, RollingWarcWriter
from newsarchive.jobs.verify import verify_store
from newsarchive.pipelines.downloadermiddlewares.capture import WarcCaptureMiddleware, Written

if TYPE_CHECKING:
    from pathlib import Path

    from newsarchive.archive.captures import CaptureRef

SITE = "news"
WARCINFO = {"isPartOf": f"{SITE}/run-1", "http-header-user-agent": "newsarchive-test/1"}
DATE = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
STORY = b"<!DOCTYPE html><html><head><title>Reprinted</title></head><body><p>Same story.</p></body></html>"  # noqa: E501 - one payload


def exchange(url: str, payload: bytes = STORY, status: int = 200, second: int = 0) -> HttpExchange:
    return HttpExchange(
        url=url,
        method="GET",
        request_headers=[("Host", "news.example"), ("User-Agent", "newsarchive-test/1")],
        request_body=b"",
        status=status,
        protocol="HTTP/1.1",
        response_headers=[("Content-Type", "text/html; charset=utf-8")],
        payload=payload,
        ip_address="192.0.2.1",
        date=DATE + timedelta(seconds=second),
    )


@dataclass
class Reprint:
    store: LocalStore
    original: Written
    reprint: Written


def write_reprint(root: Path, original_url: str, reprint_url: str) -> Reprint:
    """One run that captures a story and then the same bytes at another URL."""
    store = LocalStore(root)
    digests = DigestIndex(store, SITE)
    writer = RollingWarcWriter(store, site=SITE, warcinfo=WARCINFO)
    mw = WarcCaptureMiddleware(writer, stats=None, digests=digests)  # type: ignore[arg-type]
    writer.on_close = mw._file_closed
    original = mw.write(exchange(original_url))
    reprint = mw.write(exchange(reprint_url, second=1))
    writer.close()
    digests.close()
    return Reprint(store, original, reprint)


def _record(store: LocalStore, ref: CaptureRef) -> object:
    with store.open_read(ref.warc_key) as fh:
        fh.seek(ref.offset)
        return next(iter(ArchiveIterator(fh)))


def test_lookup_by_payload_finds_a_capture_at_another_uri(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    writer = RollingWarcWriter(store, site=SITE, warcinfo=WARCINFO)
    digests = DigestIndex(store, SITE)
    first = writer.write_exchange(exchange("https://news.example/a"))
    later = writer.write_exchange(exchange("https://news.example/b", second=5))
    digests.add(first)
    digests.add(later)
    assert first.payload_digest
    # Pending (file still open) and published (file closed) answer alike, earliest first.
    assert digests.lookup_payload(first.payload_digest) == first
    assert digests.lookup(first.payload_digest, "https://news.example/c") is None
    writer.close()
    digests.file_closed(first.filename, first.warc_key)
    assert digests.lookup_payload(first.payload_digest) == first
    assert digests.lookup(first.payload_digest, "https://news.example/b") == later
    assert digests.lookup_payload("sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") is None
    digests.close()


def test_reprint_is_a_revisit_naming_the_original_uri_and_date(tmp_path: Path) -> None:
    done = write_reprint(tmp_path, "https://news.example/a", "https://news.example/reprint/a")
    original, reprint = done.original.location, done.reprint.location
    assert done.original.revisit is None
    assert done.reprint.revisit == REVISIT_PROFILE
    assert done.reprint.original == original
    record = _record(done.store, reprint)
    headers = record.rec_headers  # type: ignore[attr-defined]
    assert record.rec_type == "revisit"  # type: ignore[attr-defined]
    assert headers.get_header("WARC-Target-URI") == "https://news.example/reprint/a"
    assert headers.get_header("WARC-Profile") == REVISIT_PROFILE
    assert headers.get_header("WARC-Refers-To") == original.record_id
    assert headers.get_header("WARC-Refers-To-Target-URI") == "https://news.example/a"
    assert headers.get_header("WARC-Refers-To-Date") == original.date
    assert headers.get_header("WARC-Payload-Digest") == original.payload_digest
    # The reader and verify resolve it to the original's payload.
    reader = ArchiveReader(done.store)
    resolved = reader.response(reprint, SITE)
    reader.close()
    assert resolved.payload == STORY
    report = verify_store(done.store)
    assert report.ok, report


def test_shared_error_pages_stay_full_responses(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    digests = DigestIndex(store, SITE)
    writer = RollingWarcWriter(store, site=SITE, warcinfo=WARCINFO)
    mw = WarcCaptureMiddleware(writer, stats=None, digests=digests)  # type: ignore[arg-type]
    mw.write(exchange("https://news.example/gone-1", b"not found", status=404))
    second = mw.write(exchange("https://news.example/gone-2", b"not found", status=404, second=1))
    again = mw.write(exchange("https://news.example/gone-1", b"not found", status=404, second=2))
    writer.close()
    digests.close()
    assert second.revisit is None
    # The same URI's own earlier capture is still a revisit's original.
    assert again.revisit == REVISIT_PROFILE
