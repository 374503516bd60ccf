"""Lists inside the article that trafilatura left out, put back from resiliparse's text.

trafilatura's precision mode drops many lists (`<ul>`, `<ol>`) with the link lists it is meant
to catch, and with them an article's own enumerations: the tips of a how-to, the findings of a
survey, the items a post discusses. resiliparse keeps them, each item on a line of its own,
indented. A run of such items that the text lacks, between two lines the text has, and with
no item that is link text, is the article's own list: it goes back in its place.
Measured on the tuning halves of both dev sets (bench/extraction.py); see the constants.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from newsarchive.extraction.ensemble import NEW_BLOCK, share_in, shingles

if TYPE_CHECKING:
    from collections.abc import Callable

_WORD_RE = re.compile(r"\w+")
#: resiliparse writes a list item indented, two spaces a level (`list_bullets=False`).
_ITEM_INDENT: Final = "  "
#: A list item's line: a page with fewer than `MIN_ITEMS` (most) is not searched further.
_ITEM_LINE_RE = re.compile(r"^ {2,}\S", re.MULTILINE)
#: A list is put back when it has this many items ...
MIN_ITEMS: Final = 3
#: ... and words. Tuned on the tuning halves: 2 items and 10 words change 27 extraction-dev2
#: pages (6 worse), 3 and 20 change 20 (2 worse, a football fixture list the worst) for the
#: same F1 (+0.0009); no extraction-dev page changes with either.
MIN_WORDS: Final = 20


def _missed_lists(wide_lines: list[str], held: list[bool]) -> list[tuple[int, int]]:
    """(start, end) of each run of list items in `wide_lines` that the text lacks (`held`
    false), with a line the text has on both sides."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    seen_held = False
    for index, line in enumerate(wide_lines):
        if held[index]:
            if start is not None and seen_held:
                runs.append((start, index))
            start, seen_held = None, True
        elif not line.startswith(_ITEM_INDENT):
            start = None
            # a line that is not an item breaks the run: wait for the next held line
            seen_held = False
        elif start is None:
            start = index
    return runs


def restore_lists(text: str, wide: str, is_link: Callable[[str], bool]) -> str:
    """`text` with the lists of `wide` (resiliparse's text) that it lacks inside the article,
    each after the line of `text` that holds the line before it in `wide`."""
    if len(_ITEM_LINE_RE.findall(wide)) < MIN_ITEMS:
        return text
    wide_lines = [line for line in wide.split("\n") if line.strip()]
    ours = shingles(text)
    held = [share_in(shingles(line), ours) >= NEW_BLOCK for line in wide_lines]
    lines = text.split("\n")
    inserts: dict[int, list[str]] = {}
    line_shingles: list[frozenset[tuple[str, ...]]] | None = None
    for start, end in _missed_lists(wide_lines, held):
        items = [" ".join(line.split()) for line in wide_lines[start:end]]
        words = sum(len(_WORD_RE.findall(item)) for item in items)
        if len(items) < MIN_ITEMS or words < MIN_WORDS or any(map(is_link, items)):
            continue
        if line_shingles is None:
            line_shingles = [shingles(line) for line in lines]
        before = shingles(wide_lines[start - 1])
        after = max(range(len(lines)), key=lambda i: len(before & line_shingles[i]))
        inserts.setdefault(after, []).extend(f"- {item}" for item in items)
    if not inserts:
        return text
    out: list[str] = []
    for index, line in enumerate(lines):
        out.append(line)
        out.extend(inserts.get(index, ()))
    return "\n".join(out)
