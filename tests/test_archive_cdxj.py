"""CDXJ indexes built while writing: the same bytes as cdxj-indexer reading the finished file."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import brotli
import pytest

from newsarchive.archive.backfill import unindexed_warcs
from newsarchive.archive.cdxj import cdxj_index
from newsarchive.archive.collection import (
    PYWB,
    Originals,
    is_not_modified,
    resolve_line,
    split_line,
)
from newsarchive.archive.layout import parse_warc_key, warc_index_key
from newsarchive.archive.local import LocalStore
from newsarchive.archive.warc import (
    NOT_MODIFIED_PROFILE,
    HttpExchange,
    RollingWarcWriter,
)

if TYPE_CHECKING:
    from pathlib import Path

    from newsarchive.archive.captures import CaptureRef

START = datetime(2026, 2, 17, 13, 15, 0, 123456, tzinfo=UTC)
HTML = "<html><head><title>Ferry crews</title></head><body><p>Strike ends.</p></body></html>"
WARCINFO = {"isPartOf": "demo/run", "http-header-user-agent": "newsarchive-test"}


def _exchange(
    url: str,
    n: int,
    *,
    status: int = 200,
    headers: list[tuple[str, str]] | None = None,
    payload: bytes = HTML.encode(),
    method: str = "GET",
    request_headers: list[tuple[str, str]] | None = None,
    request_body: bytes = b"",
) -> HttpExchange:
    return HttpExchange(
        url=url,
        method=method,
        request_headers=request_headers or [("Host", "news.example"), ("Accept", "*/*")],
        request_body=request_body,
        status=status,
        protocol="HTTP/1.1",
        response_headers=headers
        if headers is not None
        else [("Content-Type", "text/html; charset=utf-8")],
        payload=payload,
        ip_address="127.0.0.1",
        date=START + timedelta(seconds=n),
    )


def _write_all(writer: RollingWarcWriter) -> list[CaptureRef]:
    """Every kind of capture a crawl writes, in one or more files."""
    body = HTML.encode()
    refs = [writer.write_exchange(_exchange("https://news.example/a.html", 0))]
    # The same payload again: an identical-payload revisit of the first.
    refs.append(writer.write_revisit(_exchange("https://news.example/a.html", 1), refs[0]))
    # A 304 answering a conditional request: a server-not-modified revisit.
    not_modified = _exchange(
        "https://news.example/a.html", 2, status=304, headers=[("ETag", '"v1"')], payload=b""
    )
    refs.append(writer.write_revisit(not_modified, refs[0], profile=NOT_MODIFIED_PROFILE))
    encoded = [
        ("gzip", gzip.compress(body)),
        ("br", brotli.compress(body)),
    ]
    for n, (coding, payload) in enumerate(encoded, start=3):
        headers = [
            ("Content-Type", "text/html;charset=UTF-8"),
            ("Content-Encoding", coding),
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "1"),
        ]
        url = f"https://news.example/{coding}.html?x=1&y=%C3%A9"
        refs.append(writer.write_exchange(_exchange(url, n, headers=headers, payload=payload)))
    odd = [
        # No Content-Type; a header value latin-1 cannot hold (written as UTF-8); one it can.
        ("X-Title", "Flood barrier \u2013 data"),
        ("X-Name", "Müller"),
    ]
    refs.append(writer.write_exchange(_exchange("https://news.example/odd", 5, headers=odd)))
    refs.append(
        writer.write_exchange(
            _exchange(
                "https://news.example/missing",
                6,
                status=404,
                headers=[("Content-Type", " text/plain ; charset=ascii"), ("Content-Type", "x/y")],
                payload=b"not found",
            )
        )
    )
    refs.append(
        writer.write_exchange(
            _exchange(
                "https://news.example/search",
                7,
                method="POST",
                request_headers=[
                    ("Host", "news.example"),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                request_body=b"q=flood+barrier&page=2",
            )
        )
    )
    refs.append(
        writer.write_exchange(_exchange("http://NEWS.example:80/Robots.txt", 8, status=301))
    )
    return refs


@pytest.mark.parametrize("max_size", [1_000_000_000, 2_000], ids=["one-file", "rolled"])
def test_index_built_while_writing_equals_cdxj_indexer(tmp_path: Path, max_size: int) -> None:
    store = LocalStore(tmp_path / "store")
    writer = RollingWarcWriter(store, site="demo", warcinfo=WARCINFO, max_size=max_size, index=True)
    refs = _write_all(writer)
    writer.close()
    assert writer.keys_indexed == writer.keys_closed
    assert (len(writer.keys_closed) > 1) == (max_size < 10_000)
    lines = 0
    for key in writer.keys_closed:
        stored = store.get_bytes(warc_index_key(key))
        with store.staging_path(key).open("rb") as fh:
            assert stored == cdxj_index(fh, parse_warc_key(key)[2])
        lines += stored.count(b"\n")
    assert lines == len(refs)
    assert not unindexed_warcs(store, "demo")


def test_not_modified_lines_resolve_as_before(tmp_path: Path) -> None:
    """collection.py resolves a 304's line to its original: the writer's lines carry what it
    reads (revisit mime, 304 status, the original's digest)."""
    store = LocalStore(tmp_path / "store")
    writer = RollingWarcWriter(store, site="demo", warcinfo=WARCINFO, index=True)
    refs = _write_all(writer)
    writer.close()
    lines = store.get_bytes(warc_index_key(writer.keys_closed[0])).decode().splitlines(True)
    originals = Originals()
    for line in lines:
        originals.add_line(line)
    (not_modified,) = [line for line in lines if is_not_modified(split_line(line)[2])]
    resolved = split_line(resolve_line(not_modified, originals, PYWB))[2]
    assert resolved["offset"] == str(refs[0].offset)
    assert resolved["status"] == "200"


def test_writer_without_index_stores_none(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    writer = RollingWarcWriter(store, site="demo", warcinfo=WARCINFO)
    writer.write_exchange(_exchange("https://news.example/a.html", 0))
    writer.close()
    assert writer.keys_indexed == []
    assert unindexed_warcs(store, "demo") == writer.keys_closed
