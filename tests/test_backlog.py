"""A backlog that drains: articles found over `max_articles` are remembered in the seen store
and taken first by the next runs, oldest announcement first, even when every listing is
unchanged (answered 304)."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING

import yaml

from newsarchive.archive.seen import _SCHEMA as seen_schema
from newsarchive.archive.seen import Kind, PendingRequest, SqliteSeenStore
from newsarchive.config.exitcodes import EXIT_OK
from newsarchive.demo.server import DemoSite
from tests.conftest import run_cli, run_reports

if TYPE_CHECKING:
    from pathlib import Path

ARTICLES = 100
CAP = 40
_PARAGRAPH = (
    "<p>The harbour board met on {day} to discuss article {n}: dredging, ferry timetables and "
    "the new tide gauges along the eastern breakwater, which the council will pay for.</p>"
)


def _site(root: Path) -> Path:
    """A news site of ARTICLES articles listed in one RSS feed, one hour apart, newest first."""
    now = datetime.now(UTC)
    (root / "news").mkdir(parents=True)
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    items = []
    for n in range(ARTICLES):
        date = now - timedelta(hours=n + 1)
        body = "".join(_PARAGRAPH.format(day=date.date(), n=f"{n}-{k}") for k in range(6))
        (root / "news" / f"story-{n:03d}.html").write_text(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Story {n}</title>"
            f"</head><body><article><h1>Story {n}</h1>{body}</article></body></html>",
            encoding="utf-8",
        )
        items.append(
            f"<item><title>Story {n}</title><link>{{{{BASE}}}}/news/story-{n:03d}.html</link>"
            f"<pubDate>{format_datetime(date)}</pubDate></item>"
        )
    (root / "feed.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
        f"<link>{{{{BASE}}}}/</link>{''.join(items)}</channel></rss>",
        encoding="utf-8",
    )
    return root


def test_capped_runs_drain_the_backlog_oldest_first(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with DemoSite(root=_site(tmp_path / "site")) as site:
        sites = tmp_path / "sites"
        sites.mkdir()
        config = {
            "name": "big",
            "feeds": [f"{site.base_url}/feed.xml"],
            "max_articles": CAP,
            "max_age_days": 30,
            "politeness": {"download_delay": 0},
        }
        (sites / "big.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        logs = []
        for _ in range(3):
            site.clear_log()
            result = run_cli(
                "crawl", "--site", "big", "--sites-dir", str(sites), "--store", str(store),
                "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "EXTRACT_WORKERS=0",
            )  # fmt: skip
            assert result.returncode == EXIT_OK, result.stdout + result.stderr
            logs.append(site.requests)
    reports = run_reports(store, "big")
    assert [r["new"] for r in reports] == [CAP, CAP, ARTICLES - 2 * CAP]
    assert [r["backlog"] for r in reports] == [ARTICLES - CAP, ARTICLES - 2 * CAP, 0]
    # The listing was unchanged after the first run: answered 304.
    for log in logs[1:]:
        assert [r.status for r in log if r.path == "/feed.xml"] == [304]
    # Every article fetched exactly once; the newest first, then the backlog oldest first.
    fetched = [[int(r.path[-8:-5]) for r in log if r.path.startswith("/news/")] for log in logs]
    assert sorted(n for run in fetched for n in run) == list(range(ARTICLES))
    assert set(fetched[0]) == set(range(CAP))
    assert set(fetched[1]) == set(range(ARTICLES - CAP, ARTICLES))
    assert set(fetched[2]) == set(range(CAP, ARTICLES - CAP))


def test_backlog_is_kept_oldest_announcement_first_and_left_when_archived(
    tmp_path: Path,
) -> None:
    seen = SqliteSeenStore(tmp_path / "seen.sqlite3")
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    for n, hours in enumerate([1, 5, 3]):
        url = f"https://example.org/{n}"
        announced = now - timedelta(hours=hours)
        seen.add_backlog(PendingRequest(url, Kind.ARTICLE, "parse_article", {}, announced))
    seen.add_backlog(PendingRequest("https://example.org/undated", Kind.ARTICLE, "parse_article"))
    assert [p.url.rsplit("/", 1)[1] for p in seen.backlog()] == ["1", "2", "0", "undated"]
    assert seen.counts()["backlog"] == 4
    seen.settle("https://example.org/1")
    seen.drop_backlog("https://example.org/undated")
    assert [p.url.rsplit("/", 1)[1] for p in seen.backlog()] == ["2", "0"]
    seen.close()


def test_seen_store_of_an_older_release_gains_the_backlog(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    # The schema as released before the backlog: the same, less its table.
    old_schema = re.sub(r"-- Added after.*?\);\n", "", seen_schema, flags=re.DOTALL)
    assert "backlog" not in old_schema
    db = sqlite3.connect(path)
    db.executescript(old_schema)
    db.execute("INSERT INTO seen (url, kind) VALUES ('https://example.org/old', 'article')")
    db.commit()
    db.close()
    seen = SqliteSeenStore(path)
    seen.add_backlog(PendingRequest("https://example.org/a", Kind.ARTICLE, "parse_article"))
    assert [p.url for p in seen.backlog()] == ["https://example.org/a"]
    assert seen.counts() == {"urls": 1, "articles": 0, "pending": 0, "backlog": 1}
    seen.close()
