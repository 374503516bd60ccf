"""The news spider crawling the demo site in-process: judged by Scrapy stats and items."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import CrawlerRunner
from scrapy.utils.defer import deferred_f_from_coro_f

from newsarchive.cli.commands import demo_site_config
from newsarchive.cli.settings import build_settings
from newsarchive.config.stats import StatsKeys
from newsarchive.demo.server import DEMO_ARTICLES, OLD_ARTICLE
from newsarchive.spiders.news import NewsSpider, adhoc_site

if TYPE_CHECKING:
    from pathlib import Path

    from newsarchive.archive.items import ArticleCapture
    from newsarchive.demo.server import DemoSite


def _settings(store: Path, **extra: Any) -> Any:
    return build_settings(
        str(store),
        None,
        {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "EXTRACT_WORKERS": 0, **extra},
        interactive=False,
    )


async def _crawl(
    settings: Any, **spider_kwargs: Any
) -> tuple[dict[str, Any], list[ArticleCapture]]:
    runner = CrawlerRunner(settings)
    crawler = runner.create_crawler(NewsSpider)
    items: list[ArticleCapture] = []
    crawler.signals.connect(
        lambda item: items.append(item), signal=signals.item_scraped, weak=False
    )
    await crawler.crawl_async(**spider_kwargs)
    assert crawler.stats is not None
    return crawler.stats.get_stats(), items


@deferred_f_from_coro_f
async def test_demo_crawl_stats(demo_site: DemoSite, tmp_path: Path) -> None:
    stats, items = await _crawl(
        _settings(tmp_path), site_config=demo_site_config(demo_site.base_url)
    )
    assert stats["finish_reason"] == "finished"
    assert {i.canonical_url for i in items} == {a.url(demo_site.base_url) for a in DEMO_ARTICLES}
    assert stats[StatsKeys.EXTRACT_OK] == len(DEMO_ARTICLES)
    assert stats[StatsKeys.DISCOVERY_SKIPPED_AGE] >= 1  # the 2019 story, from its feed date
    assert stats["robotstxt/forbidden"] >= 1  # /private/ links
    # A payload seen before at the same URI is archived as a revisit, not a second response.
    archived = stats[StatsKeys.ARCHIVE_RESPONSES] + stats.get(StatsKeys.ARCHIVE_REVISITS, 0)
    assert archived == stats["downloader/response_count"]
    assert stats[StatsKeys.ARCHIVE_FILES] == 1
    assert all(i.warc is not None and i.warc.record_id and i.warc.warc_key for i in items)


@deferred_f_from_coro_f
async def test_age_cutoff_and_article_limit(demo_site: DemoSite, tmp_path: Path) -> None:
    site = demo_site_config(demo_site.base_url).model_copy(update={"max_articles": 2})
    stats, items = await _crawl(_settings(tmp_path), site_config=site)
    # The limit caps article requests; a redirect to an already-fetched page yields no item.
    assert stats[StatsKeys.DISCOVERY_ARTICLES] == 2
    assert 1 <= len(items) <= 2
    assert stats[StatsKeys.DISCOVERY_SKIPPED_LIMIT] >= 1
    assert OLD_ARTICLE.url(demo_site.base_url) not in {i.url for i in items}


@deferred_f_from_coro_f
async def test_adhoc_url_discovers_from_robots_feeds_and_links(
    demo_site: DemoSite, tmp_path: Path
) -> None:
    site = adhoc_site(demo_site.base_url + "/")
    assert site.name == "127-0-0-1"
    assert site.feeds == []
    # The demo's stories are months old; the ad hoc default of 30 days would skip most.
    site = site.model_copy(update={"max_age_days": None})
    stats, items = await _crawl(_settings(tmp_path), site_config=site)
    found = {i.canonical_url for i in items}
    expected = {a.url(demo_site.base_url) for a in (*DEMO_ARTICLES, OLD_ARTICLE)}
    assert found == expected
    assert stats[StatsKeys.DISCOVERY_FEEDS] >= 1  # announced in <link rel="alternate">
    assert stats[StatsKeys.DISCOVERY_SITEMAPS] >= 1  # Sitemap: line of robots.txt


@deferred_f_from_coro_f
async def test_article_responses_keep_no_tree_or_text(demo_site: DemoSite, tmp_path: Path) -> None:
    """Scrapy keeps a response until its items are stored: by then the spider must have left
    no parsed tree (`response.css`/`xpath`) and no decoded body (`response.text`) on it."""
    runner = CrawlerRunner(_settings(tmp_path))
    crawler = runner.create_crawler(NewsSpider)
    kept: list[tuple[str, bool, bool]] = []

    def scraped(item: Any, response: Any) -> None:
        # Scrapy's own cache slots on TextResponse (private, and the point of the test).
        kept.append((item.url, response._cached_selector is None, response._cached_ubody is None))

    crawler.signals.connect(scraped, signal=signals.item_scraped, weak=False)
    await crawler.crawl_async(site_config=demo_site_config(demo_site.base_url))
    assert len(kept) == len(DEMO_ARTICLES)
    assert all(no_tree and no_text for _url, no_tree, no_text in kept), kept
