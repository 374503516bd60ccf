"""Scale-out through scrapy-redis with a real redis-server: the shared seen store, the frontier's
ledger and reaper, and whole runs of seeders and worker processes on a generated loopback site,
with Scrapy's deprecation warnings as errors in every child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.frontier import Heartbeat, SharedFrontier, as_text
from newsarchive.archive.local import LocalStore
from newsarchive.archive.lock import LockHeld, RunLock
from newsarchive.archive.reader import iter_records
from newsarchive.archive.redisseen import RedisSeenStore
from newsarchive.archive.seen import Fetch, Kind, PendingRequest, SeenStore, SqliteSeenStore
from newsarchive.demo.server import DemoSite
from newsarchive.jobs.runreports import write_run_report
from tests.bigsite import article_path, write_big_config, write_big_site
from tests.conftest import REPO
from tests.processes import children, wait_gone

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.redisserver import RedisServer

ARTICLES = 300
#: Seconds per response: a little latency, so several requests are in flight at any time.
LATENCY = 0.02
#: Every child process turns Scrapy's deprecation warnings (scrapy-redis's stock calls among
#: them) into errors: `-W error::scrapy...` cannot name a class before Scrapy is imported.
_STRICT_MAIN = (
    "import sys, warnings, scrapy.exceptions as e; "
    "warnings.filterwarnings('error', category=e.ScrapyDeprecationWarning); "
    "from newsarchive.cli.main import main; sys.exit(main(sys.argv[1:]))"
)
_FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0")


def strict_cli(*args: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", _STRICT_MAIN, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        **popen,
    )


def finish(process: subprocess.Popen[str], timeout: float = 600) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


# --- the seen store: one contract, SQLite and Redis ------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def seen_store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer, redis_prefix: str
) -> Iterator[SeenStore]:
    store: SeenStore
    if request.param == "sqlite":
        store = SqliteSeenStore(tmp_path / "seen.sqlite3")
    else:
        store = RedisSeenStore(redis_server.client(), "site", redis_prefix)
    yield store
    store.close()


def test_seen_stores_keep_one_contract(seen_store: SeenStore) -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    url, page = "http://127.0.0.1/a.html", "http://127.0.0.1/feed.xml"
    announced = now - timedelta(hours=1)
    seen_store.add_pending(
        PendingRequest(url, Kind.ARTICLE, "parse_article", {"hint_title": "A"}, announced)
    )
    seen_store.add_pending(PendingRequest(page, Kind.PAGE, "parse_feed"))
    assert [p.url for p in seen_store.pending()] == [url, page]
    assert seen_store.pending()[0].meta == {"hint_title": "A"}
    warc = CaptureRef(url, "2026-03-01T12:00:00Z", "<urn:uuid:1>", "warcs/site/d/f.warc.gz", 10)
    seen_store.record_fetch(
        Fetch(url, Kind.ARTICLE, 200, now, etag='"e1"', payload_digest="sha1:X", warc=warc)
    )
    entry = seen_store.get(url)
    assert entry is not None
    assert entry.archived
    assert not entry.pending
    assert entry.announced == announced  # the pending announcement became the known one
    assert entry.previous_capture() == replace(warc, payload_digest="sha1:X")
    assert [e.url for e in seen_store.without_text()] == [url]
    seen_store.record_text(url, "text/site/x.txt")
    assert seen_store.without_text() == []
    # A 304 keeps the status, validators and capture of the payload it revalidated.
    later = now + timedelta(hours=2)
    seen_store.record_fetch(Fetch(url, Kind.ARTICLE, 304, later, changed=False))
    entry = seen_store.get(url)
    assert entry is not None
    assert (entry.status, entry.etag, entry.fetched_at, entry.first_fetched_at) == (
        200,
        '"e1"',
        later,
        now,
    )
    assert entry.warc == replace(warc, payload_digest="sha1:X")
    seen_store.record_announced(url, later)
    seen_store.record_announced(url, now)  # older: ignored
    assert seen_store.get(url).announced == later  # type: ignore[union-attr]
    seen_store.settle(page)
    assert seen_store.pending() == []
    assert seen_store.counts() == {"urls": 2, "articles": 1, "pending": 0, "backlog": 0}
    assert seen_store.get("http://127.0.0.1/never") is None


def test_seen_stores_keep_one_backlog(seen_store: SeenStore) -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    for n, hours in enumerate([1, 5, 3]):
        announced = now - timedelta(hours=hours)
        seen_store.add_backlog(
            PendingRequest(f"http://127.0.0.1/{n}", Kind.ARTICLE, "parse_article", {}, announced)
        )
    undated = PendingRequest("http://127.0.0.1/undated", Kind.ARTICLE, "parse_article")
    seen_store.add_backlog(undated)
    # Oldest announcement first, undated last; a settled fetch or a drop ends an entry.
    assert [p.url.rsplit("/", 1)[1] for p in seen_store.backlog()] == ["1", "2", "0", "undated"]
    assert seen_store.counts()["backlog"] == 4
    seen_store.record_fetch(Fetch("http://127.0.0.1/2", Kind.ARTICLE, 200, now))
    seen_store.settle("http://127.0.0.1/1")
    seen_store.drop_backlog("http://127.0.0.1/undated")
    assert [p.url for p in seen_store.backlog()] == ["http://127.0.0.1/0"]


# --- the frontier: ledger, heartbeat, reaper, runs, locks ----------------------------------


def test_dead_workers_requests_go_back_to_the_queue(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    client = redis_server.client()
    seeder = SharedFrontier(client, "site", redis_prefix, worker="seeder")
    run_id = seeder.begin_run("run-1")
    keys = seeder.keys
    assert keys is not None
    client.zadd(keys.queue, {b"page": -5, b"article-1": 0, b"article-2": 0})
    live = SharedFrontier(client, "site", redis_prefix, worker="live").join(run_id)
    dying = SharedFrontier(client, "site", redis_prefix, worker="dying").join(run_id)
    live.register(ttl=60)
    dying.register(ttl=0.2)
    taken = dying.take()
    assert taken is not None
    assert taken[0] == b"page"  # best score first
    assert dying.take() is not None
    assert dying.in_flight() == {"dying": 2, "live": 0}
    assert not dying.drained()
    # Another seeding while requests are in flight continues the run.
    assert seeder.begin_run("run-2") == run_id
    time.sleep(0.3)  # the dying worker's heartbeat key expires
    repaired: list[list[str]] = []
    assert Heartbeat(live, 1, repaired.append).check() == 2
    assert repaired == [["dying"]]
    assert client.zscore(keys.queue, b"page") == -5  # its priority kept
    assert live.queued() == 3
    assert live.in_flight() == {"live": 0}
    while (item := live.take()) is not None:
        live.release(item[1])
    assert live.drained()
    live.leave()
    assert seeder.begin_run("run-2") == "run-2"  # drained: a new run, with keys of its own
    assert seeder.keys is not None
    assert seeder.keys.queue != keys.queue


def test_workers_share_the_site_lock_that_excludes_a_plain_crawl(tmp_path: Path) -> None:
    first = RunLock(tmp_path, "site").acquire(shared=True)
    second = RunLock(tmp_path, "site").acquire(shared=True)
    with pytest.raises(LockHeld):
        RunLock(tmp_path, "site").acquire()
    first.release()
    second.release()
    RunLock(tmp_path, "site").acquire().release()


def test_run_report_adds_up_the_workers_reports(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    for worker, responses, started in (("h-1", 5, "2026-03-01T10:00"), ("h-2", 7, "2026-03-01T09")):
        report = {
            "run_id": "RUN",
            "site": "site",
            "worker": worker,
            "started": started,
            "finished": started,
            "finish_reason": "finished",
            "exit_code": 0,
            "fetched": {"responses": responses},
            "texts": responses - 1,
            "banned": None,
        }
        store.put_bytes(f"reports/site/RUN-{worker}.json", json.dumps(report).encode(), "x")
    total = write_run_report(store, "site", "RUN")
    assert total["fetched"] == {"responses": 12}
    assert total["texts"] == 10
    assert total["started"] == "2026-03-01T09"
    assert [w["worker"] for w in total["workers"]] == ["h-2", "h-1"]
    assert json.loads(store.get_bytes("reports/site/RUN.json")) == total


# --- whole runs ------------------------------------------------------------------------------


class BigRun:
    """A generated site on loopback, its sites folder, and the arguments of its processes."""

    def __init__(self, root: Path, site: DemoSite, redis: RedisServer, prefix: str) -> None:
        self.root = root
        self.site = site
        self.sites = write_big_config(root / "sites", site.base_url, ARTICLES)
        self.redis = redis
        self.prefix = prefix

    def args(self, store: Path, *, shared: bool = True) -> list[str]:
        args = ["--site", "big", "--sites-dir", str(self.sites), "--store", str(store), *_FAST]
        if shared:
            args += ["--redis", self.redis.url, "-s", f"SCALEOUT_KEY_PREFIX={self.prefix}"]
        return args

    def seed(self, store: Path) -> None:
        code, output = finish(strict_cli("seed", *self.args(store)))
        assert code == 0, output

    def worker(self, store: Path, **popen: object) -> subprocess.Popen[str]:
        return strict_cli(
            "crawl", "--worker", *self.args(store), "--idle-close", "2",
            "-s", "SCALEOUT_HEARTBEAT=0.5", **popen,
        )  # fmt: skip

    def start_workers(self, store: Path, *popen: dict[str, object]) -> list[subprocess.Popen[str]]:
        """One worker per `popen` (its extra Popen arguments), all taking part: the site answers
        slowly until every one has joined the run, whatever their start-up times."""
        self.site.delay = 2.0
        try:
            workers = [self.worker(store, **extra) for extra in popen]
            client = self.redis.client()
            run_id = client.get(f"{self.prefix}:big:run")
            assert run_id is not None
            joined = f"{self.prefix}:big:{as_text(run_id)}:workers"
            deadline = time.monotonic() + 300
            while client.scard(joined) < len(workers) and time.monotonic() < deadline:
                assert all(w.poll() is None for w in workers), [finish(w) for w in workers]
                time.sleep(0.05)
            client.close()
        finally:
            self.site.delay = LATENCY
        return workers

    def article_requests(self) -> Counter[str]:
        return Counter(r.path for r in self.site.requests if r.path.startswith("/news/2026/"))


@pytest.fixture
def big_run(tmp_path: Path, redis_server: RedisServer, redis_prefix: str) -> Iterator[BigRun]:
    root = write_big_site(tmp_path / "site", ARTICLES)
    with DemoSite(root=root, delay=LATENCY) as site:
        yield BigRun(tmp_path, site, redis_server, redis_prefix)


def texts_by_url(store: Path) -> dict[str, str]:
    texts = {}
    for path in store.glob("meta/big/*/*.json"):
        meta = json.loads(path.read_text(encoding="utf-8"))
        texts[meta["url"]] = (store / meta["text_key"]).read_text(encoding="utf-8")
    return texts


def article_responses(store: Path) -> Counter[str]:
    """Response records (full captures) per article URL, over every WARC of the store."""
    found: Counter[str] = Counter()
    for path in sorted(store.glob("warcs/big/*/*.warc.gz")):
        with path.open("rb") as fh:
            for ref, record in iter_records(fh, path.name):
                if record.rec_type == "response" and "/news/2026/" in ref.target_uri:
                    found[ref.target_uri] += 1
    return found


def test_two_workers_fetch_each_article_once_and_match_one_process(big_run: BigRun) -> None:
    store = big_run.root / "shared-store"
    big_run.seed(store)
    workers = big_run.start_workers(store, {}, {})
    results = [finish(w) for w in workers]
    for code, output in results:
        assert code == 0, output
    fetched = big_run.article_requests()
    assert len(fetched) == ARTICLES
    assert set(fetched.values()) == {1}, [p for p, n in fetched.items() if n > 1]
    # Both took part: each wrote WARCs named after its host and process, and a report.
    names = {p.name.rsplit("-", 1)[1] for p in store.glob("warcs/big/*/*.warc.gz")}
    pids = {f"{w.pid}.warc.gz" for w in workers}
    assert names == pids
    code, output = finish(strict_cli("seed", *big_run.args(store), "--report"))
    assert code == 0, output
    run_report = json.loads(next(store.glob("reports/big/*Z-????????.json")).read_text())
    assert run_report["texts"] == ARTICLES
    assert len(run_report["workers"]) == 3  # the seeder and two workers

    big_run.site.clear_log()
    single = big_run.root / "single-store"
    code, output = finish(strict_cli("crawl", *big_run.args(single, shared=False)))
    assert code == 0, output
    assert texts_by_url(store) == texts_by_url(single)
    assert article_responses(store) == article_responses(single)
    assert set(article_responses(store).values()) == {1}


def test_killed_worker_loses_nothing_and_duplicates_no_capture(big_run: BigRun) -> None:
    store = big_run.root / "store"
    big_run.seed(store)
    # The victim has a process group of its own (it and its extraction process die together,
    # as on a machine that goes down); killed by that group's id.
    victim, survivor = big_run.start_workers(store, {"start_new_session": True}, {})
    client = big_run.redis.client()

    def victim_in_flight() -> int:
        # Its ledger: requests taken and not yet answered (archive.frontier RunKeys.ledger).
        pattern = f"{big_run.prefix}:*:inflight:*-{victim.pid}"
        return sum(int(client.hlen(key)) for key in client.scan_iter(pattern))

    deadline = time.monotonic() + 300
    # Killed mid-work: a third of the site fetched and requests in the victim's hands.
    while (
        len(big_run.article_requests()) < ARTICLES // 3 or victim_in_flight() == 0
    ) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert victim.poll() is None, "the victim finished before it could be killed"
    family = [victim.pid, *children(victim.pid)]
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    assert wait_gone(family, 30) == []
    code, output = finish(survivor)
    assert code == 0, output
    assert "Re-queued" in output  # the victim's in-flight requests went to the survivor
    fetched = big_run.article_requests()
    assert len(fetched) == ARTICLES
    texts = texts_by_url(store)
    wanted = {big_run.site.url(article_path(n)) for n in range(ARTICLES)}
    assert set(texts) == wanted
    assert all(texts.values())
    responses = article_responses(store)
    assert set(responses) == wanted
    assert set(responses.values()) == {1}, [u for u, n in responses.items() if n > 1]
    assert not list(store.glob("warcs/big/*/*.open"))
