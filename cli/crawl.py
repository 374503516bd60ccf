"""Run crawls of configured sites in one process and summarise them."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess

from newsarchive.cli.logs import log_handler
from newsarchive.config.errors import error_count, skip_kinds
from newsarchive.config.exitcodes import (
    EXIT_LOCKED,
    LOCKED_REASON,
    failure_cause,
    run_exit_code,
    run_failed,
)
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
    def cause(self) -> str:
        return failure_cause(self.reason, self.stats) or ""

    @property
    def skipped(self) -> dict[str, int]:
        return skip_kinds(self.stats)

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


def run_crawls(
    sites: list[SiteConfig], settings: Settings, spider: type[NewsSpider] = NewsSpider
) -> list[CrawlOutcome]:
    """Crawl the sites concurrently (each with its own WARC writer and run id); blocks.

    Each crawl locks its site for the run (archive.run); a site another crawl still holds is
    not crawled (its outcome says `locked`), the others run. Each crawler has its own copy of
    the settings, so each gets its own NEWSARCHIVE_SITE.
    """
    # Our handler, not Scrapy's (which each crawler would replace): on the console, one line
    # per failed host and cause, no tracebacks.
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    process = CrawlerProcess(settings)
    handler = log_handler(
        settings.get("LOG_FILE"),
        settings.get("LOG_LEVEL"),
        settings.get("LOG_FORMAT"),
        settings.get("LOG_DATEFORMAT"),
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.NOTSET)
    try:
        return _run(process, sites, spider)
    finally:
        root.removeHandler(handler)
        handler.close()


def _run(
    process: CrawlerProcess, sites: list[SiteConfig], spider: type[NewsSpider]
) -> list[CrawlOutcome]:
    outcomes = []
    crawlers = []
    for site in sites:
        outcome = CrawlOutcome(site=site.name)
        outcomes.append(outcome)
        crawler = process.create_crawler(spider)
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


#: What changes each kind of skip: the `crawl --url` flag and the site key, or the setting.
SKIP_HINTS = {
    "age": "--max-age-days/--since, site keys max_age_days/since",
    "limit": "--max-articles, site key max_articles",
    "robots": "the site's robots.txt",
    "duplicate": "one fetch per article and run",
    "archived": "-s INCREMENTAL_ENABLED=False fetches them again",
}


def skipped_urls(skipped: dict[str, int]) -> int:
    """URLs not requested; a duplicate is another mention of a URL already handled, not one."""
    return sum(n for kind, n in skipped.items() if kind != "duplicate")


def skips_text(skipped: dict[str, int]) -> str:
    """`skipped 107: age 100 (--max-age-days...), limit 7 (...)`; empty for no skips."""
    if not skipped:
        return ""
    reasons = ", ".join(f"{kind} {n} ({SKIP_HINTS[kind]})" for kind, n in skipped.items())
    return f"skipped {skipped_urls(skipped)}: {reasons}"


def _result(o: CrawlOutcome) -> str:
    return "LOCKED" if o.locked else f"FAILED ({o.cause})" if o.failed else "ok"


def summary_table(outcomes: list[CrawlOutcome]) -> str:
    rows = [("site", "result", "pages", "articles", "skipped", "errors", "archived")]
    for o in outcomes:
        rows.append(
            (
                o.site,
                _result(o),
                str(o.pages),
                str(o.articles),
                str(skipped_urls(o.skipped)),
                str(o.errors),
                human_bytes(o.count(StatsKeys.ARCHIVE_BYTES)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"{o.site}: {skips_text(o.skipped)}" for o in outcomes if o.skipped]
    return "\n".join(line.rstrip() for line in lines)


def summary_line(outcomes: list[CrawlOutcome]) -> str:
    parts = []
    for o in outcomes:
        if o.locked:
            parts.append(f"{o.site}: LOCKED by {o.locked}")
            continue
        part = f"{o.site}: {_result(o)}, {o.pages} pages, {o.articles} articles, {o.errors} errors"
        if o.skipped:
            part += f", {skips_text(o.skipped)}"
        parts.append(part)
    spooled = sum(o.spooled for o in outcomes)
    if spooled:
        parts.append(
            f"storage unavailable: {spooled} objects spooled locally, "
            "run `newsarchive upload` to send them"
        )
    return "newsarchive crawl: " + "; ".join(parts)
