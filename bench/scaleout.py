"""Scale-out: pages/s of 1 and 2 worker processes on the same generated site in the same run of
this script, and Redis memory per 10,000 queued requests.

Starts redis-server (Debian package) on loopback and a generated news site (tests.bigsite) on
loopback with no added latency, so the crawl is bound by parsing, extraction and WARC writing:
on a 2-core machine expect a modest gain from a second worker. The rate is measured over the
site's own request log (first to last request served), so process start-up and the workers'
idle wait before closing are left out; the wall time, start-up included, is printed beside it.

Usage: python bench/scaleout.py [--articles 400] [--rounds 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # run as a script from anywhere: the repo root holds the packages
    sys.path.insert(0, str(ROOT))

from scrapy import Request  # noqa: E402
from scrapy_redis.dupefilter import RFPDupeFilter  # noqa: E402
from scrapy_redis.queue import PriorityQueue  # noqa: E402

from newsarchive.demo.server import DemoSite  # noqa: E402
from newsarchive.spiders.news import NewsSpider, adhoc_site  # noqa: E402
from tests.bigsite import article_path, write_big_config, write_big_site  # noqa: E402
from tests.redisserver import RedisServer  # noqa: E402

QUEUED = 10_000


def cli(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "newsarchive.cli.main", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )


def crawl(site: DemoSite, sites: Path, redis: RedisServer, root: Path, workers: int) -> str:
    """Seed one run and crawl it with `workers` processes; one line of figures."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    store = root / f"store-{prefix}"
    common = [
        "--site", "big", "--sites-dir", str(sites), "--store", str(store), "--redis", redis.url,
        "-s", f"SCALEOUT_KEY_PREFIX={prefix}", "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "DOWNLOAD_DELAY=0", "-s", "ARCHIVE_WACZ_ENABLED=False",
    ]  # fmt: skip
    if cli("seed", *common).wait() != 0:
        raise RuntimeError("seeding failed")
    site.clear_log()
    started = time.monotonic()
    procs = [cli("crawl", "--worker", *common, "--idle-close", "1") for _ in range(workers)]
    codes = [p.wait() for p in procs]
    wall = time.monotonic() - started
    if any(codes):
        raise RuntimeError(f"workers exited with {codes}")
    times = [r.time for r in site.requests]
    span = max(times) - min(times)
    articles = sum(1 for r in site.requests if r.path.startswith("/news/2026/"))
    return (
        f"{workers} worker(s): {len(times)} pages ({articles} articles) in {span:.1f} s "
        f"= {len(times) / span:.1f} pages/s (wall {wall:.1f} s with start-up and idle close)"
    )


def queue_memory(redis: RedisServer) -> str:
    """Redis memory for QUEUED article requests as the spider makes them, in scrapy-redis's
    queue, and for their fingerprints in its duplicate filter."""
    client = redis.client()
    spider = NewsSpider(site=adhoc_site("http://127.0.0.1:8000/"))
    prefix = f"mem{uuid.uuid4().hex[:8]}"
    queue = PriorityQueue(client, spider, f"{prefix}:requests")
    dupefilter = RFPDupeFilter(client, f"{prefix}:dupefilter")
    requests = []
    for n in range(QUEUED):
        url = f"http://127.0.0.1:8000{article_path(n)}"
        meta = {
            "canonical_url": url,
            "hint_title": f"Story {n}: the harbour and the ferry",
            "hint_date": "2026-03-01T08:00:00+00:00",
            "discovered_from": "http://127.0.0.1:8000/news/page/3/",
            "newsarchive_track": "article",
        }
        requests.append(Request(url, callback=spider.parse_article, meta=meta))
    before = redis.used_memory()
    for request in requests:
        queue.push(request)
    queued = redis.used_memory()
    for request in requests:
        dupefilter.request_seen(request)
    filtered = redis.used_memory()
    client.delete(f"{prefix}:requests", f"{prefix}:dupefilter")
    return (
        f"Redis memory per {QUEUED:,} queued requests: {(queued - before) / 1e6:.1f} MB queue "
        f"+ {(filtered - queued) / 1e6:.1f} MB duplicate filter"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
        root = Path(tmp)
        redis = RedisServer(root / "redis").start()
        try:
            write_big_site(root / "site", args.articles)
            with DemoSite(root=root / "site") as site:
                sites = write_big_config(root / "sites", site.base_url, args.articles)
                for _ in range(args.rounds):
                    for workers in (1, 2):
                        sys.stdout.write(crawl(site, sites, redis, root, workers) + "\n")
            sys.stdout.write(queue_memory(redis) + "\n")
        finally:
            redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
