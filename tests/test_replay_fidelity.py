"""Replay fidelity in pywb (`newsarchive replay`): a reprint stored as a revisit of another URL,
WARCs written after the replay started, an article list that fits a 1280 px window."""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newsarchive.archive.store import open_store
from newsarchive.demo.server import DEMO_ARTICLES, DemoSite
from newsarchive.replay.app import list_captures
from tests.browser import Chromium
from tests.conftest import run_cli, write_demo_config
from tests.test_replay import COLLECTION, _get, _start_replay, _stop
from tests.test_reprints import STORY, write_reprint

if TYPE_CHECKING:
    from pathlib import Path

#: A bound on waiting for the refresh (every second here), not a speed requirement.
REFRESH_DEADLINE = 120.0
ORIGINAL = "https://news.example/world/story-1"
REPRINT = "https://news.example/reprints/story-1"


def _timestamp(warc_date: str) -> str:
    return "".join(c for c in warc_date if c.isdigit())[:14]


def test_cross_uri_revisit_replays_the_original_payload_in_pywb(
    pywb_env_dir: Path, tmp_path: Path
) -> None:
    done = write_reprint(tmp_path / "store", ORIGINAL, REPRINT)
    assert done.reprint.revisit is not None
    timestamp = _timestamp(done.reprint.location.date)
    running = _start_replay(tmp_path / "store", pywb_env_dir, tmp_path / "log")
    try:
        # id_: the archived payload as it was served, no rewriting.
        status, headers, body = _get(f"{running.base_url}/{COLLECTION}/{timestamp}id_/{REPRINT}")
        assert status == 200, body[:500]
        assert body == STORY
        assert headers.get("memento-datetime")
        # And rewritten for the browser, as a reader follows a link to it.
        status, _headers, body = _get(f"{running.base_url}/{COLLECTION}/{timestamp}/{REPRINT}")
        assert status == 200
        assert b"Same story." in body
    finally:
        assert _stop(running) == 0


def test_replay_serves_warcs_written_after_it_started(pywb_env_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_reprint(store, ORIGINAL, REPRINT)
    running = _start_replay(store, pywb_env_dir, tmp_path / "log", "--refresh", "1")
    try:
        with DemoSite() as site:
            sites = write_demo_config(tmp_path / "sites", site.base_url)
            crawled = run_cli(
                "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store),
                "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
            )  # fmt: skip
        assert crawled.returncode == 0, crawled.stdout + crawled.stderr
        english = DEMO_ARTICLES[0]  # its title is ASCII in a UTF-8 page
        captures = list_captures(open_store(str(store)))
        article = next(c for c in captures if urlsplit(c.url).path == english.path)
        url = f"{running.base_url}/{COLLECTION}/{article.timestamp}id_/{article.url}"
        deadline = time.monotonic() + REFRESH_DEADLINE
        status, _headers, body = _get(url)
        while status != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            status, _headers, body = _get(url)
        assert status == 200, body[:300]
        assert article.title.encode() in body

        # The article list shows the new captures too (it is refreshed on its own, from the
        # metadata, so on a loaded machine it may come a refresh after the index).
        def listed(page: bytes) -> bool:
            return (article.url.encode() in page or article.title.encode() in page) and len(
                DEMO_ARTICLES
            ) <= page.count(f"/{COLLECTION}/".encode())

        _status, _headers, page = _get(f"{running.base_url}/")
        while not listed(page) and time.monotonic() < deadline:
            time.sleep(0.5)
            _status, _headers, page = _get(f"{running.base_url}/")
        assert article.url.encode() in page or article.title.encode() in page
        assert len(DEMO_ARTICLES) <= page.count(f"/{COLLECTION}/".encode())
    finally:
        assert _stop(running) == 0


#: A long percent-encoded path (a headline in Cyrillic) on an IDN host, and one long ASCII token.
LONG_URLS = (
    "https://xn--b1amnebsh.example/"
    + "%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8-" * 12
    + "2026.html?utm=%D0%BB%D0%B5%D0%BD%D1%82%D0%B0",
    "https://news.example/" + "x" * 400 + ".html",
)
WINDOW = 1280


def _png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_article_list_fits_1280_px_and_shows_decoded_urls(
    pywb_env_dir: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    done = write_reprint(store, ORIGINAL, REPRINT)
    for n, url in enumerate(LONG_URLS):
        record = {
            "url": url,
            "site": "news",
            "title": "Long " * 40,
            "fetched_at": done.reprint.location.date,
        }
        key = f"meta/news/2026-03-01/{n:016x}-20260301T120000Z.v1.json"
        done.store.put_bytes(key, json.dumps(record).encode(), "application/json")
    running = _start_replay(store, pywb_env_dir, tmp_path / "log")
    try:
        with Chromium(tmp_path / "profile") as browser:
            session = browser.open_page("about:blank")
            browser.send(
                "Emulation.setDeviceMetricsOverride", session,
                width=WINDOW, height=800, deviceScaleFactor=1, mobile=False,
            )  # fmt: skip
            browser.send("Page.navigate", session, url=f"{running.base_url}/")
            text = browser.wait_for(
                session, "document.readyState === 'complete' && document.body.innerText"
            )
            width = browser.evaluate(session, "document.documentElement.scrollWidth")
            shot = browser.send("Page.captureScreenshot", session, format="png")
        png = base64.b64decode(shot["data"])
        (tmp_path / "list.png").write_bytes(png)
        assert _png_size(png)[0] == WINDOW
        assert width <= WINDOW
        assert "https://новости.example/новости-" in text
        assert "?utm=лента" in text
        assert "%D0" not in text
    finally:
        assert _stop(running) == 0
