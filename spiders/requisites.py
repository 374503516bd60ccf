"""Page requisites: the stylesheets, scripts, images and icons an archived HTML page (an article,
the home page, a section page) needs to replay styled.

This module finds them (in the HTML, and one level down in its stylesheets) and
decides which to request: each URL once per run, within the configured scope and a per-page
cap. The spider turns them into requests; the capture middleware archives the answers like
any other. Requisites are never extracted, never articles or listings, and never enter the
seen store (their requests carry no ``newsarchive_track`` meta, so incremental runs ignore
them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Self
from urllib.parse import urldefrag, urljoin, urlsplit

from newsarchive.config.stats import StatsKeys
from newsarchive.spiders.document import xpath
from newsarchive.spiders.urls import same_site

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from scrapy.settings import BaseSettings

    from newsarchive.spiders.document import HtmlPage

#: request.meta key of a requisite request; its value is the `RequisiteKind` that referred to it.
REQUISITE_META: Final = "newsarchive_requisite"
SCOPES: Final = ("same-site", "all")


class RequisiteKind(StrEnum):
    STYLESHEET = "stylesheet"  # <link rel=stylesheet>: read for the url()s it refers to
    SCRIPT = "script"
    IMAGE = "image"
    ICON = "icon"
    #: url(...) or @import in a page's stylesheet; not read further (one level only).
    CSS_URL = "css-url"


#: Order of requests under the per-page cap: what a replayed page misses most first.
_ORDER: Final = (
    RequisiteKind.STYLESHEET,
    RequisiteKind.SCRIPT,
    RequisiteKind.IMAGE,
    RequisiteKind.ICON,
)
_CSS_COMMENT: Final = re.compile(r"/\*.*?\*/", re.DOTALL)
_CSS_URL: Final = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)"'\s]*))\s*\)""", re.IGNORECASE)
_CSS_IMPORT: Final = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
#: HTML's srcset parsing: a candidate's URL is a run of non-whitespace, trailing commas cut.
_SRCSET_FIRST: Final = re.compile(r"[\s,]*(\S+)")
_LINKS: Final = xpath("//link[@href]")
_SCRIPT_SRCS: Final = xpath("//script/@src")
_IMAGES: Final = xpath("//img")


@dataclass(frozen=True, slots=True)
class RequisitePolicy:
    """What to fetch. Settings: ARCHIVE_PAGE_REQUISITES, ARCHIVE_REQUISITES_MAX_PER_PAGE,
    ARCHIVE_REQUISITES_SCOPE (and ARCHIVE_ENABLED: requisites are only worth archiving)."""

    max_per_page: int = 30
    scope: str = "same-site"

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"ARCHIVE_REQUISITES_SCOPE must be one of {SCOPES}: {self.scope!r}")
        if self.max_per_page < 0:
            raise ValueError(f"ARCHIVE_REQUISITES_MAX_PER_PAGE must be >= 0: {self.max_per_page}")

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self | None:
        """The policy, or None when requisites are off; a bad value fails at start-up."""
        if not settings.getbool("ARCHIVE_PAGE_REQUISITES") or not settings.getbool(
            "ARCHIVE_ENABLED"
        ):
            return None
        return cls(
            max_per_page=settings.getint("ARCHIVE_REQUISITES_MAX_PER_PAGE"),
            scope=str(settings.get("ARCHIVE_REQUISITES_SCOPE")),
        )


def first_srcset_candidate(srcset: str) -> str | None:
    match = _SRCSET_FIRST.match(srcset)
    url = match.group(1).rstrip(",") if match else ""
    return url or None


def html_requisites(page: HtmlPage) -> list[tuple[str, RequisiteKind]]:
    """Absolute URLs of an HTML page's requisites, by kind (see `_ORDER`), in document order."""
    found: dict[RequisiteKind, list[str]] = {kind: [] for kind in _ORDER}
    for link in page.elements(_LINKS):
        rel = set((link.get("rel") or "").lower().split())
        if "stylesheet" in rel:
            found[RequisiteKind.STYLESHEET].append(link.get("href") or "")
        elif "icon" in rel:
            found[RequisiteKind.ICON].append(link.get("href") or "")
    found[RequisiteKind.SCRIPT] += page.select(_SCRIPT_SRCS)
    for img in page.elements(_IMAGES):
        # The src fallback and the first srcset candidate: what a browser at 1x would load.
        src = img.get("src")
        if src:
            found[RequisiteKind.IMAGE].append(src)
        candidate = first_srcset_candidate(img.get("srcset") or "")
        if candidate:
            found[RequisiteKind.IMAGE].append(candidate)
    base = page.base_url  # <base href> honoured, as response.urljoin does
    return [
        (url, kind)
        for kind in _ORDER
        for ref in found[kind]
        if (url := _absolute(lambda ref: urljoin(base, ref), ref)) is not None
    ]


def css_requisites(text: str, base_url: str) -> list[str]:
    """Absolute URLs a stylesheet refers to (url(...) and @import), in order."""
    text = _CSS_COMMENT.sub("", text)
    refs = [next(g for g in m.groups() if g is not None) for m in _CSS_IMPORT.finditer(text)]
    refs += [next(g for g in m.groups() if g is not None) for m in _CSS_URL.finditer(text)]
    urls = (_absolute(lambda ref: urljoin(base_url, ref), ref) for ref in refs)
    return [url for url in urls if url is not None]


def _absolute(join: Callable[[str], str], ref: str) -> str | None:
    """An http(s) URL without its fragment, or None (data:, javascript:, #id, empty)."""
    ref = ref.strip()
    if not ref or ref.startswith("#"):
        return None
    url = urldefrag(join(ref)).url
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    return url


class Requisites:
    """The requisites to request for each page of one run: each URL once, in scope, capped.

    `count` takes a stats key (the spider's stats counter).
    """

    def __init__(
        self, policy: RequisitePolicy, hosts: set[str], count: Callable[[str], None]
    ) -> None:
        self.policy = policy
        self.hosts = hosts
        self.count = count
        self._requested: set[str] = set()

    def of_page(self, page: HtmlPage) -> list[tuple[str, RequisiteKind]]:
        return self.select(page.url, html_requisites(page))

    def of_stylesheet(self, text: str, url: str) -> list[tuple[str, RequisiteKind]]:
        return self.select(url, [(u, RequisiteKind.CSS_URL) for u in css_requisites(text, url)])

    def select(
        self, page_url: str, found: Iterable[tuple[str, RequisiteKind]]
    ) -> list[tuple[str, RequisiteKind]]:
        """Those of `found` not requested yet this run, in scope, up to the per-page cap."""
        wanted: list[tuple[str, RequisiteKind]] = []
        for url, kind in found:
            if url in self._requested or url == page_url:
                self.count(StatsKeys.REQUISITES_SKIPPED_DUPLICATE)
            elif self.policy.scope == "same-site" and not same_site(url, self.hosts):
                self.count(StatsKeys.REQUISITES_SKIPPED_SCOPE)
            elif len(wanted) >= self.policy.max_per_page:
                self.count(StatsKeys.REQUISITES_SKIPPED_LIMIT)
            else:
                self._requested.add(url)
                wanted.append((url, kind))
                self.count(StatsKeys.REQUISITES_REQUESTED)
        return wanted
