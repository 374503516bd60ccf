"""Requests waiting to be fetched are queued on disk, in the store's state, per site; a killed
run's queue is not resumed (the seen store re-issues its requests) and a run leaves none."""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from newsarchive.demo.server import DemoSite
from newsarchive.pipelines.scheduler import QUEUE_DIR
from tests.conftest import run_cli, write_demo_config

if TYPE_CHECKING:
    from pathlib import Path


def _stats(log: str) -> dict[str, object]:
    """Scrapy's closing stats dump, from the crawl's log."""
    match = re.search(r"Dumping Scrapy stats:\n(\{.*?\})\n(?=\d{4}-\d\d-\d\d )", log, re.S)
    assert match, log[-2000:]
    stats = ast.literal_eval(re.sub(r"datetime\.datetime\([^)]*\)", "None", match.group(1)))
    assert isinstance(stats, dict)
    return stats


def _crawl(tmp_path: Path, store: Path, *extra: str) -> tuple[dict[str, object], str]:
    with DemoSite() as site:
        sites = write_demo_config(tmp_path / "sites", site.base_url)
        result = run_cli(
            "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store), "-v",
            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", *extra,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return _stats(result.stderr), result.stderr


def test_requests_wait_on_disk_and_the_queue_goes_with_the_run(tmp_path: Path) -> None:
    store = tmp_path / "store"
    stats, _log = _crawl(tmp_path, store)
    enqueued = stats["scheduler/enqueued"]
    assert isinstance(enqueued, int)
    assert enqueued > 10
    assert stats["scheduler/enqueued/disk"] == enqueued
    assert "scheduler/enqueued/memory" not in stats
    assert "scheduler/unserializable" not in stats
    assert stats["scheduler/dequeued/disk"] == enqueued
    assert not (store / "state" / QUEUE_DIR / "demo").exists()


def test_a_killed_runs_queue_is_not_resumed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first, _log = _crawl(tmp_path, store)
    # What a killed run leaves: Scrapy's queue state naming requests that are not there.
    stale = store / "state" / QUEUE_DIR / "demo" / "requests.queue"
    stale.mkdir(parents=True)
    (stale / "active.json").write_text("[0, -10]", encoding="utf-8")
    second, log = _crawl(tmp_path, store)
    assert "Resuming crawl" not in log
    # The second run starts from its own frontier, and is as complete as the first.
    assert second["scheduler/dequeued/disk"] == second["scheduler/enqueued/disk"]
    assert second["scheduler/enqueued/disk"] == first["scheduler/enqueued/disk"]
    assert second.get("log_count/ERROR", 0) == first.get("log_count/ERROR", 0)
    assert not (store / "state" / QUEUE_DIR / "demo").exists()


def test_the_memory_scheduler_is_a_setting_away(tmp_path: Path) -> None:
    stats, _log = _crawl(
        tmp_path, tmp_path / "store", "-s", "SCHEDULER=scrapy.core.scheduler.Scheduler"
    )
    assert stats["scheduler/enqueued/memory"] == stats["scheduler/enqueued"]
    assert "scheduler/enqueued/disk" not in stats
