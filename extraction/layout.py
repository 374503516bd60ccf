"""Old page layouts made readable to trafilatura: layout tables as blocks, no form controls.

Pages of the 2000s lay out the whole page in tables, the article in one cell. trafilatura writes
a table as rows of cells ("| a | b |"), each cell on one line: the story, its byline, date and
the "more news" beside it come out joined, and no line rule can part them again. A table is a
layout table when one of its own cells holds a paragraph's worth of text (a data table's cells
are figures and short labels); its table, row and cell elements become plain blocks, so
trafilatura reads the cell's paragraphs and line breaks as it does any article. Nested tables
are judged on their own. A `<select>`'s options (a "choose a company" list) are never article
text, and as blocks they would come out as hundreds of lines.
Measured on the tuning halves of both dev sets (bench/extraction.py); see the constant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

    from lxml.html import HtmlElement

#: A cell with this much text (characters, nested content included) makes its table a layout
#: table. Tuned on the tuning halves: 60-200 score within 0.001 on extraction-dev2 and leave
#: extraction-dev as it is (its pages lay out with blocks, not tables).
LAYOUT_CELL_CHARS: Final = 150
_SECTIONS = frozenset({"thead", "tbody", "tfoot"})
_CELLS = frozenset({"td", "th"})


def _own_parts(table: HtmlElement) -> Iterator[HtmlElement]:
    """The table's sections, rows and cells, not those of a table nested in a cell."""
    for child in table:
        if child.tag in _SECTIONS:
            yield child
            yield from _own_parts(child)
        elif child.tag == "tr":
            yield child
            yield from (cell for cell in child if cell.tag in _CELLS)


def _is_layout(table: HtmlElement) -> bool:
    return any(
        part.tag in _CELLS and _has_text(part, LAYOUT_CELL_CHARS) for part in _own_parts(table)
    )


def _has_text(element: HtmlElement, chars: int) -> bool:
    # Stops at `chars`: an outer cell holds every nested table's text, and a hostile page nests
    # tables as deep as the parser allows around thousands of cells (summing it all per level
    # took 1.8 s on a 60,000-element page).
    for text in element.itertext():
        chars -= len(text)
        if chars <= 0:
            return True
    return False


def unwrap_layout_tables(tree: HtmlElement) -> int:
    """Turn `tree`'s layout tables into blocks, drop its `<select>`s; the tables unwrapped."""
    for select in list(tree.iter("select")):
        if select.getparent() is not None:
            select.drop_tree()
    unwrapped = 0
    # outer tables first: a nested table is judged on its own cells either way
    for table in list(tree.iter("table")):
        if _is_layout(table):
            for part in [table, *_own_parts(table)]:
                part.tag = "div"
            unwrapped += 1
    return unwrapped
