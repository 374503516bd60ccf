"""An article's own lists: kept where they are not link lists, put back where trafilatura
dropped them (extraction.lists, the teaser-list rule of extraction.rules)."""

from __future__ import annotations

from newsarchive.extraction.extractor import ArticleExtractor
from newsarchive.extraction.lists import restore_lists
from newsarchive.extraction.rules import clean_lines
from tests.test_extraction_combine import BODY as PARAGRAPHS

LEAD_IN = "The authority has these tips for passengers:"
# short and without closing punctuation: shaped like teaser headlines
TIPS = [
    "Check the timetable first",
    "Buy tickets online",
    "Arrive twenty minutes early",
    "Keep your booking reference",
]
RELATED = ["Record year for house sales", "Brewers rewrite their recipes", "Driver charged"]


def tips_page() -> str:
    tips = "".join(f"<li>{tip}</li>" for tip in TIPS)
    related = "".join(f'<li><a href="/n/{i}">{head}</a></li>' for i, head in enumerate(RELATED))
    return (
        "<html><head><title>Ferry terminal delayed</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article>"
        f"<h1>Ferry terminal delayed</h1><p>{PARAGRAPHS[0]}</p><p>{PARAGRAPHS[1]}</p>"
        f"<p>{LEAD_IN}</p><ul>{tips}</ul><p>{PARAGRAPHS[2]}</p>"
        f"<h3>More news</h3><ul>{related}</ul></article></body></html>"
    )


def test_an_articles_own_short_list_is_kept() -> None:
    article = ArticleExtractor().extract(tips_page())
    assert article is not None
    lines = article.text.split("\n")
    assert lines == [*PARAGRAPHS[:2], LEAD_IN, *(f"- {tip}" for tip in TIPS), PARAGRAPHS[2]]


def test_a_list_of_links_shaped_like_headlines_is_dropped() -> None:
    lines = [PARAGRAPHS[0], *(f"- {head}" for head in RELATED), PARAGRAPHS[1]]
    links = set(RELATED)

    def is_link(line: str) -> bool:
        return line.removeprefix("- ") in links

    assert clean_lines(lines, is_link=is_link)[0] == PARAGRAPHS[:2]
    # the same items, none of them a link on the page: the article's own list
    assert clean_lines(lines, is_link=lambda line: False)[0] == lines
    # without the page's links, headline-shaped list items are taken for teasers
    assert clean_lines(lines)[0] == PARAGRAPHS[:2]


def wide_text(items: list[str]) -> str:
    """resiliparse's rendering: blocks apart, list items indented."""
    items_block = "\n".join(f"  {item}" for item in items)
    return "\n\n".join([PARAGRAPHS[0], LEAD_IN, items_block, *PARAGRAPHS[1:]])


LONG_TIPS = [
    "Check the ferry timetable the day before you travel",
    "Buy your tickets online to skip the queue at the quay",
    "Arrive twenty minutes early while the second berth is being built",
]


def test_a_dropped_list_is_put_back_in_its_place() -> None:
    text = "\n".join([PARAGRAPHS[0], LEAD_IN, *PARAGRAPHS[1:]])
    restored = restore_lists(text, wide_text(LONG_TIPS), lambda line: False)
    assert restored.split("\n") == [
        PARAGRAPHS[0],
        LEAD_IN,
        *(f"- {tip}" for tip in LONG_TIPS),
        *PARAGRAPHS[1:],
    ]


def test_lists_that_are_not_the_articles_stay_out() -> None:
    text = "\n".join([PARAGRAPHS[0], LEAD_IN, *PARAGRAPHS[1:]])
    # link items: a related-stories list
    assert restore_lists(text, wide_text(LONG_TIPS), lambda line: True) == text
    # two items
    assert restore_lists(text, wide_text(LONG_TIPS[:2]), lambda line: False) == text
    # after the last line the text has: not inside the article
    wide = "\n\n".join([*PARAGRAPHS, "\n".join(f"  {tip}" for tip in LONG_TIPS)])
    assert restore_lists("\n".join(PARAGRAPHS), wide, lambda line: False) == "\n".join(PARAGRAPHS)
    # a paragraph the text lacks next to the items: a block the text left out, not a list
    wide = wide_text(LONG_TIPS).replace(LEAD_IN, "Sponsored: book your holiday with us today")
    text = "\n".join(PARAGRAPHS)
    assert restore_lists(text, wide, lambda line: False) == text


def test_a_list_the_text_has_is_not_added_again() -> None:
    text = "\n".join([PARAGRAPHS[0], LEAD_IN, *(f"- {t}" for t in LONG_TIPS), *PARAGRAPHS[1:]])
    assert restore_lists(text, wide_text(LONG_TIPS), lambda line: False) == text
