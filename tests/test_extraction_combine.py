"""Checks after the ensemble: leaked page source extracted again, link blocks at the edges cut."""

from __future__ import annotations

from html import escape

from lxml.html import fromstring

from newsarchive.extraction.combine import (
    is_leaked_markup,
    link_pairs,
    page_links,
    refine,
    trim_link_edges,
    trim_unconfirmed_tail,
)
from newsarchive.extraction.extractor import ArticleExtractor
from newsarchive.extraction.rules import is_author_box

BODY = [
    "The harbour authority said on Tuesday that the new ferry terminal will open in the spring, "
    "two years later than first planned, after a long dispute over the cost of the foundations.",
    "Engineers found that the old quay wall could not carry the weight of the new building, and "
    "the design had to be changed to rest the terminal on piles driven into the river bed.",
    "The authority expects the terminal to handle about a million passengers a year once the "
    "second berth is finished, and says fares will not rise to pay for the delay.",
]
TEASERS = [
    ("Record year for house sales", "Sales and prices rose in every large city last year."),
    ("Brewers rewrite their recipes", "A shortage of hops forces small breweries to adapt."),
    ("Driver charged after crash", "Police have charged a man after a crash on the coast road."),
]


def teaser_page() -> str:
    body = "".join(f"<p>{p}</p>" for p in BODY)
    links = "".join(
        f'<li><a href="/n/{i}">{head}</a></li><li>{summary}</li>'
        for i, (head, summary) in enumerate(TEASERS)
    )
    return (
        "<html><body><div><a href='/'>Home</a> <a href='/news'>News</a></div>"
        f"<div id='story'>{body}<ul>{links}</ul></div></body></html>"
    )


def teaser_text() -> str:
    lines = list(BODY)
    for head, summary in TEASERS:
        lines += [f"- {head}", f"- {summary}"]
    return "\n".join(lines)


def test_trailing_link_list_and_its_summaries_cut() -> None:
    anchors = [head for head, _summary in TEASERS]
    assert trim_link_edges(teaser_text(), link_pairs(anchors)) == "\n".join(BODY)


def test_leading_link_line_cut() -> None:
    text = "\n".join(["Back to the latest harbour news", *BODY])
    assert trim_link_edges(text, link_pairs(["Back to the latest harbour news"])) == "\n".join(BODY)


def test_navigation_bar_on_one_line_is_a_link_line() -> None:
    bar = "Weather | Traffic | Sport results | Contact the newsroom"
    text = "\n".join([*BODY, bar])
    assert trim_link_edges(text, link_pairs(bar.split(" | "))) == "\n".join(BODY)
    # the same words with a link missing: most of the bar is not links, it stays
    assert trim_link_edges(text, link_pairs(["Weather"])) == text


def test_paragraph_with_a_link_kept() -> None:
    # a linked phrase inside a paragraph does not make it a link line
    body = "\n".join(BODY)
    assert trim_link_edges(body, link_pairs(["the new ferry terminal"])) == body


def test_mostly_links_left_alone() -> None:
    # cutting would leave under half the words: a link page, not an article with a tail
    text = "\n".join([BODY[0], *(f"- {h} {s}" for h, s in TEASERS), "- " + BODY[1]])
    assert trim_link_edges(text, link_pairs([f"{h} {s}" for h, s in TEASERS] + [BODY[1]])) == text


def test_link_edges_found_in_the_tree() -> None:
    tree = fromstring(teaser_page())
    assert refine(teaser_text(), page_links(tree), lambda html: "") == "\n".join(BODY)


def test_leaked_markup_recognised() -> None:
    source = teaser_page().replace("><", ">\n<")
    assert is_leaked_markup(source)
    assert not is_leaked_markup(teaser_text())
    # a few inline tags in prose are not page source
    assert not is_leaked_markup("\n".join(f"<b>Note</b> {p}" for p in BODY[:2]))


def test_leaked_markup_extracted_again() -> None:
    source = "\n".join(f"<p>{escape(p)}</p>" for p in BODY * 4)
    tree = fromstring("<html><body><p>x</p></body></html>")
    assert refine(source, page_links(tree), lambda html: "extracted") == "extracted"
    # nothing found in the source: the text stays as it was
    assert refine(source, page_links(tree), lambda html: "") == source


def test_extractor_cuts_trailing_teasers() -> None:
    article = ArticleExtractor().extract(teaser_page())
    assert article is not None
    for head, summary in TEASERS:
        assert head not in article.text
        assert summary not in article.text
    assert BODY[-1] in article.text


CLOSING = "Photo gallery: the harbour at night"


def closed_teaser_text() -> str:
    """The teaser list with a line that is no link after it: trim_link_edges stops there."""
    return "\n".join([teaser_text(), CLOSING])


def test_readability_cuts_a_tail_that_link_trimming_cannot() -> None:
    links = link_pairs(head for head, _summary in TEASERS)
    text = closed_teaser_text()
    assert trim_link_edges(text, link_pairs([head for head, _summary in TEASERS])) == text
    assert trim_unconfirmed_tail(text, links, lambda: "\n".join(BODY)) == "\n".join(BODY)


def test_link_lines_at_the_end_cut_where_readability_kept_them() -> None:
    links = link_pairs(head for head, _summary in TEASERS)
    # readability kept the list's headlines (not its summaries): they still go
    article = "\n".join([*BODY, *(head for head, _summary in TEASERS)])
    assert trim_unconfirmed_tail(closed_teaser_text(), links, lambda: article) == "\n".join(BODY)


def test_readability_not_asked_without_link_lines_near_the_end() -> None:
    asked: list[bool] = []

    def article() -> str:
        asked.append(True)
        return BODY[0]

    links = link_pairs([TEASERS[0][0]])
    # one link line in the last ten: no run of them, the tail stays unchecked
    text = "\n".join([*BODY, f"- {TEASERS[0][0]}", CLOSING])
    assert trim_unconfirmed_tail(text, links, article) == text
    assert not asked


def test_tail_kept_when_readability_found_another_block() -> None:
    links = link_pairs(head for head, _summary in TEASERS)
    text = closed_teaser_text()
    # readability holds only the first paragraph: cutting would leave a fifth of the text
    assert trim_unconfirmed_tail(text, links, lambda: BODY[0]) == text
    # readability found nothing: nothing to go by
    assert trim_unconfirmed_tail(text, links, lambda: "") == text


def test_extractor_cuts_teasers_that_readability_leaves_out() -> None:
    body = "".join(f"<p>{p}</p>" for p in BODY)
    teasers = "".join(
        f'<li><a href="/n/{i}">{head}</a></li><li>{summary}</li>'
        for i, (head, summary) in enumerate(TEASERS)
    )
    # the gallery line closes the teaser list in trafilatura's text, and is no link
    page = (
        "<html><body><div><a href='/'>Home</a> <a href='/news'>News</a></div>"
        f"<div id='story'>{body}<div><ul>{teasers}</ul></div>"
        f"<div class='extra'><p>{CLOSING}</p></div></div></body></html>"
    )
    article = ArticleExtractor().extract(page)
    assert article is not None
    assert article.text == "\n".join(BODY)


def test_author_box_names_author_at_its_start() -> None:
    authors = ["Jane Doe", "Google News"]
    assert is_author_box("Jane Doe covers transport and the harbour for the paper.", authors)
    assert is_author_box("About the author: Jane Doe covers transport.", authors)
    assert not is_author_box(
        "Quality reporting remains the strongest way to put a newsroom's work in front of "
        "Google News users.",
        authors,
    )
