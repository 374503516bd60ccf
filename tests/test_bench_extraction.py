"""bench/extraction.py's site-model row: ours after each site's model, as `reextract` gives it."""

from __future__ import annotations

from bench.extraction import Page, PageResult, with_site_models
from bench.metrics import score_page
from newsarchive.extraction.extractor import Article
from newsarchive.extraction.sitemodel import MIN_PAGES

PITCH = "Sign up to the Morning Briefing newsletter for the day's top stories in your inbox."


def _story(n: int) -> str:
    return (
        f"Story {n} begins with the council's decision on the {n}th bridge over the river, "
        f"which cost {n} million and took {n + 3} years to plan and build."
    )


def _pages(site: str, count: int) -> tuple[list[Page], dict[str, Article | None]]:
    pages, articles = [], {}
    for n in range(count):
        page_id = f"{site}-{n}"
        pages.append(Page(page_id, None, b"", _story(n), f"Story {n}", site))
        articles[page_id] = Article(
            text=f"{_story(n)}\n{PITCH}", title=f"Story {n}", page_title=f"Story {n} | {site}"
        )
    return pages, articles


def _page_by_page(pages: list[Page], articles: dict[str, Article | None]) -> dict[str, PageResult]:
    results = {}
    for page in pages:
        article = articles[page.id]
        text = article.text if article else None
        results[page.id] = PageResult(score_page(page.expected, text), True, 0.01)
    return results


def test_a_sites_repeated_block_goes_once_the_site_has_enough_pages() -> None:
    warm, warm_articles = _pages("daily", MIN_PAGES)
    cold, cold_articles = _pages("weekly", MIN_PAGES - 1)
    pages, articles = warm + cold, {**warm_articles, **cold_articles}
    results = with_site_models(pages, articles, _page_by_page(pages, articles))

    for page in warm:
        # the pitch repeats on every page of the site: removed, the story left whole
        assert results[page.id].score.exact, page.id
        assert results[page.id].cpu_seconds >= 0.01
    for page in cold:
        # too few pages to tell the pitch from text (the cold start): nothing removed
        assert not results[page.id].score.exact, page.id
        assert results[page.id].score.fp > 0
