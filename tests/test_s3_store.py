"""archive.s3 against a real S3 server (SeaweedFS): spool, verified uploads, outages, errors."""

from __future__ import annotations

import hashlib
import logging
import os
from typing import TYPE_CHECKING

import pytest

from newsarchive.archive.s3 import S3Options, S3Store, SpoolFullError, make_client
from newsarchive.archive.store import StoreError, open_store
from tests.conftest import run_cli
from tests.s3server import ACCESS_KEY, SECRET_KEY, SeaweedS3, free_ports

if TYPE_CHECKING:
    from pathlib import Path


def _open(server: SeaweedS3, bucket: str, state: Path, **options: object) -> S3Store:
    store = open_store(
        f"s3://{bucket}/arch", **server.options(STORAGE_S3_STATE_DIR=str(state), **options)
    )
    assert isinstance(store, S3Store)
    return store


def _idle(server: SeaweedS3, bucket: str, state: Path) -> S3Store:
    """A store not started: it uploads nothing, so the spool keeps what it is given, queued."""
    options = S3Options.from_settings({})
    client = make_client(server.options(), options)
    return S3Store(bucket, "arch", client, options, state_dir=state)


def _dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_ports(1)[0]}"


def test_objects_round_trip_with_type_and_metadata(
    s3_server: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    store = _open(s3_server, s3_bucket, tmp_path / "state")
    meta = {"charset": "utf-8", "warc-record-id": "<urn:uuid:1>", "title": "Ünïcode"}
    store.put_bytes("text/demo/a.txt", "héllo\n".encode(), "text/plain; charset=utf-8", meta)
    staged = store.staging_path("warcs/demo/2026-01-01/X.warc.gz")
    staged.write_bytes(b"warc" * 1000)
    store.commit_file(
        "warcs/demo/2026-01-01/X.warc.gz", staged, "application/warc", {"site": "demo"}
    )
    assert store.wait_idle(30)
    store.close()
    assert not staged.exists(), "uploaded files leave the spool"

    client = s3_server.client()
    head = client.head_object(Bucket=s3_bucket, Key="arch/text/demo/a.txt")
    assert head["ContentType"] == "text/plain; charset=utf-8"
    assert head["Metadata"]["charset"] == "utf-8"
    assert head["Metadata"]["warc-record-id"] == "<urn:uuid:1>"
    assert head["Metadata"]["title"] == "%C3%9Cn%C3%AFcode"
    assert head["Metadata"]["sha256"] == hashlib.sha256("héllo\n".encode()).hexdigest()
    head = client.head_object(Bucket=s3_bucket, Key="arch/warcs/demo/2026-01-01/X.warc.gz")
    assert head["ContentType"] == "application/warc"

    again = _open(s3_server, s3_bucket, tmp_path / "state2")
    assert again.get_bytes("text/demo/a.txt") == "héllo\n".encode()
    with again.open_read("warcs/demo/2026-01-01/X.warc.gz") as fh:
        fh.seek(4)
        assert fh.read(4) == b"warc"
    assert again.exists("text/demo/a.txt")
    assert not again.exists("text/demo/missing.txt")
    with pytest.raises(KeyError):
        again.get_bytes("text/demo/missing.txt")
    with pytest.raises(KeyError):
        again.open_read("text/demo/missing.txt")
    assert list(again.list("text")) == ["text/demo/a.txt"]
    assert list(again.list("")) == ["text/demo/a.txt", "warcs/demo/2026-01-01/X.warc.gz"]
    for bad in ("a//b", "a/", "/a", "a/../b"):
        with pytest.raises(ValueError, match="invalid store key"):
            again.put_bytes(bad, b"x", "text/plain")
    again.close()


def test_multipart_upload_verified_and_kept_on_request(
    s3_server: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    mib = 1024 * 1024
    store = _open(
        s3_server,
        s3_bucket,
        tmp_path / "state",
        STORAGE_S3_MULTIPART_THRESHOLD=5 * mib,
        STORAGE_S3_MULTIPART_CHUNKSIZE=5 * mib,
        STORAGE_S3_KEEP_UPLOADED=True,
    )
    data = os.urandom(12 * mib + 123)
    path = store.staging_path("warcs/big.warc.gz")
    path.write_bytes(data)
    store.commit_file("warcs/big.warc.gz", path, "application/warc")
    assert store.wait_idle(60)
    store.close()
    report = store.upload_report()
    assert (report.uploaded, report.pending, report.failures) == (1, 0, {})
    head = s3_server.client().head_object(Bucket=s3_bucket, Key="arch/warcs/big.warc.gz")
    assert head["ETag"].strip('"').endswith("-3")
    assert (tmp_path / "state" / "kept" / "warcs" / "big.warc.gz").read_bytes() == data
    assert store.get_bytes("warcs/big.warc.gz") == data


def test_spooled_objects_are_readable_and_drained_later(
    s3_server: SeaweedS3, s3_bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    down = open_store(
        f"s3://{s3_bucket}/arch",
        **s3_server.options(AWS_ENDPOINT_URL=_dead_endpoint(), STORAGE_S3_STATE_DIR=str(state)),
    )
    for n in range(5):
        down.put_bytes(f"text/demo/{n}.txt", b"x%d" % n, "text/plain")
    assert down.get_bytes("text/demo/3.txt") == b"x3"
    with down.open_read("text/demo/4.txt") as fh:
        assert fh.read() == b"x4"
    assert down.exists("text/demo/0.txt")
    with caplog.at_level(logging.INFO, logger="newsarchive.archive.s3"):
        down.close()
    report = down.upload_report()
    assert report is not None
    assert report.pending == 5
    assert report.unreachable
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "5 objects spooled, not uploaded" in errors[0].getMessage()
    assert "newsarchive upload" in errors[0].getMessage()

    # A store that cannot upload yet still lists spooled objects beside uploaded ones.
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="arch/text/demo/remote.txt", Body=b"r")
    idle = _idle(s3_server, s3_bucket, state)
    assert list(idle.list("text/demo")) == [
        *(f"text/demo/{n}.txt" for n in range(5)),
        "text/demo/remote.txt",
    ]

    up = _open(s3_server, s3_bucket, state)  # the next run drains the spool
    up.close()
    assert up.upload_report().uploaded == 5
    for n in range(5):
        body = client.get_object(Bucket=s3_bucket, Key=f"arch/text/demo/{n}.txt")["Body"]
        assert body.read() == b"x%d" % n
    assert not list((state / "spool").rglob("*.txt"))
    assert not list((state / "pending").rglob("*.json"))


def test_stale_multipart_upload_aborted_at_start(
    s3_server: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    client = s3_server.client()
    upload = client.create_multipart_upload(Bucket=s3_bucket, Key="arch/warcs/killed.warc.gz")
    client.upload_part(Bucket=s3_bucket, Key="arch/warcs/killed.warc.gz", PartNumber=1,
                       UploadId=upload["UploadId"], Body=b"p" * 1000)  # fmt: skip
    other = client.create_multipart_upload(Bucket=s3_bucket, Key="elsewhere/x")
    store = _open(s3_server, s3_bucket, tmp_path / "state", STORAGE_S3_ABORT_MULTIPART_AFTER=0)
    store.close()
    assert store.upload_report().multipart_aborted == 1
    left = client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert [u["UploadId"] for u in left] == [other["UploadId"]], "only our prefix is touched"


def test_wrong_credentials_one_clear_error_no_secret(
    s3_server: SeaweedS3, s3_bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_secret = "wrong-secret-value-7c1e3b5a9d"  # noqa: S105 - refused on purpose
    caplog.set_level(logging.DEBUG)  # botocore's own debug lines included
    with pytest.raises(StoreError) as info:
        open_store(
            f"s3://{s3_bucket}/arch",
            **s3_server.options(
                AWS_SECRET_ACCESS_KEY=wrong_secret, STORAGE_S3_STATE_DIR=str(tmp_path / "s")
            ),
        )
    message = str(info.value)
    assert s3_server.endpoint in message
    assert f"s3://{s3_bucket}/arch" in message
    assert "SignatureDoesNotMatch" in message
    assert caplog.records, "debug logging was captured"
    for record in caplog.records:
        assert wrong_secret not in record.getMessage()
        assert SECRET_KEY not in record.getMessage()

    env = {**s3_server.env(tmp_path / "state"), "AWS_SECRET_ACCESS_KEY": wrong_secret}
    result = run_cli("-v", "upload", "--store", f"s3://{s3_bucket}/arch", env=env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "storage error" in line]
    assert len(lines) == 1, result.stderr
    assert s3_server.endpoint in lines[0]
    assert s3_bucket in lines[0]
    assert "Traceback" not in result.stderr
    assert wrong_secret not in result.stderr + result.stdout
    env["AWS_ACCESS_KEY_ID"] = "no-such-access-key"
    result = run_cli("upload", "--store", f"s3://{s3_bucket}/arch", env=env)
    assert result.returncode == 2
    assert "InvalidAccessKeyId" in result.stderr
    assert ACCESS_KEY not in result.stderr


def test_spool_is_bounded(s3_server: SeaweedS3, s3_bucket: str, tmp_path: Path) -> None:
    store = open_store(
        f"s3://{s3_bucket}/arch",
        **s3_server.options(
            AWS_ENDPOINT_URL=_dead_endpoint(),
            STORAGE_S3_STATE_DIR=str(tmp_path / "s"),
            STORAGE_S3_SPOOL_MAX_BYTES=100,
        ),
    )
    store.put_bytes("text/a.txt", b"a" * 60, "text/plain")
    with pytest.raises(SpoolFullError, match="STORAGE_S3_SPOOL_MAX_BYTES=100"):
        store.put_bytes("text/b.txt", b"b" * 60, "text/plain")
    store.put_bytes("text/c.txt", b"c" * 40, "text/plain")
    with pytest.raises(OSError, match=r"S3 spool .* is full"):
        store.staging_path("warcs/x.warc.gz")
    assert store.get_bytes("text/c.txt") == b"c" * 40
    store.close()


def test_delete_drops_spooled_copy_queued_upload_and_object(
    s3_server: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="arch/text/demo/a.txt", Body=b"old")
    state = tmp_path / "state"
    idle = _idle(s3_server, s3_bucket, state)
    idle.put_bytes("text/demo/a.txt", b"new", "text/plain")
    idle.put_bytes("text/demo/b.txt", b"b", "text/plain")
    assert idle.get_bytes("text/demo/a.txt") == b"new"
    infos = {i.key: i for i in idle.list_info("text/demo")}
    assert infos["text/demo/a.txt"].size == 3
    assert infos["text/demo/a.txt"].tag.startswith("spool-"), "the spooled copy is the newer one"

    idle.delete("text/demo/a.txt")
    idle.delete("text/demo/never-written.txt")  # a missing object is not an error

    assert not idle.exists("text/demo/a.txt"), "neither in the spool nor in the bucket"
    assert list(idle.list("text/demo")) == ["text/demo/b.txt"]
    report = idle.upload_report()
    assert (report.pending, report.pending_bytes) == (1, 1)
    assert not list((state / "pending").rglob("a.txt*"))

    up = _open(s3_server, s3_bucket, state)  # uploads what is left, never the deleted object
    assert up.wait_idle(30)
    objects = client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [o["Key"] for o in objects] == ["arch/text/demo/b.txt"]
    (info,) = up.list_info("text/demo")
    assert (info.size, info.tag) == (1, hashlib.md5(b"b").hexdigest())  # noqa: S324 - S3 ETag
    up.delete("text/demo/b.txt")
    assert client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0
    up.close()
