"""`newsarchive replay`: pywb (in its own venv, made on first use) and headless Chromium over a
real demo crawl, compared with what the live demo site serves."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import pytest

from newsarchive.archive.local import LocalStore
from newsarchive.archive.store import open_store
from newsarchive.demo.server import DEMO_ARTICLES, SITE_ROOT, DemoArticle, DemoSite
from newsarchive.replay.app import (
    COLLECTION,
    ReplayArticle,
    ReplayServer,
    _mirror,
    list_captures,
    prepare,
)
from newsarchive.replay.env import PYWB_ENV_VAR, PywbEnv
from tests.conftest import REPO

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import DemoCrawl, S3DemoCrawl

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
#: First use installs pywb from PyPI (~15 s here); later starts take about a second.
START_TIMEOUT = 300.0
ENGLISH = DEMO_ARTICLES[0]


@dataclass
class Replay:
    process: subprocess.Popen[bytes]
    base_url: str
    stdout: Path
    stderr: Path


def _start_replay(
    store: Path | str,
    env_dir: Path,
    log_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> Replay:
    """`newsarchive replay --port 0` in a child process; returns once it prints its URL."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = log_dir / "stdout.txt", log_dir / "stderr.txt"
    command = ["replay", "--store", str(store), "--port", "0", *args]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsarchive.cli.main", *command],
            cwd=REPO,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env={**(env or os.environ), PYWB_ENV_VAR: str(env_dir)},
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(r"article list: (http://127\.0\.0\.1:\d+)/", stdout.read_text())
        if found:
            return Replay(process, found.group(1), stdout, stderr)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    process.wait()
    pytest.fail(f"replay did not start:\n{stdout.read_text()}\n{stderr.read_text()}")


def _stop(replay: Replay) -> int:
    replay.process.send_signal(signal.SIGTERM)
    return replay.process.wait(30)


@pytest.fixture(scope="session")
def replay(
    demo_crawl: DemoCrawl, pywb_env_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replay]:
    assert demo_crawl.result.returncode == 0, demo_crawl.result.stderr
    running = _start_replay(demo_crawl.store, pywb_env_dir, tmp_path_factory.mktemp("replay"))
    yield running
    _stop(running)


@pytest.fixture(scope="session")
def pywb_env(replay: Replay, pywb_env_dir: Path) -> PywbEnv:
    env = PywbEnv(pywb_env_dir)
    assert env.is_ready()
    return env


@pytest.fixture(scope="module")
def live_site(demo_crawl: DemoCrawl) -> Iterator[DemoSite]:
    """The demo site again on the crawl's port, so its pages carry the URLs the crawl saw."""
    port = urlsplit(str(demo_crawl.metadata()[0]["url"])).port
    with DemoSite(port=port or 0) as site:
        yield site


def _captures(crawl: DemoCrawl) -> dict[str, ReplayArticle]:
    store = open_store(str(crawl.store))
    return {urlsplit(c.url).path: c for c in list_captures(store)}


def _get(url: str, accept_gzip: bool = False) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url)
    if accept_gzip:
        request.add_header("Accept-Encoding", "gzip")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def _decoded(headers: dict[str, str], body: bytes) -> bytes:
    return gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body


def _live_body(site: DemoSite, article: DemoArticle) -> bytes:
    status, headers, body = _get(site.url(article.path))
    assert status == 200
    return _decoded(headers, body)


def test_replay_serves_every_article_as_the_live_site(
    replay: Replay, demo_crawl: DemoCrawl, live_site: DemoSite
) -> None:
    captures = _captures(demo_crawl)
    for article in DEMO_ARTICLES:
        capture = captures[article.path]
        assert capture.url == live_site.url(article.path)
        # id_ mode: the archived payload as it was served, without pywb's rewriting.
        url = f"{replay.base_url}/{COLLECTION}/{capture.timestamp}id_/{capture.url}"
        status, headers, body = _get(url, accept_gzip=True)
        assert status == 200, article.path
        assert _decoded(headers, body) == _live_body(live_site, article), article.path
    gzipped = next(
        a for a in DEMO_ARTICLES if a.path.endswith("icebreaker-aurora-vale-returns.html")
    )
    capture = captures[gzipped.path]
    url = f"{replay.base_url}/{COLLECTION}/{capture.timestamp}id_/{capture.url}"
    _, headers, body = _get(url, accept_gzip=True)
    # Archived Content-Encoded: pywb hands the gzip bytes back to a client that accepts them.
    assert headers.get("content-encoding") == "gzip"
    assert gzip.decompress(body).startswith(b"<!DOCTYPE html>")


def test_replayed_article_loads_its_requisites_from_the_archive(
    replay: Replay, demo_crawl: DemoCrawl
) -> None:
    capture = _captures(demo_crawl)[ENGLISH.path]
    page_url = replay.base_url + capture.replay_path()
    status, headers, page = _get(page_url)
    assert status == 200
    # pywb points the page's stylesheet into the archive, and serves it from there.
    text = page.decode("utf-8")
    (href,) = re.findall(r'<link rel="stylesheet" href="([^"]*/static/site\.css)"', text)
    css_url = urljoin(page_url, html.unescape(href))
    assert css_url.startswith(f"{replay.base_url}/{COLLECTION}/"), css_url
    status, headers, _ = _get(css_url)
    assert status == 200, css_url
    assert headers["content-type"].startswith("text/css")
    # As archived, byte for byte: the stylesheet, the logo and the image the stylesheet uses.
    origin = capture.url.removesuffix(ENGLISH.path)
    for path in ("/static/site.css", "/static/logo.png", "/static/rule.png"):
        url = f"{replay.base_url}/{COLLECTION}/{capture.timestamp}id_/{origin}{path}"
        status, _headers, body = _get(url)
        assert status == 200, url
        assert body == (SITE_ROOT / path.lstrip("/")).read_bytes(), url


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}  # link text -> href
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links["".join(self._text).strip()] = self._href
            self._href = None


def _title_of(headers: dict[str, str], body: bytes) -> str:
    charset = re.search(r"charset=([\w-]+)", headers.get("content-type", ""))
    text = body.decode(charset.group(1) if charset else "utf-8")
    found = re.search(r"<title>(.*?)</title>", text, re.DOTALL)
    assert found, text[:500]
    return html.unescape(found.group(1))


def test_article_list_links_every_article(replay: Replay, demo_crawl: DemoCrawl) -> None:
    status, headers, body = _get(replay.base_url + "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    parser = _Links()
    parser.feed(body.decode("utf-8"))
    captures = _captures(demo_crawl)
    for article in DEMO_ARTICLES:
        href = parser.links[article.title]
        assert (
            href == f"/{COLLECTION}/{captures[article.path].timestamp}/{captures[article.path].url}"
        )
        status, headers, page = _get(replay.base_url + href)
        assert status == 200, href
        assert _title_of(headers, page) == f"{article.title} | The Harbour Gazette"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, timeout=120, check=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _png_gray(data: bytes) -> tuple[int, int, list[int]]:
    """Width, height and a grey sample of every 8th pixel of an 8-bit RGB(A) PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert color in (2, 6)  # RGB or RGBA
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(bytes(idat)), width * bpp
    previous, samples = bytearray(stride), []
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):  # PNG spec 9.2: undo the row filter
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = previous[i - bpp] if i >= bpp else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        samples += [sum(line[x : x + 3]) // 3 for x in range(0, stride, bpp * 8)]
        previous = line
    return width, height, samples


def test_chromium_renders_replayed_article(
    replay: Replay, demo_crawl: DemoCrawl, tmp_path: Path
) -> None:
    assert shutil.which("chromium"), "tests/run.sh installs the Debian package chromium"
    capture = _captures(demo_crawl)[ENGLISH.path]
    url = replay.base_url + capture.replay_path()
    dom = _chromium(tmp_path, "--dump-dom", url).stdout.decode("utf-8")
    found = re.search(r"<title>(.*?)</title>", dom, re.DOTALL)
    assert found, dom[:500]
    assert html.unescape(found.group(1)) == f"{ENGLISH.title} | The Harbour Gazette"
    assert ENGLISH.must_contain[0] in html.unescape(dom)

    shot = tmp_path / "article.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", url)
    width, height, grey = _png_gray(shot.read_bytes())
    assert (width, height) == (1280, 900)
    # Text on a page: many dark pixels on a light background, not one flat colour.
    assert statistics.pstdev(grey) > 20
    assert sum(1 for g in grey if g < 128) > len(grey) // 100


def test_wacz_loads_in_pywb_and_its_digest_matches(
    pywb_env: PywbEnv, demo_crawl: DemoCrawl, live_site: DemoSite, tmp_path: Path
) -> None:
    waczs = sorted(demo_crawl.store.glob("wacz/demo/*.wacz"))
    assert waczs, "the demo crawl packages its run into wacz/demo/RUN.wacz"
    wacz = waczs[-1]
    with zipfile.ZipFile(wacz) as package:
        datapackage = package.read("datapackage.json")
        digest = json.loads(package.read("datapackage-digest.json"))
        assert digest["path"] == "datapackage.json"
        assert digest["hash"] == "sha256:" + hashlib.sha256(datapackage).hexdigest()
        for resource in json.loads(datapackage)["resources"]:
            data = package.read(resource["path"])
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
            assert resource["bytes"] == len(data)
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()[1:]]
    assert {urlsplit(p["url"]).path for p in pages} == {a.path for a in DEMO_ARTICLES}

    # As an archivist would: pywb's own manager unpacks and indexes the package.
    manager = pywb_env.path / "bin" / "wb-manager"
    for args in (["init", "demo"], ["add", "--unpack-wacz", "demo", str(wacz)]):
        subprocess.run([str(manager), *args], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "config.yaml").write_text("framed_replay: false\n", encoding="utf-8")
    with ReplayServer(pywb_env, tmp_path) as server:
        for page in pages:
            article = next(a for a in DEMO_ARTICLES if page["url"].endswith(a.path))
            timestamp = re.sub(r"\D", "", page["ts"])[:14]  # ISO 8601 in pages.jsonl
            url = f"{server.url}/demo/{timestamp}id_/{page['url']}"
            status, headers, body = _get(url, accept_gzip=True)
            assert status == 200, url
            assert _decoded(headers, body) == _live_body(live_site, article), url


def test_replay_stops_cleanly_on_sigterm(
    pywb_env: PywbEnv, demo_crawl: DemoCrawl, tmp_path: Path
) -> None:
    running = _start_replay(demo_crawl.store, pywb_env.path, tmp_path)
    parent = running.process.pid
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    assert len(children) == 1, "one pywb process under the command"
    pywb = int(children[0])
    assert _get(running.base_url + "/")[0] == 200
    assert _stop(running) == 0
    assert "newsarchive replay: stopped" in running.stdout.read_text()
    assert not Path(f"/proc/{pywb}").exists(), "pywb outlived the command"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(running.base_url + "/", timeout=5)
    # Started again, it reuses the pywb venv and the CDXJ it made the first time.
    assert "installing pywb" not in running.stderr.read_text()


def test_replay_refuses_empty_and_unreachable_stores(pywb_env: PywbEnv, tmp_path: Path) -> None:
    from tests.conftest import run_cli  # noqa: PLC0415 - keeps the module's imports light
    from tests.s3server import free_ports  # noqa: PLC0415 - as above

    env = {PYWB_ENV_VAR: str(pywb_env.path)}
    # An existing store without WARCs (a missing one is refused earlier, see
    # test_operator_cli): nothing to replay.
    (tmp_path / "empty").mkdir()
    empty = run_cli("replay", "--store", str(tmp_path / "empty"), "--port", "0", env=env)
    assert empty.returncode == 2
    assert "nothing to replay: no WARC files" in empty.stderr
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    s3 = run_cli(
        "replay", "--store", "s3://bucket/prefix", "--port", "0",
        "-s", f"AWS_ENDPOINT_URL={dead}", "-s", "AWS_ACCESS_KEY_ID=newsarchive-test-none",
        "-s", "AWS_SECRET_ACCESS_KEY=none", "-s", f"STORAGE_S3_STATE_DIR={tmp_path / 's3'}",
        env=env,
    )  # fmt: skip
    assert s3.returncode == 2, s3.stdout + s3.stderr
    assert f"cannot list warcs in s3://bucket/prefix at {dead}" in s3.stderr
    assert "Traceback" not in s3.stderr


def test_replay_serves_an_s3_store_from_a_local_mirror(
    pywb_env: PywbEnv, s3_demo_crawl: S3DemoCrawl, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    store = s3_demo_crawl.open(state)
    captures = {urlsplit(c.url).path: c for c in list_captures(store)}
    assert captures.keys() == {a.path for a in DEMO_ARTICLES}
    running = _start_replay(
        s3_demo_crawl.uri, pywb_env.path, tmp_path / "log",
        "-s", f"STORAGE_S3_STATE_DIR={state}", env=s3_demo_crawl.env,
    )  # fmt: skip
    try:
        for article in DEMO_ARTICLES:
            capture = captures[article.path]
            url = f"{running.base_url}/{COLLECTION}/{capture.timestamp}id_/{capture.url}"
            status, headers, body = _get(url, accept_gzip=True)
            assert status == 200, article.path
            assert _decoded(headers, body) == _live_body(s3_demo_crawl.site, article), article.path
        status, _, page = _get(running.base_url + "/")
        assert status == 200
        parser = _Links()
        parser.feed(page.decode("utf-8"))
        for article in DEMO_ARTICLES:
            assert parser.links[article.title] == captures[article.path].replay_path()
    finally:
        assert _stop(running) == 0
    warcs = [k for k in store.list("warcs") if k.endswith(".warc.gz")]
    mirror = state / "replay" / "warcs"
    for key in warcs:
        assert (mirror / key).read_bytes() == store.get_bytes(key), key
    # A second start fetches and indexes nothing: every WARC is unchanged.
    mtimes = {key: (mirror / key).stat().st_mtime_ns for key in warcs}
    site = prepare(store, pywb_env)
    assert (site.warcs, site.indexed) == (len(warcs), 0)
    assert {key: (mirror / key).stat().st_mtime_ns for key in warcs} == mtimes
    store.close()


def test_mirror_fetches_new_and_changed_warcs_and_drops_removed_ones(tmp_path: Path) -> None:
    source = LocalStore(tmp_path / "source")
    mirror = tmp_path / "mirror"
    source.put_bytes("warcs/demo/2026-01-01/a.warc.gz", b"a" * 10, "application/warc")
    source.put_bytes("warcs/demo/2026-01-01/b.warc.gz", b"b" * 10, "application/warc")
    _mirror(source, list(source.list_info("warcs")), mirror)
    a, b = mirror / "warcs/demo/2026-01-01/a.warc.gz", mirror / "warcs/demo/2026-01-01/b.warc.gz"
    assert (a.read_bytes(), b.read_bytes()) == (b"a" * 10, b"b" * 10)
    stamp = a.stat().st_mtime_ns

    source.put_bytes("warcs/demo/2026-01-01/b.warc.gz", b"B" * 12, "application/warc")
    source.delete("warcs/demo/2026-01-01/a.warc.gz")
    source.put_bytes("warcs/demo/2026-01-02/c.warc.gz", b"c", "application/warc")
    _mirror(source, list(source.list_info("warcs")), mirror)
    assert not a.exists()
    assert b.read_bytes() == b"B" * 12
    assert (mirror / "warcs/demo/2026-01-02/c.warc.gz").read_bytes() == b"c"

    source.put_bytes("warcs/demo/2026-01-01/a.warc.gz", b"a" * 10, "application/warc")
    _mirror(source, list(source.list_info("warcs")), mirror)
    assert a.read_bytes() == b"a" * 10
    assert a.stat().st_mtime_ns != stamp
    unchanged = {p: p.stat().st_mtime_ns for p in mirror.rglob("*.warc.gz")}
    _mirror(source, list(source.list_info("warcs")), mirror)
    assert {p: p.stat().st_mtime_ns for p in mirror.rglob("*.warc.gz")} == unchanged


def test_article_list_shows_a_reextracted_capture_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    crawl = {"url": "https://example.org/a", "site": "demo", "title": "Crawled",
             "fetched_at": "2026-01-01T10:00:00Z"}  # fmt: skip
    stem = "meta/demo/2026-01-01/0123456789abcdef-20260101T100000Z"
    store.put_bytes(f"{stem}.v1.json", json.dumps(crawl).encode(), "application/json")
    again = {**crawl, "title": "Re-extracted", "reextracted_at": "2026-02-01T00:00:00Z"}
    store.put_bytes(f"{stem}.v2.json", json.dumps(again).encode(), "application/json")
    assert [c.title for c in list_captures(store)] == ["Re-extracted"]
