"""The one generic news spider: discovers articles from feeds, sitemaps and section pages.

It only discovers and requests; capture, extraction and storage happen in pipelines/.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, runtime_checkable
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest, UsageError
from scrapy.http import TextResponse

from newsarchive import __version__
from newsarchive.archive.items import ArticleCapture
from newsarchive.config import settings as defaults
from newsarchive.config.options import SITE_SETTING, resolve_site
from newsarchive.config.sites import SiteConfig, SiteConfigError, parse_site
from newsarchive.config.stats import InvalidKind, StatsKeys
from newsarchive.pipelines.downloadermiddlewares.capture import RECORD_META
from newsarchive.pipelines.scaleoutaddon import shared_worker
from newsarchive.pipelines.skips import InvalidInput
from newsarchive.spiders.document import HtmlPage
from newsarchive.spiders.feeds import Entry, JSONLimits, looks_like_feed, parse_feed
from newsarchive.spiders.pages import (
    CANONICAL_HREFS,
    announced_feeds,
    next_page_links,
    page_kind,
    page_links,
)
from newsarchive.spiders.requisites import (
    REQUISITE_META,
    RequisiteKind,
    RequisitePolicy,
    Requisites,
)
from newsarchive.spiders.sitemaps import newest_first, parse_sitemap, sitemaps_from_robots
from newsarchive.spiders.urls import (
    canonicalize,
    join_url,
    looks_like_article_url,
    looks_like_pagination,
    same_site,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from newsarchive.archive.seen import PendingRequest

logger = logging.getLogger(__name__)

#: request.meta keys of this spider's requests (kept in the seen store's pending frontier, so
#: their values never change): an article's canonical URL, the title and date its feed or
#: sitemap announced, the page it was found on; a listing page's number and page limit.
CANONICAL_URL_META: Final = "canonical_url"
HINT_TITLE_META: Final = "hint_title"
HINT_DATE_META: Final = "hint_date"
DISCOVERED_FROM_META: Final = "discovered_from"
SECTION_PAGE_META: Final = "section_page"
SECTION_MAX_PAGES_META: Final = "section_max_pages"
#: How many sitemap indexes lead to a sitemap request (0: configured or from robots.txt).
SITEMAP_DEPTH_META: Final = "sitemap_depth"


def adhoc_site(url: str, **scope: Any) -> SiteConfig:
    """A site config for `crawl --url`: discover from robots.txt, announced feeds and links.

    `scope` holds further site keys (max_articles, max_age_days, allow, deny, contact_url...).
    A URL that names no http(s) page, or a bad value, raises SiteConfigError (exit 2) naming
    the key, not a validation trace.
    """
    canonical = canonicalize(url)
    if canonical is None:
        raise SiteConfigError(f"--url {url[:200]!r}: not an absolute http(s) URL with a host")
    host = urlsplit(canonical).hostname or "site"
    name = re.sub(r"[^a-z0-9-]+", "-", host.lower()).strip("-")[:60] or "site"
    return parse_site({"name": name, "start_urls": [url], **scope}, f"--url {url[:200]!r}")


def user_agent(version: str, contact: str) -> str:
    return f"newsarchive/{version} (+{contact}; news archiving crawler)"


@runtime_checkable
class Frontier(Protocol):
    """What the spider asks of incremental state (pipelines.extensions.seen.SeenState): which
    articles to fetch, which requests a killed run left pending, whether a page changed."""

    def plan_article(self, url: str, announced: datetime | None, meta: dict[str, Any]) -> bool:
        """False: already archived and not due; True: request it (meta may gain keys)."""
        ...

    def plan_page(self, url: str, callback: str, meta: dict[str, Any]) -> None: ...
    def note_announced(self, url: str, announced: datetime | None) -> None: ...
    def resume(self) -> list[PendingRequest]: ...
    def defer(self, url: str, announced: datetime | None, meta: dict[str, Any]) -> None:
        """An article over `max_articles`: remembered for the next runs."""
        ...

    def backlog(self) -> list[PendingRequest]: ...
    def drop_backlog(self, url: str) -> None: ...
    def unchanged(self, response: Response) -> bool: ...
    def page_done(self, response: Response) -> None:
        """Called once a page's links are queued."""
        ...


_PAGE_STATS = {
    "parse_feed": StatsKeys.DISCOVERY_FEEDS,
    "parse_sitemap": StatsKeys.DISCOVERY_SITEMAPS,
    "parse_listing": StatsKeys.DISCOVERY_SECTIONS,
}


class NewsSpider(Spider):
    """Crawl one configured site (`-a site=NAME`) or an ad hoc URL (`-a url=URL`)."""

    name = "news"

    def __init__(self, site: SiteConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.site = site
        self.allow = [re.compile(p) for p in site.allow]
        self.deny = [re.compile(p) for p in site.deny]
        self.hosts = site.hosts
        cutoffs = [datetime.combine(site.since, time(), UTC)] if site.since else []
        if site.max_age_days:
            cutoffs.append(datetime.now(UTC) - timedelta(days=site.max_age_days))
        # Both given: the later one wins, so each limit holds.
        self.cutoff = max(cutoffs, default=None)
        self._seen_articles: set[str] = set()
        self._seen_pages: set[str] = set()
        self._scheduled = 0
        #: Incremental state, when the crawl has it (found among the extensions at start).
        self.frontier: Frontier | None = None
        #: Page requisites to archive with each article; None when ARCHIVE_PAGE_REQUISITES is off.
        self.requisites: Requisites | None = None
        #: True when robots.txt comes from RobotsTxtMiddleware's fetch (robots_parsed signal).
        self.robots_from_middleware = False
        #: Counts and logs site input skipped as invalid (set from the crawler's stats).
        self.invalid = InvalidInput(self._inc)
        # Limits on site input: the project defaults, replaced by the crawl's settings.
        self.json_limits = JSONLimits(defaults.JSON_MAX_DEPTH, defaults.JSON_MAX_BYTES)
        self.sitemap_max_depth = defaults.SITEMAP_MAX_DEPTH
        self.sitemap_max_children = defaults.SITEMAP_MAX_CHILDREN
        self.sitemap_max_bytes = defaults.SITEMAP_MAX_DECOMPRESSED_BYTES
        #: Meta refreshes with a longer delay are page reloads, not redirects (Scrapy's
        #: METAREFRESH_MAXDELAY, read although its middleware is off).
        self.meta_refresh_max_delay = 100.0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        # The site is a setting (NEWSARCHIVE_SITE): spider arguments set it before the
        # settings freeze, so every component reads the same site from the crawl's run.
        site_config = kwargs.pop("site_config", None)
        site_name = kwargs.pop("site", None)
        url = kwargs.pop("url", None)
        given = site_config or (adhoc_site(url) if url else site_name)
        if given:
            crawler.settings.set(SITE_SETTING, given, priority="cmdline")
        site_config = resolve_site(crawler.settings)
        if site_config is None:
            raise UsageError("give -a site=NAME or -a url=URL")
        # Resolved once: the components see the validated config, not the name again.
        crawler.settings.set(
            SITE_SETTING, site_config, priority=crawler.settings.getpriority(SITE_SETTING) or 0
        )
        _apply_site_settings(crawler, site_config)
        spider = super().from_crawler(crawler, site_config, *args, **kwargs)
        settings = crawler.settings
        spider.json_limits = JSONLimits(
            settings.getint("JSON_MAX_DEPTH"), settings.getint("JSON_MAX_BYTES")
        )
        spider.sitemap_max_depth = settings.getint("SITEMAP_MAX_DEPTH")
        spider.sitemap_max_children = settings.getint("SITEMAP_MAX_CHILDREN")
        spider.sitemap_max_bytes = settings.getint("SITEMAP_MAX_DECOMPRESSED_BYTES")
        spider.meta_refresh_max_delay = settings.getfloat("METAREFRESH_MAXDELAY")
        if crawler.settings.getbool("ROBOTSTXT_OBEY") and site_config.robots_sitemaps:
            # RobotsTxtMiddleware fetches robots.txt anyway: read its Sitemap: lines from that
            # fetch rather than asking the site for the same file twice.
            spider.robots_from_middleware = True
            crawler.signals.connect(spider.robots_parsed, signal=signals.robots_parsed)
        policy = RequisitePolicy.from_settings(crawler.settings)
        if policy is not None:
            spider.requisites = Requisites(policy, site_config.hosts, spider._inc)
        return spider

    # --- start -------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        self.frontier = next(
            (e for e in self.crawler.extensions.middlewares if isinstance(e, Frontier)), None
        )
        if shared_worker(self.settings):
            return  # `newsarchive seed` queued the discovery requests (and a killed run's)
        # Read before this run adds its own start pages to the frontier.
        resumed = self.frontier.resume() if self.frontier is not None else []
        # The backlog is taken first: before any page is read, so it counts first against
        # max_articles.
        for request in self._backlogged():
            yield request
        site = self.site
        if site.robots_sitemaps and not self.robots_from_middleware:
            for root in sorted(self._robots_roots()):
                yield Request(f"{root}/robots.txt", callback=self.parse_robots, priority=10)
        for url in site.feeds:
            yield self._page_request(url, self.parse_feed, StatsKeys.DISCOVERY_FEEDS)
        for url in site.sitemaps:
            yield self._page_request(url, self.parse_sitemap, StatsKeys.DISCOVERY_SITEMAPS)
        for section in site.sections:
            yield self._listing_request(section.url, page=1, max_pages=section.max_pages)
        for url in site.start_urls:
            yield self._listing_request(url, page=1, max_pages=1)
        for request in self._resumed(resumed):
            yield request

    def _resumed(self, resumed: list[PendingRequest]) -> Iterable[Request]:
        """Requests a killed run left pending: after the start pages, which may answer 304."""
        for pending in resumed:
            callback = getattr(self, pending.callback, None)
            request = None
            if pending.kind == "article":
                meta = pending.meta
                entry = Entry(
                    url=pending.url, date=pending.announced, title=meta.get(HINT_TITLE_META)
                )
                source = meta.get(DISCOVERED_FROM_META) or "resumed"
                request = self._article_request(entry, source, trusted=True)
            elif callback is not None and pending.callback in _PAGE_STATS:
                stat = _PAGE_STATS[pending.callback]
                request = self._page_request(pending.url, callback, stat, **pending.meta)
            if request is not None:
                yield request

    def _backlogged(self) -> list[Request]:
        """Articles earlier runs found over max_articles, oldest announcement first, up to the
        limit; those archived since, or now older than the age window, leave the backlog."""
        if self.frontier is None:
            return []
        requests = []
        for pending in self.frontier.backlog():
            if self._scheduled >= self.site.max_articles:
                break
            meta = pending.meta
            entry = Entry(url=pending.url, date=pending.announced, title=meta.get(HINT_TITLE_META))
            request = self._article_request(
                entry, meta.get(DISCOVERED_FROM_META) or "backlog", True
            )
            if request is None:
                self.frontier.drop_backlog(pending.url)
                continue
            self._inc(StatsKeys.INCREMENTAL_BACKLOG_TAKEN)
            requests.append(request)
        return requests

    # --- requests ----------------------------------------------------------------------------

    def _page_request(
        self, url: str, callback: Any, stat: str, found_in: str = "", **meta: Any
    ) -> Request | None:
        key = self._canonical(url, found_in)
        if key is None or key in self._seen_pages:
            return None
        self._seen_pages.add(key)
        self._inc(stat)
        if self.frontier is not None:
            self.frontier.plan_page(key, callback.__name__, meta)
        return Request(key, callback=callback, meta=meta, priority=5)

    def _listing_request(self, url: str, page: int, max_pages: int) -> Request | None:
        meta: dict[str, Any] = {SECTION_PAGE_META: page, SECTION_MAX_PAGES_META: max_pages}
        return self._page_request(url, self.parse_listing, StatsKeys.DISCOVERY_SECTIONS, **meta)

    def _canonical(self, url: str, found_in: str) -> str | None:
        """canonicalize(), counting and logging (once) what names no http(s) page."""
        canonical = canonicalize(url)
        if canonical is None:
            self.invalid.skip(InvalidKind.URL, found_in or url, f"not an http(s) URL: {url!r}")
        return canonical

    def _matches(self, patterns: list[re.Pattern[str]], url: str) -> bool:
        return any(p.search(url) for p in patterns)

    def _article_request(self, entry: Entry, source: str, trusted: bool) -> Request | None:
        """A request for a candidate article, or None (counted) when it is not to be fetched.

        `trusted` candidates (feeds, news sitemaps) are articles by announcement; others must
        match `allow`, or look like articles by URL when the site gives no `allow`.
        """
        url = self._canonical(entry.url, source)
        if url is None or not same_site(url, self.hosts) or self._matches(self.deny, url):
            return None
        if self.allow:
            if not self._matches(self.allow, url):
                self._inc(StatsKeys.DISCOVERY_NOT_ARTICLE)
                return None
        elif not trusted and not looks_like_article_url(url):
            return None
        if url in self._seen_articles:
            self._inc(StatsKeys.DISCOVERY_SKIPPED_DUPLICATE)
            if self.frontier is not None:
                self.frontier.note_announced(url, entry.date)
            return None
        if self.cutoff and _older_than(entry.date, url, self.cutoff):
            self._seen_articles.add(url)
            self._inc(StatsKeys.DISCOVERY_SKIPPED_AGE)
            return None
        meta = {
            CANONICAL_URL_META: url,
            HINT_TITLE_META: entry.title,
            HINT_DATE_META: entry.date.isoformat() if entry.date else None,
            DISCOVERED_FROM_META: source,
        }
        if self._scheduled >= self.site.max_articles:
            self._seen_articles.add(url)
            self._inc(StatsKeys.DISCOVERY_SKIPPED_LIMIT)
            if self.frontier is not None:
                self.frontier.defer(url, entry.date, meta)
            return None
        # Archived articles are skipped before the limit counts them, unless due again. A
        # skipped one is not marked seen: another feed or sitemap may announce it newer.
        if self.frontier is not None and not self.frontier.plan_article(url, entry.date, meta):
            return None
        self._seen_articles.add(url)
        self._scheduled += 1
        self._inc(StatsKeys.DISCOVERY_ARTICLES)
        return Request(url, callback=self.parse_article, meta=meta)

    def _articles(self, entries: Iterable[Entry], source: str, trusted: bool) -> Iterator[Request]:
        for entry in entries:
            request = self._article_request(entry, source, trusted)
            if request is not None:
                yield request

    # --- callbacks ---------------------------------------------------------------------------

    def _robots_roots(self) -> set[str]:
        site = self.site
        urls = [*site.start_urls, *(s.url for s in site.sections), *site.feeds]
        return {root for root in map(_root, urls) if root is not None}

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        """Queue the sitemaps a start host's robots.txt announces, from Scrapy's own fetch."""
        root = _root(request.url)
        if root is None or root not in self._robots_roots():
            return
        # Protego (Scrapy's default parser) keeps the Sitemap: lines; other parsers may not,
        # and then robots.txt is read once more, by the spider.
        sitemaps = getattr(getattr(robotparser, "rp", None), "sitemaps", None)
        requests: list[Request | None]
        if sitemaps is None:
            requests = [Request(f"{root}/robots.txt", callback=self.parse_robots, priority=10)]
        else:
            robots = f"{root}/robots.txt"
            # Protego keeps Sitemap: values as written: a relative one resolves against robots.txt.
            requests = [
                self._page_request(
                    join_url(robots, url),
                    self.parse_sitemap,
                    StatsKeys.DISCOVERY_SITEMAPS,
                    found_in=robots,
                )
                for url in sitemaps
            ]
        assert self.crawler.engine is not None
        for new in requests:
            if new is not None:
                self.crawler.engine.crawl(new)

    def parse_robots(self, response: Response) -> Iterable[Request]:
        if response.status != 200:
            return []
        requests = []
        for url in sitemaps_from_robots(response.body, response.url):
            request = self._page_request(
                url, self.parse_sitemap, StatsKeys.DISCOVERY_SITEMAPS, found_in=response.url
            )
            if request is not None:
                requests.append(request)
        return requests

    def _page_done(self, response: Response) -> None:
        if self.frontier is not None:
            self.frontier.page_done(response)

    def parse_feed(self, response: Response) -> Iterable[Request]:
        # A 304 (or any error) has no links: what it listed last time is already known.
        if response.status != 200:
            return []
        entries = parse_feed(
            response.body, response.url, self._on_invalid(response.url), self.json_limits
        )
        requests = list(self._articles(entries, response.url, trusted=True))
        self._page_done(response)
        return requests

    def _on_invalid(self, url: str) -> Any:
        def skip(kind: InvalidKind, reason: str) -> None:
            self.invalid.skip(kind, url, reason)

        return skip

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        if response.status != 200:
            return
        sitemap = parse_sitemap(
            response.body, self.sitemap_max_bytes, response.url, self._on_invalid(response.url)
        )
        yield from self._child_sitemaps(response, sitemap.sitemaps)
        # One request at a time, into the scheduler's disk queue: a sitemap lists up to 50,000
        # URLs and a run's sitemaps are scraped side by side, so as lists every request of every
        # sitemap would be alive at once (bench/crawl.py: 20,000 articles, 40 MB of the crawl
        # process). The page is done, and its validators kept, once all its links are queued.
        yield from self._articles(sitemap.entries, response.url, trusted=sitemap.is_news)
        self._page_done(response)

    def _child_sitemaps(self, response: Response, children: list[Entry]) -> list[Request]:
        """Requests for an index's same-site children, within the depth and fan-out limits."""
        children = [c for c in children if same_site(c.url, self.hosts)]
        if not children:
            return []
        depth = int(response.meta.get(SITEMAP_DEPTH_META, 0)) + 1
        if depth > self.sitemap_max_depth:
            for _ in children:
                self.invalid.skip(
                    InvalidKind.SITEMAP_DEPTH,
                    response.url,
                    f"index nested past SITEMAP_MAX_DEPTH {self.sitemap_max_depth}",
                )
            return []
        kept, left_out = newest_first(children, self.sitemap_max_children)
        for _ in range(left_out):
            self.invalid.skip(
                InvalidKind.SITEMAP_CHILDREN,
                response.url,
                f"{len(children)} child sitemaps, only the newest "
                f"SITEMAP_MAX_CHILDREN {self.sitemap_max_children} fetched",
            )
        requests = []
        meta: dict[str, Any] = {SITEMAP_DEPTH_META: depth}
        for child in kept:
            request = self._page_request(
                child.url,
                self.parse_sitemap,
                StatsKeys.DISCOVERY_SITEMAPS,
                found_in=response.url,
                **meta,
            )
            if request is not None:
                requests.append(request)
        return requests

    def _meta_refresh(self, page: HtmlPage) -> str | None:
        """The canonical URL a page's meta refresh sends to, when it is a redirect: soon enough
        and to another URL (a self-refresh only reloads the page, which is kept as it is)."""
        try:
            delay, target = page.meta_refresh()
        except ValueError:  # a target urljoin cannot parse
            delay, target = 0.0, "(unparsable)"
        if target is None or delay is None or delay > self.meta_refresh_max_delay:
            return None
        canonical = self._canonical(target, page.url)
        if canonical is None or canonical == canonicalize(page.url):
            return None
        self._inc(StatsKeys.DISCOVERY_META_REFRESH)
        return canonical

    def parse_listing(self, response: Response) -> Iterable[Request]:
        if response.status != 200 or not isinstance(response, TextResponse):
            return []
        if looks_like_feed(response.body):
            return self.parse_feed(response)
        requests: list[Request] = []
        page = int(response.meta.get(SECTION_PAGE_META, 1))
        max_pages = int(response.meta.get(SECTION_MAX_PAGES_META, 1))
        html = HtmlPage.of(response)
        refresh = self._meta_refresh(html)
        if refresh is not None:
            # A listing page standing in for another: read that one instead, as this page.
            if same_site(refresh, self.hosts):
                request = self._listing_request(refresh, page, max_pages)
                if request is not None:
                    requests.append(request)
            self._page_done(response)
            return requests
        if not self.site.feeds:
            for feed in announced_feeds(html):
                if same_site(feed, self.hosts):
                    request = self._page_request(
                        feed, self.parse_feed, StatsKeys.DISCOVERY_FEEDS, found_in=response.url
                    )
                    if request is not None:
                        requests.append(request)
        next_pages = {canonicalize(link) for link in next_page_links(html)}
        candidates = []
        for link in page_links(html):
            url = self._canonical(link, response.url)
            if url is None or not same_site(url, self.hosts) or self._matches(self.deny, url):
                continue
            if url in next_pages or (looks_like_pagination(url) and not self.allow):
                if page < max_pages:
                    request = self._listing_request(url, page + 1, max_pages)
                    if request is not None:
                        requests.append(request)
                continue
            candidates.append(Entry(url=url))
        requests.extend(self._articles(candidates, response.url, trusted=False))
        # Home and section pages replay with their images and styles too.
        requests.extend(self._requisite_requests(html))
        self._page_done(response)
        return requests

    def parse_article(self, response: Response) -> list[ArticleCapture | Request]:
        # A list, not a generator: the page's tree is gone when this returns, however long
        # Scrapy keeps the response while the item is extracted and stored.
        if self.frontier is not None and self.frontier.unchanged(response):
            # 304, or the archived payload again: no new capture, so no new text version.
            return []
        if response.status != 200:
            self._inc(f"discovery/article_status/{response.status}")
            return []
        if not isinstance(response, TextResponse):
            self._inc(StatsKeys.DISCOVERY_NOT_ARTICLE)
            return []
        page = HtmlPage.of(response)
        if page_kind(page) == "listing" and not self._matches(self.allow, response.url):
            self._inc(StatsKeys.DISCOVERY_NOT_ARTICLE)
            return []
        meta = response.meta
        refresh = self._meta_refresh(page)
        if refresh is not None:
            # The page only sends the reader elsewhere: that page is judged on its own, as a
            # link found here, and nothing is stored under this URL (the exchange is archived).
            entry = Entry(url=refresh, title=meta.get(HINT_TITLE_META))
            request = self._article_request(entry, response.url, trusted=True)
            return [request] if request is not None else []
        declared = next(iter(page.select(CANONICAL_HREFS)), None)
        if declared:
            page_canonical = canonicalize(join_url(response.url, declared.strip()))
            requested = meta.get(CANONICAL_URL_META)
            if (
                page_canonical is not None
                and page_canonical != requested
                and same_site(page_canonical, self.hosts)
            ):
                # Two URLs, one article (a tracking variant, an alias): keep the first capture.
                if page_canonical in self._seen_articles:
                    self._inc(StatsKeys.DISCOVERY_SKIPPED_DUPLICATE)
                    return []
                self._seen_articles.add(page_canonical)
        warc = meta.get(RECORD_META)
        out: list[ArticleCapture | Request] = [
            ArticleCapture(
                site=self.site.name,
                url=response.url,
                canonical_url=meta.get(CANONICAL_URL_META)
                or canonicalize(response.url)
                or response.url,
                status=response.status,
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, values in response.headers.items()
                    for v in values
                ],
                body=response.body,
                fetched_at=warc.date if warc is not None else datetime.now(UTC).isoformat(),
                warc=warc,
                hint_title=meta.get(HINT_TITLE_META),
                hint_date=meta.get(HINT_DATE_META),
                discovered_from=meta.get(DISCOVERED_FROM_META),
            )
        ]
        out.extend(self._requisite_requests(page))
        return out

    # --- page requisites ---------------------------------------------------------------------

    def _requisite_requests(self, page: HtmlPage) -> list[Request]:
        """Requests for what an archived HTML page needs to replay styled (none if off)."""
        if self.requisites is None:
            return []
        return [
            self._requisite_request(url, kind, page.url)
            for url, kind in self.requisites.of_page(page)
        ]

    def _requisite_request(self, url: str, kind: RequisiteKind, source: str) -> Request:
        # No frontier call and no tracking meta: requisites stay out of the seen store, and the
        # site's article limit does not count them. Robots.txt applies as to any request.
        return Request(
            url,
            callback=self.parse_requisite,
            errback=self.requisite_failed,
            meta={REQUISITE_META: kind.value, DISCOVERED_FROM_META: source},
        )

    def parse_requisite(self, response: Response) -> Iterable[Request]:
        """Archived already (capture middleware); a page's stylesheet is read for its url()s."""
        if response.status != 200:
            self._inc(f"{StatsKeys.REQUISITES_STATUS}/{response.status}")
            return []
        self._inc(StatsKeys.REQUISITES_FETCHED)
        if self.requisites is None or response.meta.get(REQUISITE_META) != RequisiteKind.STYLESHEET:
            return []
        content_type = (response.headers.get(b"Content-Type") or b"text/css").decode("latin-1")
        if not content_type.lower().startswith("text/css"):
            return []
        text = (
            response.text
            if isinstance(response, TextResponse)
            else response.body.decode("utf-8", "replace")
        )
        return [
            self._requisite_request(url, kind, response.url)
            for url, kind in self.requisites.of_stylesheet(text, response.url)
        ]

    def requisite_failed(self, failure: Failure) -> None:
        if isinstance(failure.value, IgnoreRequest):
            return  # robots.txt said no (Scrapy counts it), or a ban stopped the run
        request = getattr(failure, "request", None)
        self._inc(f"{StatsKeys.REQUISITES_FAILED}/{type(failure.value).__name__}")
        logger.warning(
            "Could not fetch page requisite %s: %s", getattr(request, "url", "?"), failure.value
        )

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)


def _root(url: str) -> str | None:
    """scheme://host[:port] of a URL, in canonical form (an IDN host as Scrapy requests it)."""
    canonical = canonicalize(url)
    if canonical is None:
        return None
    parts = urlsplit(canonical)
    return f"{parts.scheme}://{parts.netloc}"


_URL_DATE = re.compile(r"/((?:19|20)\d{2})/(?:(0?[1-9]|1[0-2])/)?")


def _older_than(date: datetime | None, url: str, cutoff: datetime) -> bool:
    """True when the announced date, or failing it a /YYYY/[MM/] in the URL, is before cutoff."""
    if date is not None:
        return date < cutoff
    match = _URL_DATE.search(urlsplit(url).path)
    if not match:
        return False
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else 12
    # The last moment the URL's period covers: only a wholly older period is skipped.
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return end < cutoff


def _apply_site_settings(crawler: Crawler, site: SiteConfig) -> None:
    """Per-site politeness and the user agent, set before the settings freeze."""
    settings = crawler.settings
    contact = site.contact_url or settings.get("NEWSARCHIVE_CONTACT_URL")
    if settings.getpriority("USER_AGENT") in (None, 0, 10, 20):
        settings.set("USER_AGENT", user_agent(__version__, contact), priority="spider")
    polite = site.politeness
    if polite.download_delay is not None:
        settings.set("DOWNLOAD_DELAY", polite.download_delay, priority="spider")
    if polite.concurrent_requests is not None:
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", polite.concurrent_requests, "spider")
    if polite.autothrottle_target_concurrency is not None:
        settings.set(
            "AUTOTHROTTLE_TARGET_CONCURRENCY", polite.autothrottle_target_concurrency, "spider"
        )
