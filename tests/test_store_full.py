"""Durable before recorded: a crawl whose disk fills up stops at once with one line and exit code
5, records nothing it did not write, and the next run with space recaptures every page; a
read-only store is refused the same way before anything starts.

The store (or only its WARC folder) is a tiny tmpfs mounted in a mount namespace of the crawl's
own (`unshare --mount`, as root in CI; skipped elsewhere), filled by the first demo crawl and
grown for the second.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.config.exitcodes import EXIT_OK, EXIT_UNWRITABLE
from newsarchive.demo.server import DEMO_ARTICLES, DemoSite
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


_PROBE = "mount -t tmpfs -o size=64k tmpfs /mnt"


def _mounts_work() -> str | None:
    """Why a private tmpfs cannot be mounted here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs in a mount namespace of its own"
    if not shutil.which("unshare"):
        return "needs unshare(1)"
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", f"mount --make-rprivate / && {_PROBE}"],
        capture_output=True, timeout=10, check=False,
    )  # fmt: skip
    return None if probe.returncode == 0 else f"unshare/mount failed: {probe.stderr.decode()[:200]}"


_SKIP = _mounts_work()


def _crawls(out: Path, base_url: str, size: str, folder: str) -> dict[str, Any]:
    command = ["unshare", "--mount", sys.executable, "-m", "tests.fulldisk", str(out), base_url]
    subprocess.run([*command, size, folder], cwd=REPO, timeout=300, check=True)
    result: dict[str, Any] = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return result


def _responses(store: Path) -> dict[str, str]:
    """Target URI -> WARC file of every response record, each read back with its digests."""
    found = {}
    for path in sorted(store.glob("warcs/demo/*/*.warc.gz")):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh, check_digests="raise"):
                record.content_stream().read()
                if record.rec_type == "response":
                    found[record.rec_headers.get_header("WARC-Target-URI")] = path.name
    return found


@pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")
@pytest.mark.parametrize(
    ("size", "folder"),
    [
        # The whole store: the seen store's SQLite file is the first to find the disk full.
        ("200k", ""),
        # Only the WARC folder: captures fail while the seen store still takes writes.
        ("40k", "warcs"),
        # A read-only store: refused before any lock is taken, nothing fetched.
        ("ro", ""),
    ],
)
def test_unwritable_store_stops_then_space_again_recaptures_every_page(
    tmp_path: Path, size: str, folder: str
) -> None:
    with DemoSite() as demo_site:
        base_url = demo_site.base_url
        result = _crawls(tmp_path, base_url, size, folder)
    full, again = result["full"], result["again"]

    assert full["returncode"] == EXIT_UNWRITABLE, full["stdout"] + full["stderr"]
    lines = [line for line in full["stderr"].splitlines() if line.strip()]
    assert len(lines) == 1, full["stderr"]
    cause = "Read-only file system" if size == "ro" else "No space left on device"
    assert cause in lines[0]
    assert str(tmp_path / "mnt") in lines[0]
    assert "Traceback" not in full["stderr"]
    if size != "ro":
        assert f"store not writable: {cause}" in full["stdout"]

    assert again["returncode"] == EXIT_OK, again["stdout"] + again["stderr"]
    assert "Traceback" not in again["stderr"]
    store = tmp_path / "store"
    responses = _responses(store)
    texts = {
        json.loads(p.read_text(encoding="utf-8"))["url"]: p
        for p in store.glob("meta/demo/*/*.json")
    }
    for article in DEMO_ARTICLES:
        url = article.url(base_url)
        assert url in responses, f"{article.path}: no WARC response"
        assert url in texts, f"{article.path}: no text"
        meta = json.loads(texts[url].read_text(encoding="utf-8"))
        assert (store / meta["text_key"]).is_file()
        assert meta["warc"]["key"].endswith(responses[url])

    # Nothing in the seen store points at a record that is not there.
    with sqlite3.connect(store / "state" / "seen" / "demo.sqlite3") as db:
        rows = db.execute("SELECT url, warc_key FROM seen WHERE warc_key IS NOT NULL").fetchall()
    for url, key in rows:
        assert (store / key).is_file(), (url, key)
        assert url in responses or url.rstrip("/") in {u.rstrip("/") for u in responses}, url
