"""A generated news site of many articles for scale-out tests and bench/scaleout.py: listing
pages and a sitemap linking `count` articles of distinct text, served by `DemoSite(root=...)`."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from pathlib import Path

_WORDS = [
    "harbour",
    "council",
    "ferry",
    "crew",
    "tide",
    "storm",
    "budget",
    "fishing",
    "quota",
    "port",
    "vote",
    "mayor",
    "school",
    "bridge",
    "river",
    "flood",
    "barrier",
    "engineer",
    "union",
    "strike",
    "wage",
    "plan",
    "market",
    "trader",
    "winter",
    "summer",
    "energy",
    "solar",
    "wind",
    "grid",
    "hospital",
    "nurse",
    "doctor",
    "library",
    "museum",
    "festival",
    "tourist",
    "season",
    "road",
    "rail",
    "station",
    "timetable",
    "delay",
    "repair",
    "contract",
    "tender",
    "audit",
    "report",
    "minister",
    "committee",
    "inquiry",
]
PER_PAGE = 50


def article_path(n: int) -> str:
    return f"/news/2026/03/story-{n:05d}.html"


def _paragraphs(rng: random.Random, n: int) -> str:
    paragraphs = []
    for p in range(6):
        sentences = []
        for _ in range(5):
            words = rng.choices(_WORDS, k=rng.randint(10, 18))
            sentences.append(" ".join(words).capitalize() + ".")
        paragraphs.append(f"<p>Story {n}, part {p + 1}. {' '.join(sentences)}</p>")
    return "\n".join(paragraphs)


def _article(rng: random.Random, n: int) -> str:
    title = f"Story {n}: the {rng.choice(_WORDS)} and the {rng.choice(_WORDS)}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} | The Big Gazette</title>"
        f'<meta property="article:published_time" content="2026-03-{1 + n % 28:02d}T08:00:00Z">'
        f'</head><body><header><a href="/">The Big Gazette</a></header>'
        f"<article><h1>{title}</h1>\n{_paragraphs(rng, n)}\n</article>"
        "<footer>(c) The Big Gazette</footer></body></html>\n"
    )


def _listing(page: int, pages: int, count: int) -> str:
    first = (page - 1) * PER_PAGE
    links = "\n".join(
        f'<li><a href="{article_path(n)}">Story {n}</a></li>'
        for n in range(first, min(first + PER_PAGE, count))
    )
    more = f'<a rel="next" href="/news/page/{page + 1}/">Next</a>' if page < pages else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>News</title></head>'
        f"<body><h1>News, page {page}</h1><ul>\n{links}\n</ul>{more}</body></html>\n"
    )


def write_big_site(root: Path, count: int, seed: int = 7) -> Path:
    """Write the site's files under `root`; returns `root`."""
    rng = random.Random(seed)
    pages = max(1, -(-count // PER_PAGE))
    for n in range(count):
        path = root / article_path(n).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_article(rng, n), encoding="utf-8")
    for page in range(1, pages + 1):
        folder = root / "news" / "page" / str(page)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(_listing(page, pages, count), encoding="utf-8")
    (root / "news" / "index.html").write_text(_listing(1, pages, count), encoding="utf-8")
    (root / "index.html").write_text(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>The Big Gazette</title>'
        '</head><body><a href="/news/">News</a></body></html>\n',
        encoding="utf-8",
    )
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    return root


def write_big_config(directory: Path, base_url: str, count: int) -> Path:
    """A sites folder with `big.yaml`: the listing pages as one section, articles by `allow`."""
    pages = max(1, -(-count // PER_PAGE))
    data = {
        "name": "big",
        "start_urls": [f"{base_url}/"],
        "sections": [{"url": f"{base_url}/news/", "max_pages": pages + 1}],
        "allow": [r"/news/2026/"],
        "max_articles": count * 2,
        "max_age_days": 5000,
        "politeness": {"download_delay": 0},
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "big.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return directory
