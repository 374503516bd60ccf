"""Site-level boilerplate learning: a crawl of 30 articles of one site, then reextract."""

from __future__ import annotations

import json
import random
import signal
from typing import TYPE_CHECKING

import pytest

from newsarchive.archive.layout import META_PREFIX
from newsarchive.demo.server import DemoSite
from newsarchive.extraction.sitemodel import MIN_PAGES, load_site_model
from newsarchive.extraction.version import EXTRACTOR_VERSION
from tests.conftest import run_cli
from tests.processes import sigkill, start_cli, wait_until

if TYPE_CHECKING:
    from pathlib import Path

ARTICLES = 30
LABEL = "Whats the Story"
RELATED_HEADING = "Elsewhere on the Ledger"
PITCH = "The Morning Ledger lands at seven every weekday, free for readers who register today."
BOILERPLATE = (LABEL, RELATED_HEADING, PITCH)
NEW_VERSION = "site-test"
_WORDS = (
    *("harbour", "council", "budget", "ferry", "river", "school", "bridge", "market"),
    *("farmers", "weather", "station", "museum", "library", "nurses", "tram", "festival"),
    *("court", "housing", "energy", "fishing", "island", "teachers", "rail", "park"),
)


def _sentence(rng: random.Random, index: int, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(14)]
    return f"Story {index} paragraph {n} says the {' '.join(words)} stayed open all week."


def _headline(index: int) -> str:
    return f"Ledger story {index} about the {_WORDS[index % len(_WORDS)]} plan"


def _article(index: int) -> str:
    rng = random.Random(index)
    paragraphs = [f"<p>{_sentence(rng, index, n)}</p>" for n in range(6)]
    others = [(index + k) % ARTICLES for k in (1, 2, 3)]
    related = (
        f"<div class='more'><h3>{RELATED_HEADING}</h3><ul>"
        + "".join(f"<li><a href='/news/story-{o}.html'>{_headline(o)}</a></li>" for o in others)
        + "</ul></div>"
    )
    # The same chrome in varied places: label above or inside the body, pitch and related box
    # between different paragraphs.
    paragraphs.insert(index % 3, f"<p class='label'>{LABEL}</p>")
    paragraphs.insert(2 + index % 4, f"<p class='pitch'>{PITCH}</p>")
    paragraphs.insert(4 + index % 3, related)
    title = _headline(index)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title} | The Ledger</title>"
        "<meta property='og:type' content='article'>"
        "<meta property='og:site_name' content='The Ledger'>"
        f"<meta property='article:published_time' content='2026-03-{1 + index % 28:02d}T09:00:00Z'>"
        f"<link rel='canonical' href='{{{{BASE}}}}/news/story-{index}.html'>"
        "</head><body><header><a href='/'>The Ledger</a></header><main><article>"
        f"<h1>{title}</h1>{''.join(paragraphs)}</article></main>"
        "<footer><p>The Ledger, Harbour Street</p></footer></body></html>"
    )


def _site(root: Path) -> Path:
    (root / "news").mkdir(parents=True)
    (root / "feeds").mkdir()
    items = []
    for index in range(ARTICLES):
        (root / "news" / f"story-{index}.html").write_text(_article(index), encoding="utf-8")
        items.append(
            f"<item><title>{_headline(index)}</title>"
            f"<link>{{{{BASE}}}}/news/story-{index}.html</link>"
            f"<pubDate>Sun, {1 + index % 28:02d} Mar 2026 09:00:00 GMT</pubDate></item>"
        )
    (root / "feeds" / "rss.xml").write_text(
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>The Ledger"
        f"</title><link>{{{{BASE}}}}/</link>{''.join(items)}</channel></rss>",
        encoding="utf-8",
    )
    (root / "index.html").write_text(
        "<!DOCTYPE html><html><head><title>The Ledger</title></head><body>"
        "<a href='/feeds/rss.xml'>RSS</a></body></html>",
        encoding="utf-8",
    )
    return root


def _texts(store: Path, version: str) -> dict[str, tuple[str, dict[str, object]]]:
    found = {}
    for path in sorted(store.glob(f"{META_PREFIX}/ledger/*/*.{version}.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        text = (store / str(record["text_key"])).read_text(encoding="utf-8")
        found[str(record["url"])] = (text, record)
    return found


def _ledger_config(root: Path, base_url: str) -> Path:
    sites = root / "sites"
    sites.mkdir()
    (sites / "ledger.yaml").write_text(
        f"name: ledger\nstart_urls: ['{base_url}/']\nfeeds: ['{base_url}/feeds/rss.xml']\n"
        "max_articles: 100\nmax_age_days: 3650\npoliteness:\n  download_delay: 0\n",
        encoding="utf-8",
    )
    return sites


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ledger")
    with DemoSite(_site(root / "site")) as site:
        sites = _ledger_config(root, site.base_url)
        result = run_cli(
            "crawl", "--site", "ledger", "--sites-dir", str(sites), "--store",
            str(root / "store"), "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    return root


def test_crawl_learns_the_sites_boilerplate(crawled: Path) -> None:
    texts = _texts(crawled / "store", EXTRACTOR_VERSION)
    assert len(texts) == ARTICLES
    dirty = [url for url, (text, _) in texts.items() if any(b in text for b in BOILERPLATE)]
    # Only the cold start (before MIN_PAGES articles) keeps them.
    assert len(dirty) < MIN_PAGES, dirty
    for text, _record in texts.values():
        assert "paragraph 5 says" in text
        assert text.count("paragraph") == 6, text
    removed = [b for _, record in texts.values() for b in record.get("removed_blocks", [])]
    assert {b["text"] for b in removed} >= {LABEL, PITCH}
    assert all(b["reason"] and b["seen_on"] <= b["pages"] for b in removed)
    model = load_site_model(crawled / "store" / "state", "ledger")
    assert model is not None
    assert model.pages == ARTICLES


def test_reextract_cleans_the_first_pages(crawled: Path) -> None:
    store = crawled / "store"
    result = run_cli(
        "reextract", "--store", str(store), "--sites-dir", str(crawled / "sites"),
        "--version-tag", NEW_VERSION,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    texts = _texts(store, NEW_VERSION)
    assert len(texts) == ARTICLES
    for url, (text, record) in texts.items():
        for block in BOILERPLATE:
            assert block not in text, (url, block)
        assert text.count("paragraph") == 6, text
        assert {b["text"] for b in record["removed_blocks"]} >= {LABEL, PITCH}


def test_a_killed_crawl_keeps_what_the_model_learnt(tmp_path: Path) -> None:
    """The model is saved as the crawl goes: SIGKILL (no close) loses at most the last interval."""
    store = tmp_path / "store"
    with DemoSite(_site(tmp_path / "site"), delay=0.2) as site:
        sites = _ledger_config(tmp_path, site.base_url)
        child = start_cli(
            "crawl", "--site", "ledger", "--sites-dir", str(sites), "--store", str(store),
            "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
            "-s", "EXTRACT_SITE_MODEL_SAVE_INTERVAL=0",
        )  # fmt: skip
        try:

            def learnt() -> bool:
                model = load_site_model(store / "state", "ledger")
                return model is not None and model.pages >= MIN_PAGES

            wait_until(lambda: learnt() or child.poll() is not None, "a saved model", timeout=60)
            assert child.poll() is None, "the crawl ended before it could be killed"
        finally:
            sigkill(child)
    assert child.returncode == -signal.SIGKILL
    saved = load_site_model(store / "state", "ledger")
    assert saved is not None
    assert MIN_PAGES <= saved.pages < ARTICLES
    assert saved.blocks, "the saved model holds the counted blocks"
