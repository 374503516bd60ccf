"""The article extractor: trafilatura plus generic rules, from decoded HTML to an `Article`."""

from __future__ import annotations

import logging
import re
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from functools import cache, lru_cache, partial
from typing import TYPE_CHECKING, Any

from lxml import etree
from lxml.html import HtmlElement
from trafilatura.core import bare_extraction
from trafilatura.external import SANITIZED_XPATH
from trafilatura.settings import Extractor, set_date_params
from trafilatura.utils import load_html

from newsarchive.config.logfilters import demote_errors
from newsarchive.extraction import metadata as meta
from newsarchive.extraction.combine import is_link_line, page_links, refine
from newsarchive.extraction.ensemble import (
    add_missed_blocks,
    recall_text,
    share_in,
    shingles,
    with_lead,
)
from newsarchive.extraction.layout import unwrap_layout_tables
from newsarchive.extraction.members import readability_text
from newsarchive.extraction.pagemeta import PageMetadata
from newsarchive.extraction.rules import clean_lines
from newsarchive.extraction.version import EXTRACTOR_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["EXTRACTOR_VERSION", "Article", "ArticleExtractor"]

logger = logging.getLogger(__name__)
# trafilatura logs a page it cannot parse (empty, binary, too small) at ERROR: one bad page.
# Set at import, so extraction worker processes have it too.
demote_errors("trafilatura.utils", "trafilatura.core")


_WORD_RE = re.compile(r"\w+")
# When the precision pass returns less than this share of the balanced pass's words, precision
# mode has cut real paragraphs (seen on pages whose body is split by embeds or teaser boxes),
# so the balanced text is used. Tuned on the dev set: 0.5-0.7 give the same result.
PRECISION_KEEP_RATIO = 0.6
# ... but only short precision outputs are checked: on the dev set every page where precision
# mode lost paragraphs returned under 300 words, and the second pass costs as much as the first.
SECOND_PASS_MAX_WORDS = 400
# ... and only where it also holds less than this share of resiliparse's (recall) words and
# less than this share of its 4-word shingles (resiliparse's text is computed anyway): where
# precision already has most of that text, the balanced text won by adding boilerplate (raw
# F1 0.96 -> 0.35 on some Dragnet pages). Tuned on the tuning halves (0.4-0.6 and 0.8-any
# compared): the second pass runs on 5 % of pages instead of 47 %, F1 +0.002 on dev2.
SECOND_PASS_MAX_WIDE_SHARE = 0.8
SECOND_PASS_MAX_COVERAGE = 0.5
# Bodies shorter than this (words) after cleaning are a teaser in front of a paywall, a
# video page or an extraction failure.
MIN_BODY_WORDS = 80
# The language of a page that declares none is detected on this much of its text: 2,000
# characters decide as 5,000 did on all but one of the dev pages, at half the cost.
LANGUAGE_SAMPLE_CHARS = 2000
# trafilatura's own cascade compares its text with readability's and jusText's on every page
# (about 5 ms on a page with a few hundred links, more than its own extraction), yet keeps its
# text on 93 % of the dev pages. Its first pass runs alone (`fast`), and the whole cascade
# only where it could change the result: the text is short, has no paragraphs, is mostly
# tables or still holds page chrome (the conditions trafilatura itself checks), or resiliparse
# finds this many times more words (readability replaces a text half its length).
COMPARE_WIDE_RATIO = 2.0
# ... or the text is shorter than this (characters): a first pass whose main stage finds little
# recovers loose paragraphs, teasers included, and such texts stayed under 1,500 characters on
# the tuning halves. With it the cascade runs on a third of the dev pages and catches every
# page where it changes the text (2,000-char texts and longer run the first pass only).
COMPARE_MAX_CHARS = 1500
# ... unless readability's article and the short text match both ways (this share of each one's
# 4-word shingles is in the other): the cascade compares its text with readability's and
# jusText's, and kept every such text on the tuning halves (half the short texts; 0.9 skips two
# thirds, also with no change). readability costs a quarter of the cascade.
READABILITY_AGREES = 0.95
# readability's article replaces trafilatura's text only when that is this short (words) ...
READABILITY_TRIGGER_WORDS = 150
# ... and replaces it when it finds this many times more words.
READABILITY_GAIN = 3.0
# ... when resiliparse (comments left out) finds at least this share of its words: readability
# keeps reader comments, so a short post under a long thread came back as the thread. Tuned on
# the tuning halves: 0.3-0.9 change the same two pages, 1.0-2.0 none more; 1.0 lets the check
# below skip readability on 3x more words instead of 1.5x (29 % fewer readability runs).
READABILITY_CONFIRMED = 1.0


@dataclass(frozen=True, slots=True)
class Article:
    text: str
    title: str | None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None
    language: str | None = None
    site_name: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    canonical_url: str | None = None
    word_count: int = 0
    paywalled: bool = False
    #: The page's <title> as written: site-level learning finds the site's title affixes in it.
    page_title: str | None = None
    #: The JSON-LD articleBody, if any: site-level learning never removes a block of it.
    #: Not stored (extract_document moves it out of the metadata).
    jsonld_body: str | None = field(default=None, repr=False)
    extractor_version: str = EXTRACTOR_VERSION

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# The cascade weighs the same texts (its own, resiliparse's) several times per page.
@lru_cache(maxsize=8)
def _word_count(text: str) -> int:
    return len(_WORD_RE.findall(text))


class ArticleExtractor:
    """Extract one article per page; thread-safe, build once and reuse (options are shared)."""

    def __init__(
        self,
        *,
        favor_precision: bool = True,
        include_comments: bool = False,
        readability_fallback: bool = True,
        ensemble: bool = True,
        language_hint: str | None = None,
        body_xpath: str | None = None,
        drop_xpaths: Sequence[str] = (),
        title_source: str = "auto",
        site_names: Sequence[str] = (),
    ) -> None:
        self.favor_precision = favor_precision
        self.include_comments = include_comments
        self.readability_fallback = readability_fallback
        self.ensemble = ensemble
        self.language_hint = language_hint
        self.body_xpath = etree.XPath(body_xpath) if body_xpath else None
        self.drop_xpaths = [etree.XPath(x) for x in drop_xpaths]
        if title_source not in meta.TITLE_SOURCES:
            raise ValueError(f"title_source must be one of {meta.TITLE_SOURCES}: {title_source!r}")
        self.title_source = title_source
        self.site_names = tuple(site_names)
        # Built once: Extractor reads settings.cfg and date params on construction.
        self._options = Extractor(
            output_format="python",
            precision=favor_precision,
            comments=include_comments,
            tables=True,
        )
        self._first_options = Extractor(
            output_format="python",
            fast=True,
            precision=favor_precision,
            comments=include_comments,
            tables=True,
        )
        self._balanced_options = Extractor(
            output_format="python", comments=include_comments, tables=True
        )
        # A human-chosen body region is trusted: keep everything trafilatura finds in it.
        self._region_options = Extractor(
            output_format="python", recall=True, comments=include_comments, tables=True
        )
        self._date_params = set_date_params(extensive=False)

    def extract(self, html: str, url: str | None = None) -> Article | None:
        """Article from decoded HTML, or None when the page has no article text at all."""
        tree = load_html(html)
        if tree is None:
            return None
        now = meta.utc_now()
        jsonld = meta.jsonld_objects(tree)
        page_meta = PageMetadata(tree, url, self._date_params)
        doc = page_meta.document
        for xpath in self.drop_xpaths:
            for node in xpath(tree):
                if isinstance(node, HtmlElement) and node.getparent() is not None:
                    node.drop_tree()
        wide = recall_text(html) if self.ensemble else ""
        # run once at most, and only where a check needs it: it costs a third of trafilatura
        readability = cache(partial(readability_text, html))
        text = self._body_text(tree, wide, url, readability)
        # read before the author search prunes the tree
        links = page_links(tree) if self.ensemble and self.body_xpath is None else None
        if links is not None:
            text = refine(
                text, links, lambda source: self._run_html(source, url), readability, wide
            )
            text = with_lead(text, doc.description, wide)
        if not text:
            return None

        site_names = [
            s
            for s in (
                *self.site_names,
                doc.sitename,
                *self._publisher_names(jsonld),
                *meta.domain_names(url),
            )
            if s
        ]
        raw_title = " ".join(str(tree.xpath("string(//head/title)")).split()) or None
        title = meta.title_from(
            self.title_source, tree, jsonld, raw_title, site_names
        ) or meta.headline(tree, jsonld, raw_title or doc.title, site_names, url)
        titles = [t for t in (title, doc.title, *self._headings(tree)) if t]
        published, modified = meta.find_dates(tree, jsonld, now)
        if published is None:
            published = meta.clean_date(page_meta.date(), now)
        language = self.language_hint or meta.html_language(tree, jsonld)
        canonical_url = meta.canonical_url(tree) or url
        # last: the page's own author search prunes the tree
        authors = meta.jsonld_authors(jsonld)
        if not authors:
            author = page_meta.author()
            authors = meta.split_authors(author.split(";") if author else None)
        lines, paywall_notice = clean_lines(
            text.split("\n"),
            titles=titles,
            authors=authors,
            comments=self.include_comments,
            is_link=None if links is None else partial(is_link_line, links=links),
        )
        body = "\n".join(lines)
        if not body:
            return None
        words = _word_count(body)
        return Article(
            text=body,
            title=title,
            authors=authors,
            published=published,
            modified=modified,
            language=language or _detect_language(body),
            site_name=doc.sitename,
            description=doc.description,
            tags=_dedupe([*(doc.tags or []), *(doc.categories or [])]),
            image=doc.image,
            canonical_url=canonical_url,
            word_count=words,
            paywalled=paywall_notice or words < MIN_BODY_WORDS,
            page_title=raw_title,
            jsonld_body=next(
                (str(n["articleBody"]) for n in jsonld if isinstance(n.get("articleBody"), str)),
                None,
            ),
        )

    def _run(self, tree: HtmlElement, options: Extractor, url: str | None) -> str:
        return self._extract(tree, options, url)[0]

    @staticmethod
    def _extract(
        tree: HtmlElement, options: Extractor, url: str | None
    ) -> tuple[str, etree._Element | None]:
        """trafilatura's text and its body element (None when it found nothing)."""
        document: Any = bare_extraction(tree, url=url, options=options)
        if document is None:
            return "", None
        return str(document.text or ""), document.body

    def _first_pass(
        self, tree: HtmlElement, wide: str, url: str | None, readability: Callable[[], str]
    ) -> str:
        """trafilatura's text, its comparison with other extractors run only where it may matter."""
        text, body = self._extract(tree, self._first_options, url)
        if (
            not wide
            or body is None
            or not body.xpath(".//p//text()")
            or len(body.findall(".//table")) > len(body.findall(".//p"))
            or body.xpath(SANITIZED_XPATH)
            or _word_count(wide) > COMPARE_WIDE_RATIO * _word_count(text)
            or (len(text) < COMPARE_MAX_CHARS and not _agree(text, readability()))
        ):
            return self._run(tree, self._options, url)
        return text

    def _run_html(self, html: str, url: str | None) -> str:
        tree = load_html(html)
        return "" if tree is None else self._run(tree, self._options, url)

    def _body_text(
        self,
        tree: HtmlElement,
        wide: str,
        url: str | None,
        readability: Callable[[], str],
    ) -> str:
        if self.body_xpath is not None:
            region = self._region(tree)
            if region is not None:
                return self._run(region, self._region_options, url)
            logger.debug("body_xpath matched nothing on %s, using the whole page", url)
        unwrap_layout_tables(tree)
        text = self._first_pass(tree, wide, url, readability)
        words = _word_count(text)
        if (
            self.favor_precision
            and words < SECOND_PASS_MAX_WORDS
            and (
                not wide
                or (
                    words < SECOND_PASS_MAX_WIDE_SHARE * _word_count(wide)
                    and share_in(shingles(wide), shingles(text)) < SECOND_PASS_MAX_COVERAGE
                )
            )
        ):
            balanced = self._run(tree, self._balanced_options, url)
            if words < PRECISION_KEEP_RATIO * _word_count(balanced):
                text, words = balanced, _word_count(balanced)
        # readability is not run where resiliparse's words could not confirm a fallback that
        # wins: those would be at least READABILITY_CONFIRMED * READABILITY_GAIN * words
        if (
            self.readability_fallback
            and words < READABILITY_TRIGGER_WORDS
            and (
                not wide
                or _word_count(wide) > READABILITY_CONFIRMED * READABILITY_GAIN * max(words, 1)
            )
        ):
            fallback = readability()
            gain = _word_count(fallback)
            if gain > READABILITY_GAIN * max(words, 1) and (
                not wide or _word_count(wide) >= READABILITY_CONFIRMED * gain
            ):
                return fallback
        if self.ensemble:
            text, _added = add_missed_blocks(readability, text, wide)
        return text

    def _region(self, tree: HtmlElement) -> HtmlElement | None:
        assert self.body_xpath is not None
        nodes = [n for n in self.body_xpath(tree) if isinstance(n, HtmlElement)]
        if not nodes:
            return None
        page = load_html("<html><head></head><body></body></html>")
        assert page is not None
        body = page.find("body")
        assert body is not None
        for node in nodes:
            body.append(deepcopy(node))
        return page

    @staticmethod
    def _publisher_names(jsonld: Sequence[dict[str, Any]]) -> list[str]:
        names: list[str] = []
        for node in jsonld:
            publisher = node.get("publisher")
            if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
                names.append(publisher["name"])
        return names

    @staticmethod
    def _headings(tree: HtmlElement) -> list[str]:
        values = [str(v) for v in tree.xpath('//meta[@property="og:title"]/@content')]
        values.extend(h.text_content() for h in tree.xpath("//h1")[:2])
        return values


def load_language_model() -> None:
    """Load the language model now (about 0.5 s and 75 MB) rather than on the first page that
    declares no language: for measurements, which should not bill it to that page. The crawl
    leaves it to that page, so workers on sites that declare their language never hold it."""
    try:
        # imported here, not at module level: the extractor works without it
        import py3langid  # type: ignore[import-untyped]  # noqa: PLC0415  # untyped package
    except ImportError:
        return
    # its model loads on the first call (then stays loaded in the process)
    py3langid.classify("")


def _agree(text: str, other: str) -> bool:
    """Whether `text` and `other` hold nearly the same words (`READABILITY_AGREES`)."""
    ours, theirs = shingles(text), shingles(other)
    return (
        bool(ours)
        and share_in(ours, theirs) >= READABILITY_AGREES
        and share_in(theirs, ours) >= READABILITY_AGREES
    )


def _detect_language(text: str) -> str | None:
    try:
        import py3langid  # noqa: PLC0415  # see load_language_model
    except ImportError:
        return None
    code, _score = py3langid.classify(text[:LANGUAGE_SAMPLE_CHARS])
    return str(code) if code else None


def _dedupe(values: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        for part in value.split(","):
            item = part.strip()
            if item and item.casefold() not in seen:
                seen.add(item.casefold())
                result.append(item)
    return result
