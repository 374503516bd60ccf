"""Block-level voting between extractors: what trafilatura missed and two others agree on.

trafilatura (precision settings) is the main member. resiliparse's main-content text costs a
tenth of it and keeps nearly all of a page's article text (and more): where trafilatura's text
covers little of it, trafilatura has probably lost part of the article, and only then is
readability run (trafilatura's port of readability-lxml, a third of its cost). Its blocks that
trafilatura lacks are added when resiliparse has them too: two independent extractors agree
that they are content.
Measured on the tuning halves of both dev sets (bench/extraction.py); see the constants.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from newsarchive.extraction.members import resiliparse_text

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Set as AbstractSet

_WORD_RE = re.compile(r"\w+")
SHINGLE: Final = 4
#: readability is consulted when trafilatura's text holds less than this share of resiliparse's
#: 4-word shingles. Tuned on the tuning halves: 0.3 and 0.5 score within 0.001 there; 0.3 runs
#: readability on 5 % of pages, 0.5 on 9 %.
TRIGGER_COVERAGE: Final = 0.3
#: A readability block is new when less than this share of it is in trafilatura's text ...
NEW_BLOCK: Final = 0.5
#: ... and is added when resiliparse's text holds at least this share of it.
AGREEMENT: Final = 0.8


# The extractor compares the same texts (its own, resiliparse's) several times per page.
@lru_cache(maxsize=8)
def shingles(text: str) -> frozenset[tuple[str, ...]]:
    tokens = _WORD_RE.findall(text.casefold())
    if len(tokens) < SHINGLE:
        return frozenset({tuple(tokens)} if tokens else ())
    # zip of shifted lists: the same tuples as slicing, without a slice per position
    return frozenset(zip(*(tokens[i:] for i in range(SHINGLE)), strict=False))


def share_in(part: AbstractSet[tuple[str, ...]], whole: AbstractSet[tuple[str, ...]]) -> float:
    return len(part & whole) / len(part) if part else 0.0


#: A page's description is its standfirst when it is this long (words) ...
MIN_LEAD_WORDS: Final = 8
#: ... and resiliparse's text holds this share of it: the page shows it, not only its <meta>.
#: Tuned on the tuning halves (0.8-1.0 within 0.001 on extraction-dev).
LEAD_VISIBLE: Final = 0.8


def recall_text(html: str) -> str:
    """The wide text the ensemble compares against (resiliparse's main content)."""
    return resiliparse_text(html)


def with_lead(text: str, description: str | None, wide: str) -> str:
    """`text` with the standfirst in front when the page shows it and `text` lacks it.

    Both dev sets' gold bodies (and readers) count the lead/summary as article text;
    trafilatura often drops it with the header block it sits in.
    """
    if not description or len(_WORD_RE.findall(description)) < MIN_LEAD_WORDS or not wide:
        return text
    lead = shingles(description)
    if share_in(lead, shingles(text)) >= NEW_BLOCK or share_in(lead, shingles(wide)) < LEAD_VISIBLE:
        return text
    return f"{' '.join(description.split())}\n{text}"


def add_missed_blocks(
    article_text: Callable[[], str], text: str, wide_text: str
) -> tuple[str, int]:
    """`text` plus the blocks readability (`article_text()`, asked only when `text` covers little
    of `wide_text`) and `wide_text` (resiliparse) both have and it lacks.

    Returns (text, blocks added). Added blocks go at the end: the rule cleaning that follows
    judges them like any line.
    """
    ours = shingles(text)
    if not wide_text:
        return text, 0
    wide = shingles(wide_text)
    if ours and share_in(wide, ours) >= TRIGGER_COVERAGE:
        return text, 0
    added = []
    for block in article_text().split("\n"):
        block_shingles = shingles(block)
        if not block_shingles or share_in(block_shingles, ours) >= NEW_BLOCK:
            continue
        if share_in(block_shingles, wide) >= AGREEMENT:
            added.append(block)
            ours = ours | block_shingles
    if not added:
        return text, 0
    return "\n".join([text, *added]) if text else "\n".join(added), len(added)
