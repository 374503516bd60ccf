"""ArticleExtractor: body cleaning, metadata, Arabic pages, paywall flag, per-site overrides."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsarchive.extraction.documents import Extraction, ExtractOptions, extract_document
from newsarchive.extraction.extractor import EXTRACTOR_VERSION, Article, ArticleExtractor
from newsarchive.extraction.metadata import clean_title, split_authors
from newsarchive.extraction.rules import (
    clean_lines,
    comment_thread_start,
    is_dateline,
    is_legal_notice,
)
from newsarchive.extraction.sitemodel import MAX_AFFIXES, MIN_PAGES, SiteModel

DATA = Path(__file__).parent / "data" / "extraction"
DEMO_SITE = Path(__file__).parents[1] / "demo" / "site"

PARAGRAPHS = [
    "The city council voted on Monday evening to approve a new pedestrian footbridge across the "
    "river, ending more than ten years of debate about how to link the old town with the station.",
    "The bridge, which is expected to cost around twelve million pounds, will be paid for with a "
    "mix of national transport funding and money from the council's own capital budget.",
    "Supporters said the crossing would cut walking times for thousands of commuters every day "
    "and take pressure off the busy road bridge, which has no safe space for cyclists.",
    "Opponents argued that the money would be better spent on repairing existing roads and "
    "pavements, many of which have been in poor condition since the floods two winters ago.",
]


def make_page(
    *,
    head: str = "",
    body: str | None = None,
    title: str = "Council approves new river footbridge",
    lang: str = "en",
) -> str:
    if body is None:
        body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{title}</title>{head}</head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>{title.split(' | ')[0]}</h1>{body}</article>"
        "<footer><p>Contact us</p></footer></body></html>"
    )


@pytest.fixture(scope="module")
def extractor() -> ArticleExtractor:
    return ArticleExtractor()


@pytest.fixture(scope="module")
def english(extractor: ArticleExtractor) -> Article:
    html = (DATA / "english_article.html").read_text(encoding="utf-8")
    article = extractor.extract(html, "https://example.org/news/footbridge-approved?utm=x")
    assert article is not None
    return article


@pytest.fixture(scope="module")
def arabic(extractor: ArticleExtractor) -> Article:
    html = (DATA / "arabic_article.html").read_text(encoding="utf-8")
    article = extractor.extract(html, "https://example.com/ar/news/library-opening")
    assert article is not None
    return article


def test_extractor_version_is_a_safe_file_name_segment() -> None:
    assert re.fullmatch(r"[A-Za-z0-9._-]+", EXTRACTOR_VERSION)
    assert EXTRACTOR_VERSION.startswith("tf")


def test_english_article_body(english: Article) -> None:
    lines = english.text.split("\n")
    assert len(lines) == 5  # one paragraph per line
    assert lines[0].startswith("The city council voted on Monday evening")
    assert lines[-1].startswith("Construction is due to start in the autumn")
    for noise in (
        "Share on",
        "Advertisement",
        "Photo:",
        "Related",
        "Read more",
        "Follow us",
        "By Jane",
    ):
        assert noise not in english.text
    assert "Council approves new river footbridge" not in english.text  # headline not repeated
    assert all(line == line.rstrip() for line in lines)
    assert english.word_count == len(re.findall(r"\w+", english.text))
    assert not english.paywalled


def test_english_article_metadata(english: Article) -> None:
    assert english.title == "Council approves new river footbridge after decade of debate"
    assert english.authors == ["Jane Doe", "John Smith"]
    assert english.published == "2024-03-05T09:30:00+00:00"
    assert english.modified == "2024-03-05T11:02:00+00:00"
    assert english.language == "en"
    assert english.site_name == "The Example Gazette"
    assert english.description == "The bridge will link the old town with the railway station."
    assert english.tags == ["Transport", "Local politics"]
    assert english.image == "https://example.org/img/bridge.jpg"
    assert english.canonical_url == "https://example.org/news/footbridge-approved"
    assert english.extractor_version == EXTRACTOR_VERSION


def test_tags_and_categories_from_the_page_links_or_its_section_meta(
    extractor: ArticleExtractor,
) -> None:
    # No tag or category in <meta> or JSON-LD: trafilatura's link searches decide, and a page
    # none of whose links can match (most pages) skips them for the section <meta>.
    tagged = make_page(
        body="".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + '<div class="tags"><a href="/tag/bridges/">Bridges</a> <a href="/about/">About</a></div>'
        + '<div class="entry-meta"><a href="/category/local/">Local</a></div>',
        head='<meta property="article:section" content="City news">',
    )
    article = extractor.extract(tagged, "https://example.org/news/bridge")
    assert article is not None
    assert article.tags == ["Bridges", "Local"]  # the category, then the tag
    untagged = make_page(
        body="".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + '<div class="tags"><a href="/topics/bridges/">Bridges</a></div>',
        head='<meta property="article:section" content="City news">',
    )
    article = extractor.extract(untagged, "https://example.org/news/bridge")
    assert article is not None
    assert article.tags == ["City news"]


def test_to_dict_round_trips(english: Article) -> None:
    data = english.to_dict()
    assert data["title"] == english.title
    assert data["authors"] == english.authors
    assert Article(**data) == english  # type: ignore[arg-type]  # values come from an Article


def test_arabic_page_keeps_body_and_drops_boilerplate(arabic: Article) -> None:
    lines = arabic.text.split("\n")
    assert len(lines) == 4
    assert lines[0].startswith("افتتحت البلدية صباح اليوم مكتبة عامة جديدة")
    assert lines[-1].endswith("وتبادل المعرفة.")
    for dropped in (
        "الثلاثاء: 17 فبراير 2026",  # dateline
        "13:15",  # lone time
        "مواضيع قد تعجبك",  # "topics you may like" heading
        "ارتفاع أسعار الخضار",  # its link titles
        "فريق المدينة يفوز",
        "معرض الكتاب السنوي",
        "جميع الحقوق محفوظة",
    ):
        assert dropped not in arabic.text
    assert arabic.title == "افتتاح مكتبة عامة جديدة في وسط المدينة"
    assert arabic.language == "ar"
    assert arabic.authors == ["سارة أحمد"]
    assert arabic.published == "2026-02-17T13:15:00+02:00"


def test_arabic_line_rules_directly() -> None:
    # Whatever trafilatura keeps, the line rules remove the dateline, time and related block.
    lines = [
        "الثلاثاء: 17 فبراير 2026",
        "13:15",
        "افتتحت البلدية صباح اليوم مكتبة عامة جديدة في وسط المدينة، تضم أكثر من خمسين ألف كتاب.",
        "وقال رئيس البلدية إن المشروع استغرق ثلاث سنوات من العمل المتواصل.",
        "مواضيع قد تعجبك",
        "ارتفاع أسعار الخضار في الأسواق المحلية",
        "فريق المدينة يفوز بالبطولة للمرة الثالثة",
    ]
    kept, paywall = clean_lines(lines, titles=["افتتاح مكتبة عامة جديدة"])
    assert kept == lines[2:4]
    assert not paywall


@pytest.mark.parametrize(
    "line",
    [
        "Tuesday: 17 February 2026",
        "13:15",
        "الثلاثاء: 17 فبراير 2026",
        "05.09.2024 | 2:03 min",
        "2025年1月14日 01時28分",
        "Updated 10:42 GMT",
        "10:02 AM CST on Friday, December 28, 2007",
        "Jan 12, 2008 2:04 AM (3 days ago)",
        "Posted on November 9, 2012 at 6:41 AM • 7 Comments",
        "Associated Press - January 2, 2008 7:33 AM ET",
    ],
)
def test_datelines(line: str) -> None:
    assert is_dateline(line)


@pytest.mark.parametrize(
    "line",
    [
        "The 2024 budget was approved.",
        "Heute ist Dienstag",
        "Am 3. Mai kamen 500 Menschen.",
        "Rescuers worked for 3 days and 12 hours.",
    ],
)
def test_not_datelines(line: str) -> None:
    assert not is_dateline(line)


@pytest.mark.parametrize(
    ("raw", "sites", "expected"),
    [
        (
            "Headline about the budget - The Example Gazette",
            ["The Example Gazette"],
            "Headline about the budget",
        ),
        ("Headline about the budget | Site", ["Site"], "Headline about the budget"),
        # an unknown short tail may be the headline's own words: kept
        ("Headline about the budget | Site", [], "Headline about the budget | Site"),
        ("Shares fall as markets open - Update", ["Example News"], None),
        (
            "Your tax refund may be late - here's how to check",
            ["Example News", "example"],
            None,
        ),
        ("Regjeringen vil kutte - men ikke i år", ["NRK"], None),
        ("円安が進む - 日本経済新聞", ["日本経済新聞"], "円安が進む"),
        (
            "Example Gazette | Headline about the budget",
            ["Example Gazette"],
            "Headline about the budget",
        ),
        (
            # the domain's words name the site; the section is the site model's to learn
            "Headline about the budget \u2013 Politik \u2013 SZ.de",
            ["Süddeutsche Zeitung", "sz.de", "sz"],
            "Headline about the budget \u2013 Politik",
        ),
        # a long tail is part of the headline, not a site name
        (
            "Trump renames the gulf - and Mexico says it will not follow the new name",
            [],
            "Trump renames the gulf - and Mexico says it will not follow the new name",
        ),
        ("Short", ["Site"], "Short"),
        (None, [], None),
    ],
)
def test_clean_title(raw: str | None, sites: list[str], expected: str | None) -> None:
    # None: the title must come out as it was
    assert clean_title(raw, sites) == (raw if expected is None and raw else expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("By Jane Doe and John Smith", ["Jane Doe", "John Smith"]),
        ("Jane Doe, John Smith", ["Jane Doe", "John Smith"]),
        ("Von Max Muster und Erika Mustermann", ["Max Muster", "Erika Mustermann"]),
        (["Jane Doe", "jane doe", "@janedoe"], ["Jane Doe"]),
        ("Jane Doe; John Smith", ["Jane Doe", "John Smith"]),
        (None, []),
    ],
)
def test_split_authors(raw: str | list[str] | None, expected: list[str]) -> None:
    assert split_authors(raw) == expected


def test_meta_dates_keep_time_zone(extractor: ArticleExtractor) -> None:
    head = (
        '<meta property="article:published_time" content="2024-04-26T10:00:00+0200">'
        '<meta property="article:modified_time" content="2024-04-26T12:30:00Z">'
    )
    article = extractor.extract(make_page(head=head), "https://example.org/2020/01/01/story")
    assert article is not None
    assert article.published == "2024-04-26T10:00:00+02:00"
    assert article.modified == "2024-04-26T12:30:00+00:00"


def test_future_date_is_dropped(extractor: ArticleExtractor) -> None:
    future = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    head = f'<meta property="article:published_time" content="{future}">'
    article = extractor.extract(make_page(head=head))
    assert article is not None
    assert article.published is None or article.published < future[:10]


def test_future_jsonld_date_falls_back_to_a_plausible_one(extractor: ArticleExtractor) -> None:
    future = (datetime.now(UTC) + timedelta(days=400)).strftime("%Y-%m-%d")
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "'
        + future
        + '"}</script><meta property="article:published_time" content="2023-01-02T08:00:00-05:00">'
    )
    article = extractor.extract(make_page(head=head))
    assert article is not None
    assert article.published == "2023-01-02T08:00:00-05:00"


def test_language_detected_when_undeclared(extractor: ArticleExtractor) -> None:
    html = make_page(lang="").replace(' lang=""', "")
    article = extractor.extract(html)
    assert article is not None
    assert article.language == "en"


def test_language_hint_wins(extractor: ArticleExtractor) -> None:
    article = ArticleExtractor(language_hint="de").extract(make_page())
    assert article is not None
    assert article.language == "de"


def test_paywall_notice_sets_flag(extractor: ArticleExtractor) -> None:
    body = (
        f"<p>{PARAGRAPHS[0]}</p><p>{PARAGRAPHS[1]}</p>"
        "<p>Il vous reste 57.09% de cet article à lire. La suite est réservée aux abonnés.</p>"
    )
    article = extractor.extract(make_page(body=body))
    assert article is not None
    assert article.paywalled
    assert "abonnés" not in article.text


def test_short_body_is_flagged_as_paywalled(extractor: ArticleExtractor) -> None:
    body = f"<p>{PARAGRAPHS[0]}</p><div class='paywall'><p>Subscribe</p></div>"
    article = extractor.extract(make_page(body=body))
    assert article is not None
    assert article.paywalled


def test_no_text_returns_none(extractor: ArticleExtractor) -> None:
    assert extractor.extract("<html><body><nav><a href='/'>Home</a></nav></body></html>") is None
    assert extractor.extract("") is None


def test_body_xpath_override() -> None:
    body = (
        "<div class='teasers'><p>" + " ".join(["Other story teaser text here."] * 12) + "</p></div>"
        "<div class='story-body'>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:2]) + "</div>"
    )
    html = make_page(body=body)
    article = ArticleExtractor(body_xpath="//div[@class='story-body']").extract(html)
    assert article is not None
    assert article.text.split("\n") == PARAGRAPHS[:2]


def test_drop_xpaths_override() -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + (
        "<p class='promo'>Our members enjoy exclusive weekly briefings delivered on Sundays, "
        "with analysis from the whole newsroom and invitations to events.</p>"
    )
    html = make_page(body=body)
    plain = ArticleExtractor().extract(html)
    assert plain is not None
    assert "exclusive weekly briefings" in plain.text
    article = ArticleExtractor(drop_xpaths=["//p[@class='promo']"]).extract(html)
    assert article is not None
    assert "exclusive weekly briefings" not in article.text
    assert article.text.split("\n") == PARAGRAPHS


def test_extractor_is_reusable_and_does_not_mutate_input(extractor: ArticleExtractor) -> None:
    html = make_page()
    first = extractor.extract(html)
    second = extractor.extract(html)
    assert first == second


def _extraction(text: str, title: str, page_title: str, body: str | None = None) -> Extraction:
    return Extraction(
        text=text,
        encoding="utf-8",
        extractor_version=EXTRACTOR_VERSION,
        metadata={"title": title, "page_title": page_title},
        article_body=body,
    )


def test_site_model_cold_start_removes_nothing() -> None:
    model = SiteModel("s")
    for n in range(MIN_PAGES - 1):
        result = model.apply(_extraction(f"Label\nStory {n} is here.", "T", "T | Site"))
        assert result.text.startswith("Label")
        assert "removed_blocks" not in result.metadata


def test_site_model_removes_repeats_but_not_the_articlebody() -> None:
    model = SiteModel("s")
    for n in range(MIN_PAGES + 2):
        model.apply(_extraction(f"Label\nStory {n} is here.\nSign-off", f"T{n}", f"T{n} | Site"))
    result = model.apply(
        _extraction("Label\nNew story.\nSign-off", "New", "New | Site", "New story. Sign-off")
    )
    assert result.text == "New story.\nSign-off"
    assert result.metadata["removed_blocks"] == [
        {"text": "Label", "reason": "repeated", "seen_on": MIN_PAGES + 3, "pages": MIN_PAGES + 3}
    ]
    assert SiteModel.from_json(model.to_json()) == model


def test_site_model_learns_title_affixes() -> None:
    model = SiteModel("s")
    for n in range(3):
        model.observe([f"Story {n}."], f"Headline {n} \u2013 Politik \u2013 SZ.de")
    assert model.clean_title("Budget talks fail \u2013 Politik") == "Budget talks fail"
    assert model.clean_title("Budget talks - fail") == "Budget talks - fail"


def test_site_model_keeps_a_bounded_number_of_affixes() -> None:
    model = SiteModel("s")
    for n in range(MAX_AFFIXES + 1):
        # every headline is an affix seen once; the site's name is on all of them
        model.observe([], f"Headline {n} | Bench Daily")
    assert len(model.affixes) <= MAX_AFFIXES
    assert model.affixes["bench daily"] == MAX_AFFIXES + 1
    assert model.clean_title("  Budget talks fail | Bench Daily") == "Budget talks fail"
    assert model.clean_title(" Budget talks fail ") == "Budget talks fail"


def _demo_variant(path: str, label: str) -> bytes:
    """A demo article with its label above the body and its related box inside it."""
    raw = (DEMO_SITE / path).read_bytes()
    encoding = "cp1256" if b"windows-1256" in raw else "utf-8"
    html = raw.decode(encoding)
    related = re.search(r"<aside class=\"related\".*?</aside>", html, re.DOTALL)
    assert related is not None
    html = html.replace(related.group(0), "")
    html = html.replace(
        '<div class="story-body">', f'<div class="story-body"><p class="kicker">{label}</p>'
    )
    body = html.index('<div class="story-body">')
    third = [m.end() for m in re.finditer("</p>", html) if m.start() > body][3]
    html = html[:third] + related.group(0).replace("aside", "div") + html[third:]
    return html.encode(encoding)


def test_arabic_demo_article_and_inline_variant() -> None:
    arabic = "world/ar/solar-desalination-plant.html"
    others = [
        "world/ferry-crews-end-strike.html",
        "world/icebreaker-aurora-vale-returns.html",
        "world/delta-flood-barrier-data.html",
        "business/fishing-cooperative-profit.html",
        "business/port-automation-jobs.html",
    ]
    model = SiteModel("demo")
    options = ExtractOptions()
    for path in others:
        result = extract_document(_demo_variant(path, "Whats the Story"), None, None, options)
        assert result is not None
        model.apply(result)
    plain = extract_document((DEMO_SITE / arabic).read_bytes(), None, None, options)
    variant = extract_document(_demo_variant(arabic, "Whats the Story"), None, None, options)
    assert plain is not None
    assert variant is not None
    variant = model.apply(variant)
    for result in (plain, variant):
        assert result.text.startswith("بدأت محطة جديدة"), result.text
        assert len(result.text.splitlines()) >= 4
        for boilerplate in ("الثلاثاء", "17 فبراير 2026", "13:15", "مواضيع قد تعجبك", "Whats"):
            assert boilerplate not in result.text
        # the related box's teaser headlines
        assert "كاسحة" not in result.text


def test_table_rows_keep_only_prose_cells() -> None:
    prose = "The council voted on Monday to approve the bridge after ten years of debate in town."
    lines, _ = clean_lines(["| USD | 0,8453 |", f"| 15.01.08 | {prose} |", "A plain paragraph."])
    assert lines == [prose, "A plain paragraph."]


def test_a_story_printed_twice_on_one_line_is_kept_once() -> None:
    # An old table layout joins the story into one line, and prints it twice (page and
    # printable copy): one copy is the article. A card title shown twice is chrome.
    story = " ".join(PARAGRAPHS)
    card = "Space shuttle launch could be delayed"
    lines, _ = clean_lines([f"{story}   {story}", f"{card} {card}", PARAGRAPHS[0]])
    assert lines == [story, PARAGRAPHS[0]]


def test_readability_fallback_does_not_bring_back_reader_comments() -> None:
    # A short post above a long comment thread: trafilatura's text is short, so readability is
    # asked, and its text is the thread. resiliparse (comments left out) does not confirm it.
    post = (
        "<p>For time: run ten miles, then one hundred and fifty burpee pull-ups, partitioned "
        "as needed.</p><p>Lieutenant Ray, 34, of San Antonio, served with the Second Battalion "
        "and was killed in Kunar province in March.</p><p>He is survived by his wife, his son, "
        "his parents, two brothers and a sister. Post your time to the comments.</p>"
    )
    thread = "".join(
        f"<div class='comments-body'><p>Comment number {i}: this workout looks brutal but I "
        "will try it on Saturday with my friends at the local gym, wish me luck everyone.</p>"
        f"<span class='comments-post'>Comment #{i} - Posted by: Reader{i} at November 10, 2012"
        f" 5:{i:02d} PM</span></div>"
        for i in range(1, 40)
    )
    html = (
        "<html><head><title>Sunday 121111</title></head><body><div id='main'>"
        f"<h1>Sunday 121111</h1><div class='post'>{post}</div>"
        f"<div class='comments-head'><a name='comments'></a>Comments</div>{thread}"
        "</div></body></html>"
    )
    article = ArticleExtractor().extract(html)
    assert article is not None
    assert article.text.startswith("For time: run ten miles")
    assert "Post your time to the comments." in article.text
    assert "Comment number" not in article.text
    assert "Posted by" not in article.text


@pytest.mark.parametrize(
    "line",
    [
        "(Copyright 2007 by The Associated Press. All Rights Reserved.)",
        "© owned by or licensed to Scottish & Universal Newspapers Limited 2008. icScotland™ is a "
        "trade mark of Scottish & Universal Newspapers Limited.",
        "Copyright © 2008 Times Newspapers Ltd. This service is provided on Times Newspapers' "
        "standard Terms and Conditions. Please read our Privacy Policy.",
        "This material may not be published, broadcast, rewritten or redistributed.",
        # a notice's wording with a term, past the length of a wording alone
        "All rights reserved. This service is provided on Times Newspapers' standard Terms and "
        "Conditions; to inquire about a licence to reproduce material from Times Online, The "
        "Times or The Sunday Times, see our syndication pages.",
        "© Süddeutsche Zeitung GmbH, München. Alle Rechte vorbehalten.",
        # a site's own terms, with no mark
        "This service is provided on Times Newspapers' standard Terms and Conditions. Please "
        "read our Privacy Policy.To inquire about a licence to reproduce material from Times "
        "Online, The Times or The Sunday Times, click here.",
        "Comments are moderated by our editors, so there may be a delay between submission and "
        "publication of your comment.",
        "Redistribution, republication, syndication, rewriting or broadcast is expressly "
        "prohibited without the prior written consent of AHN.",
        # two of a notice's wordings, past the length of one alone
        "Copyright Thomson Financial News Limited 2007. All rights reserved. The copying, "
        "republication or redistribution of Thomson Financial News Content, including by framing "
        "or similar means, is expressly prohibited without the prior written consent of Thomson "
        "Financial News.",
    ],
)
def test_legal_notices_are_not_article_text(line: str) -> None:
    assert is_legal_notice(line)
    lines, _ = clean_lines([PARAGRAPHS[0], line, PARAGRAPHS[1]])
    assert lines == PARAGRAPHS[:2]


@pytest.mark.parametrize(
    "line",
    [
        # prose about copyright, with no notice's wording
        "The court ruled on Tuesday that the copyright claim against the museum had expired.",
        # reporting that uses a notice's terms
        "Facebook changed its privacy policy and its terms of service on Tuesday.",
        "The copyright was licensed to Universal in 1990, the court heard.",
        "Apple said its trademarks had been infringed by the new phones.",
        "The museum refused the photographer a licence to reproduce the painting in his book.",
        # a story joined with its footer on one line (an old table layout): kept whole
        " ".join([*PARAGRAPHS, *PARAGRAPHS]) + " Copyright 2008 AP. All rights reserved.",
    ],
)
def test_prose_that_names_copyright_is_kept(line: str) -> None:
    assert not is_legal_notice(line)


COMMENTS = [
    ("atmos", "Mar 20, 2007 10:19:46 PM", ["Priceless, and so true of the tools I use every day."]),
    ("Jon", "Mar 20, 2007 11:21:10 PM", ["Great post.", "Shame the best parts are images."]),
    ("Raimo", "Mar 20, 2007 11:51:02 PM", ["Why do we try to humanize everything we build?"]),
    ("Satz", "Mar 21, 2007 1:17:36 AM", ["Some only work from nine to five and never more."]),
]


def test_signed_reader_comments_are_not_article_text() -> None:
    # A 2007 blog: the post, its own signature, then a thread of comments each signed
    # "Posted by: NAME | DATE", in markup that says nothing of comments.
    thread = "".join(
        "<div class='content'>"
        + "".join(f"<p>{line}</p>" for line in lines)
        + f"<p class='posted'>Posted by: {name} | {date}</p></div>"
        for name, date, lines in COMMENTS
    )
    body = (
        "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + "<p class='posted'>Posted by Kathy on March 20, 2007 | Permalink</p>"
        + f"<h3>Comments</h3>{thread}"
    )
    article = ArticleExtractor().extract(make_page(body=body))
    assert article is not None
    assert article.text == "\n".join(PARAGRAPHS)
    # asked for, the comments stay
    with_comments = ArticleExtractor(include_comments=True).extract(make_page(body=body))
    assert with_comments is not None
    assert "Posted by: Satz" in with_comments.text


def test_comment_thread_start_with_the_signature_after_or_before_the_comment() -> None:
    # newspaper systems of the 2000s: "Posted by NAME on DATE", then "Report this comment"
    telegraph = [*PARAGRAPHS, "What a marvellous opportunity."]
    for name in ("Idealist", "John", "rupert"):
        telegraph += [f"Posted by {name} on January 10, 2008 5:58 PM", "Report this comment"]
        telegraph.append("They can have ours for free.")
    assert comment_thread_start(telegraph) == len(PARAGRAPHS) + 1
    # the signature above the comment, the thread under its heading
    bolton = [*PARAGRAPHS, "Have your say"]
    for name in ("tom3465, farnworth", "donmarg, bolton", "irf, Accrington"):
        bolton += [f"Posted by: {name} on 8:21pm Tue 1 Jan 08", "lolll", "Quote | Report this post"]
    assert comment_thread_start(bolton) == len(PARAGRAPHS)
    # a long comment parts the signatures: the thread still starts at the first run
    long_comment = [f"Paragraph {i} of a long comment." for i in range(20)]
    parted = [*telegraph, *long_comment, "Posted by Al on January 11, 2008 9:00 AM"]
    assert comment_thread_start(parted) == len(PARAGRAPHS) + 1
    # other languages sign comments their way
    for signature in (
        "Posté par {} le 12 mars 2008 à 10:21",
        "Geschrieben von {} am 12.03.2008 um 10:21",
        "Publicado por {} el 12 de marzo de 2008",
    ):
        signed = [*PARAGRAPHS, "Bravo.", signature.format("Ana"), "Oui.", signature.format("Bo")]
        assert (
            comment_thread_start([*signed, "Non.", signature.format("Cy")]) == len(PARAGRAPHS) + 1
        )


def test_signed_lines_that_are_not_a_comment_thread_are_kept() -> None:
    # a live blog signs its entries with a time only: the entries are the article
    live = [PARAGRAPHS[0]]
    for minute, paragraph in enumerate(PARAGRAPHS[1:]):
        live += [f"Posted by Jane Doe at 10:3{minute}", paragraph]
    live += ["Posted by Jane Doe at 10:39", "Our live coverage ends here for today, thank you."]
    assert comment_thread_start(live) is None
    assert clean_lines(live)[0] == live
    # two signed comments are not yet a thread
    two = [
        *PARAGRAPHS,
        "Nice.",
        "Posted by: Jon | Mar 20, 2007",
        "Great.",
        "Posted by: Al | Mar 21, 2007",
    ]
    assert comment_thread_start(two) is None
    # signed posts with no article above them: a forum page, left alone
    forum = [f"Posted by: user{i} | Mar 2{i}, 2007 10:1{i} PM\nFirst!" for i in range(5)]
    forum = [part for post in forum for part in post.split("\n")]
    assert comment_thread_start(forum) is None
    # signed posts quoted mid-article, the article going on below them
    quoted = [*PARAGRAPHS, *two[len(PARAGRAPHS) :], "Posted by: Bo | Mar 22, 2007", *PARAGRAPHS * 4]
    assert comment_thread_start(quoted) is None
    # signatures spread out are an article's own, not a thread
    spread = [*PARAGRAPHS * 4, "Posted by Kathy on March 20, 2007"]
    spread = [*spread, *PARAGRAPHS * 4, "Posted by Kathy on March 21, 2007"]
    spread = [*spread, *PARAGRAPHS * 4, "Posted by Kathy on March 22, 2007"]
    assert comment_thread_start(spread) is None


def _titled_page(*, og: str | None = None, ld: str | None = None) -> str:
    head = f'<meta property="og:title" content="{og}">' if og else ""
    if ld:
        head += (
            '<script type="application/ld+json">{"@type": "NewsArticle", '
            f'"headline": "{ld}"}}</script>'
        )
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f"<html><head><title>Bridge vote: council says yes - The Daily Planet</title>{head}"
        f"</head><body><article><h1>Bridge vote: yes</h1>{paragraphs}</article></body></html>"
    )


def test_title_source_named_by_the_site_file() -> None:
    html = _titled_page(og="Council approves footbridge", ld="Footbridge approved")
    assert ArticleExtractor().extract(html).title == "Footbridge approved"  # type: ignore[union-attr]
    by_source = {
        source: ArticleExtractor(title_source=source, site_names=["The Daily Planet"]).extract(html)
        for source in ("og", "h1", "title", "jsonld")
    }
    assert {source: a.title for source, a in by_source.items() if a} == {
        "og": "Council approves footbridge",
        "h1": "Bridge vote: yes",
        "title": "Bridge vote: council says yes",
        "jsonld": "Footbridge approved",
    }
    # a page without the named source: the generic choice
    no_og = ArticleExtractor(title_source="og").extract(_titled_page(ld="Footbridge approved"))
    assert no_og is not None
    assert no_og.title == "Footbridge approved"
    with pytest.raises(ValueError, match="title_source"):
        ArticleExtractor(title_source="headline")


def test_site_names_from_the_site_file_leave_the_title() -> None:
    html = _titled_page()
    # the <title> alone: only a name the site file gives marks its suffix as the site's
    alone = ArticleExtractor(title_source="title").extract(html)
    named = ArticleExtractor(title_source="title", site_names=["The Daily Planet"]).extract(html)
    assert alone is not None
    assert named is not None
    assert alone.title == "Bridge vote: council says yes - The Daily Planet"
    assert named.title == "Bridge vote: council says yes"


def test_an_archive_abstract_notice_is_a_paywall() -> None:
    notice = "The full article contains 259 words and appears in Press Association newspaper."
    kept, paywall = clean_lines([PARAGRAPHS[0], notice])
    assert kept == [PARAGRAPHS[0]]
    assert paywall


@pytest.mark.parametrize(
    "line",
    [
        # tags and categories (the record keeps them as tags)
        "Tags: Ford, ford hybrid transmission",
        "by TrekMovie.com Staff , Filed under: Celebrity,Conventions/Events,Shatner , trackback",
        "Posted in: Fuel Economy, New Trucks",
        "Schlagwörter: Bahn, Tarife, Pendler",
        # an old video player's fallback text
        "Get the Flash Player to see this player.",
        # credits and notes closing a story
        "(Reporting by Adrian Croft, Editing by Luke Baker)",
        "(Additional reporting by Hugh Bronstein in Bogota; Writing by Frank Jack Daniel; editing "
        "by Bill Trott and Todd Eastham)",
        "John Harris can be reached at jharris@example.com or 412-481-5432.",
        "This article appeared on page D - 7 of the San Francisco Chronicle",
        "Use of this website is subject to our Terms of Service and Privacy Policy",
        "Please keep comments civil. We reserve the right to remove comments that are "
        "objectionable or otherwise in violation of our terms of use.",
        "Brought to you by AAP",
    ],
)
def test_metadata_credit_and_note_lines_are_not_text(line: str) -> None:
    assert clean_lines([PARAGRAPHS[0], line, PARAGRAPHS[1]])[0] == PARAGRAPHS[:2]


def test_prose_that_starts_or_reads_like_those_lines_is_kept() -> None:
    lines = [
        "Category 5 storms are rare this far north, forecasters said on Monday.",
        "Tagged whales were tracked for three years along the coast.",
        "The hikers can be reached at the ranger station by the northern trail, officials said.",
        "Reporting by the local paper (editing by its owner) was later found to be accurate.",
    ]
    assert clean_lines(lines)[0] == lines


@pytest.mark.parametrize(
    "line",
    [
        "1/10/2008, 6:07 a.m. EST By DOUG FERGUSON The Associated Press",
        "Jan 14 2008 by Andy Howell, Western Mail",
    ],
)
def test_a_timestamp_and_byline_on_one_line_are_not_text(line: str) -> None:
    assert clean_lines([line, *PARAGRAPHS[:2]])[0] == PARAGRAPHS[:2]


def test_prose_with_a_date_and_by_is_kept() -> None:
    line = "The car was built in 2008 by Ford engineers in Detroit, the company said."
    assert clean_lines([line, *PARAGRAPHS[:2]])[0] == [line, *PARAGRAPHS[:2]]
