"""Run crawls of configured sites in one process and summarise them."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess

from newsarchive.config.errors import error_count
from newsarchive.config.exitcodes import EXIT_LOCKED, LOCKED_REASON, run_exit_code, run_failed
from newsarchive.config.options import SITE_SETTING
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.extensions.progress import human_bytes
from newsarchive.pipelines.extensions.run import RunAddon
from newsarchive.spiders.news import NewsSpider

if TYPE_CHECKING:
    from scrapy.settings import Settings

    from newsarchive.config.sites import SiteConfig


@dataclass(slots=True)
class CrawlOutcome:
    site: str
    reason: str = "not started"
    stats: dict[str, Any] = field(default_factory=dict)
    #: Who holds the site's lock, when another crawl of it was still running.
    locked: str | None = None

    def count(self, key: str) -> int:
        value = self.stats.get(key, 0)
        return value if isinstance(value, int) else 0

    @property
    def pages(self) -> int:
        return self.count("response_received_count")

    @property
    def articles(self) -> int:
        return self.count(StatsKeys.EXTRACT_OK)

    @property
    def errors(self) -> int:
        return error_count(self.stats)

    @property
    def spooled(self) -> int:
        """Objects the S3 store still holds only in its local spool (store unavailable)."""
        return self.count(StatsKeys.STORAGE_SPOOLED_PENDING)

    @property
    def failed(self) -> bool:
        return self.locked is None and run_failed(self.reason, self.stats)

    @property
    def exit_code(self) -> int:
        return EXIT_LOCKED if self.locked is not None else run_exit_code(self.reason, self.stats)


def _watch(crawler: Crawler, outcome: CrawlOutcome) -> None:
    def closed(reason: str) -> None:
        outcome.reason = reason
        assert crawler.stats is not None
        outcome.stats = dict(crawler.stats.get_stats())
        addon = crawler.get_addon(RunAddon)
        if reason == LOCKED_REASON and addon is not None:
            outcome.locked = addon.run.holder
            sys.stderr.write(
                f"newsarchive: {outcome.site}: not crawled, another crawl is running "
                f"({outcome.locked})\n"
            )

    crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)


def run_crawls(sites: list[SiteConfig], settings: Settings) -> list[CrawlOutcome]:
    """Crawl the sites concurrently (each with its own WARC writer and run id); blocks.

    Each crawl locks its site for the run (archive.run); a site another crawl still holds is
    not crawled (its outcome says `locked`), the others run. Each crawler has its own copy of
    the settings, so each gets its own NEWSARCHIVE_SITE.
    """
    process = CrawlerProcess(settings)
    outcomes = []
    crawlers = []
    for site in sites:
        outcome = CrawlOutcome(site=site.name)
        outcomes.append(outcome)
        crawler = process.create_crawler(NewsSpider)
        crawler.settings.set(SITE_SETTING, site, priority="cmdline")
        _watch(crawler, outcome)
        process.crawl(crawler)
        crawlers.append((crawler, outcome))
    process.start()
    for crawler, outcome in crawlers:
        # The run counts its upload outcome when the engine stops, after spider_closed.
        if crawler.stats is not None and outcome.reason != "not started":
            outcome.stats = dict(crawler.stats.get_stats())
    return outcomes


def summary_table(outcomes: list[CrawlOutcome]) -> str:
    rows = [("site", "result", "pages", "articles", "errors", "archived")]
    for o in outcomes:
        rows.append(
            (
                o.site,
                "LOCKED" if o.locked else "FAILED" if o.failed else "ok",
                str(o.pages),
                str(o.articles),
                str(o.errors),
                human_bytes(o.count(StatsKeys.ARCHIVE_BYTES)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_line(outcomes: list[CrawlOutcome]) -> str:
    parts = [
        f"{o.site}: LOCKED by {o.locked}"
        if o.locked
        else f"{o.site}: {'FAILED ' + o.reason if o.failed else 'ok'}, {o.pages} pages, "
        f"{o.articles} articles, {o.errors} errors"
        for o in outcomes
    ]
    spooled = sum(o.spooled for o in outcomes)
    if spooled:
        parts.append(
            f"storage unavailable: {spooled} objects spooled locally, "
            "run `newsarchive upload` to send them"
        )
    return "newsarchive crawl: " + "; ".join(parts)
