"""Layout tables read as blocks (extraction.layout), and the extractor on an old table layout."""

from __future__ import annotations

from lxml.html import HtmlElement, fromstring

from newsarchive.extraction.extractor import ArticleExtractor
from newsarchive.extraction.layout import LAYOUT_CELL_CHARS, unwrap_layout_tables
from tests.test_extraction import PARAGRAPHS


def _tags(tree: HtmlElement) -> list[str]:
    return [str(el.tag) for el in tree.iter() if isinstance(el.tag, str)]


def test_a_story_in_a_layout_cell_comes_out_as_paragraphs_without_its_byline() -> None:
    # A 2007 page: the whole page one table, the story in a cell with <br> line breaks, its
    # byline and date above it, "more news" in the next cell. As table rows, all of it came out
    # as one line, byline and date joined to the story.
    story = "<br><br>".join(PARAGRAPHS)
    html = (
        "<html><head><title>Council approves footbridge</title></head><body>"
        "<table width='100%'><tr><td colspan=2><a href='/'>Home</a> | <a href='/news'>News</a>"
        "</td></tr><tr><td width='70%'><font size=4><b>Council approves footbridge</b></font>"
        "<br>By <a href='mailto:jd@example.com'>Jane Doe</a><br>Staff Writer<br>"
        f"<i>Saturday, December 29, 2007</i><br><br>{story}</td>"
        "<td><b>More news</b><br><a href='/a'>Mayor opens new library</a><br>"
        "<a href='/b'>Rail fares rise again</a></td></tr></table></body></html>"
    )
    article = ArticleExtractor().extract(html)
    assert article is not None
    assert article.text.split("\n") == PARAGRAPHS
    assert article.title == "Council approves footbridge"


def test_data_tables_stay_tables_and_nested_tables_are_judged_alone() -> None:
    prose = "x" * LAYOUT_CELL_CHARS
    tree = fromstring(
        "<html><body><table id='layout'><tbody><tr><td>"
        f"<p>{prose}</p>"
        "<table id='rates'><tr><th>Currency</th><th>Rate</th></tr>"
        "<tr><td>USD</td><td>0.8453</td></tr></table>"
        "</td><td><select><option>Acme Ltd</option><option>Zenith Exports</option></select>"
        "</td></tr></tbody></table></body></html>"
    )
    assert unwrap_layout_tables(tree) == 1
    layout = tree.get_element_by_id("layout")
    assert layout.tag == "div"
    assert [el.tag for el in layout.iterchildren()] == ["div"]  # tbody
    rates = tree.get_element_by_id("rates")
    assert rates.tag == "table"
    assert _tags(rates) == ["table", "tr", "th", "th", "tr", "td", "td"]
    assert "select" not in _tags(tree)
    assert "Zenith" not in tree.text_content()


def test_a_cell_just_short_of_a_paragraph_leaves_its_table_alone() -> None:
    short = "x" * (LAYOUT_CELL_CHARS - 1)
    tree = fromstring(f"<html><body><table><tr><td>{short}</td></tr></table></body></html>")
    assert unwrap_layout_tables(tree) == 0
    assert _tags(tree) == ["html", "body", "table", "tr", "td"]
