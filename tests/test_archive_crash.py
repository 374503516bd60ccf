"""A crawl killed with SIGKILL mid-run: the next run repairs its WARC and completes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.warc import _complete_prefix
from newsarchive.demo.server import DemoSite
from tests.conftest import run_cli, write_demo_config
from tests.processes import sigkill, start_cli

if TYPE_CHECKING:
    from pathlib import Path

_DEADLINE = 60.0


def _captures_on_disk(path: Path) -> int:
    with path.open("rb") as fh:
        return _complete_prefix(fh)[1]


def test_sigkill_mid_crawl_then_repair_and_complete(tmp_path: Path) -> None:
    store = tmp_path / "store"
    args = ["crawl", "--site", "demo", "--store", str(store)]
    args += ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0"]
    with DemoSite(delay=0.3) as site:
        sites = write_demo_config(tmp_path / "sites", site.base_url)
        child = start_cli(*args, "--sites-dir", str(sites))
        try:
            deadline = time.monotonic() + _DEADLINE
            open_files: list[Path] = []
            while time.monotonic() < deadline and child.poll() is None:
                open_files = sorted(store.glob("warcs/demo/*/*.warc.gz.open"))
                # Two captures (robots.txt and a page) whole on disk, more in flight.
                if open_files and _captures_on_disk(open_files[0]) >= 4:
                    break
                time.sleep(0.05)
            assert child.poll() is None, "the crawl ended before it could be killed"
        finally:
            sigkill(child)
        assert child.returncode == -signal.SIGKILL
        assert open_files
        assert not list(store.glob("warcs/demo/*/*.warc.gz"))
        killed_name = open_files[0].name.removesuffix(".open")

        site.delay = 0
        result = run_cli(*args, "--sites-dir", str(sites))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Repaired WARC" in result.stderr
    assert not list(store.rglob("*.open"))
    warcs = sorted(store.glob("warcs/demo/*/*.warc.gz"))
    assert killed_name in {p.name for p in warcs}
    assert len(warcs) == 2
    for path in warcs:
        with path.open("rb") as fh:
            records = list(ArchiveIterator(fh))
        assert records[0].rec_type == "warcinfo"
        check = subprocess.run(
            [sys.executable, "-m", "warcio.cli", "check", str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
    # The repaired file is indexed too, and the whole store verifies.
    assert (store / "indexes" / "demo" / f"{killed_name}.cdxj").is_file()
    verify = run_cli("verify", "--store", str(store))
    assert verify.returncode == 0, verify.stdout
