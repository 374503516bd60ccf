"""Nothing left unindexed: a WARC recovered by a run that is itself killed gets its CDXJ index,
its digests object and a place in a package, from the next crawl's start and finish or from
`newsarchive verify`."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from newsarchive.archive.backfill import (
    missing_digests,
    missing_indexes,
    missing_packages,
    packaged_warcs,
    site_warcs,
)
from newsarchive.archive.digests import DigestIndex
from newsarchive.archive.layout import digest_key, parse_warc_key
from newsarchive.archive.store import open_store
from newsarchive.config.exitcodes import EXIT_OK
from newsarchive.demo.server import DemoSite
from newsarchive.jobs.verify import verify_store
from tests.conftest import run_cli, write_demo_config
from tests.processes import sigkill, start_cli, wait_until

if TYPE_CHECKING:
    from pathlib import Path

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=0"]


def _command(store: Path, sites: Path, *extra: str) -> list[str]:
    return [
        "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store), *FAST, *extra,
    ]  # fmt: skip


def test_warc_recovered_by_a_killed_run_is_indexed_and_packaged(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    warcs = store_dir / "warcs" / "demo"
    with DemoSite(delay=0.2) as site:
        sites = write_demo_config(tmp_path / "sites", site.base_url)
        # Run 1 is killed with its WARC open, an article's metadata written.
        first = start_cli(*_command(store_dir, sites, "-s", "DOWNLOAD_DELAY=0.2"))
        try:
            wait_until(
                lambda: list(store_dir.glob("meta/demo/*/*.json")) or first.poll() is not None,
                "an article's metadata",
            )
            assert first.poll() is None, "run 1 ended before it could be killed"
        finally:
            sigkill(first)
        (left_open,) = warcs.glob("*/*.warc.gz.open")
        # Run 2 recovers that WARC at its start, and is killed before it ends.
        second = start_cli(*_command(store_dir, sites, "-s", "DOWNLOAD_DELAY=0.2"))
        try:
            wait_until(lambda: not left_open.exists() or second.poll() is not None, "the recovery")
            assert second.poll() is None, "run 2 ended before it could be killed"
        finally:
            sigkill(second)
        recovered = left_open.with_name(left_open.name.removesuffix(".open"))
        assert recovered.exists()
        store = open_store(str(store_dir))
        key = f"warcs/demo/{recovered.parent.name}/{recovered.name}"
        assert key in missing_indexes(store, "demo", site_warcs(store, "demo"))
        assert key in missing_packages(store, "demo", site_warcs(store, "demo"))
        checked = verify_store(store, "demo", repair=False)
        assert not checked.ok
        problems = {p for f in checked.files if f.key == key for p in f.problems}
        assert any(p.endswith("captures in no package") for p in problems), problems
        assert any(p.startswith("no CDXJ index") for p in problems), problems

        # `newsarchive verify` backfills a copy of that store.
        copy = tmp_path / "copy"
        shutil.copytree(store_dir, copy)
        verify = run_cli("verify", "--store", str(copy), "--site", "demo")
        assert verify.returncode == EXIT_OK, verify.stdout + verify.stderr
        assert f"{key}: had no CDXJ index, indexed now" in verify.stdout
        assert f"{key}: was in no package, packaged in wacz/demo/" in verify.stdout
        again = run_cli("verify", "--store", str(copy), "--site", "demo")
        assert again.returncode == EXIT_OK, again.stdout + again.stderr
        assert "indexed now" not in again.stdout
        assert "packaged in" not in again.stdout

        # Run 3 finishes normally: every closed WARC is indexed, digested and packaged.
        third = run_cli(*_command(store_dir, sites))
        assert third.returncode == EXIT_OK, third.stdout + third.stderr
    every = site_warcs(store, "demo")
    assert key in every
    assert missing_indexes(store, "demo", every) == []
    assert missing_digests(store, "demo", every) == []
    assert missing_packages(store, "demo", every) == []
    assert recovered.name in packaged_warcs(store, "demo")
    # The recovered WARC's captures are in the revisit index.
    digests = DigestIndex(store, "demo", tmp_path / "digests.sqlite3")
    try:
        assert digests.sync() > 0
    finally:
        digests.close()
    _site, _day, name = parse_warc_key(key)
    assert store.get_bytes(digest_key("demo", name))
    final = verify_store(store, "demo", repair=False)
    assert final.ok, final.table()
