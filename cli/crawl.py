"""Run crawls of configured sites in one process and summarise them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess

from config.stats import StatsKeys
from pipelines.progress import human_bytes
from spiders.news import NewsSpider

if TYPE_CHECKING:
    from scrapy.settings import Settings

    from config.sites import SiteConfig


@dataclass(slots=True)
class CrawlOutcome:
    site: str
    reason: str = "not started"
    stats: dict[str, Any] = field(default_factory=dict)

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
        return sum(
            v
            for k, v in self.stats.items()
            if isinstance(v, int)
            and (
                (
                    k.startswith("downloader/exception_type_count/")
                    and not k.endswith("IgnoreRequest")
                )
                or k == "log_count/ERROR"
            )
        )

    @property
    def spooled(self) -> int:
        """Objects the S3 store still holds only in its local spool (store unavailable)."""
        return self.count(StatsKeys.STORAGE_SPOOLED_PENDING)

    @property
    def failed(self) -> bool:
        return (
            self.reason != "finished"
            or self.pages == 0
            or self.count(StatsKeys.ARCHIVE_ERRORS) > 0
            or self.count("log_count/ERROR") > 0
        )


def _watch(crawler: Crawler, outcome: CrawlOutcome) -> None:
    def closed(reason: str) -> None:
        outcome.reason = reason
        assert crawler.stats is not None
        outcome.stats = dict(crawler.stats.get_stats())

    crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)


def run_crawls(sites: list[SiteConfig], settings: Settings) -> list[CrawlOutcome]:
    """Crawl the sites concurrently (each with its own WARC writer and run id); blocks."""
    process = CrawlerProcess(settings)
    outcomes = []
    crawlers = []
    for site in sites:
        crawler = process.create_crawler(NewsSpider)
        outcome = CrawlOutcome(site=site.name)
        _watch(crawler, outcome)
        process.crawl(crawler, site_config=site)
        outcomes.append(outcome)
        crawlers.append(crawler)
    process.start()
    for crawler, outcome in zip(crawlers, outcomes, strict=True):
        # Storage reports its upload outcome when the engine stops, after spider_closed.
        if crawler.stats is not None and outcome.reason != "not started":
            outcome.stats = dict(crawler.stats.get_stats())
    return outcomes


def summary_table(outcomes: list[CrawlOutcome]) -> str:
    rows = [("site", "result", "pages", "articles", "errors", "archived")]
    for o in outcomes:
        rows.append(
            (
                o.site,
                "FAILED" if o.failed else "ok",
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
        f"{o.site}: {'FAILED ' + o.reason if o.failed else 'ok'}, {o.pages} pages, "
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
