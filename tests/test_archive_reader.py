"""The capture reference, the metadata model, the archive reader and key parsing, as units."""

from __future__ import annotations

import gzip
import importlib.util
import json
import zlib
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from newsarchive.archive.captures import CaptureRef, ref_from_json, ref_to_json
from newsarchive.archive.digests import DigestIndex
from newsarchive.archive.layout import (
    META_PREFIX,
    TEXT_PREFIX,
    meta_key,
    parse_meta_key,
    parse_text_key,
    parse_versioned_key,
    parse_warc_key,
    text_key,
    warc_key,
)
from newsarchive.archive.local import LocalStore
from newsarchive.archive.metadata import MetadataError, MetadataRecord, read_metadata
from newsarchive.archive.reader import (
    ArchiveReader,
    ArchiveReadError,
    archived_capture,
    decode_content,
    iter_records,
)
from newsarchive.archive.seen import Fetch, Kind, SqliteSeenStore
from newsarchive.archive.warc import NOT_MODIFIED_PROFILE, HttpExchange, RollingWarcWriter
from newsarchive.extraction.records import metadata_record

if TYPE_CHECKING:
    from pathlib import Path

DATE = datetime(2026, 2, 17, 13, 15, 0, 123456, tzinfo=UTC)
WARCINFO = {"isPartOf": "demo/run-1", "http-header-user-agent": "newsarchive-test/1"}
URL = "https://news.example/story"
HTML = b"<html><body><p>Hello</p></body></html>"

#: A metadata record as the code before `MetadataRecord` wrote it (json.dumps of a dict).
OLD_RECORD: dict[str, Any] = {
    "url": URL,
    "canonical_url": URL,
    "crawl_url": URL,
    "site": "demo",
    "title": "A story",
    "authors": ["A. Writer"],
    "published": "2026-02-16T09:00:00+00:00",
    "modified": None,
    "language": "en",
    "site_name": "News",
    "description": None,
    "tags": [],
    "image": None,
    "word_count": 301,
    "paywalled": False,
    "extractor_version": "tf2.3.1-na1",
    "fetched_at": "2026-02-17T13:15:00.123456Z",
    "http_status": 200,
    "content_type": "text/html; charset=utf-8",
    "encoding": "utf-8",
    "text_sha256": "0" * 64,
    "text_key": "text/demo/2026-02-17/0123456789abcdef-20260217T131500Z.tf2.3.1-na1.txt",
    "warc": {
        "filename": "NEWSARCHIVE-1.warc.gz",
        "key": "warcs/demo/2026-02-17/NEWSARCHIVE-1.warc.gz",
        "offset": 1234,
        "record_id": "<urn:uuid:00000000-0000-4000-8000-000000000001>",
    },
    "discovered_from": "https://news.example/",
    "feed_title": None,
    "feed_date": None,
}


def exchange(payload: bytes = HTML, **changes: Any) -> HttpExchange:
    values: dict[str, Any] = {
        "url": URL,
        "method": "GET",
        "request_headers": [("Host", "news.example")],
        "request_body": b"",
        "status": 200,
        "protocol": "HTTP/1.1",
        "response_headers": [("Content-Type", "text/html; charset=utf-8")],
        "payload": payload,
        "ip_address": None,
        "date": DATE,
    }
    values.update(changes)
    return HttpExchange(**values)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def writer(store: LocalStore) -> RollingWarcWriter:
    return RollingWarcWriter(store, site="demo", warcinfo=WARCINFO, clock=lambda: DATE)


# --- CaptureRef round trips -----------------------------------------------------------------


def test_writer_returns_a_complete_reference(store: LocalStore, writer: RollingWarcWriter) -> None:
    ref = writer.write_exchange(exchange())
    writer.close()
    assert ref.target_uri == URL
    assert ref.warc_key == warc_key("demo", ref.filename, DATE)
    assert ref.length is not None
    assert ref.payload_digest is not None
    assert str(ref) == f"{ref.warc_key}@{ref.offset}"
    with store.open_read(ref.warc_key) as fh:
        found = [r for r, record in iter_records(fh, ref.warc_key) if record.rec_type == "response"]
    assert found == [ref]


def test_reference_round_trips_through_the_digest_index(
    store: LocalStore, writer: RollingWarcWriter, tmp_path: Path
) -> None:
    ref = writer.write_exchange(exchange())
    digests = DigestIndex(store, "demo", tmp_path / "digests.sqlite3")
    digests.add(ref)
    assert digests.lookup(ref.payload_digest or "", URL) == ref  # pending, in memory
    writer.on_close = digests.file_closed
    writer.close()
    assert digests.lookup(ref.payload_digest or "", URL) == ref  # published, from SQLite
    digests.close()
    again = DigestIndex(store, "demo", tmp_path / "fresh.sqlite3")
    assert again.sync() == 1
    assert again.lookup(ref.payload_digest or "", URL) == ref  # from the durable copy
    again.close()


def test_digest_line_keeps_the_format_earlier_versions_wrote() -> None:
    line = (
        '{"date": "2026-02-17T13:15:00.123456Z", "filename": "N-1.warc.gz", "length": 900, '
        '"offset": 12, "payload_digest": "sha1:AAAA", "record_id": "<urn:uuid:1>", '
        '"target_uri": "https://news.example/story", '
        '"warc_key": "warcs/demo/2026-02-17/N-1.warc.gz"}'
    )
    ref = ref_from_json(line)
    assert ref == CaptureRef(
        URL, "2026-02-17T13:15:00.123456Z", "<urn:uuid:1>", "warcs/demo/2026-02-17/N-1.warc.gz",
        12, 900, "sha1:AAAA",
    )  # fmt: skip
    assert ref_to_json(ref) == line


def test_reference_round_trips_through_the_seen_store(tmp_path: Path) -> None:
    seen = SqliteSeenStore(tmp_path / "seen.sqlite3")
    ref = CaptureRef(URL, "2026-02-17T13:15:00.123456Z", "<urn:uuid:1>", "warcs/d/x.warc.gz", 7)
    fetched = Fetch(URL, Kind.ARTICLE, 200, DATE, None, None, "sha1:B", ref)
    seen.record_fetch(fetched)
    entry = seen.get(URL)
    assert entry is not None
    # The seen store keeps no length; the digest is the fetch's.
    assert entry.warc == CaptureRef(**{**_fields(ref), "payload_digest": "sha1:B"})
    assert entry.previous_capture() == entry.warc
    seen.close()


def _fields(ref: CaptureRef) -> dict[str, Any]:
    return {name: getattr(ref, name) for name in CaptureRef.__slots__}


# --- the metadata model ---------------------------------------------------------------------


def test_metadata_model_reads_a_record_the_old_code_wrote(store: LocalStore) -> None:
    data = json.dumps(OLD_RECORD, ensure_ascii=False, indent=2).encode("utf-8")
    key = meta_key("demo", URL, DATE, "tf2.3.1-na1")
    store.put_bytes(key, data, "application/json")
    record = read_metadata(store, key)
    assert record.title == "A story"
    assert record.warc is not None
    assert record.warc.key == OLD_RECORD["warc"]["key"]
    assert record.key == key
    assert record.warc_ref == CaptureRef(
        URL, OLD_RECORD["fetched_at"], OLD_RECORD["warc"]["record_id"], OLD_RECORD["warc"]["key"],
        1234,
    )  # fmt: skip
    # Written back unchanged: same fields, same values, same order.
    assert record.to_json() == data


def test_metadata_model_keeps_unknown_fields_and_leaves_out_absent_ones() -> None:
    sparse = {"url": URL, "fetched_at": "2026-01-01T10:00:00Z", "newer_field": [1, 2]}
    record = MetadataRecord.from_json(json.dumps(sparse))
    assert record.title is None
    assert record.warc_ref is None
    assert json.loads(record.to_json()) == sparse


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"url": "x"}'])
def test_metadata_model_refuses_what_is_no_record(data: bytes) -> None:
    with pytest.raises(MetadataError):
        MetadataRecord.from_json(data)


def test_metadata_record_of_a_capture_links_its_reference() -> None:
    from newsarchive.archive.items import ArticleCapture  # noqa: PLC0415
    from newsarchive.extraction.documents import Extraction  # noqa: PLC0415

    ref = CaptureRef(URL, "2026-02-17T13:15:00.123456Z", "<urn:uuid:1>", "warcs/d/2/N.warc.gz", 5)
    capture = ArticleCapture("demo", URL, URL, 200, [], b"", ref.date, warc=ref)
    result = Extraction(text="t", encoding="utf-8", extractor_version="v1", metadata={"title": "T"})
    record = metadata_record(capture, result, "text/x", {"reextracted_at": "now"})
    stored = json.loads(record.to_json())
    assert stored["warc"] == {
        "filename": "N.warc.gz",
        "key": ref.warc_key,
        "offset": 5,
        "record_id": "<urn:uuid:1>",
    }
    assert stored["reextracted_at"] == "now"
    assert record.warc_ref == ref
    unarchived = ArticleCapture("demo", URL, URL, 200, [], b"", ref.date)
    stored = json.loads(metadata_record(unarchived, result, "text/x").to_json())
    assert stored["warc"] == {"filename": None, "key": None, "offset": None, "record_id": None}


# --- the reader -----------------------------------------------------------------------------


def _publish(store: LocalStore, writer: RollingWarcWriter, tmp_path: Path) -> DigestIndex:
    digests = DigestIndex(store, "demo", tmp_path / "digests.sqlite3")
    writer.on_close = digests.file_closed
    return digests


def test_iterates_every_record_in_order(store: LocalStore, writer: RollingWarcWriter) -> None:
    refs = [writer.write_exchange(exchange(b"%d" % n, url=f"{URL}/{n}")) for n in range(3)]
    writer.close()
    with store.open_read(refs[0].warc_key) as fh:
        found = list(iter_records(fh, refs[0].warc_key, check_digests=True))
    assert [record.rec_type for _, record in found] == ["warcinfo"] + ["response", "request"] * 3
    assert all(record.digest_checker.passed is not False for _, record in found)
    assert [ref for ref, record in found if record.rec_type == "response"] == refs


def test_reads_the_record_at_a_reference(store: LocalStore, writer: RollingWarcWriter) -> None:
    refs = [writer.write_exchange(exchange(b"%d" % n)) for n in range(2)]
    writer.close()
    with closing(ArchiveReader(store)) as reader:
        response = reader.record(refs[1])
        assert response.payload == b"1"
        assert response.status == 200
        assert response.ref.record_id == refs[1].record_id
        wrong = CaptureRef(**{**_fields(refs[1]), "record_id": refs[0].record_id})
        with pytest.raises(ArchiveReadError, match="the metadata says"):
            reader.record(wrong)
        with pytest.raises(ArchiveReadError, match="not in the store"):
            reader.record(CaptureRef(URL, "d", "", "warcs/demo/2026-01-01/none.warc.gz", 0))


def test_resolves_an_identical_payload_revisit(
    store: LocalStore, writer: RollingWarcWriter, tmp_path: Path
) -> None:
    digests = _publish(store, writer, tmp_path)
    original = writer.write_exchange(exchange(response_headers=[("X-First", "1")]))
    digests.add(original)
    writer.close()
    revisit = writer.write_revisit(exchange(response_headers=[("X-Second", "2")]), original)
    writer.close()
    digests.close()
    with closing(ArchiveReader(store)) as reader:
        response = reader.response(revisit, "demo")
    assert response.record_type == "response"
    assert response.payload == HTML
    # The revisit's own head came with this payload.
    assert response.header("X-Second") == "2"
    assert response.ref.record_id == revisit.record_id


def test_resolves_a_not_modified_revisit_to_the_original(
    store: LocalStore, writer: RollingWarcWriter, tmp_path: Path
) -> None:
    digests = _publish(store, writer, tmp_path)
    original = writer.write_exchange(exchange())
    digests.add(original)
    revisit = writer.write_revisit(
        exchange(b"", status=304, response_headers=[]), original, profile=NOT_MODIFIED_PROFILE
    )
    writer.close()
    digests.close()
    with closing(ArchiveReader(store)) as reader:
        response = reader.response(revisit, "demo")
    assert response.status == 200
    assert response.header("Content-Type") == "text/html; charset=utf-8"
    assert response.payload == HTML


def test_a_revisit_without_its_original_in_the_index_fails(
    store: LocalStore, writer: RollingWarcWriter
) -> None:
    original = writer.write_exchange(exchange())
    revisit = writer.write_revisit(exchange(), original)
    writer.close()
    with closing(ArchiveReader(store)) as reader, pytest.raises(ArchiveReadError, match="lacks"):
        reader.response(revisit, "demo")


def test_archived_capture_decodes_the_body(store: LocalStore, writer: RollingWarcWriter) -> None:
    headers = [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]
    ref = writer.write_exchange(exchange(gzip.compress(HTML), response_headers=headers))
    writer.close()
    record = MetadataRecord(url=URL, site="demo", fetched_at=ref.date, feed_title="Feed title")
    with pytest.raises(ArchiveReadError, match="no WARC key"):
        archived_capture(store, record)
    record = MetadataRecord.model_validate(
        {**record.model_dump(exclude_unset=True), "warc": {"key": ref.warc_key,
         "offset": ref.offset, "record_id": ref.record_id, "filename": ref.filename}}
    )  # fmt: skip
    capture = archived_capture(store, record)
    assert capture.body == HTML
    assert capture.warc == CaptureRef(URL, ref.date, ref.record_id, ref.warc_key, ref.offset)
    assert capture.hint_title == "Feed title"
    assert capture.status == 200


_HAS_BROTLI = importlib.util.find_spec("brotli") is not None


def _brotli(data: bytes) -> bytes:
    import brotli  # type: ignore[import-untyped]  # noqa: PLC0415 - optional, like Scrapy's

    return bytes(brotli.compress(data))


def _zstd(data: bytes) -> bytes:
    from backports import zstd  # noqa: PLC0415 - optional, like Scrapy's

    return bytes(zstd.compress(data))


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        (None, lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        pytest.param(
            "br",
            _brotli,
            marks=pytest.mark.skipif(not _HAS_BROTLI, reason="the brotli module is not installed"),
        ),
        pytest.param(
            "zstd",
            _zstd,
            marks=pytest.mark.skipif(
                importlib.util.find_spec("backports.zstd") is None,
                reason="backports.zstd is not installed",
            ),
        ),
    ],
)
def test_each_content_encoding_is_undone(coding: str | None, encode: Any) -> None:
    assert decode_content(encode(HTML), coding) == HTML


def test_content_encoding_layers_and_limits(caplog: pytest.LogCaptureFixture) -> None:
    raw_deflate = zlib.compress(HTML)[2:-4]
    assert decode_content(raw_deflate, "deflate") == HTML
    assert decode_content(gzip.compress(zlib.compress(HTML)), "deflate, gzip") == HTML
    # A coding this install cannot undo leaves the body as Scrapy would hand it over.
    assert decode_content(gzip.compress(HTML), "gzip, unknown") == gzip.compress(HTML)
    assert "not supported" in caplog.text
    with pytest.raises(ArchiveReadError, match="gzip"):
        decode_content(b"not gzip", "gzip")


# --- key parsing ----------------------------------------------------------------------------


def test_text_and_meta_keys_parse_back() -> None:
    when = datetime(2026, 2, 17, 13, 15, tzinfo=UTC)
    tkey = text_key("demo", URL, when, "tf2.3.1-na1")
    mkey = meta_key("demo", URL, when, "tf2.3.1-na1")
    text, meta = parse_text_key(tkey), parse_meta_key(mkey)
    assert text is not None
    assert meta is not None
    assert (text.prefix, meta.prefix) == (TEXT_PREFIX, META_PREFIX)
    assert text.capture == meta.capture
    assert meta.site == "demo"
    assert meta.day == "2026-02-17"
    assert meta.version == "tf2.3.1-na1"
    assert parse_versioned_key(tkey) == text
    # Each parser takes its own kind only, and nothing else from the store.
    assert parse_meta_key(tkey) is None
    assert parse_text_key(mkey) is None
    for other in ("warcs/demo/2026-02-17/N.warc.gz", "meta/demo/x.json", mkey[:-5] + ".txt"):
        assert parse_versioned_key(other) is None


def test_warc_keys_parse_back() -> None:
    key = warc_key("demo", "N-1.warc.gz", DATE)
    assert parse_warc_key(key) == ("demo", "2026-02-17", "N-1.warc.gz")
    with pytest.raises(ValueError, match="not a WARC key"):
        parse_warc_key("meta/demo/2026-02-17/N-1.warc.gz")
