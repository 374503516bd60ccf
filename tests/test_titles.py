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


def test_heading_that_title_names_is_the_headline() -> None:
    # An old blog layout: the <h1> is the blog's name (no link home), the post's heading an
    # <h2> that <title> spells after the name; no name known from metadata.
    html = page(
        title=f"Riverside Diary: {SHOWN}",
        body=(
            "<div id='top'><h1>Riverside Diary</h1></div>"
            "<div class='side'><h3>Archives</h3></div>"
            f"<div class='post'><h2>{SHOWN}</h2>{BODY}</div>"
        ),
    )
    assert title_of(html) == SHOWN


def test_heading_shows_where_an_unknown_site_suffix_begins() -> None:
    # " - Riverside Diary Blog" names no known site, but the heading spells the rest.
    html = page(
        title=f"{SHOWN} - Riverside Diary Blog",
        body=f"<h1></h1><div class='post'><h2>{SHOWN}</h2>{BODY}</div>",
    )
    assert title_of(html) == SHOWN


def test_heading_spelling_the_sites_name_is_not_the_headline() -> None:
    # "Example News" is the site's name: the <h1> spelling it is the logo, whatever its length.
    html = page(
        title=f"Example News | {SHOWN}",
        body=f"<h1>Example News</h1><div class='post'><h2>{SHOWN}</h2>{BODY}</div>",
    )
    assert title_of(html) == SHOWN


def test_heading_spelling_a_short_part_of_the_title_is_not_the_headline() -> None:
    # A section's <h2> spells "Local", a part of <title> but not half its words.
    html = page(
        title=f"{SHOWN} | Local",
        body=f"<h2>Local</h2><div class='post'><p><b>{SHOWN}</b></p>{BODY}</div>",
    )
    assert title_of(html) == SHOWN


def test_body_text_shows_where_an_unknown_site_suffix_begins() -> None:
    # A table layout sets the headline in <font>, no heading: the body's copy of it cuts off
    # the title's unknown suffix, but not its tagline, a teaser cut short or a kicker.
    html = page(
        title=f"{SHOWN} : RIVERWATCH",
        body=f"<table><tr><td><font size='4'><b>{SHOWN}</b></font></td></tr></table>{BODY}",
    )
    assert title_of(html) == SHOWN
    tagline = "Example News - Stories, Notes and More From the Valley Every Day"
    html = page(
        title=f"{SHOWN} - {tagline}",
        body=f"<p>{tagline}</p>{BODY}",
    )
    assert title_of(html) == f"{SHOWN} - {tagline}"
    teaser = "Footbridge over the river approved after ten years\u2026"
    html = page(title=f"{teaser[:-1]}: of debate", body=f"<p><a href='/x'>{teaser}</a></p>{BODY}")
    assert title_of(html) == f"{teaser[:-1]}: of debate"


def test_body_text_does_not_cut_a_title_og_title_confirms() -> None:
    # "Kicker: Headline" in <title> and og:title, the kicker set apart in the heading: the
    # kicker alone is no headline.
    html = page(
        title="Bridge vote: council approves the new footbridge",
        og="Bridge vote: council approves the new footbridge",
        body=(
            "<article><h1><span class='kicker'>Bridge vote</span>: "
            f"<span>Council votes yes to a new footbridge</span></h1>{BODY}</article>"
        ),
    )
    assert title_of(html) == "Bridge vote: council approves the new footbridge"


def test_colon_parts_a_confirmed_title_only_after_a_name_the_page_shows() -> None:
    # og:title repeats <title>: its colon is a kicker's, unless a heading spells the lead.
    kicked = "Bridge vote: Footbridge over the river approved after ten years of debate"
    html = page(
        title=kicked,
        og=kicked,
        body=f"<p class='kicker'>Bridge vote</p><h2>{SHOWN}</h2>{BODY}",
    )
    assert title_of(html) == kicked
    html = page(
        title=f"Riverside Diary: {SHOWN}",
        og=f"Riverside Diary: {SHOWN}",
        body=f"<h1>Riverside Diary</h1><div class='post'><h2>{SHOWN}</h2>{BODY}</div>",
    )
    assert title_of(html) == SHOWN


def test_body_text_cuts_a_long_site_and_section_lead() -> None:
    # The site's lead outweighs a short headline, which the body spells: it is the headline
    # (the site's own name spelled in the body is shorter). A two-word place never is.
    html = page(
        title="Valley Chronicle: News, Sports and Weather for the Valley | Rovers beat Eagles",
        body=(
            "<table><tr><td><a href='/s'>Sports</a></td></tr>"
            "<tr><td><b>Rovers beat Eagles</b></td></tr></table>"
            f"{BODY}<p>Valley Chronicle</p>"
        ),
    )
    assert title_of(html) == "Rovers beat Eagles"
    html = page(title="Rovers beat Eagles | Charleston, SC", body=f"<p>Charleston, SC</p>{BODY}")
    assert title_of(html) == "Rovers beat Eagles | Charleston, SC"


def test_body_text_breaks_a_tie_between_heading_and_title() -> None:
    # The only <h1> is a box's ("More news"), <title> names the site first: the body's own
    # copy of <title>'s headline part is a second witness against the heading.
    html = page(
        title=f"Valley Chronicle - {SHOWN}",
        body=(
            f"<table><tr><td><font size='4'>{SHOWN}</font></td></tr></table>{BODY}"
            "<div class='box'><h1>More news</h1><ul><li>Fair opens</li></ul></div>"
        ),
    )
    assert title_of(html) == SHOWN


def test_first_heading_spelling_the_rest_of_the_title_is_the_masthead() -> None:
    # The masthead outweighs the headline in <title>; the page's first heading spells it, so
    # the heading spelling the rest is the headline. A footer's heading naming the site is not.
    masthead = "The Valley Desk: Notes of the Riverside Courts"
    html = page(
        title=f"Morning roundup - {masthead}",
        body=f"<h1>{masthead}</h1><h2>Morning roundup</h2>{BODY}",
    )
    assert title_of(html) == "Morning roundup"
    html = page(
        title=f"{SHOWN} - - Riverside Diary",
        body=f"<h2>Riverside Diary news</h2><h2>{SHOWN}</h2>{BODY}<h6>Riverside Diary</h6>",
    )
    assert title_of(html) == SHOWN


def test_colon_before_a_blog_name_parts_the_title() -> None:
    html = page(
        title=f"\u00bb {SHOWN} :riverdiary",
        body=f"<h1>Latest</h1><div class='post'><h2>{SHOWN}</h2>{BODY}</div>",
    )
    assert title_of(html) == SHOWN
