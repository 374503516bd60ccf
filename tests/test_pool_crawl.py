"""The extraction budget and the pool in real crawls of the demo site (child processes): a 1 MB
pathological page is archived with a "time limit" record while the other pages are extracted;
an extraction worker killed mid-crawl is replaced, and every article still gets its text."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.layout import url_hash
from newsarchive.config.exitcodes import EXIT_FAILED, EXIT_OK
from newsarchive.demo.server import DEMO_ARTICLES, SITE_ROOT, DemoSite
from tests.conftest import REPO, run_cli, write_demo_config
from tests.processes import children

if TYPE_CHECKING:
    from collections.abc import Iterator

#: 1 MB of tiny paragraphs, under EXTRACT_MAX_ELEMENTS: about 14 s of extraction on the
#: development machine (superlinear in the paragraphs), far past the test's 2 s limit.
SLOW_PAGE: Final = "/world/tide-readings-live.html"
#: More elements than EXTRACT_MAX_ELEMENTS: refused before parsing.
HUGE_PAGE: Final = "/world/every-buoy-ever.html"
_HEAD: Final = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title} | The Harbour'
    ' Gazette</title><meta property="og:type" content="article"></head>\n<body><article>'
    "<h1>{title}</h1>\n"
)
_TAIL: Final = "</article></body></html>\n"


def _page(title: str, unit: str, size: int) -> bytes:
    head = _HEAD.format(title=title)
    return (head + unit * ((size - len(head) - len(_TAIL)) // len(unit)) + _TAIL).encode()


def _feed_item(base: str, path: str, title: str) -> str:
    return (
        f"<item><title>{title}</title><link>{base}{path}</link>"
        "<pubDate>Mon, 02 Nov 2026 10:00:00 +0000</pubDate></item>"
    )


@pytest.fixture(scope="module")
def hostile_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """The demo site plus two pathological articles, announced in its RSS feed."""
    root = tmp_path_factory.mktemp("site") / "site"
    shutil.copytree(SITE_ROOT, root)
    (root / SLOW_PAGE[1:]).write_bytes(_page("Every tide reading", "<p>word</p>", 1_000_000))
    (root / HUGE_PAGE[1:]).write_bytes(_page("Every buoy", "<p>w</p>", 1_200_000))
    rss = root / "feeds" / "rss.xml"
    items = _feed_item("{{BASE}}", SLOW_PAGE, "Every tide reading") + _feed_item(
        "{{BASE}}", HUGE_PAGE, "Every buoy"
    )
    rss.write_text(rss.read_text(encoding="utf-8").replace("</channel>", items + "</channel>"))
    with DemoSite(root) as site:
        yield site


def _records(store: Path) -> dict[str, dict[str, Any]]:
    """Metadata records by URL."""
    records = [json.loads(p.read_bytes()) for p in store.glob("meta/demo/*/*.json")]
    return {record["url"]: record for record in records}


def _report(store: Path) -> dict[str, Any]:
    (path,) = (store / "reports" / "demo").glob("*.json")
    report: dict[str, Any] = json.loads(path.read_bytes())
    return report


def _archived(store: Path) -> dict[str, int]:
    """Payload length of every response record, by target URI."""
    found = {}
    for path in store.glob("warcs/demo/*/*.warc.gz"):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    found[uri] = len(record.content_stream().read())
    return found


def _assert_every_article_has_text(store: Path, base: str) -> None:
    records = _records(store)
    for article in DEMO_ARTICLES:
        record = records.get(article.url(base))
        assert record is not None, article.path
        assert "not_extracted" not in record
        text = (store / record["text_key"]).read_text(encoding="utf-8")
        assert article.must_contain[0] in text, article.path


def test_pathological_pages_archived_with_why_they_have_no_text(
    hostile_demo: DemoSite, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    sites = write_demo_config(tmp_path / "sites", hostile_demo.base_url)
    result = run_cli(
        "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store),
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
        "-s", "EXTRACT_WORKERS=2", "-s", "EXTRACT_TIMEOUT=2",
    )  # fmt: skip
    # A page over budget is the site's doing, not a failure of the run: counted, exit 0.
    assert result.returncode == EXIT_OK, result.stderr
    base = hostile_demo.base_url
    _assert_every_article_has_text(store, base)
    records = _records(store)
    archived = _archived(store)
    for path, why in ((SLOW_PAGE, "time limit"), (HUGE_PAGE, "too many elements")):
        url = base + path
        assert archived[url] == (hostile_demo.root / path[1:]).stat().st_size, path
        record = records[url]
        assert record["not_extracted"] == why
        assert "text_key" not in record
        assert record["warc"]["key"]
        assert record["warc"]["offset"] is not None
        assert not list(store.glob(f"text/demo/*/{url_hash(url)}-*"))
        assert f"Not extracted: {why}" in result.stderr
    report = _report(store)
    assert report["errors"]["not_extracted_time_limit"] == 1
    assert report["errors"]["not_extracted_too_many_elements"] == 1
    assert report["texts"] == len(DEMO_ARTICLES)
    # Settled: the next run does not try them again at its start.
    again = run_cli(
        "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store),
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "EXTRACT_TIMEOUT=2",
    )  # fmt: skip
    assert again.returncode == EXIT_OK, again.stderr
    assert "Not extracted" not in again.stderr


def _extraction_workers(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"newsarchive.extraction.workers" in cmdline:
            found.append(child)
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker processes in /proc")
def test_worker_killed_mid_crawl_is_replaced_and_every_article_gets_its_text(
    demo_site: DemoSite, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    crawl = subprocess.Popen(
        [
            sys.executable, "-m", "newsarchive.cli.main", "crawl", "--site", "demo",
            "--sites-dir", str(sites), "--store", str(store),
            # Slow enough that articles are still coming when the worker is killed.
            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.3",
            "-s", "EXTRACT_WORKERS=1",
        ],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    replacements: set[int] = set()
    try:
        # The pool starts its worker with the first article.
        workers: list[int] = []
        while not workers and crawl.poll() is None:
            workers = _extraction_workers(crawl.pid)
            time.sleep(0.02)
        assert workers, "the crawl ended before its extraction worker started"
        (killed,) = workers
        os.kill(killed, signal.SIGKILL)
        killed_at = time.time()
        while crawl.poll() is None:
            replacements.update(set(_extraction_workers(crawl.pid)) - {killed})
            time.sleep(0.02)
        out, err = crawl.communicate(timeout=120)
    finally:
        if crawl.poll() is None:
            crawl.kill()
        crawl.wait(timeout=60)
    stderr = err.decode()
    assert replacements, "no replacement worker was started"
    assert f"Extraction worker {killed} " in stderr
    base = demo_site.base_url
    article_paths = {a.path for a in DEMO_ARTICLES}
    # Mid-crawl: articles were still being fetched after the kill.
    assert any(r.path in article_paths and r.time > killed_at for r in demo_site.requests)
    _assert_every_article_has_text(store, base)
    report = _report(store)
    assert report["errors"]["extract_workers_lost"] == 1
    assert not [k for k in report["errors"] if k.startswith(("not_extracted", "extract_failed"))]
    assert report["texts"] == len(DEMO_ARTICLES)
    # A worker lost is a failed run, though its page was retried and nothing is missing.
    assert report["exit_code"] == EXIT_FAILED
    assert crawl.returncode == EXIT_FAILED, stderr
    assert b"demo: FAILED (1 extraction workers lost)" in out
