"""Titles as published: which of JSON-LD, the page heading, og:title and <title> is the headline."""

from __future__ import annotations

import json

import pytest
from trafilatura.utils import load_html

from newsarchive.extraction.extractor import ArticleExtractor
from newsarchive.extraction.metadata import clean_title, headline, jsonld_objects
from newsarchive.extraction.sitemodel import SiteModel, title_affixes

BODY = "".join(
    f"<p>Paragraph {i} of the report says what the council decided and why it matters to the "
    f"people who live beside the river and cross it every day on their way to work.</p>"
    for i in range(6)
)


def page(
    *,
    ld: str | None = None,
    og: str | None = None,
    title: str | None = None,
    body: str = "",
) -> str:
    head = f"<title>{title}</title>" if title else ""
    if og:
        head += f'<meta property="og:title" content="{og}">'
    if ld:
        data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": ld}
        head += f'<script type="application/ld+json">{json.dumps(data)}</script>'
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def title_of(html: str, url: str | None = "https://news.example.org/2024/05/story.html") -> str:
    tree = load_html(html)
    assert tree is not None
    raw_title = " ".join(str(tree.xpath("string(//head/title)")).split()) or None
    result = headline(tree, jsonld_objects(tree), raw_title, ["Example News"], url)
    assert result is not None
    return result


SEO = "Council approves footbridge"
SHOWN = "Footbridge over the river approved after ten years of debate"


def test_breadcrumb_h1_is_the_seo_name_not_the_headline() -> None:
    # The breadcrumb ends in the page's SEO name as <h1>, and JSON-LD repeats it; the reader
    # sees the article's heading, which og:title gives too.
    html = page(
        ld=SEO,
        og=SHOWN,
        title=f"{SEO} - Example News",
        body=(
            f"<nav class='Breadcrumbs'><ol><li><a href='/local/'>Local</a></li>"
            f"<li><h1 class='breadcrumb_last'>{SEO}</h1></li></ol></nav>"
            f"<article><h2 class='entry-title' itemprop='headline'>{SHOWN}</h2>{BODY}</article>"
        ),
    )
    assert title_of(html) == SHOWN


def test_article_header_heading_stands_in_for_a_breadcrumb_h1() -> None:
    html = page(
        ld=SEO,
        og=f"River crossing: {SHOWN}",
        body=(
            f"<ol><li><a href='/'>Home</a></li><li><h1>{SEO}</h1></li></ol>"
            "<article><header><h2><span class='kicker'>River crossing</span> "
            f"<span>{SHOWN}</span></h2></header>{BODY}</article>"
        ),
    )
    assert title_of(html) == f"River crossing: {SHOWN}"


def test_kicker_inside_the_h1_kept_when_og_title_shows_it() -> None:
    # "<span>Kicker</span>Headline" renders as two lines: JSON-LD leaves the kicker out, the
    # heading and og:title (and <title>) show it.
    html = page(
        ld=SHOWN,
        og=f"Town hall / {SHOWN}",
        title=f"Town hall {SHOWN} - Example News",
        body=f"<article><h1><span>Town hall</span>{SHOWN}</h1>{BODY}</article>",
    )
    assert title_of(html) == f"Town hall / {SHOWN}"


def test_jsonld_headline_is_the_publishers_statement() -> None:
    # og:title and the <h1> agree on another wording: JSON-LD, the publisher's declared
    # headline, still wins (and is no breadcrumb's name, no cut, no kicker left out).
    html = page(
        ld=SHOWN,
        og=SEO,
        body=f"<article><h1>{SEO}</h1>{BODY}</article>",
    )
    assert title_of(html) == SHOWN


def test_truncated_jsonld_headline_gives_way_to_the_whole_one() -> None:
    html = page(
        ld="Footbridge over the river approved after...",
        body=f"<article><h1>{SHOWN}</h1>{BODY}</article>",
    )
    assert title_of(html) == SHOWN


def test_without_jsonld_most_sources_win_and_ties_go_to_the_heading() -> None:
    body = f"<article><h1>{SHOWN}</h1>{BODY}</article>"
    assert title_of(page(og=SEO, title=f"{SHOWN} - Example News", body=body)) == SHOWN
    assert title_of(page(og=SEO, title=f"{SEO} | Example News", body=body)) == SEO
    assert title_of(page(og=SEO, body=body)) == SHOWN


@pytest.mark.parametrize("href", ["/", "https://news.example.org/", "/index.html"])
def test_logo_h1_is_the_sites_name(href: str) -> None:
    # A blog's <h1> links home: it names the site, so <title>'s prefix spelling it goes.
    html = page(
        title=f"Riverside Diary \u203a {SHOWN}",
        body=(
            f"<div id='header'><h1><a href='{href}'>Riverside Diary</a></h1></div>"
            f"<div class='post'><h3><a href='/2024/05/story.html'>{SHOWN}</a></h3>{BODY}</div>"
        ),
    )
    assert title_of(html) == SHOWN


def test_h1_linking_to_its_own_article_is_the_headline() -> None:
    html = page(
        title=f"{SHOWN} - Riverside Diary",
        body=f"<h1><a href='/2024/05/story.html'>{SHOWN}</a></h1>{BODY}",
    )
    assert title_of(html) == SHOWN


def test_header_h2_not_taken_without_a_breadcrumb_h1() -> None:
    # A story's <h2> in a header with its comment count: <title> is the better witness.
    html = page(
        title=f"{SHOWN} - Example News",
        body=f"<main><header><h2 class='story'>{SHOWN} <a href='#c'>340</a></h2></header>"
        f"{BODY}</main>",
    )
    assert title_of(html) == SHOWN


def test_breadcrumb_title_separator() -> None:
    assert clean_title(f"Riverside Diary \u203a {SHOWN}", ["Riverside Diary"]) == SHOWN
    # an unknown name stays: the headline's own words are never guessed away
    assert clean_title(f"Riverside Diary \u203a {SHOWN}", []) == f"Riverside Diary \u203a {SHOWN}"
    assert title_affixes(f"Riverside Diary \u203a {SHOWN}") == {
        "riverside diary",
        "footbridge over the river approved after ten years of debate",
    }
    model = SiteModel("diary.example.org")
    for i in range(3):
        model.observe([], f"Riverside Diary \u203a Post {i}")
    assert model.clean_title(f"Riverside Diary \u203a {SHOWN}") == SHOWN


def test_extractor_passes_the_url_for_the_logo() -> None:
    html = page(
        title=f"{SHOWN} - Riverside Diary",
        body=(
            "<div id='header'><h1><a href='https://diary.example.org/'>Riverside Diary</a></h1>"
            f"</div><div class='post'><h2>{SHOWN}</h2>{BODY}</div>"
        ),
    )
    article = ArticleExtractor().extract(html, "https://diary.example.org/2024/05/story.html")
    assert article is not None
    assert article.title == SHOWN


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # the site's segment goes, not the headline's first words with it
        (
            "Riverside Diary \u203a I am the man \u2014 and you can, too!",
            "I am the man \u2014 and you can, too!",
        ),
        # a tail opening with the site's name goes with its tagline
        ("Building the farm | Riverside Diary - notes from the valley", "Building the farm"),
        # a lead whose last segment is not the site's name stays
        ("Riverside Diary - Building the farm | the barn", "Building the farm | the barn"),
        ("Notes - Riverside Diary weekly | Building the farm", "Building the farm"),
    ],
)
def test_site_part_opens_a_tail_and_closes_a_lead(raw: str, expected: str) -> None:
    assert clean_title(raw, ["Riverside Diary"]) == expected


# (title, og:title, body, expected): the heading or body text that spells a part of <title>.
KICKED = "Bridge vote: Footbridge over the river approved after ten years of debate"
MASTHEAD = "The Valley Desk: Notes of the Riverside Courts"
TAGLINE = "Example News - Stories, Notes and More From the Valley Every Day"
TEASER = "Footbridge over the river approved after ten years\u2026"
SPELLED_PARTS = {
    # an old blog: the <h1> is the blog's name (no link home), the post's heading an <h2>
    # that <title> spells after the name; no name known from metadata
    "heading-after-a-blog-name": (
        f"Riverside Diary: {SHOWN}",
        None,
        "<div id='top'><h1>Riverside Diary</h1></div><div class='side'><h3>Archives</h3></div>"
        f"<div class='post'><h2>{SHOWN}</h2>{BODY}</div>",
        SHOWN,
    ),
    # " - Riverside Diary Blog" names no known site, but the heading spells the rest
    "heading-before-an-unknown-suffix": (
        f"{SHOWN} - Riverside Diary Blog",
        None,
        f"<h1></h1><div class='post'><h2>{SHOWN}</h2>{BODY}</div>",
        SHOWN,
    ),
    # "Example News" is the site's name: the <h1> spelling it is the logo
    "heading-spelling-the-site-name": (
        f"Example News | {SHOWN}",
        None,
        f"<h1>Example News</h1><div class='post'><h2>{SHOWN}</h2>{BODY}</div>",
        SHOWN,
    ),
    # a section's <h2> spells "Local", a part but not half the words: the body's <b> wins
    "short-part-heading": (
        f"{SHOWN} | Local",
        None,
        f"<h2>Local</h2><div class='post'><p><b>{SHOWN}</b></p>{BODY}</div>",
        SHOWN,
    ),
    # a table layout sets the headline in <font>, no heading: the body's copy cuts the suffix
    "body-text-before-an-unknown-suffix": (
        f"{SHOWN} : RIVERWATCH",
        None,
        f"<table><tr><td><font size='4'><b>{SHOWN}</b></font></td></tr></table>{BODY}",
        SHOWN,
    ),
    # ... but not the site's tagline (it opens with the site's name)
    "body-text-of-the-site-tagline": (
        f"{SHOWN} - {TAGLINE}",
        None,
        f"<p>{TAGLINE}</p>{BODY}",
        f"{SHOWN} - {TAGLINE}",
    ),
    # ... nor a teaser cut short
    "body-text-of-a-teaser": (
        f"{TEASER[:-1]}: of debate",
        None,
        f"<p><a href='/x'>{TEASER}</a></p>{BODY}",
        f"{TEASER[:-1]}: of debate",
    ),
    # "Kicker: Headline" in <title> and og:title, the kicker set apart in the heading: the
    # kicker alone is no headline
    "og-title-confirms-the-kicker": (
        "Bridge vote: council approves the new footbridge",
        "Bridge vote: council approves the new footbridge",
        "<article><h1><span class='kicker'>Bridge vote</span>: "
        f"<span>Council votes yes to a new footbridge</span></h1>{BODY}</article>",
        "Bridge vote: council approves the new footbridge",
    ),
    # og:title repeats <title>: its colon is a kicker's...
    "confirmed-colon-is-a-kicker": (
        KICKED,
        KICKED,
        f"<p class='kicker'>Bridge vote</p><h2>{SHOWN}</h2>{BODY}",
        KICKED,
    ),
    # ... unless a heading spells the lead
    "confirmed-colon-after-a-heading": (
        f"Riverside Diary: {SHOWN}",
        f"Riverside Diary: {SHOWN}",
        f"<h1>Riverside Diary</h1><div class='post'><h2>{SHOWN}</h2>{BODY}</div>",
        SHOWN,
    ),
    # the site's lead outweighs a short headline the body spells (the site's own name,
    # spelled in the body too, is shorter)
    "body-text-after-a-long-lead": (
        "Valley Chronicle: News, Sports and Weather for the Valley | Rovers beat Eagles",
        None,
        "<table><tr><td><a href='/s'>Sports</a></td></tr>"
        f"<tr><td><b>Rovers beat Eagles</b></td></tr></table>{BODY}<p>Valley Chronicle</p>",
        "Rovers beat Eagles",
    ),
    # a two-word place is never the headline
    "body-text-of-a-place": (
        "Rovers beat Eagles | Charleston, SC",
        None,
        f"<p>Charleston, SC</p>{BODY}",
        "Rovers beat Eagles | Charleston, SC",
    ),
    # the only <h1> is a box's: the body's copy of <title>'s part is a second witness
    "body-text-breaks-a-tie": (
        f"Valley Chronicle - {SHOWN}",
        None,
        f"<table><tr><td><font size='4'>{SHOWN}</font></td></tr></table>{BODY}"
        "<div class='box'><h1>More news</h1><ul><li>Fair opens</li></ul></div>",
        SHOWN,
    ),
    # the page's first heading spells the rest of <title>: the masthead, however long
    "heading-after-a-long-masthead": (
        f"Morning roundup - {MASTHEAD}",
        None,
        f"<h1>{MASTHEAD}</h1><h2>Morning roundup</h2>{BODY}",
        "Morning roundup",
    ),
    # ... not a footer's heading naming the site
    "footer-heading-is-no-masthead": (
        f"{SHOWN} - - Riverside Diary",
        None,
        f"<h2>Riverside Diary news</h2><h2>{SHOWN}</h2>{BODY}<h6>Riverside Diary</h6>",
        SHOWN,
    ),
    # " :blog" parts a title too (a colon touching a space on either side)
    "colon-before-a-blog-name": (
        f"\u00bb {SHOWN} :riverdiary",
        None,
        f"<h1>Latest</h1><div class='post'><h2>{SHOWN}</h2>{BODY}</div>",
        SHOWN,
    ),
}


@pytest.mark.parametrize(
    ("title", "og", "body", "expected"), SPELLED_PARTS.values(), ids=SPELLED_PARTS.keys()
)
def test_title_part_a_heading_or_body_text_spells(
    title: str, og: str | None, body: str, expected: str
) -> None:
    assert title_of(page(title=title, og=og, body=body)) == expected
