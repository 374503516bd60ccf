"""trafilatura's page metadata, with its costly searches run only when the extractor needs them.

`trafilatura.metadata.extract_metadata` copies and prunes the whole tree twice per page: once
to search the page for an author, once (htmldate) for a date. The extractor takes authors from
JSON-LD first and dates from its own search first, so those two fallbacks are asked for only
when that fails; the licence, which nothing reads, is not searched at all. The fields that are
computed come out as `extract_metadata` (trafilatura 2.3.1) gives them.
"""

from __future__ import annotations

import logging
import re
from html import unescape
from typing import TYPE_CHECKING, Any

from htmldate import find_date
from lxml.etree import XPath
from trafilatura.htmlprocessing import prune_unwanted_nodes
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_catstags,
    extract_meta_json,
    extract_metainfo,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document
from trafilatura.utils import line_processing
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

if TYPE_CHECKING:
    from lxml.html import HtmlElement

logger = logging.getLogger(__name__)

#: Document.clean_and_trim's cut for one field.
_MAX_FIELD_CHARS = 10000
#: The links `extract_catstags` keeps, by its own pattern for each kind ("/categor(?:y|ies|s)?/"):
#: a page with none of them gets nothing from its eight searches of the whole tree.
_CATSTAG_HREFS = {
    kind: re.compile("/" + kind.rstrip("y") + "(?:y|ies|s)?/") for kind in ("category", "tag")
}
_HREFS = XPath("//a/@href", smart_strings=False)
#: extract_catstags' fallback for categories, when no link gives any.
_SECTION_META = XPath(
    './/head//meta[@property="article:section" or contains(@name, "subject")][@content]'
)


class PageMetadata:
    """One page's trafilatura metadata; `author()` and `date()` search the tree on first call.

    `author()` prunes the tree in place (trafilatura's search prunes a copy of it): call it
    after everything else has read the tree.
    """

    def __init__(self, tree: HtmlElement, url: str | None, date_params: dict[str, Any]) -> None:
        self._tree: HtmlElement | None = tree
        self._date_params = date_params
        self._author: str | None = None
        self._author_searched = False
        self._date: str | None = None
        self._date_searched = False
        self.document = self._document(tree, url)

    def _document(self, tree: HtmlElement, url: str | None) -> Document:
        try:
            document = examine_meta(tree)
            if document.author and " " not in document.author:
                document.author = None
            try:
                document = extract_meta_json(tree, document)
            except Exception as error:  # as extract_metadata: its JSON-LD reader's own bugs
                # one hostile page, logged as trafilatura logs it: no traceback
                logger.warning("JSON metadata extraction failed: %s", error)
            if not document.title:
                document.title = extract_title(tree)
            # the tree's author search waits for author(); one from <meta> or JSON-LD is final
            self._author_searched = bool(document.author)
            if not document.url:
                document.url = extract_url(tree, url)
            if not document.sitename:
                document.sitename = extract_sitename(tree)
            if document.sitename:
                document.sitename = document.sitename.lstrip("@")
                if "." not in document.sitename and not document.sitename[:1].isupper():
                    document.sitename = document.sitename.title()
            elif document.url and (match := META_URL.match(document.url)):
                document.sitename = match[1]
            if not document.categories or not document.tags:
                # one text to search: neither pattern can match across a line break
                hrefs = "\n".join(_HREFS(tree))
                if not document.categories:
                    document.categories = _catstags("category", tree, hrefs)
                if not document.tags:
                    document.tags = _catstags("tag", tree, hrefs)
            document.clean_and_trim()
        except (ValueError, TypeError, AttributeError):
            # one broken meta block must not lose the article text
            logger.warning("metadata extraction failed for %s", url, exc_info=True)
            self._author_searched = self._date_searched = True
            return Document()
        return document

    def author(self) -> str | None:
        """The author(s) from <meta>/JSON-LD, else from the page's bylines (prunes the tree)."""
        if not self._author_searched:
            self._author_searched = True
            assert self._tree is not None
            # trafilatura's extract_author without its copy of the whole tree
            tree, self._tree = self._tree, None
            try:
                found = extract_metainfo(
                    prune_unwanted_nodes(tree, AUTHOR_DISCARD_XPATHS), AUTHOR_XPATHS, len_limit=120
                )
                self.document.author = _trimmed(normalize_authors(None, found) if found else None)
            except (ValueError, TypeError, AttributeError):
                logger.warning("author search failed", exc_info=True)
        return self.document.author

    def date(self) -> str | None:
        """htmldate's publication date of the page."""
        if not self._date_searched:
            self._date_searched = True
            if self._tree is None:
                msg = "date() after author(): the author search has pruned the tree"
                raise RuntimeError(msg)
            try:
                self._date = _trimmed(
                    find_date(self._tree, **{**self._date_params, "url": self.document.url})
                )
            except (ValueError, TypeError, AttributeError):
                logger.warning("date search failed", exc_info=True)
        return self._date


def _catstags(kind: str, tree: HtmlElement, hrefs: str) -> list[str]:
    """`extract_catstags(kind, tree)`, without its searches when no link of the page (`hrefs`,
    a line each) can match."""
    if _CATSTAG_HREFS[kind].search(hrefs):
        return extract_catstags(kind, tree)
    if kind != "category":
        return []
    sections = (node.attrib["content"] for node in _SECTION_META(tree))
    return [s for s in dict.fromkeys(line_processing(x) for x in sections if x) if s]


def _trimmed(value: str | None) -> str | None:
    """One field as Document.clean_and_trim leaves it."""
    if not value:
        return value
    if len(value) > _MAX_FIELD_CHARS:
        value = value[: _MAX_FIELD_CHARS - 1] + "…"
    return line_processing(unescape(value))
