"""Page requisites: what is found in HTML and CSS, what is requested, and demo crawls that
archive the stylesheet and images an article uses, once each, outside the seen store."""

from __future__ import annotations

import contextlib
import shutil
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import signals
from scrapy.crawler import CrawlerRunner
from scrapy.http import HtmlResponse
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.seen import SqliteSeenStore, seen_store_path
from newsarchive.cli.commands import demo_site_config
from newsarchive.cli.settings import build_settings
from newsarchive.config.stats import StatsKeys
from newsarchive.demo.server import DEMO_ARTICLES, SITE_ROOT, DemoSite
from newsarchive.spiders.document import HtmlPage
from newsarchive.spiders.news import NewsSpider
from newsarchive.spiders.requisites import (
    RequisiteKind,
    RequisitePolicy,
    Requisites,
    css_requisites,
    first_srcset_candidate,
    html_requisites,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from newsarchive.archive.items import ArticleCapture
    from tests.conftest import DemoCrawl

#: What an article of the demo site needs: its stylesheet, the logo (an <img> and the icon),
#: and the background image the stylesheet refers to.
REQUISITE_PATHS = ("/static/site.css", "/static/logo.png", "/static/rule.png")

PAGE = b"""<!DOCTYPE html><html><head>
<base href="https://news.example/section/">
<link rel="stylesheet" href="/css/main.css#x">
<link rel="Alternate STYLESHEET" href="print.css">
<link rel="shortcut icon" href="/favicon.ico">
<link rel="apple-touch-icon" href="/touch.png">
<link rel="canonical" href="https://news.example/story">
<script src="https://cdn.example/app.js"></script>
<script>inline()</script>
</head><body>
<img src="photo.jpg" srcset="https://img.example/w_400,h_300/photo.jpg 1x, big.jpg 2x">
<img srcset="  only-srcset.jpg 480w, other.jpg 800w">
<img src="data:image/png;base64,AAAA">
<img src="javascript:void(0)">
<a href="/not-a-requisite.html">link</a>
</body></html>"""


def _page(body: bytes = PAGE, url: str = "https://news.example/section/story.html") -> HtmlPage:
    return HtmlPage.of(HtmlResponse(url, body=body, encoding="utf-8"))


def test_html_requisites_by_kind_in_document_order() -> None:
    assert html_requisites(_page()) == [
        ("https://news.example/css/main.css", RequisiteKind.STYLESHEET),
        ("https://news.example/section/print.css", RequisiteKind.STYLESHEET),
        ("https://cdn.example/app.js", RequisiteKind.SCRIPT),
        ("https://news.example/section/photo.jpg", RequisiteKind.IMAGE),
        ("https://img.example/w_400,h_300/photo.jpg", RequisiteKind.IMAGE),
        ("https://news.example/section/only-srcset.jpg", RequisiteKind.IMAGE),
        ("https://news.example/favicon.ico", RequisiteKind.ICON),
    ]


def test_first_srcset_candidate() -> None:
    assert first_srcset_candidate("a.jpg 1x, b.jpg 2x") == "a.jpg"
    assert first_srcset_candidate("  a.jpg,, b.jpg 2x") == "a.jpg"  # trailing commas are cut
    assert first_srcset_candidate("https://x/w_1,h_2/a.jpg 100w") == "https://x/w_1,h_2/a.jpg"
    assert first_srcset_candidate(" , ") is None
    assert first_srcset_candidate("") is None


def test_css_requisites() -> None:
    css = """
    @import "fonts.css";
    @import url('theme.css') screen;
    /* .old { background: url(commented-out.png) } */
    .a { background: url(img/bg.png) }
    .b { background-image: url( "../shared/dot.gif" ), url('https://cdn.example/x.svg#icon'); }
    .c { mask: url(#clip) }
    .d { background: url(data:image/gif;base64,R0lGOD) }
    @font-face { src: url(/fonts/serif.woff2) format("woff2") }
    """
    assert css_requisites(css, "https://news.example/static/css/site.css") == [
        "https://news.example/static/css/fonts.css",
        "https://news.example/static/css/theme.css",
        "https://news.example/static/css/img/bg.png",
        "https://news.example/static/shared/dot.gif",
        "https://cdn.example/x.svg",
        "https://news.example/fonts/serif.woff2",
    ]


def test_select_once_per_run_in_scope_and_capped() -> None:
    counted: list[str] = []
    requisites = Requisites(RequisitePolicy(max_per_page=2), {"news.example"}, counted.append)
    page = _page()
    first = requisites.of_page(page)
    # The CDN script is another site; the cap keeps the first two in order.
    assert [url for url, _ in first] == [
        "https://news.example/css/main.css",
        "https://news.example/section/print.css",
    ]
    assert counted.count(StatsKeys.REQUISITES_REQUESTED) == 2
    assert counted.count(StatsKeys.REQUISITES_SKIPPED_SCOPE) == 2  # app.js, w_400 photo
    assert counted.count(StatsKeys.REQUISITES_SKIPPED_LIMIT) == 3
    # The same page again: what was requested is never asked twice; the rest now fits.
    again = requisites.of_page(page)
    assert [url for url, _ in again] == [
        "https://news.example/section/photo.jpg",
        "https://news.example/section/only-srcset.jpg",
    ]
    assert counted.count(StatsKeys.REQUISITES_SKIPPED_DUPLICATE) == 2
    css = requisites.of_stylesheet("a{background:url(/css/main.css)}", "https://news.example/x")
    assert css == []  # the stylesheet itself, already requested

    everything = Requisites(RequisitePolicy(scope="all"), {"news.example"}, lambda _key: None)
    assert len(everything.of_page(page)) == 7


def test_policy_from_settings() -> None:
    defaults = Settings()
    defaults.setmodule("newsarchive.config.settings")
    assert RequisitePolicy.from_settings(defaults) == RequisitePolicy(30, "same-site")
    off = defaults.copy()
    off.set("ARCHIVE_PAGE_REQUISITES", False)
    assert RequisitePolicy.from_settings(off) is None
    no_archive = defaults.copy()
    no_archive.set("ARCHIVE_ENABLED", False)
    assert RequisitePolicy.from_settings(no_archive) is None
    bad = defaults.copy()
    bad.set("ARCHIVE_REQUISITES_SCOPE", "same-host")
    with pytest.raises(ValueError, match="ARCHIVE_REQUISITES_SCOPE"):
        RequisitePolicy.from_settings(bad)


# --- crawls --------------------------------------------------------------------------------


def _responses(store: Path) -> dict[str, list[tuple[str, bytes]]]:
    """Path -> (record type, payload) of every response and revisit in the store's WARCs."""
    found: dict[str, list[tuple[str, bytes]]] = {}
    for path in sorted(store.glob("warcs/*/*/*.warc.gz")):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type not in ("response", "revisit"):
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI")
                target = "/" + uri.split("/", 3)[3]
                found.setdefault(target, []).append(
                    (record.rec_type, record.content_stream().read())
                )
    return found


def test_demo_crawl_archives_each_requisite_once(demo_crawl: DemoCrawl) -> None:
    assert demo_crawl.result.returncode == 0, demo_crawl.result.stderr
    for path in REQUISITE_PATHS:
        assert demo_crawl.requested_paths.count(path) == 1, path
    responses = _responses(demo_crawl.store)
    for path in REQUISITE_PATHS:
        ((kind, payload),) = responses[path]
        assert kind == "response"
        assert payload == (SITE_ROOT / path.lstrip("/")).read_bytes()
    # Archived only: no text, no metadata record, not an article of the run's package.
    metadata_urls = {str(m["url"]) for m in demo_crawl.metadata()}
    assert not [u for u in metadata_urls if "/static/" in u]


async def _crawl(
    store: Path, site: Any, **extra: Any
) -> tuple[dict[str, Any], list[ArticleCapture]]:
    settings = build_settings(
        str(store),
        None,
        {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "EXTRACT_WORKERS": 0, **extra},
        interactive=False,
    )
    crawler = CrawlerRunner(settings).create_crawler(NewsSpider)
    items: list[ArticleCapture] = []
    crawler.signals.connect(
        lambda item: items.append(item), signal=signals.item_scraped, weak=False
    )
    await crawler.crawl_async(site_config=site)
    assert crawler.stats is not None
    return crawler.stats.get_stats(), items


@contextlib.contextmanager
def _site_copy(tmp_path: Path, edit: Callable[[Path], None]) -> Iterator[DemoSite]:
    """The demo site served from a copy that `edit` changed first."""
    root = tmp_path / "site"
    shutil.copytree(SITE_ROOT, root)
    edit(root)
    with DemoSite(root=root) as site:
        yield site


def _robots_refuse_logo(root: Path) -> None:
    robots = root / "robots.txt"
    robots.write_text(
        robots.read_text(encoding="utf-8").replace(
            "Disallow: /private/", "Disallow: /private/\nDisallow: /static/logo.png"
        ),
        encoding="utf-8",
    )


@pytest.fixture
def own_site(tmp_path: Path) -> Iterator[DemoSite]:
    """A copy of the demo site whose robots.txt keeps crawlers off the logo."""
    with _site_copy(tmp_path, _robots_refuse_logo) as site:
        yield site


@deferred_f_from_coro_f
async def test_requisites_obey_robots_and_stay_out_of_articles_and_seen_store(
    own_site: DemoSite, tmp_path: Path
) -> None:
    site = demo_site_config(own_site.base_url).model_copy(update={"max_articles": 2})
    store = tmp_path / "store"
    stats, items = await _crawl(store, site)
    paths = [r.path for r in own_site.requests]
    assert "/static/logo.png" not in paths
    assert stats["robotstxt/forbidden"] >= 1
    assert paths.count("/static/site.css") == paths.count("/static/rule.png") == 1
    assert stats[StatsKeys.REQUISITES_REQUESTED] == 3  # the logo too, refused by robots.txt
    assert stats[StatsKeys.REQUISITES_FETCHED] == 2
    # The article limit counts articles only, and only articles become items.
    assert stats[StatsKeys.DISCOVERY_ARTICLES] == 2
    assert items
    assert all(i.url.endswith(".html") for i in items)
    article_paths = {a.path for a in DEMO_ARTICLES}
    fetched_articles = {p for p in paths if p in article_paths}
    # Two article requests; one may be a redirecting alias of the other (/world/old-url.html).
    assert 1 <= len(fetched_articles) <= 2
    # Incremental state knows nothing of them: no pending entry, no fetch to revalidate.
    seen = SqliteSeenStore(seen_store_path(store / "state", "demo"))
    try:
        for path in ("/static/site.css", "/static/rule.png", "/static/logo.png"):
            assert seen.get(own_site.url(path)) is None, path
        assert seen.counts()["pending"] == 0
    finally:
        seen.close()


@deferred_f_from_coro_f
async def test_requisites_off(demo_site: DemoSite, tmp_path: Path) -> None:
    site = demo_site_config(demo_site.base_url)
    stats, items = await _crawl(tmp_path / "store", site, ARCHIVE_PAGE_REQUISITES=False)
    assert len(items) == len(DEMO_ARTICLES)
    assert StatsKeys.REQUISITES_REQUESTED not in stats
    assert not [p for p in _responses(tmp_path / "store") if p.startswith("/static/")]


def _illustrate_listings(root: Path) -> None:
    logo = (root / "static" / "logo.png").read_bytes()
    for name in ("home.png", "section.png"):
        # Bytes of their own: a copy of the logo would be archived as a revisit of it.
        (root / "static" / name).write_bytes(logo + name.encode())
    pages = {"index.html": "home.png", "world/index.html": "section.png"}
    pages["business/index.html"] = "section.png"
    for page, image in pages.items():
        path = root / page
        text = path.read_text(encoding="utf-8")
        img = f'<body class="listing-page">\n<img src="{{{{BASE}}}}/static/{image}" alt="">'
        path.write_text(text.replace('<body class="listing-page">', img, 1), encoding="utf-8")


@deferred_f_from_coro_f
async def test_home_and_section_pages_get_their_requisites_once(tmp_path: Path) -> None:
    # The home page has an image of its own; the section pages share one.
    store = tmp_path / "store"
    with _site_copy(tmp_path, _illustrate_listings) as site:
        stats, _items = await _crawl(store, demo_site_config(site.base_url))
    paths = [r.path for r in site.requests]
    # The listings were fetched, and what they use was requested once in the run.
    assert {"/", "/world/", "/business/"} <= set(paths)
    for path in ("/static/home.png", "/static/section.png", "/static/site.css"):
        assert paths.count(path) == 1, path
    responses = _responses(store)
    for name in ("home.png", "section.png"):
        ((kind, payload),) = responses[f"/static/{name}"]
        assert kind == "response"
        assert payload == (tmp_path / "site" / "static" / name).read_bytes()
    assert stats[StatsKeys.REQUISITES_REQUESTED] == len(set(REQUISITE_PATHS)) + 2
