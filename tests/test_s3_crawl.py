"""End to end: demo crawls into a real S3 server, compared with a local store; outages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.s3 import S3Store
from newsarchive.archive.store import open_store
from newsarchive.demo.server import DEMO_ARTICLES, DemoSite
from tests.conftest import REPO, run_cli, write_demo_config
from tests.processes import found_while_running
from tests.s3server import free_ports

if TYPE_CHECKING:
    from pathlib import Path

    from newsarchive.archive.store import Store
    from tests.s3server import SeaweedS3

#: Crawl settings of the demo crawls (as conftest.demo_crawl uses).
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0"]
#: Metadata fields that depend on when or into which WARC a page was captured, or on which
#: feed happened to be parsed first.
TIME_FIELDS = {"fetched_at", "text_key", "warc", "discovered_from", "feed_title", "feed_date"}


def _crawl_args(sites: Path, store: str) -> list[str]:
    return ["crawl", "--site", "demo", "--sites-dir", str(sites), "--store", store, *FAST]


def _shape(key: str) -> str:
    """A key with its timestamps, run ids, serials and WARC writer pids blanked: what two runs
    share."""
    key = re.sub(r"-\d+(?=\.warc\.gz)", "-PID", key)
    key = re.sub(r"\d{4}-\d{2}-\d{2}", "DAY", key)
    # Run ids and capture times (20261130T092201Z[-1a2b3c4d]), then WARC name stamps (17
    # digits) as whole tokens: a URL hash that happens to be all digits must not be cut.
    key = re.sub(r"\d{8}T\d{6}Z(-[0-9a-f]{8})?", "TIME", key)
    return re.sub(r"(?<![0-9a-f])\d{14,17}(?![0-9a-f])", "TIME", key)


def _keys(store: Store) -> list[str]:
    return [k for k in store.list("") if not k.startswith("state/")]


def _metadata(store: Store) -> dict[str, dict[str, Any]]:
    records = {}
    for key in store.list("meta/demo"):
        record = json.loads(store.get_bytes(key))
        records[str(record["url"])] = record
    return records


def _payloads(store: Store) -> Counter[tuple[str, str, bytes]]:
    """Every response and request record's (type, target, payload), over all WARCs."""
    found: Counter[tuple[str, str, bytes]] = Counter()
    for key in store.list("warcs/demo"):
        with store.open_read(key) as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type in ("response", "request"):
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    found[(record.rec_type, uri, record.raw_stream.read())] += 1
    return found


def test_demo_crawl_into_s3_matches_local_store(
    s3_server: SeaweedS3, s3_bucket: str, demo_site: DemoSite, tmp_path: Path
) -> None:
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    env = s3_server.env(tmp_path / "state")
    uri = f"s3://{s3_bucket}/news"
    result = run_cli(*_crawl_args(sites, uri), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("newsarchive crawl: demo: ok"), result.stdout
    assert "ERROR" not in result.stderr
    local = run_cli(*_crawl_args(sites, str(tmp_path / "local")), env=env)
    assert local.returncode == 0, local.stdout + local.stderr

    store = open_store(uri, **s3_server.options(STORAGE_S3_STATE_DIR=str(tmp_path / "reader")))
    local_store = open_store(str(tmp_path / "local"))
    assert isinstance(store, S3Store)
    spooled = [p for p in (tmp_path / "state").rglob("*") if p.is_file() and "spool" in p.parts]
    assert spooled == [], "everything was uploaded and left the spool"

    # Every object is there, and only what the local store has.
    assert Counter(map(_shape, _keys(store))) == Counter(map(_shape, _keys(local_store)))
    assert {k.split("/")[0] for k in _keys(store)} >= {"warcs", "text", "meta"}
    # Text and metadata objects are byte-identical but for capture time and WARC position.
    meta, local_meta = _metadata(store), _metadata(local_store)
    assert set(meta) == set(local_meta)
    assert len(meta) == len(DEMO_ARTICLES)
    for url, record in meta.items():
        other = local_meta[url]
        assert store.get_bytes(record["text_key"]) == local_store.get_bytes(other["text_key"])
        strip = {k: v for k, v in record.items() if k not in TIME_FIELDS}
        assert strip == {k: v for k, v in other.items() if k not in TIME_FIELDS}, url
    # WARC payloads, record by record.
    assert _payloads(store) == _payloads(local_store)

    client = s3_server.client()
    warc = next(iter(store.list("warcs/demo")))
    head = client.head_object(Bucket=s3_bucket, Key=f"news/{warc}")
    assert head["ContentType"] == "application/warc"
    assert head["Metadata"]["site"] == "demo"
    text_key = next(iter(meta.values()))["text_key"]
    head = client.head_object(Bucket=s3_bucket, Key=f"news/{text_key}")
    assert head["ContentType"] == "text/plain; charset=utf-8"
    assert head["Metadata"]["extractor-version"]
    assert head["Metadata"]["warc-record-id"].startswith("<urn:uuid:")

    verify = run_cli("verify", "--store", uri, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    store.close()


def test_server_killed_mid_crawl_then_upload_sends_everything(
    own_s3_server: SeaweedS3, tmp_path: Path
) -> None:
    server = own_s3_server
    bucket = server.new_bucket()
    uri = f"s3://{bucket}/news"
    env = server.env(tmp_path / "state")
    # Slow pages, so the crawl is still running when the server dies.
    with DemoSite(delay=0.05) as site:
        sites = write_demo_config(tmp_path / "sites", site.base_url)
        crawl = subprocess.Popen(
            [sys.executable, "-m", "newsarchive.cli.main", *_crawl_args(sites, uri)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        end = time.monotonic() + 60
        while not found_while_running(tmp_path / "state", "*.warc.gz.open"):
            assert crawl.poll() is None, crawl.communicate()
            assert time.monotonic() < end, "the crawl never opened a WARC"
            time.sleep(0.02)
        server.kill()
        stdout, stderr = crawl.communicate(timeout=300)
    assert crawl.returncode == 3, stdout + stderr
    assert "storage unavailable" in stdout, stdout
    assert "spooled" in stdout
    assert "Traceback" not in stderr, stderr
    spool = next((tmp_path / "state").rglob("spool"))
    spooled = {
        p.relative_to(spool).as_posix(): p.read_bytes()
        for p in spool.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    assert any(k.startswith("warcs/") for k in spooled)
    assert any(k.startswith("text/") for k in spooled)

    server.start()
    # What a kill leaves behind: a multipart upload nobody will complete.
    client = server.client()
    stale = client.create_multipart_upload(Bucket=bucket, Key="news/warcs/demo/stale.warc.gz")
    client.upload_part(Bucket=bucket, Key="news/warcs/demo/stale.warc.gz", PartNumber=1,
                       UploadId=stale["UploadId"], Body=b"x" * 1024)  # fmt: skip
    result = run_cli("upload", "--store", uri, "-s", "STORAGE_S3_ABORT_MULTIPART_AFTER=0", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(spooled)} objects uploaded" in result.stdout
    assert "1 stale multipart uploads aborted" in result.stdout
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert not [p for p in spool.rglob("*") if p.is_file()]
    for key, data in spooled.items():
        assert client.get_object(Bucket=bucket, Key=f"news/{key}")["Body"].read() == data, key

    reader = open_store(uri, **server.options(STORAGE_S3_STATE_DIR=str(tmp_path / "reader")))
    meta = _metadata(reader)
    assert len(meta) == len(DEMO_ARTICLES), "every article's text and metadata arrived"
    for record in meta.values():
        assert reader.exists(record["text_key"])
        assert reader.exists(record["warc"]["key"])
    reader.close()
    verify = run_cli("verify", "--store", uri, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_crawl_with_store_down_spools_and_next_run_drains(
    s3_server: SeaweedS3, s3_bucket: str, demo_site: DemoSite, tmp_path: Path
) -> None:
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    uri = f"s3://{s3_bucket}/news"
    state = tmp_path / "state"
    env = s3_server.env(state)
    dead = {**env, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_ports(1)[0]}"}
    # The spool folder is per endpoint; point both runs at one spool.
    args = [*_crawl_args(sites, uri), "-s", f"STORAGE_S3_STATE_DIR={state / 'spool-news'}"]
    result = run_cli(*args, env=dead)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "storage unavailable" in result.stdout
    assert "objects spooled, not uploaded" in result.stderr
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0
    # The run report waits in the spool too, with the storage outcome and exit code 3; it
    # counts every object left there, itself included, as the summary line does.
    spooled = list((state / "spool-news" / "pending").rglob("*.json"))
    (report_file,) = (state / "spool-news" / "spool").glob("reports/demo/*.json")
    report = json.loads(report_file.read_bytes())
    assert report["exit_code"] == 3
    assert report["storage"] == {"spooled": len(spooled), "unavailable": True}
    assert f"storage unavailable: {len(spooled)} objects spooled locally" in result.stdout
    run_log = next((state / "spool-news").glob("logs/demo/*.log")).read_text(encoding="utf-8")
    assert f"exit code 3; STORAGE UNAVAILABLE: {len(spooled)} objects spooled" in run_log

    again = run_cli(*args, env=env)  # the next run uploads the spool first
    assert again.returncode == 0, again.stdout + again.stderr
    reader = open_store(uri, **s3_server.options(STORAGE_S3_STATE_DIR=str(tmp_path / "r")))
    assert len(_metadata(reader)) >= len(DEMO_ARTICLES)
    first, second = (json.loads(reader.get_bytes(k)) for k in reader.list("reports/demo"))
    assert first == report  # uploaded as it was spooled
    assert (second["exit_code"], second["storage"]) == (0, {"spooled": 0, "unavailable": False})
    assert not [p for p in (state / "spool-news" / "spool").rglob("*") if p.is_file()]
    reader.close()
