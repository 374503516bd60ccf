"""Rolling WARC files in a real local store: naming, rolling, commit, recovery of open files."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from warcio.archiveiterator import ArchiveIterator

import newsarchive.archive.warc
from newsarchive.archive.cdxj import index_warc
from newsarchive.archive.digests import DigestIndex
from newsarchive.archive.layout import safe_segment
from newsarchive.archive.local import LocalStore
from newsarchive.archive.seen import Kind, PendingRequest, SqliteSeenStore, reconcile_pending
from newsarchive.archive.warc import (
    HttpExchange,
    RollingWarcWriter,
    payload_digest,
    recover_open_files,
)
from newsarchive.jobs.verify import verify_store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from newsarchive.archive.captures import CaptureRef

DATE = datetime(2026, 2, 17, 13, 15, 0, 123456, tzinfo=UTC)
WARCINFO = {"isPartOf": "bbc-news/run-1", "http-header-user-agent": "newsarchive-test/1"}
NAME_RE = re.compile(r"^NEWSARCHIVE-\d{17}-(\d{5})-[A-Za-z0-9.-]+\.warc\.gz$")


def exchange(n: int = 0, payload: bytes | None = None) -> HttpExchange:
    return HttpExchange(
        url=f"https://news.example/story/{n}?page=1",
        method="GET",
        request_headers=[("Host", "news.example"), ("User-Agent", "newsarchive-test/1")],
        request_body=b"",
        status=200,
        protocol="HTTP/1.1",
        response_headers=[("Content-Type", "text/html"), ("Set-Cookie", f"s={n}")],
        payload=payload if payload is not None else f"<p>story {n}</p>".encode(),
        ip_address="192.0.2.1",
        date=DATE + timedelta(seconds=n),
    )


def ticking_clock() -> Callable[[], datetime]:
    """Distinct file timestamps even when files roll within one microsecond."""
    state = {"now": DATE}

    def clock() -> datetime:
        state["now"] += timedelta(milliseconds=1)
        return state["now"]

    return clock


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def closed() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def make_writer(
    store: LocalStore, closed: list[tuple[str, str]]
) -> Iterator[Callable[..., RollingWarcWriter]]:
    writers: list[RollingWarcWriter] = []

    def make(**options: Any) -> RollingWarcWriter:
        options.setdefault("warcinfo", WARCINFO)
        options.setdefault("clock", ticking_clock())
        writer = RollingWarcWriter(
            store, site="bbc-news", on_close=lambda f, k: closed.append((f, k)), **options
        )
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.close()


def warc_files(store: LocalStore, suffix: str = ".warc.gz") -> list[Path]:
    return sorted(p for p in (store.root / "warcs").rglob("*") if p.name.endswith(suffix))


def read_all(path: Path) -> list[Any]:
    """Every record, fully read with digests checked; fails on any damage."""
    found = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            record.content_stream().read()
            found.append(record)
    return found


def warcio_check(*paths: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def record_at(store: LocalStore, location: CaptureRef) -> Any:
    with store.open_read(location.warc_key) as fh:
        fh.seek(location.offset)
        record = next(iter(ArchiveIterator(fh)))
        record.payload = record.content_stream().read()
        return record


def test_writes_one_committed_file(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter], closed: list[Any]
) -> None:
    writer = make_writer()
    assert writer.current_filename is None
    assert warc_files(store, "") == []  # no file before the first capture
    locations = [writer.write_exchange(exchange(n)) for n in range(3)]
    name = writer.current_filename
    assert name is not None
    assert NAME_RE.match(name)
    assert safe_segment(name) == name
    assert [p.name for p in warc_files(store, ".open")] == [f"{name}.open"]
    writer.close()

    assert writer.current_filename is None
    assert writer.files_closed == [name]
    key = f"warcs/bbc-news/2026-02-17/{name}"
    assert closed == [(name, key)]
    assert warc_files(store, ".open") == []
    assert list(store.list("warcs")) == [key]
    path = store.path_for(key)
    assert writer.bytes_written == path.stat().st_size
    assert writer.records_written == 6

    found = read_all(path)
    assert [r.rec_type for r in found] == ["warcinfo"] + ["response", "request"] * 3
    assert found[0].rec_headers.get_header("WARC-Filename") == name
    assert found[0].rec_headers.get_header("WARC-Date") == "2026-02-17T13:15:00.124456Z"
    for n, location in enumerate(locations):
        assert location.filename == name
        assert location.warc_key == key
        record = record_at(store, location)
        assert record.rec_headers.get_header("WARC-Record-ID") == location.record_id
        assert record.rec_headers.get_header("WARC-Date") == location.date
        assert record.payload == f"<p>story {n}</p>".encode()
        assert location.payload_digest == payload_digest(record.payload)
    warcio_check(path)


def test_close_without_captures_creates_nothing(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter], closed: list[Any]
) -> None:
    writer = make_writer()
    writer.close()
    writer.close()
    assert not (store.root / "warcs").exists() or warc_files(store, "") == []
    assert closed == []
    assert writer.files_closed == []


def test_rolls_by_size(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter], closed: list[Any]
) -> None:
    writer = make_writer(max_size=6000)
    # Incompressible payloads, so sizes are predictable: about two exchanges per file.
    locations = [writer.write_exchange(exchange(n, os.urandom(2500))) for n in range(7)]
    writer.close()

    paths = warc_files(store)
    assert len(paths) == 4
    assert warc_files(store, ".open") == []
    assert [name for name, _ in closed] == writer.files_closed == [p.name for p in paths]
    assert [NAME_RE.match(p.name).group(1) for p in paths] == [  # type: ignore[union-attr]
        "00000",
        "00001",
        "00002",
        "00003",
    ]
    seen = 0
    for path in paths:
        found = read_all(path)
        assert found[0].rec_type == "warcinfo"
        assert found[0].rec_headers.get_header("WARC-Filename") == path.name
        assert [r.rec_type for r in found[1:]] == ["response", "request"] * ((len(found) - 1) // 2)
        # A file only rolls after the exchange that crossed the limit.
        assert path.stat().st_size >= 6000 or path == paths[-1]
        seen += (len(found) - 1) // 2
    assert seen == 7
    assert {loc.filename for loc in locations} == {p.name for p in paths}
    for location in locations:
        assert record_at(store, location).rec_headers.get_header("WARC-Type") == "response"
    warcio_check(*paths)


def test_revisit_through_rolling_writer(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter]
) -> None:
    writer = make_writer()
    first = writer.write_exchange(exchange(1))

    class Original:
        target_uri = exchange(1).url
        date = first.date
        record_id = first.record_id
        payload_digest = first.payload_digest

    revisit = writer.write_revisit(exchange(1), Original())
    writer.close()
    assert revisit.payload_digest == first.payload_digest
    record = record_at(store, revisit)
    assert record.rec_type == "revisit"
    assert record.rec_headers.get_header("WARC-Refers-To") == first.record_id
    assert record.payload == b""
    path = store.path_for(revisit.warc_key)
    assert [r.rec_type for r in read_all(path)] == [
        "warcinfo",
        "response",
        "request",
        "revisit",
        "request",
    ]
    warcio_check(path)


def test_hostname_sanitised(
    monkeypatch: pytest.MonkeyPatch, make_writer: Callable[..., RollingWarcWriter]
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "crawl_box 7..prod/x")
    writer = make_writer()
    writer.write_exchange(exchange())
    name = writer.current_filename
    assert name is not None
    assert name.endswith(f"-crawl-box-7.prod-x-{os.getpid()}.warc.gz")
    assert safe_segment(name) == name


def test_bad_prefix_fails_at_start(make_writer: Callable[..., RollingWarcWriter]) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        make_writer(prefix="../evil")


def test_failed_write_is_cut_back(
    store: LocalStore,
    make_writer: Callable[..., RollingWarcWriter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer = make_writer()
    writer.write_exchange(exchange(1))
    real_write = newsarchive.archive.warc._CountingOutput.write
    calls = {"n": 0}

    def failing_write(self: Any, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # part way through the second exchange
            raise OSError(28, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(newsarchive.archive.warc._CountingOutput, "write", failing_write)
    with pytest.raises(OSError, match="No space"):
        writer.write_exchange(exchange(2))
    monkeypatch.setattr(newsarchive.archive.warc._CountingOutput, "write", real_write)
    writer.write_exchange(exchange(3))
    writer.close()
    (path,) = warc_files(store)
    found = read_all(path)
    assert [r.rec_headers.get_header("WARC-Target-URI") for r in found[1:]] == [
        exchange(1).url,
        exchange(1).url,
        exchange(3).url,
        exchange(3).url,
    ]
    warcio_check(path)


def test_threads_share_one_writer(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter]
) -> None:
    writer = make_writer(max_size=20_000)

    def work(base: int) -> None:
        for n in range(base, base + 25):
            writer.write_exchange(exchange(n, os.urandom(300)))

    threads = [threading.Thread(target=work, args=(i * 100,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    uris = []
    for path in warc_files(store):
        found = read_all(path)[1:]
        pairs = list(zip(found[::2], found[1::2], strict=True))
        for response, request in pairs:
            # Each request sits right after its own response: no interleaving.
            assert request.rec_headers.get_header("WARC-Concurrent-To") == (
                response.rec_headers.get_header("WARC-Record-ID")
            )
            uris.append(response.rec_headers.get_header("WARC-Target-URI"))
    assert len(uris) == len(set(uris)) == 100


# --- recovery -------------------------------------------------------------------------------


def leave_open(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter], count: int
) -> tuple[Path, Path, list[CaptureRef]]:
    """A finished file turned back into the `.open` leftover of a crashed run."""
    writer = make_writer()
    locations = [writer.write_exchange(exchange(n)) for n in range(count)]
    writer.close()
    final = store.path_for(locations[0].warc_key)
    open_path = final.with_name(final.name + ".open")
    final.replace(open_path)
    return final, open_path, locations


def test_recover_cuts_trailing_garbage(
    store: LocalStore,
    make_writer: Callable[..., RollingWarcWriter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    final, open_path, locations = leave_open(store, make_writer, 3)
    size = open_path.stat().st_size
    with open_path.open("ab") as fh:
        fh.write(b"\x1f\x8b\x08\x00garbage that is not a gzip member")
    committed: list[tuple[str, str]] = []
    with caplog.at_level(logging.WARNING, logger="newsarchive.archive.warc"):
        keys = recover_open_files(store, on_close=lambda f, k: committed.append((f, k)))
    assert keys == [locations[0].warc_key]
    assert committed == [(final.name, locations[0].warc_key)]
    assert not open_path.exists()
    assert final.stat().st_size == size
    assert len(read_all(final)) == 7
    assert any("Recovered" in r.message and r.levelno == logging.WARNING for r in caplog.records)
    warcio_check(final)


def test_recover_cuts_mid_record(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter]
) -> None:
    final, open_path, locations = leave_open(store, make_writer, 3)
    last = locations[-1]
    with open_path.open("r+b") as fh:
        fh.truncate(last.offset + last.length // 2)
    assert recover_open_files(store) == [last.warc_key]
    found = read_all(final)
    assert [r.rec_type for r in found] == ["warcinfo"] + ["response", "request"] * 2
    assert final.stat().st_size == last.offset
    warcio_check(final)


def _cut_after_capture(open_path: Path, capture: CaptureRef, cut: str) -> None:
    """Leave `capture` whole and its request record missing or half-written."""
    end = capture.offset + capture.length + (0 if cut == "after-capture" else 10)
    with open_path.open("r+b") as fh:
        fh.truncate(end)


def _index_and_verify(store: LocalStore, key: str) -> None:
    index_warc(store, key)
    report = verify_store(store)
    assert report.ok, report.table()


@pytest.mark.parametrize("cut", ["after-capture", "mid-request"])
def test_recover_drops_response_whose_request_was_cut(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter], cut: str
) -> None:
    final, open_path, locations = leave_open(store, make_writer, 3)
    last = locations[-1]
    _cut_after_capture(open_path, last, cut)
    assert recover_open_files(store) == [last.warc_key]
    found = read_all(final)
    assert [r.rec_type for r in found] == ["warcinfo"] + ["response", "request"] * 2
    assert final.stat().st_size == last.offset
    warcio_check(final)
    _index_and_verify(store, last.warc_key)


@pytest.mark.parametrize("cut", ["after-capture", "mid-request"])
def test_recover_drops_revisit_whose_request_was_cut(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter], cut: str
) -> None:
    writer = make_writer()
    first = writer.write_exchange(exchange(1))
    kept = writer.write_revisit(exchange(1), first)
    cut_revisit = writer.write_revisit(exchange(1), first)
    writer.close()
    final = store.path_for(first.warc_key)
    open_path = final.with_name(final.name + ".open")
    final.replace(open_path)
    _cut_after_capture(open_path, cut_revisit, cut)
    assert recover_open_files(store) == [first.warc_key]
    found = read_all(final)
    assert [r.rec_type for r in found] == ["warcinfo", "response", "request", "revisit", "request"]
    assert final.stat().st_size == cut_revisit.offset
    assert record_at(store, kept).rec_type == "revisit"
    warcio_check(final)
    _index_and_verify(store, first.warc_key)


def test_recover_keeps_only_whole_exchanges_out_of_the_seen_store_and_digest_index(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter], tmp_path: Path
) -> None:
    """A killed run's capture whose request was never written is gone after repair: the next
    run's reconciliation leaves it pending (to fetch again), and no revisit can refer to it."""
    now = datetime.now(UTC)
    exchanges = [replace(exchange(n), date=now) for n in range(2)]
    seen = SqliteSeenStore(tmp_path / "seen.sqlite3")
    for ex in exchanges:
        seen.add_pending(PendingRequest(ex.url, Kind.ARTICLE, "parse_article", {}))
    writer = make_writer(clock=lambda: datetime.now(UTC))
    locations = [writer.write_exchange(ex) for ex in exchanges]
    writer.close()
    final = store.path_for(locations[0].warc_key)
    open_path = final.with_name(final.name + ".open")
    final.replace(open_path)
    _cut_after_capture(open_path, locations[1], "after-capture")

    digests = DigestIndex(store, "bbc-news", tmp_path / "digests.sqlite3")
    assert recover_open_files(store, on_close=digests.index_warc) == [locations[0].warc_key]
    kept, dropped = exchanges
    assert digests.lookup(payload_digest(kept.payload), kept.url) is not None
    assert digests.lookup(payload_digest(dropped.payload), dropped.url) is None
    digests.close()

    assert reconcile_pending(seen, store, "bbc-news") == 1
    recorded = seen.get(kept.url)
    assert recorded is not None
    assert recorded.archived
    assert recorded.warc is not None
    assert recorded.warc.offset == locations[0].offset
    assert [p.url for p in seen.pending()] == [dropped.url]
    left = seen.get(dropped.url)
    assert left is not None
    assert left.fetched_at is None
    seen.close()


@pytest.mark.parametrize("cut", ["mid-capture", "after-capture", "mid-request"])
def test_recover_deletes_file_without_captures(
    store: LocalStore,
    make_writer: Callable[..., RollingWarcWriter],
    caplog: pytest.LogCaptureFixture,
    cut: str,
) -> None:
    final, open_path, locations = leave_open(store, make_writer, 1)
    if cut == "mid-capture":
        with open_path.open("r+b") as fh:
            fh.truncate(locations[0].offset + 20)
    else:
        _cut_after_capture(open_path, locations[0], cut)
    with caplog.at_level(logging.WARNING, logger="newsarchive.archive.warc"):
        assert recover_open_files(store) == []
    assert not open_path.exists()
    assert not final.exists()
    assert any("Deleted" in r.message for r in caplog.records)


def test_recover_corrupt_member_in_the_middle(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter]
) -> None:
    final, open_path, locations = leave_open(store, make_writer, 3)
    with open_path.open("r+b") as fh:
        fh.seek(locations[1].offset + locations[1].length // 2)
        fh.write(b"\x00" * 8)  # the gzip CRC or the deflate stream now fails
    recover_open_files(store)
    found = read_all(final)
    assert [r.rec_type for r in found] == ["warcinfo", "response", "request"]
    warcio_check(final)


def test_recover_skips_file_of_live_writer(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter]
) -> None:
    writer = make_writer()
    writer.write_exchange(exchange(1))
    (open_path,) = warc_files(store, ".open")
    assert recover_open_files(store) == []
    assert open_path.exists()
    writer.write_exchange(exchange(2))
    writer.close()
    (path,) = warc_files(store)
    assert len(read_all(path)) == 5


def test_recover_limited_to_a_site_and_explicit_root(
    store: LocalStore, make_writer: Callable[..., RollingWarcWriter]
) -> None:
    final, open_path, _ = leave_open(store, make_writer, 1)
    assert recover_open_files(store, site="other-site") == []
    assert open_path.exists()
    assert recover_open_files(store, store.root / "warcs", site="bbc-news") != []
    assert final.exists()


def test_recover_with_nothing_to_do(store: LocalStore) -> None:
    assert recover_open_files(store) == []
