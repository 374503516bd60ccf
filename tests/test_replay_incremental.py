"""Every capture replays after incremental runs: new, updated and 304-revalidated articles, in
pywb (`newsarchive replay`) and in ReplayWeb.page (its npm release, in headless Chromium) from
a WACZ written by `newsarchive package`."""

from __future__ import annotations

import html
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from newsarchive.archive.wacz import validate_wacz
from newsarchive.demo.server import DEMO_ARTICLES, DemoSite
from tests.browser import Chromium, StaticServer, replay_in_replaywebpage, replaywebpage_dir
from tests.conftest import run_cli, write_demo_config
from tests.test_incremental import ADDED, CHANGED, Scenario
from tests.test_replay import COLLECTION, _chromium, _get, _start_replay, _stop

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Every archived article is looked at again (conditionally) whenever a listing names it.
REFETCH = {"within_hours": 24 * 365, "every_hours": 0.0001}


@dataclass
class Latest:
    """The latest capture of one article: its URL, 14-digit timestamp and a phrase of its text."""

    kind: str
    url: str
    timestamp: str
    phrase: str


@dataclass
class Runs:
    store: Path
    wacz: Path
    latest: list[Latest]


def _latest_lines(store: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """URL -> (timestamp, fields) of its latest capture, from the stored CDXJ indexes."""
    latest: dict[str, tuple[str, dict[str, str]]] = {}
    for path in sorted(store.glob("indexes/demo/*.cdxj")):
        for line in path.read_text(encoding="utf-8").splitlines():
            _key, timestamp, raw = line.split(" ", 2)
            fields = json.loads(raw)
            if fields["url"] not in latest or latest[fields["url"]][0] < timestamp:
                latest[fields["url"]] = (timestamp, fields)
    return latest


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Three runs: everything new; nothing changed; three new articles and one changed, the
    others revalidated by the refetch policy and answered 304."""
    root = tmp_path_factory.mktemp("replay-incremental")
    scenario = Scenario(root)
    with DemoSite(root=scenario.site_root) as site:
        sites = write_demo_config(root / "sites", site.base_url, refetch=REFETCH)
        scenario.run(site, sites)
        scenario.run(site, sites)
        scenario.change_site()
        scenario.run(site, sites)
        base = site.base_url
    for result in scenario.results:
        assert result.returncode == 0, result.stdout + result.stderr
    wacz = root / "all.wacz"
    packaged = run_cli("package", "--store", str(scenario.store), "-o", str(wacz))
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    latest = _latest_lines(scenario.store)
    unchanged = next(a for a in DEMO_ARTICLES if latest[base + a.path][1].get("status") == "304")
    kinds = [
        Latest("new", base + ADDED[0], "", "harbour update number 1"),
        Latest("updated", base + CHANGED, "", "updated this morning"),
        Latest("not modified", base + unchanged.path, "", unchanged.must_contain[0]),
    ]
    for capture in kinds:
        capture.timestamp = latest[capture.url][0]
    return Runs(scenario.store, wacz, kinds)


def test_latest_capture_of_each_kind_is_what_the_test_means(runs: Runs) -> None:
    latest = _latest_lines(runs.store)
    kinds = {c.kind: latest[c.url][1] for c in runs.latest}
    assert (kinds["new"]["mime"], kinds["new"]["status"]) == ("text/html", "200")
    assert (kinds["updated"]["mime"], kinds["updated"]["status"]) == ("text/html", "200")
    # The record stays what the server said: a server-not-modified revisit of a 304.
    assert (kinds["not modified"]["mime"], kinds["not modified"]["status"]) == (
        "warc/revisit",
        "304",
    )
    assert "Validation succeeded" in validate_wacz(runs.wacz)


def test_every_kind_of_capture_renders_in_pywb(
    runs: Runs, pywb_env_dir: Path, tmp_path: Path
) -> None:
    assert shutil.which("chromium"), "tests/run.sh installs the Debian package chromium"
    running = _start_replay(runs.store, pywb_env_dir, tmp_path / "log")
    try:
        for capture in runs.latest:
            url = f"{running.base_url}/{COLLECTION}/{capture.timestamp}/{capture.url}"
            status, _headers, _body = _get(url)
            assert status == 200, (capture.kind, url)
            dom = _chromium(tmp_path, "--dump-dom", url).stdout.decode("utf-8")
            assert capture.phrase in html.unescape(dom), capture.kind
    finally:
        assert _stop(running) == 0


@pytest.fixture(scope="module")
def replaywebpage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ReplayWeb.page's ui.js, sw.js and index.html, packed from npm once per machine."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsarchive-tests"
    return replaywebpage_dir(cache)


@pytest.fixture
def replay_app(replaywebpage: Path, runs: Runs, tmp_path: Path) -> Iterator[StaticServer]:
    root = tmp_path / "www"
    shutil.copytree(replaywebpage, root)
    shutil.copy(runs.wacz, root / "archive.wacz")
    with StaticServer(root) as server:
        yield server


def test_every_kind_of_capture_renders_in_replaywebpage(
    runs: Runs, replay_app: StaticServer, tmp_path: Path
) -> None:
    with Chromium(tmp_path / "profile") as browser:
        for capture in runs.latest:
            shown = replay_in_replaywebpage(
                browser,
                replay_app.url,
                f"{replay_app.url}/archive.wacz",
                capture.url,
                capture.timestamp,
            )
            assert shown is not None, capture.kind
            assert f"/{capture.timestamp}mp_/{capture.url}" in shown["src"]
            assert capture.phrase in shown["text"], (capture.kind, shown["text"][:300])


def test_package_pages_carry_article_text(runs: Runs) -> None:
    with zipfile.ZipFile(runs.wacz) as package:
        lines = package.read("pages/pages.jsonl").decode("utf-8").splitlines()
    header, pages = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["hasText"] is True
    by_url = {p["url"]: p for p in pages}
    new = next(c for c in runs.latest if c.kind == "new")
    assert new.phrase in by_url[new.url]["text"]
