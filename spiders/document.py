"""An HTML response read once: its head as text, its tree built on first use, kept by nobody.

`response.text`, `response.css()` and `response.xpath()` cache the decoded body and the parsed
tree on the response, and Scrapy holds a response until every item made from it has left the
item pipelines: with extraction in workers that is ~150 article responses of ~0.6 MB of tree
each. An `HtmlPage` is a local of the callback instead, so its tree goes when the callback
returns; every question the spider asks of a page (kind, links, canonical, requisites, meta
refresh) is answered from the one tree, or from the first 4096 characters as Scrapy's
`get_base_url` and `get_meta_refresh` read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Self

from lxml import etree, html
from parsel.selector import create_root_node
from w3lib.encoding import html_to_unicode
from w3lib.html import get_base_url, get_meta_refresh

if TYPE_CHECKING:
    from scrapy.http import TextResponse

#: Scrapy reads <base href> and meta refresh from this many characters of the page.
HEAD_CHARS: Final = 4096
#: A character is at most 4 bytes in any encoding Scrapy detects, so this many bytes decode to
#: at least HEAD_CHARS characters (a character cut at the end falls past them).
_HEAD_BYTES: Final = 4 * HEAD_CHARS
_REFRESH_IGNORED_TAGS: Final = ("script", "noscript")


def xpath(expression: str) -> etree.XPath:
    """A compiled XPath whose strings do not point back into the tree (lxml's smart strings
    would keep the whole tree alive for as long as any extracted href lives)."""
    return etree.XPath(expression, smart_strings=False)


class HtmlPage:
    """One HTML response, parsed at most once. Build it in the callback; never store it."""

    __slots__ = ("_base_url", "_body", "_head", "_root", "encoding", "url")

    def __init__(self, url: str, body: bytes, encoding: str) -> None:
        self.url = url
        self.encoding = encoding
        self._body = body
        self._head: str | None = None
        self._base_url: str | None = None
        self._root: etree._Element | None = None

    @classmethod
    def of(cls, response: TextResponse) -> Self:
        return cls(response.url, response.body, response.encoding)

    @property
    def head(self) -> str:
        """The first HEAD_CHARS characters, as `response.text[:4096]` gives them (decoding a
        prefix only: the whole body is decoded by nobody in the crawl process)."""
        if self._head is None:
            prefix = self._body[:_HEAD_BYTES]
            self._head = html_to_unicode(f"charset={self.encoding}", prefix)[1][:HEAD_CHARS]
        return self._head

    @property
    def base_url(self) -> str:
        """What relative links resolve against: <base href>, else the page's URL."""
        if self._base_url is None:
            try:
                self._base_url = get_base_url(self.head, self.url, self.encoding)
            except ValueError:  # a <base href> urljoin cannot parse
                self._base_url = self.url
        return self._base_url

    def meta_refresh(self) -> tuple[float, str] | tuple[None, None]:
        """(delay, absolute target) of a meta refresh, as Scrapy's `get_meta_refresh` reads it.

        Raises ValueError for a target (or <base href>) urljoin cannot parse.
        """
        base = get_base_url(self.head, self.url, self.encoding)
        return get_meta_refresh(self.head, base, self.encoding, ignore_tags=_REFRESH_IGNORED_TAGS)

    @property
    def root(self) -> etree._Element:
        """The page's tree, parsed as parsel parses it for `response.css()` (UTF-8 bytes as they
        are, other encodings decoded with replacement)."""
        if self._root is None:
            self._root = create_root_node(
                "", html.HTMLParser, base_url=self.url, body=self._body, encoding=self.encoding
            )
        return self._root

    def select(self, query: etree.XPath) -> list[str]:
        """The strings a compiled XPath (`xpath()`) finds, e.g. attribute values."""
        found = query(self.root)
        return [str(value) for value in found] if isinstance(found, list) else []

    def elements(self, query: etree.XPath) -> list[etree._Element]:
        found = query(self.root)
        return (
            [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []
        )
