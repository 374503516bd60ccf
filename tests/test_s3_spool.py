"""archive.s3 units without a server: options and their defaults, the spool, checksums."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from typing import TYPE_CHECKING

import pytest

from newsarchive.archive.s3.checksums import Hashes
from newsarchive.archive.s3.client import Bucket, make_client
from newsarchive.archive.s3.options import S3Options
from newsarchive.archive.s3.spool import Spool, SpoolFullError
from newsarchive.archive.s3.uploader import Uploader
from newsarchive.archive.store import StoreError
from newsarchive.config import settings
from tests.s3server import free_ports

if TYPE_CHECKING:
    from pathlib import Path

GB = 1_000_000_000


def _spool(root: Path, *, max_bytes: int = GB, keep: bool = False) -> Spool:
    return Spool(
        root, max_bytes=max_bytes, min_free_bytes=0, keep_uploaded=keep, destination="s3://b/p"
    )


def _put(spool: Spool, key: str, data: bytes) -> None:
    spool.write(key, data)
    spool.mark(key, "text/plain", {"site": "demo"}, Hashes.of_bytes(data))


def test_options_defaults_are_the_settings_module() -> None:
    options = S3Options.from_settings({})
    assert options.degraded_reads is settings.STORAGE_S3_DEGRADED_READS is True
    assert options.spool_max_bytes == settings.STORAGE_S3_SPOOL_MAX_BYTES
    assert options.close_timeout == float(settings.STORAGE_S3_CLOSE_TIMEOUT)
    assert options.upload_threads == settings.STORAGE_S3_UPLOAD_THREADS


def test_options_parse_setting_strings_and_reject_bad_values() -> None:
    options = S3Options.from_settings(
        {
            "STORAGE_S3_DEGRADED_READS": "false",
            "STORAGE_S3_KEEP_UPLOADED": "1",
            "STORAGE_S3_UPLOAD_THREADS": "4",
            "STORAGE_S3_CLOSE_TIMEOUT": "2.5",
            "STORAGE_S3_STORAGE_CLASS": "",  # empty: the default
            "NOT_OURS": "ignored",
        }
    )
    assert (options.degraded_reads, options.keep_uploaded) == (False, True)
    assert (options.upload_threads, options.close_timeout) == (4, 2.5)
    assert options.storage_class == settings.STORAGE_S3_STORAGE_CLASS
    with pytest.raises(StoreError, match="STORAGE_S3_UPLOAD_THREADS: bad value 'two'"):
        S3Options.from_settings({"STORAGE_S3_UPLOAD_THREADS": "two"})
    with pytest.raises(StoreError, match="STORAGE_S3_KEEP_UPLOADED: bad value"):
        S3Options.from_settings({"STORAGE_S3_KEEP_UPLOADED": "maybe"})
    with pytest.raises(StoreError, match="ADDRESSING_STYLE must be"):
        S3Options.from_settings({"STORAGE_S3_ADDRESSING_STYLE": "sideways"})
    with pytest.raises(StoreError, match="CHUNKSIZE >= 5MiB"):
        S3Options.from_settings({"STORAGE_S3_MULTIPART_CHUNKSIZE": 1024})


def test_spool_survives_reopen_and_recovers_orphans(tmp_path: Path) -> None:
    first = _spool(tmp_path)
    _put(first, "text/demo/a.txt", b"aaa")
    staged = first.staging_path("warcs/demo/X.warc.gz")
    staged.write_bytes(b"w" * 10)
    first.adopt("warcs/demo/X.warc.gz", staged)
    first.mark("warcs/demo/X.warc.gz", "application/warc", None)
    assert first.waiting() == (2, 13)
    # A crash between data and marker: an old file is adopted, a young one may still be
    # another run's WARC between rename and commit.
    old = first.path("cdx/old.cdxj")
    old.parent.mkdir(parents=True)
    old.write_bytes(b"c")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    first.path("text/young.txt").write_bytes(b"y")
    (first.files / "warcs" / "demo" / "Y.warc.gz.open").write_bytes(b"open")

    again = _spool(tmp_path)  # the next run, after a crash
    assert again.recover() == ["cdx/old.cdxj", "text/demo/a.txt", "warcs/demo/X.warc.gz"]
    assert again.waiting() == (3, 14)
    marker = json.loads((tmp_path / "pending" / "cdx" / "old.cdxj.json").read_bytes())
    assert (marker["content_type"], marker["metadata"]) == ("text/x-cdxj", {"recovered": "true"})
    with again.claim("text/demo/a.txt") as spooled:
        assert spooled is not None
        assert (spooled.size, spooled.content_type, dict(spooled.metadata)) == (
            3,
            "text/plain",
            {"site": "demo"},
        )
        assert spooled.hashes == Hashes.of_bytes(b"aaa"), "hashes recorded at spooling"
    with again.claim("warcs/demo/X.warc.gz") as spooled:
        assert spooled is not None
        assert spooled.hashes is None, "committed files are hashed by the uploader"
    assert again.read_bytes("text/demo/a.txt") == b"aaa"
    assert sorted(again.listing("text")) == ["text/demo/a.txt", "text/young.txt"]


def test_spool_limits(tmp_path: Path) -> None:
    spool = _spool(tmp_path, max_bytes=100)
    _put(spool, "a", b"a" * 60)
    with pytest.raises(SpoolFullError, match="STORAGE_S3_SPOOL_MAX_BYTES=100"):
        spool.write("b", b"b" * 60)
    _put(spool, "a", b"a" * 30)  # a new version replaces the old one's bytes, not adds to them
    _put(spool, "b", b"b" * 60)
    assert spool.waiting() == (2, 90)
    spool.remove("b")
    assert spool.waiting() == (1, 30)
    assert not spool.holds("b")
    roomy = Spool(
        tmp_path / "other",
        max_bytes=GB,
        min_free_bytes=2**62,
        keep_uploaded=False,
        destination="s3://b/p",
    )
    with pytest.raises(SpoolFullError, match="nearly full"):
        roomy.staging_path("warcs/x.warc.gz")


def test_claim_excludes_other_runs_and_upload_keeps_on_request(tmp_path: Path) -> None:
    mine, theirs = _spool(tmp_path, keep=True), _spool(tmp_path)
    _put(mine, "text/a.txt", b"a")
    with mine.claim("text/a.txt") as spooled:
        assert spooled is not None
        with theirs.claim("text/a.txt") as other:
            assert other is None, "another run is uploading it"
        mine.uploaded(spooled)
    assert mine.waiting() == (0, 0)
    assert (tmp_path / "kept" / "text" / "a.txt").read_bytes() == b"a"
    assert not mine.holds("text/a.txt")
    with theirs.claim("text/a.txt") as other:
        assert other is None, "sent already"


def test_remove_waits_for_an_upload_in_flight(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    _put(spool, "text/a.txt", b"a")
    removed = threading.Event()
    with spool.claim("text/a.txt") as spooled:
        assert spooled is not None
        remover = threading.Thread(target=lambda: (spool.remove("text/a.txt"), removed.set()))
        remover.start()
        assert not removed.wait(0.2), "remove waits for the marker's lock"
        spool.uploaded(spooled)
    remover.join(5)
    assert removed.is_set()
    assert spool.waiting() == (0, 0)


def test_multipart_hashes_match_s3_etag(tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    path = tmp_path / "f"
    path.write_bytes(data)
    part = 1024 * 1024
    md5s = b"".join(hashlib.md5(data[i : i + part]).digest() for i in range(0, len(data), part))  # noqa: S324 - S3 ETag
    expected = f"{hashlib.md5(md5s).hexdigest()}-3"  # noqa: S324 - S3 ETag
    assert Hashes.of_file(path, part) == Hashes(expected, hashlib.sha256(data).hexdigest())
    assert Hashes.of_file(path, None) == Hashes.of_bytes(data)


def test_uploader_outage_is_reported_and_keeps_the_spool(tmp_path: Path) -> None:
    options = S3Options.from_settings({"STORAGE_S3_CLOSE_TIMEOUT": 5})
    client = make_client(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_ports(1)[0]}",
            "AWS_ACCESS_KEY_ID": "newsarchive-test-access",
            "AWS_SECRET_ACCESS_KEY": "not-a-secret",
            "AWS_REGION_NAME": "us-east-1",
        },
        options,
    )
    spool = _spool(tmp_path)
    uploader = Uploader(Bucket(client, "bucket", "arch"), spool, options)
    assert not uploader.probe()
    assert uploader.down_reason
    _put(spool, "text/a.txt", b"a")
    uploader.enqueue(["text/a.txt"])
    uploader.start()
    assert uploader.close()
    assert not uploader.close(), "closed once"
    report = uploader.report()
    assert (report.uploaded, report.pending, report.pending_bytes) == (0, 1, 1)
    assert report.unreachable
    assert spool.read_bytes("text/a.txt") == b"a"
