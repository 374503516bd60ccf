"""Re-extraction throughput with 1 and 2 worker processes over the same store, same run.

Builds a store of archived captures from the extraction dev set (each page written as a WARC
response record, gzip Content-Encoding on every other one, plus the metadata object a crawl
leaves), then re-extracts it twice under two version tags and prints pages/s, CPU time, the
speedup and the worker processes used.

Usage: python bench/reextract.py [--data DIR] [--copies N] [--store DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # run as a script from anywhere: the repo root holds the packages
    sys.path.insert(0, str(ROOT))

from bench.extraction import DEFAULT_DATA, load_dataset  # noqa: E402
from newsarchive.archive.layout import meta_key, warc_key  # noqa: E402
from newsarchive.archive.local import LocalStore  # noqa: E402
from newsarchive.archive.warc import HttpExchange, WarcRecordWriter  # noqa: E402
from newsarchive.extraction.documents import ExtractOptions  # noqa: E402
from newsarchive.jobs.reextract import Summary, plan, run  # noqa: E402

if TYPE_CHECKING:
    from bench.extraction import Page

logger = logging.getLogger(__name__)

SITE = "bench"
CRAWL_VERSION = "crawl"


def build_store(store: LocalStore, pages: list[Page], copies: int) -> int:
    """One WARC of `copies` x the dev set, and a crawl-like metadata object per capture."""
    start = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    filename = "bench-20260115080000-00000-host.warc.gz"
    key = warc_key(SITE, filename, start)
    path = store.staging_path(key)
    written = 0
    with path.open("wb") as out:
        writer = WarcRecordWriter(out)
        for copy in range(copies):
            for index, page in enumerate(pages):
                when = start + timedelta(seconds=written)
                url = f"https://bench.example/{page.id}?copy={copy}"
                encoded = index % 2 == 0
                headers = [("Content-Type", "text/html")]
                if encoded:
                    headers.append(("Content-Encoding", "gzip"))
                payload = gzip.compress(page.body, 6) if encoded else page.body
                exchange = HttpExchange(
                    url=url, method="GET", request_headers=[("Host", "bench.example")],
                    request_body=b"", status=200, protocol="HTTP/1.1",
                    response_headers=headers, payload=payload, ip_address="127.0.0.1",
                    date=when,
                )  # fmt: skip
                record = writer.write_exchange(exchange)
                metadata = {
                    "url": url,
                    "crawl_url": url,
                    "site": SITE,
                    "fetched_at": record.date,
                    "http_status": 200,
                    "warc": {
                        "filename": filename,
                        "key": key,
                        "offset": record.offset,
                        "record_id": record.record_id,
                    },
                }
                store.put_bytes(
                    meta_key(SITE, url, when, CRAWL_VERSION),
                    json.dumps(metadata).encode("utf-8"),
                    "application/json",
                )
                written += 1
    store.commit_file(key, path, "application/warc")
    return written


def timed(store: LocalStore, version: str, workers: int) -> Summary:
    work = plan(store, version, lambda _site: ExtractOptions())
    return run(store.uri, work.tasks, version=version, workers=workers)


def describe(label: str, summary: Summary) -> str:
    rate = summary.written / summary.wall_seconds
    return (
        f"{label:<10} {summary.written:5d} pages  {summary.wall_seconds:6.2f} s wall  "
        f"{rate:6.1f} pages/s  {summary.cpu_seconds:6.2f} s CPU in workers  "
        f"{len(summary.worker_pids)} worker process(es)  {len(summary.failed)} failed"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--copies", type=int, default=3, help="times the dev set is archived")
    parser.add_argument("--store", type=Path, help="keep the store here (default: a temp dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not (args.data / "ground-truth.json").is_file():
        sys.stderr.write(f"dev set not found at {args.data}\n")
        return 2
    pages = load_dataset(args.data)
    with tempfile.TemporaryDirectory(prefix="reextract-bench-") as tmp:
        store = LocalStore(args.store or Path(tmp) / "store")
        captures = build_store(store, pages, args.copies)
        print(f"os.cpu_count(): {os.cpu_count()}")
        print(f"store: {captures} captures ({len(pages)} dev-set pages x {args.copies})")
        one = timed(store, "bench-1w", 1)
        two = timed(store, "bench-2w", 2)
        for label, summary in (("1 worker", one), ("2 workers", two)):
            print(describe(label, summary))
        print(f"speedup 2 vs 1 worker: {one.wall_seconds / two.wall_seconds:.2f}x")
        # Both runs must agree byte for byte, or the speedup means nothing.
        differ = 0
        for path in sorted(store.root.glob("text/*/*/*.bench-1w.txt")):
            other = path.with_name(path.name.replace(".bench-1w.", ".bench-2w."))
            differ += path.read_bytes() != other.read_bytes()
        print(f"texts differing between the two runs: {differ}")
    return 1 if one.failed or two.failed or differ else 0


if __name__ == "__main__":
    sys.exit(main())
