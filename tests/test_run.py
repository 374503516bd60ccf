"""The crawl run (archive.run): the lock and store it opens, the order it finishes in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from newsarchive.archive.local import LocalStore
from newsarchive.archive.lock import LockHeld, site_lock
from newsarchive.archive.run import CrawlRun, FinishSteps, store_options
from newsarchive.cli.settings import build_settings
from newsarchive.config.options import Options
from newsarchive.config.sites import SiteConfig
from newsarchive.pipelines.extensions.run import RunAddon, crawl_run

if TYPE_CHECKING:
    from pathlib import Path

SITE = SiteConfig(name="demo", start_urls=["https://example.org/"])  # type: ignore[list-item]


class RecordingStore(LocalStore):
    """A local store that notes when it drains and closes."""

    def __init__(self, root: Path, events: list[str]) -> None:
        super().__init__(root)
        self.events = events

    def drain(self) -> None:
        self.events.append("store drained")

    def close(self) -> None:
        self.events.append("store closed")


def _options(tmp_path: Path, **overrides: object) -> Options:
    return Options.from_settings(build_settings(str(tmp_path), None, overrides, interactive=False))


def test_finish_runs_every_step_once_in_the_documented_order(tmp_path: Path) -> None:
    events: list[str] = []
    run = CrawlRun.open(SITE, _options(tmp_path), RecordingStore(tmp_path, events))
    assert run.lock is not None
    assert run.lock.held

    def report() -> None:
        # Written once, after the store drained, before it closes; the lock is still held:
        # the next run cannot start yet.
        assert events[-2:] == ["store drained", "count pending=0"]
        with pytest.raises(LockHeld):
            site_lock(tmp_path / "state", "demo").acquire()
        events.append("report")

    run.seen.counts()  # opened, so the run closes it
    run.steps = FinishSteps(
        close_writer=lambda: events.append("writer closed") or ["warcs/demo/a.warc.gz"],
        package=lambda keys: events.append(f"package {keys}"),
        count=lambda: events.append(f"count pending={run.pending_left}"),
        report=report,
    )
    run.finish()
    run.finish()  # idempotent
    assert events == [
        "writer closed",
        "package ['warcs/demo/a.warc.gz']",
        "store drained",
        "count pending=0",
        "report",
        "store closed",
    ]
    assert run.lock is None
    site_lock(tmp_path / "state", "demo").acquire().release()


def test_a_failing_step_does_not_keep_the_lock(tmp_path: Path) -> None:
    run = CrawlRun.open(SITE, _options(tmp_path), LocalStore(tmp_path))

    def broken() -> list[str]:
        raise OSError("disk full")

    run.steps = FinishSteps(close_writer=broken)
    run.finish()
    site_lock(tmp_path / "state", "demo").acquire().release()


def test_a_locked_site_gives_a_locked_out_run(tmp_path: Path) -> None:
    with site_lock(tmp_path / "state", "demo"):
        run = CrawlRun.open(SITE, _options(tmp_path), LocalStore(tmp_path))
    assert run.locked_out
    assert run.lock is None
    assert "pid" in run.holder
    run.finish()


def test_components_of_a_locked_out_run_leave_themselves_out(tmp_path: Path) -> None:
    settings = {
        "NEWSARCHIVE_STORE": str(tmp_path),
        "NEWSARCHIVE_SITE": SITE,
        "LOCK_ENABLED": True,
        "ADDONS": {RunAddon: 0},
    }
    with site_lock(tmp_path / "state", "demo"):
        crawler = get_crawler(settings_dict=settings)
    addon = crawler.get_addon(RunAddon)
    assert addon is not None
    assert addon.run.locked_out
    with pytest.raises(NotConfigured):
        crawl_run(crawler)
    free = get_crawler(settings_dict={**settings, "NEWSARCHIVE_STORE": str(tmp_path / "b")})
    run = crawl_run(free)
    assert run.site == SITE
    assert run.lock is not None
    run.finish()


def test_store_options_only_for_s3_stores(tmp_path: Path) -> None:
    assert store_options(_options(tmp_path, AWS_REGION_NAME="x")) == {}
    s3 = _options(tmp_path, NEWSARCHIVE_STORE="s3://bucket/p", AWS_REGION_NAME="eu-1")
    options = store_options(s3)
    assert options["AWS_REGION_NAME"] == "eu-1"
    assert options["STORAGE_S3_DEGRADED_READS"] is True
    assert store_options(s3, reader=True)["STORAGE_S3_DEGRADED_READS"] is False
