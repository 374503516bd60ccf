"""Build 1 of issue 3, field by field, on every WARC a real demo crawl wrote; capture unit cases."""

from __future__ import annotations

import base64
import hashlib
import inspect
import re
import zlib
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from scrapy import Request
from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.local import LocalStore
from newsarchive.archive.warc import NOT_MODIFIED_PROFILE, RollingWarcWriter
from newsarchive.pipelines.downloadermiddlewares.capture import (
    WarcCaptureMiddleware,
    exchange_from_response,
    host_header,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import DemoCrawl

WARC_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
UUID_ID = re.compile(r"^<urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}>$")


def _sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()  # noqa: S324


def _members(path: Path) -> list[bytes]:
    """The decompressed gzip members of a file, one by one."""
    data, members = path.read_bytes(), []
    while data:
        d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        members.append(d.decompress(data) + d.flush())
        data = d.unused_data
    return members


def _split(member: bytes) -> tuple[dict[str, list[str]], str, bytes]:
    head, _, rest = member.partition(b"\r\n\r\n")
    lines = head.decode("utf-8").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip(), []).append(value.strip())
    length = int(headers["Content-Length"][0])
    assert rest[length:] == b"\r\n\r\n", "record must end with CRLF CRLF"
    return headers, lines[0], rest[:length]


def _records(crawl: DemoCrawl) -> list[tuple[Path, dict[str, list[str]], str, bytes]]:
    out = []
    for path in crawl.warcs():
        for member in _members(path):
            headers, version, block = _split(member)
            out.append((path, headers, version, block))
    return out


def test_one_gzip_member_per_record_and_warcinfo_first(demo_crawl: DemoCrawl) -> None:
    assert demo_crawl.warcs()
    for path in demo_crawl.warcs():
        members = _members(path)
        with path.open("rb") as fh:
            assert len(list(ArchiveIterator(fh))) == len(members)
        headers, version, block = _split(members[0])
        assert version == "WARC/1.1"
        assert headers["WARC-Type"] == ["warcinfo"]
        assert headers["Content-Type"] == ["application/warc-fields"]
        assert headers["WARC-Filename"] == [path.name]
        fields = dict(line.split(": ", 1) for line in block.decode().splitlines())
        assert fields["software"].startswith("newsarchive/")
        assert fields["format"] == "WARC File Format 1.1"
        assert fields["robots"] == "obey"
        assert fields["isPartOf"].startswith("demo/")
        assert fields["http-header-user-agent"].startswith("newsarchive/")


def test_every_record_header_is_warc_1_1(demo_crawl: DemoCrawl) -> None:
    ids = []
    for _path, headers, version, _block in _records(demo_crawl):
        assert version == "WARC/1.1"
        assert WARC_DATE.match(headers["WARC-Date"][0]), headers["WARC-Date"]
        assert UUID_ID.match(headers["WARC-Record-ID"][0])
        ids.append(headers["WARC-Record-ID"][0])
        assert _sha1(_block) == headers["WARC-Block-Digest"][0]
        if headers["WARC-Type"][0] != "warcinfo":
            parts = urlsplit(headers["WARC-Target-URI"][0])
            assert parts.scheme == "http"
            assert parts.netloc
    assert len(ids) == len(set(ids))


def test_responses_field_by_field(demo_crawl: DemoCrawl) -> None:
    records = _records(demo_crawl)
    by_id = {h["WARC-Record-ID"][0]: (h, block) for _p, h, _v, block in records}
    statuses = set()
    for _path, headers, _version, block in records:
        if headers["WARC-Type"][0] != "response":
            continue
        assert headers["Content-Type"] == ["application/http; msgtype=response"]
        head, _, payload = block.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        protocol, code, reason = status_line.split(" ", 2)
        assert protocol == "HTTP/1.1"
        assert reason == HTTPStatus(int(code)).phrase
        statuses.add(int(code))
        assert headers["WARC-Payload-Digest"] == [_sha1(payload)]
        assert headers["WARC-IP-Address"] == ["127.0.0.1"]
        assert "WARC-Truncated" not in headers
        http_headers = [line.split(": ", 1) for line in header_lines]
        assert not [n for n, _ in http_headers if n.startswith(":")]
        for name, value in http_headers:
            if name.lower() == "content-length":
                assert int(value) == len(payload)
            assert name.lower() != "transfer-encoding"
        request, _ = by_id[headers["WARC-Concurrent-To"][0]]
        assert request["WARC-Type"] == ["request"]
        assert request["WARC-Date"] == headers["WARC-Date"]
        assert request["WARC-Target-URI"] == headers["WARC-Target-URI"]
        assert request["WARC-Concurrent-To"] == headers["WARC-Record-ID"]
    assert {200, 301, 404} <= statuses


def test_requests_carry_the_headers_actually_sent(demo_crawl: DemoCrawl) -> None:
    seen_by_server: dict[str, list[dict[str, str]]] = {}
    for logged in demo_crawl.site.requests:
        seen_by_server.setdefault(logged.path, []).append(logged.headers)
    checked = 0
    for _path, headers, _version, block in _records(demo_crawl):
        if headers["WARC-Type"][0] != "request":
            continue
        assert headers["Content-Type"] == ["application/http; msgtype=request"]
        assert "WARC-IP-Address" not in headers
        head = block.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        method, target, protocol = head[0].split(" ")
        uri = urlsplit(headers["WARC-Target-URI"][0])
        assert (method, protocol) == ("GET", "HTTP/1.1")
        assert target == uri.path + (f"?{uri.query}" if uri.query else "")
        sent = {}
        for line in head[1:]:
            name, _, value = line.partition(": ")
            sent[name.lower()] = value
        assert sent["host"] == uri.netloc
        # The server's own log of what reached it is the truth about what was sent.
        assert sent in seen_by_server[target], (target, sent, seen_by_server[target])
        checked += 1
    assert checked == len(demo_crawl.site.requests)


def test_host_header_as_twisted_sends_it() -> None:
    assert host_header("http://127.0.0.1:8080/a?b") == "127.0.0.1:8080"
    assert host_header("https://example.org:443/") == "example.org"
    assert host_header("http://example.org:80/") == "example.org"
    assert host_header("http://user:pw@[::1]:81/") == "[::1]:81"


def _exchange_bytes(request: Request, response: Response) -> list[Any]:
    out = BytesIO()
    from newsarchive.archive.warc import WarcRecordWriter  # noqa: PLC0415

    exchange = exchange_from_response(request, response, datetime(2026, 1, 2, tzinfo=UTC))
    WarcRecordWriter(out).write_exchange(exchange)
    out.seek(0)
    return [
        (r.rec_headers, r.http_headers, r.content_stream().read()) for r in ArchiveIterator(out)
    ]


def test_repeated_headers_h2_and_truncation() -> None:
    request = Request("https://news.example/a?x=1", headers={"Accept": "text/html"})
    response = Response(
        "https://news.example/a?x=1",
        status=200,
        headers={"Set-Cookie": ["a=1", "b=2"], "Content-Length": "99"},
        body=b"partial",
        flags=["dataloss"],
        protocol="h2",
        ip_address=None,
    )
    (warc, http_head, payload), (req_warc, req_head, _) = _exchange_bytes(request, response)
    assert [v for n, v in http_head.headers if n == "Set-Cookie"] == ["a=1", "b=2"]
    assert http_head.protocol == "HTTP/1.1"
    assert http_head.statusline == "200 OK"
    assert warc.get_header("WARC-Protocol") == "h2"
    assert warc.get_header("WARC-Truncated") == "disconnect"
    assert http_head.get_header("Content-Length") == str(len(payload))
    assert http_head.get_header("X-Archive-Orig-Content-Length") == "99"
    assert req_head.protocol == "GET"
    assert req_head.statusline == "/a?x=1 HTTP/1.1"
    assert req_head.get_header("Host") == "news.example"
    assert req_warc.get_header("WARC-Protocol") == "h2"


def test_stopped_download_is_truncated_by_length() -> None:
    request = Request("http://news.example/big")
    response = Response("http://news.example/big", body=b"x" * 10, flags=["download_stopped"])
    (warc, _head, _payload), _ = _exchange_bytes(request, response)
    assert warc.get_header("WARC-Truncated") == "length"


def test_capture_runs_off_the_reactor() -> None:
    assert inspect.iscoroutinefunction(WarcCaptureMiddleware.process_response)


def test_not_modified_becomes_server_not_modified_revisit(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    writer = RollingWarcWriter(
        store, site="t", warcinfo={"isPartOf": "t/r", "http-header-user-agent": "ua"}
    )
    mw = WarcCaptureMiddleware(writer, stats=None, digests=None)  # type: ignore[arg-type]
    previous = CaptureRef(
        target_uri="http://news.example/a",
        date="2026-01-01T00:00:00.000000Z",
        record_id="<urn:uuid:00000000-0000-4000-8000-000000000001>",
        warc_key="warcs/t/2026-01-01/a.warc.gz",
        offset=0,
        payload_digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    request = Request("http://news.example/a", headers={"If-None-Match": '"x"'})
    response = Response("http://news.example/a", status=304, headers={"ETag": '"x"'})
    exchange = exchange_from_response(request, response, datetime.now(UTC))
    written = mw.write(exchange, previous)
    writer.close()
    assert written.revisit == NOT_MODIFIED_PROFILE
    with store.open_read(written.location.warc_key) as fh:
        fh.seek(written.location.offset)
        record = next(iter(ArchiveIterator(fh)))
    headers = record.rec_headers
    assert record.rec_type == "revisit"
    assert headers.get_header("WARC-Profile") == NOT_MODIFIED_PROFILE
    assert headers.get_header("WARC-Refers-To") == previous.record_id
    assert headers.get_header("WARC-Refers-To-Target-URI") == previous.target_uri
    assert headers.get_header("WARC-Refers-To-Date") == previous.date
    assert headers.get_header("WARC-Payload-Digest") == previous.payload_digest
    assert record.http_headers.get_statuscode() == "304"


@pytest.mark.parametrize("status", [200, 404])
def test_not_modified_profile_refuses_a_body(tmp_path: Path, status: int) -> None:
    writer = RollingWarcWriter(
        LocalStore(tmp_path), site="t", warcinfo={"isPartOf": "t", "http-header-user-agent": "u"}
    )
    response = Response("http://news.example/a", status=status, body=b"body")
    exchange = exchange_from_response(Request("http://news.example/a"), response, datetime.now(UTC))
    previous = CaptureRef("http://news.example/a", "d", "<urn:uuid:x>", "k", 0, None, "sha1:A")
    with pytest.raises(ValueError, match="304"):
        writer.write_revisit(exchange, previous, profile=NOT_MODIFIED_PROFILE)
    writer.close()
