"""WARC record layout: golden bytes, digests, HTTP head normalisation, read-back with warcio."""

from __future__ import annotations

import base64
import hashlib
import itertools
import subprocess
import sys
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from typing import TYPE_CHECKING, Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.warc import (
    CONFORMS_TO,
    REVISIT_PROFILE,
    HttpExchange,
    WarcRecordWriter,
    format_warc_date,
    payload_digest,
    reason_phrase,
    warcinfo_fields,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

DATE = datetime(2026, 2, 17, 13, 15, 0, 123456, tzinfo=UTC)
BODY = b"<html><body>Hello</body></html>"


def fixed_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"<urn:uuid:00000000-0000-4000-8000-{next(counter):012d}>"


def exchange(**changes: Any) -> HttpExchange:
    values: dict[str, Any] = {
        "url": "https://news.example/world/story?id=42&page=2",
        "method": "GET",
        "request_headers": [("Host", "news.example"), ("User-Agent", "newsarchive-test/1")],
        "request_body": b"",
        "status": 200,
        "protocol": "HTTP/1.1",
        "response_headers": [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(BODY))),
        ],
        "payload": BODY,
        "ip_address": "192.0.2.7",
        "date": DATE,
    }
    values.update(changes)
    return HttpExchange(**values)


@dataclass(frozen=True)
class Original:
    target_uri: str
    date: str
    record_id: str
    payload_digest: str


def plain_writer() -> tuple[WarcRecordWriter, BytesIO]:
    out = BytesIO()
    return WarcRecordWriter(out, gzip=False, id_factory=fixed_ids()), out


def records(data: bytes) -> list[tuple[Any, bytes]]:
    """(record, block bytes after the HTTP head) for every record, digests checked."""
    found = []
    for record in ArchiveIterator(BytesIO(data), check_digests="raise"):
        found.append((record, record.raw_stream.read()))
    return found


def split_records(data: bytes) -> list[bytes]:
    """Uncompressed WARC bytes cut into whole records, using each Content-Length."""
    parts = []
    while data:
        head_end = data.index(b"\r\n\r\n") + 4
        length = next(
            int(line.split(b":", 1)[1])
            for line in data[:head_end].split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        end = head_end + length + 4
        parts.append(data[:end])
        data = data[end:]
    return parts


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()  # noqa: S324 - WARC digest


def test_golden_warcinfo() -> None:
    writer, out = plain_writer()
    fields = warcinfo_fields(
        {"software": "newsarchive/test", "isPartOf": "bbc/run-1", "http-header-user-agent": "UA/1"}
    )
    writer.write_warcinfo(fields, filename="NA-1.warc.gz", date=DATE)
    body = (
        b"software: newsarchive/test\r\n"
        b"format: WARC File Format 1.1\r\n"
        b"conformsTo: " + CONFORMS_TO.encode() + b"\r\n"
        b"robots: obey\r\n"
        b"isPartOf: bbc/run-1\r\n"
        b"http-header-user-agent: UA/1\r\n"
    )
    assert out.getvalue() == (
        b"WARC/1.1\r\n"
        b"WARC-Type: warcinfo\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
        b"WARC-Filename: NA-1.warc.gz\r\n"
        b"WARC-Date: 2026-02-17T13:15:00.123456Z\r\n"
        b"WARC-Block-Digest: " + sha1_b32(body).encode() + b"\r\n"
        b"Content-Type: application/warc-fields\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"\r\n" + body + b"\r\n\r\n"
    )


def test_golden_response_and_request() -> None:
    writer, out = plain_writer()
    location = writer.write_exchange(exchange())
    response, request = split_records(out.getvalue())
    http_head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 31\r\n\r\n"
    )
    assert response == (
        b"WARC/1.1\r\n"
        b"WARC-Type: response\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
        b"WARC-Date: 2026-02-17T13:15:00.123456Z\r\n"
        b"WARC-Target-URI: https://news.example/world/story?id=42&page=2\r\n"
        b"WARC-IP-Address: 192.0.2.7\r\n"
        b"WARC-Concurrent-To: <urn:uuid:00000000-0000-4000-8000-000000000002>\r\n"
        b"WARC-Payload-Digest: " + sha1_b32(BODY).encode() + b"\r\n"
        b"WARC-Block-Digest: " + sha1_b32(http_head + BODY).encode() + b"\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: " + str(len(http_head + BODY)).encode() + b"\r\n"
        b"\r\n" + http_head + BODY + b"\r\n\r\n"
    )
    request_head = (
        b"GET /world/story?id=42&page=2 HTTP/1.1\r\n"
        b"Host: news.example\r\n"
        b"User-Agent: newsarchive-test/1\r\n"
        b"\r\n"
    )
    assert request == (
        b"WARC/1.1\r\n"
        b"WARC-Type: request\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000002>\r\n"
        b"WARC-Date: 2026-02-17T13:15:00.123456Z\r\n"
        b"WARC-Target-URI: https://news.example/world/story?id=42&page=2\r\n"
        b"WARC-Concurrent-To: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
        b"WARC-Payload-Digest: " + sha1_b32(b"").encode() + b"\r\n"
        b"WARC-Block-Digest: " + sha1_b32(request_head).encode() + b"\r\n"
        b"Content-Type: application/http; msgtype=request\r\n"
        b"Content-Length: " + str(len(request_head)).encode() + b"\r\n"
        b"\r\n" + request_head + b"\r\n\r\n"
    )
    assert location.offset == 0
    assert location.length == len(response)
    assert location.record_id == "<urn:uuid:00000000-0000-4000-8000-000000000001>"
    assert location.payload_digest == sha1_b32(BODY)
    assert location.date == "2026-02-17T13:15:00.123456Z"


def test_golden_revisit() -> None:
    writer, out = plain_writer()
    original = Original(
        target_uri="https://news.example/world/story?id=42",
        date="2026-02-16T09:00:00.000001Z",
        record_id="<urn:uuid:11111111-1111-4111-8111-111111111111>",
        payload_digest=payload_digest(BODY),
    )
    location = writer.write_revisit(exchange(), original)
    revisit, request = split_records(out.getvalue())
    http_head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 31\r\n\r\n"
    )
    assert revisit == (
        b"WARC/1.1\r\n"
        b"WARC-Type: revisit\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>\r\n"
        b"WARC-Date: 2026-02-17T13:15:00.123456Z\r\n"
        b"WARC-Target-URI: https://news.example/world/story?id=42&page=2\r\n"
        b"WARC-IP-Address: 192.0.2.7\r\n"
        b"WARC-Concurrent-To: <urn:uuid:00000000-0000-4000-8000-000000000002>\r\n"
        b"WARC-Profile: http://netpreserve.org/warc/1.1/revisit/identical-payload-digest\r\n"
        b"WARC-Refers-To: <urn:uuid:11111111-1111-4111-8111-111111111111>\r\n"
        b"WARC-Refers-To-Target-URI: https://news.example/world/story?id=42\r\n"
        b"WARC-Refers-To-Date: 2026-02-16T09:00:00.000001Z\r\n"
        b"WARC-Payload-Digest: " + sha1_b32(BODY).encode() + b"\r\n"
        b"WARC-Truncated: length\r\n"
        b"WARC-Block-Digest: " + sha1_b32(http_head).encode() + b"\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: " + str(len(http_head)).encode() + b"\r\n"
        b"\r\n" + http_head + b"\r\n\r\n"
    )
    assert b"WARC-Type: request\r\n" in request
    assert b"WARC-Concurrent-To: <urn:uuid:00000000-0000-4000-8000-000000000001>" in request
    assert location.payload_digest == original.payload_digest
    assert location.record_id == "<urn:uuid:00000000-0000-4000-8000-000000000001>"
    (record, _), _ = records(out.getvalue())
    assert record.rec_headers.get_header("WARC-Profile") == REVISIT_PROFILE


def test_revisit_refuses_a_different_payload() -> None:
    writer, out = plain_writer()
    original = Original("https://news.example/", DATE.isoformat(), "<urn:uuid:x>", "sha1:AAAA")
    with pytest.raises(ValueError, match="differs"):
        writer.write_revisit(exchange(), original)
    assert out.getvalue() == b""


def test_digests_match_recomputed() -> None:
    writer, out = plain_writer()
    writer.write_exchange(exchange(payload=b"\x00\xff" * 5000, response_headers=[]))
    (response, block), (request, _) = records(out.getvalue())
    assert block == b"\x00\xff" * 5000
    assert response.rec_headers.get_header("WARC-Payload-Digest") == payload_digest(block)
    head = response.http_headers.to_bytes()
    assert response.rec_headers.get_header("WARC-Block-Digest") == sha1_b32(head + block)
    assert request.rec_headers.get_header("WARC-Payload-Digest") == payload_digest(b"")


def test_payload_digest_known_value() -> None:
    assert payload_digest(b"") == "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"


def test_repeated_headers_kept_in_order() -> None:
    writer, out = plain_writer()
    headers = [("Set-Cookie", "a=1; Path=/"), ("Vary", "Accept"), ("Set-Cookie", "b=2")]
    writer.write_exchange(exchange(response_headers=headers))
    (response, _), _ = records(out.getvalue())
    assert response.http_headers.headers == headers


def test_chunked_dropped_and_content_length_rewritten() -> None:
    writer, out = plain_writer()
    headers = [
        ("Transfer-Encoding", "chunked"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", "9999"),
    ]
    gzipped = zlib.compress(BODY, wbits=31)
    writer.write_exchange(exchange(response_headers=headers, payload=gzipped))
    (response, block), _ = records(out.getvalue())
    assert response.http_headers.headers == [
        ("Content-Encoding", "gzip"),
        ("Content-Length", str(len(gzipped))),
        ("X-Archive-Orig-Content-Length", "9999"),
    ]
    # Stored as given (still gzip); warcio's content_stream decodes it as a replay would.
    assert block == gzipped
    replayed = next(iter(ArchiveIterator(BytesIO(out.getvalue()))))
    assert replayed.content_stream().read() == BODY


def test_matching_content_length_untouched() -> None:
    writer, out = plain_writer()
    writer.write_exchange(exchange())
    assert b"X-Archive-Orig" not in out.getvalue()


def test_h2_pseudo_headers_dropped_and_protocol_recorded() -> None:
    writer, out = plain_writer()
    ex = exchange(
        protocol="h2",
        request_headers=[(":method", "GET"), ("Host", "news.example")],
        response_headers=[(":status", "200"), ("content-type", "text/html")],
    )
    writer.write_exchange(ex)
    (response, _), (request, _) = records(out.getvalue())
    assert response.http_headers.protocol == "HTTP/1.1"
    assert response.http_headers.statusline == "200 OK"
    assert response.http_headers.headers == [("content-type", "text/html")]
    assert response.rec_headers.get_header("WARC-Protocol") == "h2"
    assert request.http_headers.headers == [("Host", "news.example")]
    assert request.rec_headers.get_header("WARC-Protocol") == "h2"
    assert out.getvalue().count(b"GET /world/story?id=42&page=2 HTTP/1.1\r\n") == 1


def test_httpx_http2_name_maps_to_h2() -> None:
    writer, out = plain_writer()
    writer.write_exchange(exchange(protocol="HTTP/2"))
    (response, _), _ = records(out.getvalue())
    assert response.rec_headers.get_header("WARC-Protocol") == "h2"


def test_http10_kept_without_protocol_header() -> None:
    writer, out = plain_writer()
    writer.write_exchange(exchange(protocol="HTTP/1.0"))
    (response, _), (request, _) = records(out.getvalue())
    assert response.http_headers.protocol == "HTTP/1.0"
    assert request.http_headers.statusline.endswith("HTTP/1.0")
    assert response.rec_headers.get_header("WARC-Protocol") is None


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("https://news.example", b"GET / HTTP/1.1\r\n"),
        ("https://news.example/a%20b/?q=caf%C3%A9&x=", b"GET /a%20b/?q=caf%C3%A9&x= HTTP/1.1\r\n"),
        ("http://news.example:8080/p;v=1?a=1", b"GET /p;v=1?a=1 HTTP/1.1\r\n"),
    ],
)
def test_request_line(url: str, line: bytes) -> None:
    writer, out = plain_writer()
    writer.write_exchange(exchange(url=url))
    _, request = split_records(out.getvalue())
    assert line + b"Host: news.example\r\n" in request
    (response, _), _ = records(out.getvalue())
    assert response.rec_headers.get_header("WARC-Target-URI") == url


def test_request_body_stored() -> None:
    writer, out = plain_writer()
    writer.write_exchange(exchange(method="POST", request_body=b"a=1&b=2"))
    _, (request, body) = records(out.getvalue())
    assert request.http_headers.protocol == "POST"
    assert body == b"a=1&b=2"


@pytest.mark.parametrize("reason", ["length", "time", "disconnect"])
def test_truncated_flag(reason: str) -> None:
    writer, out = plain_writer()
    writer.write_exchange(exchange(payload=BODY[:10], truncated=reason))
    (response, block), _ = records(out.getvalue())
    assert response.rec_headers.get_header("WARC-Truncated") == reason
    assert block == BODY[:10]
    assert response.http_headers.get_header("Content-Length") == "10"


def test_not_truncated_has_no_flag() -> None:
    writer, out = plain_writer()
    writer.write_exchange(exchange())
    assert b"WARC-Truncated" not in out.getvalue()


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (200, "200 OK"),
        (301, "301 Moved Permanently"),
        (404, "404 Not Found"),
        (418, "418 I'm a Teapot"),
        (503, "503 Service Unavailable"),
        (599, "599 Unknown"),
    ],
)
def test_status_reason(status: int, line: str) -> None:
    writer, out = plain_writer()
    writer.write_exchange(exchange(status=status))
    (response, _), _ = records(out.getvalue())
    assert response.http_headers.statusline == line
    assert reason_phrase(status) == line.split(" ", 1)[1]


def test_latin1_header_bytes_round_trip() -> None:
    # warcio itself would %-encode this value; the wire bytes must come back unchanged.
    writer, out = plain_writer()
    writer.write_exchange(exchange(response_headers=[("X-Title", "caf\xe9")]))
    assert b"\r\nX-Title: caf\xe9\r\n" in out.getvalue()
    records(out.getvalue())


def test_warc_date_keeps_zero_microseconds_and_converts_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert format_warc_date(datetime(2026, 2, 17, 14, 15, tzinfo=paris)) == (
        "2026-02-17T13:15:00.000000Z"
    )
    with pytest.raises(ValueError, match="aware"):
        format_warc_date(datetime(2026, 2, 17))


def test_unique_record_ids_by_default() -> None:
    out = BytesIO()
    writer = WarcRecordWriter(out, gzip=False)
    writer.write_exchange(exchange())
    writer.write_exchange(exchange())
    ids = [r.rec_headers.get_header("WARC-Record-ID") for r, _ in records(out.getvalue())]
    assert len(set(ids)) == 4
    assert all(i.startswith("<urn:uuid:") and i.endswith(">") for i in ids)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": "/relative"}, "absolute"),
        ({"date": datetime(2026, 2, 17)}, "aware"),
        ({"truncated": "maybe"}, "truncation"),
        ({"protocol": "SPDY/3"}, "protocol"),
        ({"status": 42}, "status"),
    ],
)
def test_invalid_exchange_rejected(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exchange(**changes)


def test_warcinfo_fields_validated() -> None:
    with pytest.raises(ValueError, match="isPartOf"):
        warcinfo_fields({"http-header-user-agent": "UA"})
    with pytest.raises(ValueError, match="invalid warcinfo field"):
        warcinfo_fields({"isPartOf": "x", "http-header-user-agent": "UA\r\nrobots: ignore"})
    fields = warcinfo_fields({"isPartOf": "x", "http-header-user-agent": "UA", "robots": "ignore"})
    assert fields["robots"] == "ignore"
    assert fields["format"] == "WARC File Format 1.1"
    assert fields["software"].startswith("newsarchive/")


def test_gzip_one_member_per_record(tmp_path: Path) -> None:
    out = BytesIO()
    writer = WarcRecordWriter(out, id_factory=fixed_ids())
    writer.write_warcinfo(
        warcinfo_fields({"isPartOf": "x", "http-header-user-agent": "UA"}),
        filename="x.warc.gz",
        date=DATE,
    )
    first = writer.write_exchange(exchange())
    second = writer.write_exchange(exchange(status=404))
    data = out.getvalue()
    iterator = ArchiveIterator(BytesIO(data), check_digests="raise")
    offsets = {}
    for record in iterator:
        record.raw_stream.read()
        offsets[record.rec_headers.get_header("WARC-Record-ID")] = iterator.get_record_offset()
    assert offsets[first.record_id] == first.offset
    assert offsets[second.record_id] == second.offset
    for location in (first, second):
        member = zlib.decompressobj(31)
        text = member.decompress(data[location.offset : location.offset + location.length])
        assert member.eof
        assert member.unused_data == b""
        assert text.startswith(b"WARC/1.1\r\nWARC-Type: response\r\n")
    path = tmp_path / "x.warc.gz"
    path.write_bytes(data)
    warcio_check(path)


def warcio_check(*paths: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout
