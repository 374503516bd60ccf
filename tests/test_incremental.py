"""Unattended runs against a demo site the tests change between runs: incremental fetching,
text versions, the per-site lock, resuming a killed run, bans, and run reports checked against
the server's own request log."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.backfill import recover_warcs
from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.cdxj import cdxj_index, parse_cdxj
from newsarchive.archive.items import ArticleCapture
from newsarchive.archive.layout import url_hash
from newsarchive.archive.lock import LockHeld, site_lock
from newsarchive.archive.seen import (
    Fetch,
    Kind,
    PendingRequest,
    Plan,
    RefetchPolicy,
    SeenEntry,
    SqliteSeenStore,
    plan_article,
)
from newsarchive.archive.store import open_store
from newsarchive.config.exitcodes import EXIT_FAILED, EXIT_LOCKED, EXIT_OK
from newsarchive.demo.server import DEMO_ARTICLES, SITE_ROOT, DemoSite, RequestRecord
from newsarchive.pipelines.extensions.seen import TRACK_META, SeenState
from newsarchive.pipelines.spidermiddlewares.capturetext import CaptureTextMiddleware
from tests.conftest import REPO, run_cli, run_reports, write_demo_config
from tests.processes import children, wait_gone

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "EXTRACT_WORKERS=0")
ARTICLE_PATHS = {a.path for a in DEMO_ARTICLES}
#: Article candidates a demo crawl fetches: the articles, and a page that looks like one.
CANDIDATES = {*ARTICLE_PATHS, "/about.html"}
CHANGED = "/world/delta-flood-barrier-data.html"
CHANGED_PHRASE = "pool real-time readings from their tidal barriers"
TEMPLATE = "/world/ferry-crews-end-strike.html"
ADDED = [f"/world/harbour-update-{n}.html" for n in (1, 2, 3)]
#: Page requisites of every demo article; archived with articles, not in the seen store.
REQUISITES = {"/static/site.css", "/static/logo.png", "/static/rule.png"}


def _path(record: RequestRecord) -> str:
    return record.path.split("?", 1)[0]


def _crawl(store: Path, sites: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store), *FAST, *extra
    )


def _reports(store: Path) -> list[dict[str, Any]]:
    return run_reports(store, "demo")


def _captures(paths: list[Path]) -> list[tuple[str, str, str]]:
    """(record type, target URI, payload digest) of every response and revisit record."""
    out = []
    for path in paths:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type in ("response", "revisit"):
                    headers = record.rec_headers
                    out.append(
                        (
                            record.rec_type,
                            headers.get_header("WARC-Target-URI"),
                            headers.get_header("WARC-Payload-Digest"),
                        )
                    )
    return out


def _check_report(report: dict[str, Any], log: list[RequestRecord]) -> None:
    """The report's numbers against what the server saw during the run."""
    statuses = [r.status for r in log]
    articles = [r for r in log if r.path.endswith(".html") and "/index" not in r.path]
    assert report["fetched"]["responses"] == len(log)
    assert report["fetched"]["not_modified"] == statuses.count(304)
    conditional = [
        r for r in log if "if-none-match" in r.headers or "if-modified-since" in r.headers
    ]
    assert report["requested"]["conditional"] == len(conditional)
    # Article candidates served in full are the new and updated captures, once each.
    served_200 = [_path(r) for r in articles if r.status == 200]
    assert len(served_200) == len(set(served_200))
    assert report["new"] + report["updated"] == len(served_200)
    assert report["fetched"]["articles"] == len([r for r in articles if r.status != 301]) + len(
        [r for r in articles if r.status == 301]
    )
    assert report["bytes"]["archived"] > 0
    assert report["exit_code"] == EXIT_OK
    assert report["finish_reason"] == "finished"


class Scenario:
    def __init__(self, root: Path) -> None:
        self.site_root = root / "site"
        shutil.copytree(SITE_ROOT, self.site_root)
        self.store = root / "store"
        self.root = root
        self.logs: list[list[RequestRecord]] = []
        self.results: list[subprocess.CompletedProcess[str]] = []
        self.warcs: list[list[Path]] = []

    def run(self, site: DemoSite, sites: Path) -> None:
        before = set(self.store.glob("warcs/demo/*/*.warc.gz"))
        site.clear_log()
        self.results.append(_crawl(self.store, sites))
        self.logs.append(site.requests)
        self.warcs.append(sorted(set(self.store.glob("warcs/demo/*/*.warc.gz")) - before))

    def change_site(self) -> None:
        """Three new articles (copies with new text) in the RSS feed, one article changed."""
        rss = self.site_root / "feeds" / "rss.xml"
        feed = rss.read_text(encoding="utf-8")
        template = (self.site_root / TEMPLATE.lstrip("/")).read_text(encoding="utf-8")
        now = datetime.now(UTC)
        items = []
        for n, path in enumerate(ADDED, start=1):
            page = template.replace(TEMPLATE, path).replace(
                "nine-day strike", f"harbour update number {n}"
            )
            (self.site_root / path.lstrip("/")).write_text(page, encoding="utf-8")
            items.append(
                f"<item><title>Harbour update {n}</title><link>{{{{BASE}}}}{path}</link>"
                f"<pubDate>{format_datetime(now - timedelta(minutes=n))}</pubDate></item>"
            )
        changed = self.site_root / CHANGED.lstrip("/")
        changed.write_text(
            changed.read_text(encoding="utf-8").replace(
                CHANGED_PHRASE, "pool real-time readings, updated this morning, from their barriers"
            ),
            encoding="utf-8",
        )
        old_date = "Thu, 04 Jun 2026 17:45:00 +0100"
        assert old_date in feed
        feed = feed.replace(old_date, format_datetime(now))
        feed = feed.replace("<item>", "".join(items) + "<item>", 1)
        rss.write_text(feed, encoding="utf-8")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Run 1 on the demo site, run 2 unchanged, run 3 after adding 3 articles and changing 1."""
    s = Scenario(tmp_path_factory.mktemp("incremental"))
    with DemoSite(root=s.site_root) as site:
        sites = write_demo_config(s.root / "sites", site.base_url)
        s.run(site, sites)
        s.run(site, sites)
        s.change_site()
        s.run(site, sites)
    return s


def test_first_run_archives_everything(scenario: Scenario) -> None:
    result = scenario.results[0]
    assert result.returncode == EXIT_OK, result.stderr
    served = {_path(r) for r in scenario.logs[0] if r.status == 200}
    assert served >= ARTICLE_PATHS
    uris = {u for t, u, _d in _captures(scenario.warcs[0]) if t == "response"}
    assert {u.split("/", 3)[3].join(("/", "")) for u in uris} >= ARTICLE_PATHS
    report = _reports(scenario.store)[0]
    assert report["new"] == len(CANDIDATES)
    assert report["updated"] == report["unchanged"] == 0
    assert report["requested"]["resumed"] == 0


def test_unchanged_site_fetches_no_article_again(scenario: Scenario) -> None:
    result = scenario.results[1]
    assert result.returncode == EXIT_OK, result.stderr
    log = scenario.logs[1]
    # Only conditional requests answered 304, or nothing: no article body is sent again.
    assert not [r for r in log if _path(r) in ARTICLE_PATHS and r.status != 304]
    for record in log:
        if record.path != "/robots.txt":
            assert record.status == 304, record
            assert "if-none-match" in record.headers
    # No payload archived twice: the second run wrote no response already in the first.
    first = {(u, d) for t, u, d in _captures(scenario.warcs[0]) if t == "response"}
    second = _captures(scenario.warcs[1])
    assert not [c for c in second if c[0] == "response" and (c[1], c[2]) in first]
    report = _reports(scenario.store)[1]
    assert report["new"] == report["updated"] == 0
    # Nothing changed, so the 304 pages listed nothing to skip or to fetch.
    assert report["discovered"] == report["skipped"]["archived"] == 0
    assert report["fetched"]["not_modified"] == len(log) - 1  # all but robots.txt, fetched once


def test_indexes_written_while_crawling_equal_cdxj_indexer(scenario: Scenario) -> None:
    """The writer's CDXJ lines (responses, identical-payload and 304 revisits) are those
    cdxj-indexer finds reading each WARC; the end of the run read none of them back."""
    kinds = set()
    for path in [p for run in scenario.warcs for p in run]:
        index = scenario.store / "indexes" / "demo" / f"{path.name}.cdxj"
        with path.open("rb") as fh:
            assert index.read_bytes() == cdxj_index(fh, path.name)
        kinds |= {(f.get("mime"), f.get("status")) for _k, _t, f in parse_cdxj(index.read_bytes())}
    assert ("warc/revisit", "304") in kinds
    assert ("text/html", "200") in kinds


def test_changed_site_fetches_exactly_the_new_and_changed(scenario: Scenario) -> None:
    result = scenario.results[2]
    assert result.returncode == EXIT_OK, result.stderr
    log = scenario.logs[2]
    bodies = sorted(_path(r) for r in log if r.status == 200 and r.path.endswith(".html"))
    assert bodies == sorted([*ADDED, CHANGED])
    # Every other page was asked conditionally and answered 304 (robots.txt and the feed aside),
    # but for the page requisites of the fetched articles: asked once each, unconditionally.
    assert {_path(r) for r in log if r.status == 200} == {
        *ADDED,
        CHANGED,
        "/robots.txt",
        "/feeds/rss.xml",
        *REQUISITES,
    }
    assert sorted(_path(r) for r in log if _path(r) in REQUISITES) == sorted(REQUISITES)
    # Unchanged since the first run, so archived as revisits, not as second copies.
    revisited = {u.split("/", 3)[3] for t, u, _d in _captures(scenario.warcs[2]) if t == "revisit"}
    assert {p.lstrip("/") for p in REQUISITES} <= revisited
    report = _reports(scenario.store)[2]
    assert (report["new"], report["updated"], report["unchanged"]) == (3, 1, 0)
    assert report["refetched"] == {"announced": 1}
    # The changed article: a second text version beside the first, with the new text.
    texts = sorted(scenario.store.glob(f"text/demo/*/{url_hash(scenario_url(log, CHANGED))}-*"))
    assert len(texts) == 2
    old, new = (p.read_text(encoding="utf-8") for p in texts)
    assert CHANGED_PHRASE in old
    assert CHANGED_PHRASE not in new
    assert "updated this morning" in new
    for path in ADDED:
        assert list(scenario.store.glob(f"text/demo/*/{url_hash(scenario_url(log, path))}-*"))


def scenario_url(log: list[RequestRecord], path: str) -> str:
    host = next(r.headers["host"] for r in log if "host" in r.headers)
    return f"http://{host}{path}"


def test_run_reports_match_the_server_log(scenario: Scenario) -> None:
    reports = _reports(scenario.store)
    assert len(reports) == 3
    for report, log in zip(reports, scenario.logs, strict=True):
        _check_report(report, log)
    # The seen store and the run logs live in the state folder; logs stay quiet.
    assert (scenario.store / "state" / "seen" / "demo.sqlite3").is_file()
    run_logs = sorted((scenario.store / "state" / "logs" / "demo").glob("*.log"))
    assert len(run_logs) == 3
    text = run_logs[-1].read_text(encoding="utf-8")
    assert " INFO newsarchive.pipelines.extensions.report: demo: run " in text
    assert "exit code 0" in text
    assert "Crawled (" not in text
    assert "DEBUG" not in text


def _crawl_command(store: Path, sites: Path, *extra: str) -> list[str]:
    """A slow crawl (0.2 s between requests) with the default extraction worker processes."""
    return [
        sys.executable, "-m", "newsarchive.cli.main", "crawl", "--site", "demo",
        "--sites-dir", str(sites), "--store", str(store),
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.2",
        *extra,
    ]  # fmt: skip


def _popen_crawl(store: Path, sites: Path, stderr: Path) -> subprocess.Popen[bytes]:
    """A slow crawl in the background, its stderr to a file."""
    with stderr.open("wb") as err:
        return subprocess.Popen(
            _crawl_command(store, sites, "-s", "EXTRACT_WORKERS=0"),
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
        )  # fmt: skip


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@pytest.fixture
def slow_site(tmp_path: Path) -> Iterator[tuple[DemoSite, Path]]:
    with DemoSite() as site:
        yield site, write_demo_config(tmp_path / "sites", site.base_url)


def test_second_concurrent_run_exits_with_lock_code(
    slow_site: tuple[DemoSite, Path], tmp_path: Path
) -> None:
    _site, sites = slow_site
    store = tmp_path / "store"
    lock_file = store / "state" / "locks" / "demo.lock"
    first = _popen_crawl(store, sites, tmp_path / "first.err")
    try:
        _wait_for(lambda: lock_file.is_file() and lock_file.stat().st_size > 0)
        second = _crawl(store, sites)
        assert first.poll() is None, "the first run must still be running"
    finally:
        first.wait(timeout=120)
    err = (tmp_path / "first.err").read_text(encoding="utf-8")
    assert second.returncode == EXIT_LOCKED
    assert second.stderr.strip().count("\n") == 0
    assert "another crawl is running" in second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert "LOCKED" in second.stdout
    assert first.returncode == EXIT_OK, err
    assert len(_reports(store)) == 1
    assert lock_file.stat().st_size == 0  # released


def test_lock_holds_off_both_entry_points(demo_site: DemoSite, tmp_path: Path) -> None:
    """`newsarchive crawl` and `scrapy crawl` alike: nothing fetched or written while another
    process holds the site's lock; the first says so in one line with exit code 4."""
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    store = tmp_path / "store"
    demo_site.clear_log()
    with site_lock(store / "state", "demo"):
        cli = _crawl(store, sites)
        scrapy = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "news", "-a", "site=demo",
             "-s", f"NEWSARCHIVE_STORE={store}", "-s", f"NEWSARCHIVE_SITES_DIR={sites}"],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert cli.returncode == EXIT_LOCKED, cli.stderr
    assert cli.stderr.strip().count("\n") == 0, cli.stderr
    assert f"demo: not crawled, another crawl is running (pid {os.getpid()} " in cli.stderr
    assert "LOCKED" in cli.stdout
    assert scrapy.returncode == 0, scrapy.stderr
    assert "Closing spider (locked)" in scrapy.stderr
    assert "'finish_reason': 'locked'" in scrapy.stderr
    assert "demo: not crawled, another crawl is running" in scrapy.stderr
    assert demo_site.requests == []
    files = [p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()]
    assert files == ["state/locks/demo.lock"]


def test_killed_run_resumes_without_capturing_twice(
    slow_site: tuple[DemoSite, Path], tmp_path: Path
) -> None:
    site, sites = slow_site
    store = tmp_path / "store"
    # Cron's way: pipes it reads to the end. Default EXTRACT_WORKERS: extraction processes.
    first = subprocess.Popen(
        _crawl_command(store, sites, "-s", "DOWNLOAD_DELAY=0.3"),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for(
            lambda: (
                (
                    len([r for r in site.requests if _path(r) in ARTICLE_PATHS]) >= 2
                    and any(store.glob("text/demo/*/*"))  # an extraction worker is running
                )
                or first.poll() is not None
            )
        )
        assert first.poll() is None, "the run ended before it could be killed"
        workers = children(first.pid)
        assert workers, "no extraction worker process"
        os.kill(first.pid, signal.SIGKILL)
        # Nothing the crawl started keeps its stdout and stderr open: both reach end of file
        # (a worker holding them would keep communicate() waiting until its timeout).
        first.communicate(timeout=60)
        assert wait_gone(workers, timeout=5) == []
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(timeout=60)
    # What the killed run archived, once its WARC is closed (as the next run's start-up does):
    # an article served just before the kill may have no capture, and is asked again in full.
    recover_warcs(open_store(str(store)), "demo")
    killed_captures = _captures(sorted(store.glob("warcs/demo/*/*.warc.gz")))
    archived = {c[1] for c in killed_captures if c[0] == "response"}
    site.clear_log()
    result = _crawl(store, sites)
    assert result.returncode == EXIT_OK, result.stderr
    assert "stale lock" in result.stderr
    # Every article archived exactly once across both runs, and none the killed run archived
    # is asked again: its captures are known before the next run plans a request.
    captures = _captures(sorted(store.glob("warcs/demo/*/*.warc.gz")))
    base = site.base_url
    for article in DEMO_ARTICLES:
        of_it = [c for c in captures if c[1] == base + article.path and c[0] == "response"]
        assert len(of_it) == 1, (article.path, of_it)
    asked = [r for r in site.requests if _path(r) in CANDIDATES]
    assert [r for r in asked if base + _path(r) in archived] == []
    assert all(r.status == 200 for r in asked), asked
    report = _reports(store)[-1]
    assert report["new"] == len(asked)
    assert report["pending_left"] == 0
    # No captured article is left without its text (one captured just before the kill is
    # extracted from the archive at the next start).
    for article in DEMO_ARTICLES:
        assert list(store.glob(f"text/demo/*/{url_hash(base + article.path)}-*")), article.path


def test_capture_left_without_text_is_extracted_at_next_start(tmp_path: Path) -> None:
    """What a kill between capture and extraction leaves: the article archived and recorded in
    the seen store, but no text (text_key empty). The next run extracts it from the WARC."""
    store = tmp_path / "store"
    with DemoSite() as site:
        sites = write_demo_config(tmp_path / "sites", site.base_url)
        assert _crawl(store, sites).returncode == EXIT_OK
        url = site.base_url + TEMPLATE
        seen_path = store / "state" / "seen" / "demo.sqlite3"
        seen = SqliteSeenStore(seen_path)
        entry = seen.get(url)
        no_text = seen.without_text()
        seen.close()
        assert entry is not None
        assert entry.text_key
        assert entry.warc is not None
        assert no_text == []  # pages the spider made no item of are settled with ""
        text = (store / entry.text_key).read_bytes()
        (meta,) = store.glob(f"meta/demo/*/{url_hash(url)}-*")
        (store / entry.text_key).unlink()
        meta.unlink()
        with sqlite3.connect(seen_path) as db:
            db.execute("UPDATE seen SET text_key = NULL WHERE url = ?", (url,))
        db.close()
        site.clear_log()
        result = _crawl(store, sites)
        log = site.requests
    assert result.returncode == EXIT_OK, result.stderr
    assert not [r for r in log if _path(r) == TEMPLATE and r.status != 304]
    assert (store / entry.text_key).read_bytes() == text
    record = json.loads(meta.read_bytes())
    assert record["warc"]["record_id"] == entry.warc.record_id
    assert record["warc"]["key"] == entry.warc.warc_key
    report = _reports(store)[-1]
    assert report["texts_recovered"] == 1
    assert report["texts"] == 1
    seen = SqliteSeenStore(seen_path)
    after = seen.get(url)
    seen.close()
    assert after is not None
    assert after.text_key == entry.text_key


class _BanHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/feed.xml":
            items = "".join(
                f"<item><link>{base}/news/story-{n}.html</link></item>" for n in range(20)
            )
            body = f"<rss><channel>{items}</channel></rss>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
        else:
            body = b"<html><body>Access denied</body></html>"
            self.send_response(404 if self.path == "/robots.txt" else 403)
            self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.paths.append(self.path)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_repeated_403_stops_the_site_with_a_report_line(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BanHandler)
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        sites = tmp_path / "sites"
        sites.mkdir()
        (sites / "walled.yaml").write_text(
            f"name: walled\nfeeds: ['{base}/feed.xml']\nrobots_sitemaps: false\n"
            "max_age_days: null\n",
            encoding="utf-8",
        )
        store = tmp_path / "store"
        result = run_cli(
            "crawl", "--site", "walled", "--sites-dir", str(sites), "--store", str(store),
            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.05",
            "-s", "BANS_THRESHOLD=3",
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == EXIT_FAILED
    assert "banned" in result.stdout
    stories = [p for p in server.paths if p.startswith("/news/")]  # type: ignore[attr-defined]
    assert 3 <= len(stories) <= 6
    (report,) = [json.loads(p.read_text()) for p in (store / "reports" / "walled").glob("*")]
    assert report["finish_reason"] == "banned"
    assert report["banned"].startswith("stopped after 3 answers in a row with HTTP 403/429")
    assert report["errors"]["http_403"] == len(stories)
    assert report["exit_code"] == EXIT_FAILED
    # Not settled: the next run tries the unfetched stories again.
    assert report["pending_left"] == 20


# --- units ---------------------------------------------------------------------------------


def test_lock_is_exclusive_and_stale_locks_are_taken_over(tmp_path: Path) -> None:
    with site_lock(tmp_path, "demo") as held:
        with pytest.raises(LockHeld) as info:
            site_lock(tmp_path, "demo").acquire()
        assert info.value.owner is not None
        assert info.value.owner.pid == os.getpid()
        assert held.stale_owner is None
    # A killed holder leaves its text but not its flock.
    (tmp_path / "locks" / "demo.lock").write_text(
        '{"pid": 999999999, "host": "h", "started": "2026-01-01T00:00:00+00:00"}'
    )
    with site_lock(tmp_path, "demo") as taken:
        assert taken.stale_owner is not None
        assert taken.stale_owner.pid == 999999999


def test_plan_article_rules() -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    store_time = now - timedelta(hours=10)
    assert plan_article(None, None, now) is Plan.NEW
    archived = SeenEntry(
        url="u", kind=Kind.ARTICLE, pending=False, status=200,
        first_fetched_at=store_time, fetched_at=store_time, announced=store_time,
    )  # fmt: skip
    assert plan_article(archived, store_time, now) is Plan.SKIP
    assert plan_article(archived, now - timedelta(hours=1), now) is Plan.ANNOUNCED
    policy = RefetchPolicy(within_hours=48, every_hours=6)
    assert plan_article(archived, None, now, policy) is Plan.POLICY
    assert plan_article(archived, None, now, RefetchPolicy(48, 12)) is Plan.SKIP
    old = SeenEntry(
        url="u", kind=Kind.ARTICLE, pending=False, status=200,
        fetched_at=store_time, announced=now - timedelta(days=5),
    )  # fmt: skip
    assert plan_article(old, None, now, policy) is Plan.SKIP
    failed = SeenEntry(url="u", kind=Kind.ARTICLE, pending=True, status=503, fetched_at=store_time)
    assert plan_article(failed, None, now) is Plan.PENDING


def test_seen_store_keeps_the_original_capture_on_unchanged_fetches(tmp_path: Path) -> None:
    seen = SqliteSeenStore(tmp_path / "seen.sqlite3")
    url = "https://example.org/a.html"
    seen.add_pending(PendingRequest(url, Kind.ARTICLE, "parse_article", {"x": 1}))
    assert [p.url for p in seen.pending()] == [url]
    first = datetime(2026, 1, 1, tzinfo=UTC)
    ref = CaptureRef(
        url, "2026-01-01T00:00:00.000000Z", "<urn:uuid:1>", "warcs/a.warc.gz", 10,
        payload_digest="sha1:A",
    )  # fmt: skip
    seen.record_fetch(Fetch(url, Kind.ARTICLE, 200, first, '"e1"', None, "sha1:A", ref))
    assert seen.pending() == []
    seen.record_text(url, "text/x.txt")
    later = first + timedelta(days=1)
    seen.record_fetch(Fetch(url, Kind.ARTICLE, 304, later, '"e1"', None, None, None, False))
    entry = seen.get(url)
    assert entry is not None
    assert entry.fetched_at == later
    assert entry.first_fetched_at == first
    assert entry.warc == ref
    assert entry.text_key == "text/x.txt"
    assert entry.previous_capture() == ref
    assert entry.previous_capture().payload_digest == "sha1:A"
    seen.close()


def test_capture_the_spider_makes_no_item_of_is_not_taken_for_a_killed_one(
    tmp_path: Path,
) -> None:
    seen = SqliteSeenStore(tmp_path / "seen.sqlite3")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    urls = ["https://example.org/listing.html", "https://example.org/story.html"]
    for n, url in enumerate(urls):
        ref = CaptureRef(url, "2026-01-01T00:00:00Z", f"<urn:uuid:{n}>", "warcs/a.warc.gz", n)
        seen.record_fetch(Fetch(url, Kind.ARTICLE, 200, when, None, None, f"sha1:{n}", ref))
    assert [e.url for e in seen.without_text()] == urls
    crawler = get_crawler()
    assert crawler.stats is not None
    middleware = CaptureTextMiddleware(SeenState(lambda: seen, crawler.stats))

    def response(url: str) -> HtmlResponse:
        return HtmlResponse(
            url, body=b"<p>x</p>", request=Request(url, meta={TRACK_META: "article"})
        )

    capture = ArticleCapture("s", urls[1], urls[1], 200, [], b"", "2026-01-01T00:00:00Z")
    assert list(middleware.process_spider_output(response(urls[0]), iter([]))) == []
    assert list(middleware.process_spider_output(response(urls[1]), iter([capture]))) == [capture]
    # A capture with an item waits for the pipeline's text; one without expects none.
    assert [e.url for e in seen.without_text()] == [urls[1]]
    entry = seen.get(urls[0])
    assert entry is not None
    assert entry.text_key == ""
    seen.close()
