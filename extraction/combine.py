"""Last checks on the body text: page source leaked as text, link blocks at its edges.

Some broken old pages (an unclosed comment or script, as libxml2 reads them) come out of
readability as their own HTML source, tags and scripts as lines of text; that source is parsed
again and extracted like a page. Old table layouts and blog templates put a "more news" list
of links (often each with a one-line summary) right after the article, in the same container,
so trafilatura keeps it; readability, which weighs link density, does not. Here a line is a
link line when most of its word pairs are link text on the page, and runs of link lines are
cut from both ends of the text. Where link lines remain near the end (a heading, a teaser or
an advert closes the run, or the run is longer than the article), readability is asked: the
lines at the end that its article does not hold are cut. It costs a third of trafilatura, so
it runs only there (5 % of the tuning pages).
Measured on the tuning halves of both dev sets (bench/extraction.py); see the constants.
"""

from __future__ import annotations

import re
from functools import partial
from itertools import pairwise
from typing import TYPE_CHECKING, Final

from newsarchive.extraction.ensemble import share_in, shingles
from newsarchive.extraction.lists import restore_lists

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from lxml.html import HtmlElement

_WORD_RE = re.compile(r"\w+")
#: A line is a link line when at least this share of its word pairs is link text on the page.
#: Tuned on the tuning halves: 0.5-0.9 score within 0.001 there.
LINK_SHARE: Final = 0.7
#: Cutting stops before it would leave less than this share of the text's words: a page whose
#: text is mostly links is a link page or a failed extraction, not an article with a tail.
MIN_KEPT_WORDS: Final = 0.5
_LIST_ITEM = ("- ", "• ", "* ")
#: A navigation bar on one line ("Home | News | Sport"): a word pair across two of its links
#: is in neither, so its parts are judged one by one.
_BAR_SEPARATOR_RE = re.compile(r"\s*\|\s*")
#: A line that starts with an HTML tag.
_TAG_LINE_RE = re.compile(r"\s*</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
#: The text is leaked page source when this share of its lines start with a tag. On both dev
#: sets such texts have 0.68-0.94 and every other text under 0.01 (a few lines at most).
LEAKED_MARKUP_SHARE: Final = 0.3
MIN_LEAKED_LINES: Final = 10
#: readability checks the end of the text when at least this many of its last `TAIL_WINDOW`
#: lines are link lines. Tuned on the tuning halves: 2 of 10 runs readability on 5 % of pages
#: (F1 +0.0022 on extraction-dev2, no page worse); 1 of 10 on 11 % for +0.0001 more, with
#: losses; 2 of 15 and 2 of 6 score within 0.0002.
TAIL_LINK_LINES: Final = 2
TAIL_WINDOW: Final = 10
#: A line is in readability's article when this share of its word shingles is.
TAIL_CONFIRMED: Final = 0.5
#: ... and the cut stops before it would leave less than this share of the text's words:
#: readability has found another block than the article. 0.5 keeps 4 of the 15 pages
#: that improve at 0.3 whole.
MIN_CONFIRMED_KEPT: Final = 0.3


def _token_pairs(text: str) -> Iterable[tuple[str, ...]]:
    """Successive word pairs of a case-folded `text`; a text of one word gives that word."""
    tokens = _WORD_RE.findall(text)
    return [(tokens[0],)] if len(tokens) == 1 else pairwise(tokens)


def _pairs(text: str) -> set[tuple[str, ...]]:
    return set(_token_pairs(text.casefold()))


def link_pairs(anchor_texts: Iterable[str]) -> set[tuple[str, ...]]:
    """Word pairs of the page's link texts (each link on its own: no pair spans two links)."""
    pairs: set[tuple[str, ...]] = set()
    # One casefold and line split for all links: a page with a mega-menu has hundreds.
    for anchor in "\n".join(" ".join(a.split()) for a in anchor_texts).casefold().split("\n"):
        pairs.update(_token_pairs(anchor))
    return pairs


def is_link_line(line: str, links: set[tuple[str, ...]]) -> bool:
    """Whether most of `line`'s word pairs are link text (`links`, from `link_pairs`)."""
    parts = _BAR_SEPARATOR_RE.split(line) if line.count("|") >= 2 else [line]
    pairs = set().union(*map(_pairs, parts))
    return bool(pairs) and len(pairs & links) >= LINK_SHARE * len(pairs)


class _LinkLines:
    """Whether a line is a link line, worked out only for the lines asked about: trimming
    looks at a text's ends, and most texts have none (whole paragraphs cost a pass each)."""

    def __init__(self, lines: list[str], links: set[tuple[str, ...]]) -> None:
        self._lines = lines
        self._links = links
        self._own: dict[int, bool] = {}

    def _own_link(self, index: int) -> bool:
        if index not in self._own:
            self._own[index] = is_link_line(self._lines[index], self._links)
        return self._own[index]

    def __getitem__(self, index: int) -> bool:
        # A list item under a link line is its teaser: walk up through list items.
        while not self._own_link(index):
            if index == 0 or not self._lines[index].lstrip().startswith(_LIST_ITEM):
                return False
            index -= 1
        return True


def trim_link_edges(text: str, links: set[tuple[str, ...]]) -> str:
    """`text` without the runs of link lines (`links`, from `link_pairs`) at its start and end."""
    lines = text.split("\n")
    if len(lines) < 3 or not links:
        return text
    flags = _LinkLines(lines, links)
    end = len(lines)
    while end > 1 and flags[end - 1]:
        end -= 1
    start = 0
    while start < end - 1 and flags[start]:
        start += 1
    if start == 0 and end == len(lines):
        return text
    kept = lines[start:end]
    words = len(_WORD_RE.findall(text))
    if len(_WORD_RE.findall("\n".join(kept))) < MIN_KEPT_WORDS * words:
        return text
    return "\n".join(kept)


def trim_unconfirmed_tail(
    text: str, links: set[tuple[str, ...]], article_text: Callable[[], str]
) -> str:
    """`text` without its last lines that `article_text()` (readability's article, asked only
    when link lines are near the end) does not hold, and its last link lines."""
    lines = text.split("\n")
    if len(lines) < 3 or not links:
        return text
    flags = _LinkLines(lines, links)
    window = range(max(0, len(lines) - TAIL_WINDOW), len(lines))
    if sum(1 for index in window if flags[index]) < TAIL_LINK_LINES:
        return text
    other = article_text()
    if not other:
        return text
    confirmed = shingles(other)
    end = len(lines)
    # a link line goes even where readability kept it: its own link lists end some articles
    while end > 1 and (
        flags[end - 1] or share_in(shingles(lines[end - 1]), confirmed) < TAIL_CONFIRMED
    ):
        end -= 1
    kept = "\n".join(lines[:end])
    if end == len(lines) or len(_WORD_RE.findall(kept)) < MIN_CONFIRMED_KEPT * len(
        _WORD_RE.findall(text)
    ):
        return text
    return kept


def page_links(tree: HtmlElement) -> set[tuple[str, ...]]:
    """`link_pairs` of the link texts of `tree` (the parsed page)."""
    return link_pairs(a.text_content() for a in tree.iter("a"))


def is_leaked_markup(text: str) -> bool:
    """Whether `text` is mostly HTML source (tags as lines), not text."""
    lines = text.split("\n")
    tagged = sum(1 for line in lines if _TAG_LINE_RE.match(line))
    return tagged >= MIN_LEAKED_LINES and tagged >= LEAKED_MARKUP_SHARE * len(lines)


def refine(
    text: str,
    links: set[tuple[str, ...]],
    extract_markup: Callable[[str], str],
    article_text: Callable[[], str] | None = None,
    wide: str = "",
) -> str:
    """The body text after the checks above. `links` are the page's link texts (`page_links`),
    `extract_markup` extracts text from HTML source, `article_text` returns readability's
    article of the page (None: no check against it), `wide` is resiliparse's text, whose lists
    inside the article are put back (`restore_lists`)."""
    if is_leaked_markup(text):
        text = extract_markup(text) or text
    if text.count("\n") < 2:
        return text
    text = trim_link_edges(text, links)
    if article_text is not None:
        text = trim_unconfirmed_tail(text, links, article_text)
    if wide:
        text = restore_lists(text, wide, partial(is_link_line, links=links))
    return text
