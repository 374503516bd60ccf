"""Durable before recorded, indexing that never aborts, redirects that never raise: the pieces.

The crawls that show them end to end are tests/test_store_full.py (a full disk) and
tests/test_hostile_corpus.py (br, zstd and unknown encodings indexed and packaged; Location
values Scrapy cannot follow).
"""

from __future__ import annotations

import errno
import gzip
import io
import logging
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import brotli  # type: ignore[import-untyped]  # brotli ships no type hints
import pytest
from backports import zstd
from scrapy.http import HtmlResponse, Request
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from newsarchive.archive.cdxj import index_records, parse_cdxj
from newsarchive.archive.files import sqlite_write_error, store_write_failure, write_atomic
from newsarchive.archive.seen import Fetch, Kind, SqliteSeenStore
from newsarchive.archive.warc import HttpExchange, WarcRecordWriter, payload_digest
from newsarchive.cli.logs import OneLineFormatter, OneLinePerProblem
from newsarchive.config.exitcodes import (
    EXIT_FAILED,
    EXIT_UNWRITABLE,
    UNWRITABLE_REASON,
    combine,
    failure_cause,
    run_exit_code,
)
from newsarchive.config.stats import InvalidKind, StatsKeys
from newsarchive.pipelines.downloadermiddlewares.redirect import LocationRedirectMiddleware

if TYPE_CHECKING:
    from pathlib import Path

BODY = b"<html><head><title>Encoded</title></head><body>" + b"<p>words</p>" * 50 + b"</body></html>"


def _exchange(url: str, coding: str | None, payload: bytes) -> HttpExchange:
    headers = [("Content-Type", "text/html")]
    if coding:
        headers.append(("Content-Encoding", coding))
    return HttpExchange(
        url, "GET", [], b"", 200, "HTTP/1.1", headers, payload, None, datetime.now(UTC)
    )


@pytest.mark.parametrize(
    ("coding", "payload"),
    [
        ("br", brotli.compress(BODY)),
        ("zstd", zstd.compress(BODY)),
        ("x-unknown", BODY),
        ("gzip", b"\x1f\x8b\x08\x00 corrupt past its header"),
        ("br", b"not brotli at all"),
    ],
)
def test_any_content_encoding_is_indexed_as_stored(coding: str, payload: bytes) -> None:
    out = io.BytesIO()
    writer = WarcRecordWriter(out)
    ref = writer.write_exchange(_exchange("https://news.example/a", coding, payload))
    out.seek(0)
    index = index_records(out, "f.warc.gz")
    lines = parse_cdxj(index.data)
    assert index.skipped == ()
    assert [(fields["url"], fields["offset"], fields["digest"]) for _k, _t, fields in lines] == [
        ("https://news.example/a", str(ref.offset), ref.payload_digest)
    ]


def test_a_record_that_cannot_be_indexed_is_skipped_the_rest_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = io.BytesIO()
    writer = WarcRecordWriter(out)
    first = writer.write_exchange(_exchange("https://news.example/1", None, BODY))
    # A record no indexer can date, as a damaged or foreign file may hold.
    bad_offset = writer.offset
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nx"
    head = (
        "WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:0>\r\n"
        "WARC-Date: not a date\r\nWARC-Target-URI: https://news.example/bad\r\n"
        f"WARC-Payload-Digest: {payload_digest(b'x')}\r\n"
        f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n"
    )
    out.write(gzip.compress(head.encode() + http + b"\r\n\r\n"))
    writer = WarcRecordWriter(out, offset=out.tell())
    last = writer.write_exchange(_exchange("https://news.example/3", "br", brotli.compress(BODY)))
    out.seek(0)
    with caplog.at_level(logging.WARNING):
        index = index_records(out, "f.warc.gz")
    found = {fields["url"]: fields["offset"] for _k, _t, fields in parse_cdxj(index.data)}
    assert found == {
        "https://news.example/1": str(first.offset),
        "https://news.example/3": str(last.offset),
    }
    assert [offset for offset, _cause in index.skipped] == [bad_offset]
    assert any(f"offset {bad_offset}" in r.getMessage() for r in caplog.records)


def test_write_failures_name_the_cause_and_the_path(tmp_path: Path) -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    assert store_write_failure(full) == "No space left on device"
    target = tmp_path / "missing" / "x.txt"
    (tmp_path / "missing").write_text("a file where a folder should be")
    with pytest.raises(OSError, match="missing") as raised:
        write_atomic(target, b"x")
    assert store_write_failure(raised.value) is None  # ENOTDIR: not the store refusing writes
    dropped = ValueError("storage failed")
    dropped.__cause__ = OSError(errno.EROFS, "Read-only file system", "/srv/archive/text/x")
    assert store_write_failure(dropped) == "Read-only file system: /srv/archive/text/x"
    assert store_write_failure(OSError(errno.ENOENT, "No such file")) is None
    assert store_write_failure(None) is None


def test_a_full_seen_store_is_an_oserror_naming_its_file(tmp_path: Path) -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]  # set by sqlite3 on real errors
    as_os = sqlite_write_error(full, tmp_path / "seen.sqlite3")
    assert as_os is not None
    assert as_os.errno == errno.ENOSPC
    assert store_write_failure(as_os) == (
        f"No space left on device (database or disk is full): {tmp_path / 'seen.sqlite3'}"
    )
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5  # type: ignore[attr-defined]
    assert sqlite_write_error(busy, tmp_path) is None
    # The real store still records as before.
    seen = SqliteSeenStore(tmp_path / "seen.sqlite3")
    seen.record_fetch(Fetch("https://news.example/a", Kind.ARTICLE, 200, datetime.now(UTC)))
    assert seen.get("https://news.example/a") is not None
    seen.close()


def test_unwritable_store_has_its_exit_code_and_cause() -> None:
    stats = {StatsKeys.STORAGE_UNWRITABLE: "No space left on device: /srv/a/warcs/x.open"}
    assert run_exit_code(UNWRITABLE_REASON, stats) == EXIT_UNWRITABLE
    assert failure_cause(UNWRITABLE_REASON, stats) == (
        "store not writable: No space left on device: /srv/a/warcs/x.open"
    )
    assert combine([EXIT_FAILED, EXIT_UNWRITABLE]) == EXIT_UNWRITABLE


def _record(msg: str, exc: BaseException | None = None, **extra: str) -> logging.LogRecord:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, msg, None, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, None)
    record.__dict__.update(extra)
    return record


def test_console_shows_one_line_for_the_full_disk() -> None:
    shown = OneLinePerProblem()
    formatter = OneLineFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    full = OSError(errno.ENOSPC, "No space left on device", "/srv/a/text/x.txt")
    first = _record("Could not store text of https://news.example/a", full)
    assert shown.filter(first)
    assert formatter.format(first) == (
        "ERROR: Could not store text of https://news.example/a "
        "(No space left on device: /srv/a/text/x.txt)"
    )
    assert not shown.filter(_record("Store not writable", store_unwritable="x"))
    assert not shown.filter(_record("Could not index", full))
    assert shown.filter(_record("Something else entirely"))


@pytest.mark.parametrize(
    "location",
    [b"javascript:alert(1)", b"mailto:a@b.example", b"http://[::1/x", b"file:///etc/passwd"],
)
def test_a_location_scrapy_cannot_follow_reaches_the_spider(location: bytes) -> None:
    crawler = get_crawler()
    crawler.spider = crawler._create_spider("s")
    mw = build_from_crawler(LocationRedirectMiddleware, crawler)
    request = Request("https://news.example/a")
    response = HtmlResponse(
        request.url, status=302, headers={"Location": location}, body=b"", request=request
    )
    assert mw.process_response(request, response) is response
    assert crawler.stats is not None
    assert crawler.stats.get_value(f"{StatsKeys.DISCOVERY_SKIPPED_INVALID}/{InvalidKind.LOCATION}")
    followed = HtmlResponse(
        request.url, status=302, headers={"Location": b"/b"}, body=b"", request=request
    )
    assert isinstance(mw.process_response(request, followed), Request)
