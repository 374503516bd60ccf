"""`newsarchive upload` after a crawl killed during an S3 outage: it closes the WARC the crawl
left open, indexes and sends it, and fails while metadata it sent points at a missing WARC."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from newsarchive.archive.layout import digest_key, parse_warc_key, warc_index_key
from newsarchive.archive.store import open_store
from newsarchive.config.exitcodes import EXIT_FAILED, EXIT_OK
from newsarchive.demo.server import DemoSite
from tests.conftest import REPO, run_cli, write_demo_config
from tests.processes import found_while_running, wait_until

if TYPE_CHECKING:
    from pathlib import Path

    from tests.s3server import SeaweedS3

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "EXTRACT_WORKERS=0"]


def _killed_during_outage(
    server: SeaweedS3, tmp_path: Path
) -> tuple[str, dict[str, str], Path, Path]:
    """A crawl into S3 whose server dies, then the crawl is killed with a WARC still open and
    metadata pointing into it spooled; the server is back. The bucket's URI, the environment,
    the spool folder and the WARC left open."""
    bucket = server.new_bucket()
    uri = f"s3://{bucket}/news"
    state = tmp_path / "state"
    env = server.env(state)
    with DemoSite(delay=0.2) as site:
        sites = write_demo_config(tmp_path / "sites", site.base_url)
        crawl = subprocess.Popen(
            [sys.executable, "-m", "newsarchive.cli.main", "crawl", "--site", "demo",
             "--sites-dir", str(sites), "--store", uri, *FAST],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            # An article's metadata waits for upload (data and marker): its WARC is still open.
            wait_until(
                lambda: (
                    found_while_running(state, "pending/meta/demo/*/*.json.json")
                    or crawl.poll() is not None
                ),
                "an article's metadata",
            )
            assert crawl.poll() is None, "the crawl ended before the outage"
            server.kill()
            os.kill(crawl.pid, signal.SIGKILL)
        finally:
            crawl.kill()
            crawl.wait(timeout=60)
    (spool,) = state.rglob("spool")
    (left_open,) = spool.rglob("*.warc.gz.open")
    server.start()
    return uri, env, spool, left_open


def _files(spool: Path) -> set[Path]:
    """Data files (a hidden one is a write the kill cut short: never an object)."""
    return {p for p in spool.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_upload_after_a_kill_during_an_outage_recovers_the_open_warc(
    own_s3_server: SeaweedS3, tmp_path: Path
) -> None:
    server = own_s3_server
    uri, env, spool, left_open = _killed_during_outage(server, tmp_path)
    pending = spool.parent / "pending"
    metas = [p.relative_to(spool).as_posix() for p in spool.rglob("meta/demo/*/*.json")]
    pointed = {json.loads((spool / m).read_bytes())["warc"]["key"] for m in metas}
    assert pointed == {left_open.relative_to(spool).as_posix().removesuffix(".open")}
    # A kill between an object's data and its marker leaves a file that is no object yet (the
    # spool marks it once older than a minute, as another run may still be writing it).
    unmarked = {p for p in _files(spool) if not (pending / f"{p.relative_to(spool)}.json").exists()}
    assert all(p.name.endswith((".json", ".txt", ".open")) for p in unmarked), unmarked
    unmarked -= {left_open}

    result = run_cli("upload", "--store", uri, env=env)
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert "1 WARCs left open by a killed crawl recovered" in result.stdout
    assert not list(pending.rglob("*.json")), "every object waiting was sent"
    assert _files(spool) == unmarked
    reader = open_store(uri, **server.options(STORAGE_S3_STATE_DIR=str(tmp_path / "reader")))
    try:
        (warc,) = pointed
        assert reader.exists(warc)
        _site, _day, name = parse_warc_key(warc)
        assert reader.exists(warc_index_key(warc))
        assert reader.exists(digest_key("demo", name))
        for meta in metas:
            assert reader.exists(meta) or spool / meta in unmarked
    finally:
        reader.close()
    verify = run_cli("verify", "--store", uri, "--site", "demo", env=env)
    assert verify.returncode == EXIT_OK, verify.stdout + verify.stderr


def test_upload_fails_while_metadata_it_sent_points_at_a_missing_warc(
    own_s3_server: SeaweedS3, tmp_path: Path
) -> None:
    server = own_s3_server
    uri, env, spool, left_open = _killed_during_outage(server, tmp_path)
    left_open.unlink()  # lost with a disk, say: the metadata now points at nothing
    result = run_cli("upload", "--store", uri, env=env)
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    missing = left_open.relative_to(spool).as_posix().removesuffix(".open")
    assert f"point at WARCs not in {uri}: {missing}" in result.stderr
