"""The bundled demo site, served for real over loopback: content, encodings and HTTP behaviour."""

from __future__ import annotations

import gzip
import http.client
import re
import shutil
import socket
import time
import urllib.request
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import pytest
from protego import Protego

from newsarchive.demo.server import (
    DEMO_ARTICLES,
    DISALLOWED_PATH,
    OLD_ARTICLE,
    ROUTES,
    SITE_ROOT,
    DemoArticle,
    DemoSite,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from email.message import Message
    from pathlib import Path

GZIP_PATH = "/world/icebreaker-aurora-vale-returns.html"
CHUNKED_PATH = "/business/port-automation-jobs.html"
ARABIC_PATH = "/world/ar/solar-desalination-plant.html"
HEADER_CHARSET_PATH = "/business/fr/ostreiculteurs-chaleur-de-l-eau.html"
MISSING_PATH = "/world/missing-story.html"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite() as demo:
        yield demo


def fetch(
    site: DemoSite, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    """One raw request: no redirects followed, no decompression."""
    port = urlsplit(site.base_url).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def body_text(headers: Message, body: bytes) -> str:
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    charset = headers.get_content_charset() or "utf-8"
    return body.decode(charset)


def local_path(site: DemoSite, url: str) -> str | None:
    """The path (with query) of a URL on the demo site, or None for anything else."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != site.base_url:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def resolve(site: DemoSite, path: str) -> tuple[int, str]:
    """Follow redirects on the site; final status and path."""
    for _ in range(5):
        status, headers, _body = fetch(site, path)
        if status not in {301, 302}:
            return status, path
        target = local_path(site, headers["Location"])
        assert target is not None, headers["Location"]
        path = target
    pytest.fail(f"redirect loop at {path}")


def test_robots_txt_disallows_private_and_names_the_sitemap(site: DemoSite) -> None:
    with urllib.request.urlopen(site.url("/robots.txt"), timeout=10) as response:
        assert response.headers.get_content_type() == "text/plain"
        text = response.read().decode()
    assert "User-agent: *" in text
    assert f"Disallow: {DISALLOWED_PATH}" in text
    assert f"Sitemap: {site.base_url}/sitemap_index.xml" in text
    assert "{{BASE}}" not in text
    robots = Protego.parse(text)
    assert not robots.can_fetch(site.url("/private/secret.html"), "newsarchive")
    assert robots.can_fetch(site.url(DEMO_ARTICLES[0].path), "newsarchive")


def test_disallowed_page_still_served_so_a_crawl_fetching_it_shows_in_the_log(
    site: DemoSite,
) -> None:
    status, _headers, body = fetch(site, "/private/secret.html")
    assert status == 200
    assert b"PRIVATE-DEMO-PAGE" in body
    for listing in ("/", "/world/"):
        assert b"/private/secret.html" in fetch(site, listing)[2]


def test_gzip_page_is_gzip_on_the_wire(site: DemoSite) -> None:
    request = urllib.request.Request(site.url(GZIP_PATH), headers={"Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        raw = response.read()
        assert int(response.headers["Content-Length"]) == len(raw)
    assert raw[:2] == b"\x1f\x8b"
    html = gzip.decompress(raw).decode("utf-8")
    assert "largest collection of sea-ice cores" in html
    assert site.base_url + GZIP_PATH in html


def test_gzipped_sitemap_is_a_gzip_file_without_content_encoding(site: DemoSite) -> None:
    status, headers, body = fetch(site, "/sitemap-archive.xml.gz")
    assert status == 200
    assert headers.get("Content-Encoding") is None
    xml = gzip.decompress(body).decode()
    assert f"<loc>{site.base_url}{OLD_ARTICLE.path}</loc>" in xml
    assert fetch(site, "/sitemap-archive.xml")[0] == 404


def test_chunked_page_arrives_in_several_chunks(site: DemoSite) -> None:
    status, headers, body = fetch(site, CHUNKED_PATH)
    assert status == 200
    assert headers["Transfer-Encoding"] == "chunked"
    assert headers.get("Content-Length") is None
    assert "remotely operated cranes" in body.decode()

    # http.client reassembles silently, so count the chunks on a raw socket too.
    port = urlsplit(site.base_url).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {CHUNKED_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        raw = b""
        while data := sock.recv(65536):
            raw += data
    _head, _, rest = raw.partition(b"\r\n\r\n")
    sizes = []
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        sizes.append(size)
        if size == 0:
            break
        rest = rest[size + 2 :]
    assert len(sizes) > 2
    assert sum(sizes) == len(body)


def test_arabic_page_is_windows_1256(site: DemoSite) -> None:
    status, headers, body = fetch(site, ARABIC_PATH)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=windows-1256"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    html = body.decode("windows-1256")
    assert '<meta charset="windows-1256">' in html
    assert 'dir="rtl" lang="ar"' in html or 'lang="ar" dir="rtl"' in html
    assert '<div class="date">الثلاثاء: 17 فبراير 2026</div>' in html
    assert '<span class="time">13:15</span>' in html
    assert "مواضيع قد تعجبك" in html


def test_header_only_charset_page_has_no_charset_in_the_bytes(site: DemoSite) -> None:
    status, headers, body = fetch(site, HEADER_CHARSET_PATH)
    assert status == 200
    assert headers.get_content_charset() == "iso-8859-1"
    lowered = body.lower()
    assert b"charset" not in lowered
    assert b"http-equiv" not in lowered
    assert not body.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"))
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("iso-8859-1")
    for accented in ("é", "è", "à", "ç", "ï", "«"):
        assert accented in text


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/go/latest-story", "/business/port-automation-jobs.html"),
        ("/world/old-url.html", "/world/delta-flood-barrier-data.html"),
        ("/world", "/world/"),
    ],
)
def test_redirects(site: DemoSite, path: str, target: str) -> None:
    status, headers, _body = fetch(site, path)
    assert status == 301
    assert headers["Location"] == site.url(target)
    assert resolve(site, path) == (200, target)


@pytest.mark.parametrize("path", [MISSING_PATH, "/no/such/page.html", "/sitemap-archive.xml"])
def test_not_found(site: DemoSite, path: str) -> None:
    status, headers, body = fetch(site, path)
    assert status == 404
    assert headers.get_content_type() == "text/html"
    assert b"Page not found" in body


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/../server.py",
        "/%2e%2e/server.py",
        "/world/%2E%2E/%2E%2E/server.py",
        "/world/..%2f..%2fserver.py",
    ],
)
def test_path_traversal_is_rejected(site: DemoSite, path: str) -> None:
    assert fetch(site, path)[0] == 404


def test_conditional_requests(site: DemoSite) -> None:
    path = DEMO_ARTICLES[0].path
    status, headers, body = fetch(site, path)
    assert status == 200
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert etag.startswith('"')  # strong
    assert body

    status, headers, body = fetch(site, path, headers={"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag
    assert fetch(site, path, headers={"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert fetch(site, path, headers={"If-None-Match": '"other"'})[0] == 200
    assert fetch(site, path, headers={"If-Modified-Since": last_modified})[0] == 304
    assert fetch(site, path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == (
        200
    )
    # A matching date does not win over a stale ETag.
    stale = {"If-None-Match": '"other"', "If-Modified-Since": last_modified}
    assert fetch(site, path, headers=stale)[0] == 200


@pytest.mark.parametrize("path", [GZIP_PATH, CHUNKED_PATH, "/sitemap-archive.xml.gz"])
def test_special_routes_also_answer_304(site: DemoSite, path: str) -> None:
    _status, headers, _body = fetch(site, path)
    assert fetch(site, path, headers={"If-None-Match": headers["ETag"]})[0] == 304


def test_head_has_headers_and_no_body(site: DemoSite) -> None:
    _status, get_headers, get_body = fetch(site, "/feeds/rss.xml")
    status, headers, body = fetch(site, "/feeds/rss.xml", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert headers["Content-Length"] == str(len(get_body))
    assert headers["ETag"] == get_headers["ETag"]


def test_request_log(site: DemoSite) -> None:
    site.clear_log()
    before = time.time()
    fetch(site, "/feeds/atom.xml?utm_source=test", headers={"User-Agent": "demo-test/1.0"})
    fetch(site, MISSING_PATH, method="HEAD")
    records = site.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/feeds/atom.xml?utm_source=test", 200),
        ("HEAD", MISSING_PATH, 404),
    ]
    assert records[0].headers["user-agent"] == "demo-test/1.0"
    assert before <= records[0].time <= records[1].time <= time.time()
    assert site.requested_paths() == ["/feeds/atom.xml?utm_source=test", MISSING_PATH]
    site.clear_log()
    assert site.requests == []


def test_content_types(site: DemoSite) -> None:
    expected = {
        "/": "text/html; charset=utf-8",
        "/feeds/atom.xml": "application/atom+xml; charset=utf-8",
        "/sitemap_index.xml": "application/xml; charset=utf-8",
        "/robots.txt": "text/plain; charset=utf-8",
    }
    for path, content_type in expected.items():
        assert fetch(site, path)[1]["Content-Type"] == content_type


@pytest.mark.parametrize("article", [*DEMO_ARTICLES, OLD_ARTICLE], ids=lambda a: a.path)
def test_articles_match_their_description(site: DemoSite, article: DemoArticle) -> None:
    status, headers, body = fetch(site, article.path)
    assert status == 200
    assert headers.get_content_charset() == article.encoding
    html = body_text(headers, body)
    assert f"<title>{article.title} | The Harbour Gazette</title>" in html
    assert '<meta property="og:type" content="article">' in html
    assert f'<link rel="canonical" href="{site.url(article.path)}">' in html
    assert f'"datePublished": "{article.published}"' in html
    assert '"@type": "NewsArticle"' in html
    assert f'lang="{article.language}"' in html
    for phrase in article.must_contain:
        assert phrase in html
    # The boilerplate is really on the page, so dropping it is the extractor's job.
    for phrase in article.must_not_contain:
        assert phrase in html
    assert len(re.findall(r"<p>", html)) >= 4


def test_listing_pages_paginate_and_are_not_articles(site: DemoSite) -> None:
    for path, next_path in [("/world/", "/world/page/2/"), ("/business/", "/business/page/2/")]:
        html = fetch(site, path)[2].decode()
        assert 'og:type" content="article"' not in html
        assert f'<link rel="next" href="{site.url(next_path)}">' in html
        assert f'<a rel="next" href="{site.url(next_path)}">' in html
        assert 'og:type" content="article"' not in fetch(site, next_path)[2].decode()
    home = fetch(site, "/")[2].decode()
    for kind, feed in [("rss", "/feeds/rss.xml"), ("atom", "/feeds/atom.xml")]:
        assert re.search(
            rf'<link rel="alternate" type="application/{kind}\+xml"[^>]* href="{site.url(feed)}">',
            home,
        )


def _xml(site: DemoSite, path: str) -> ET.Element:
    status, _headers, body = fetch(site, path)
    assert status == 200, path
    if path.endswith(".gz"):
        body = gzip.decompress(body)
    return ET.fromstring(body)  # noqa: S314 - our own fixture files, served over loopback


def test_feeds_list_every_article_and_the_old_one(site: DemoSite) -> None:
    rss = _xml(site, "/feeds/rss.xml")
    rss_items = {
        item.findtext("link", ""): item.findtext("pubDate", "") for item in rss.iter("item")
    }
    atom = _xml(site, "/feeds/atom.xml")
    atom_items: dict[str, str] = {}
    for entry in atom.iterfind("atom:entry", NS):
        link_element = entry.find("atom:link", NS)
        assert link_element is not None
        atom_items[link_element.get("href", "")] = entry.findtext("atom:updated", "", NS)
    for items in (rss_items, atom_items):
        paths = {urlsplit(link).path for link in items}
        assert {a.path for a in DEMO_ARTICLES} | {OLD_ARTICLE.path} == paths
        assert any("utm_source=" in link for link in items)
        assert sum("2019" in date for date in items.values()) == 1
        assert all("2026" in date for link, date in items.items() if OLD_ARTICLE.path not in link)
        for link in items:
            path = local_path(site, link)
            assert path is not None
            assert resolve(site, path)[0] == 200


def test_sitemaps(site: DemoSite) -> None:
    index = _xml(site, "/sitemap_index.xml")
    children = [loc.text or "" for loc in index.iterfind("sm:sitemap/sm:loc", NS)]
    assert children == [
        site.url("/sitemap-news.xml"),
        site.url("/sitemap-pages.xml"),
        site.url("/sitemap-archive.xml.gz"),
    ]
    news = _xml(site, "/sitemap-news.xml")
    news_paths = set()
    for url in news.iterfind("sm:url", NS):
        news_paths.add(urlsplit(url.findtext("sm:loc", "", NS)).path)
        assert url.findtext("news:news/news:publication_date", "", NS).startswith("2026-")
        assert url.findtext("news:news/news:title", "", NS)
        assert url.findtext("news:news/news:publication/news:language", "", NS) in {
            "en",
            "ar",
            "fr",
        }
    assert news_paths == {a.path for a in DEMO_ARTICLES}
    for child in children:
        tree = _xml(site, urlsplit(child).path)
        for loc in tree.iterfind("sm:url/sm:loc", NS):
            path = local_path(site, loc.text or "")
            assert path is not None
            assert fetch(site, path)[0] == 200


def test_every_link_resolves_except_the_deliberate_404(site: DemoSite) -> None:
    """Walk the site like a polite crawler: all articles reachable, only one broken link."""
    seen: dict[str, int] = {}
    queue = ["/"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        status, headers, body = fetch(site, path)
        seen[path] = status
        if status in {301, 302}:
            queue.append(local_path(site, headers["Location"]) or "")
            continue
        if status != 200 or headers.get_content_type() != "text/html":
            continue
        html = body_text(headers, body)
        assert "{{BASE}}" not in html
        for href in re.findall(r'href="([^"#]+)"', html):
            target = local_path(site, urljoin(site.url(path), href))
            assert target is not None, f"off-site link {href} on {path}"
            if not target.startswith(DISALLOWED_PATH):
                queue.append(target)
    assert {path for path, status in seen.items() if status == 404} == {MISSING_PATH}
    assert all(status in {200, 301} for path, status in seen.items() if path != MISSING_PATH)
    reached = {urlsplit(path).path for path, status in seen.items() if status == 200}
    assert {a.path for a in DEMO_ARTICLES} | {OLD_ARTICLE.path} <= reached
    assert "/go/latest-story" in seen
    assert "/world/old-url.html" in seen


def test_routes_point_at_real_files() -> None:
    for path, route in ROUTES.items():
        if route.redirect_to:
            assert (SITE_ROOT / route.redirect_to.lstrip("/")).is_file(), path
        elif route.source:
            assert (SITE_ROOT / route.source.lstrip("/")).is_file(), path
        elif route.status == 200:
            assert (SITE_ROOT / path.lstrip("/")).is_file(), path


def test_bundled_site_is_small() -> None:
    total = sum(p.stat().st_size for p in SITE_ROOT.rglob("*") if p.is_file())
    assert total < 300_000


def test_serves_a_copied_site_and_sees_changes(tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(SITE_ROOT, root)
    with DemoSite(root) as copy:
        status, headers, body = fetch(copy, "/robots.txt")
        assert status == 200
        first_etag = headers["ETag"]
        robots = root / "robots.txt"
        robots.write_text(robots.read_text() + "Disallow: /drafts/\n")
        status, headers, body = fetch(copy, "/robots.txt", headers={"If-None-Match": first_etag})
        assert status == 200
        assert headers["ETag"] != first_etag
        assert b"Disallow: /drafts/" in body
        assert f"Sitemap: {copy.base_url}/sitemap_index.xml".encode() in body
    with pytest.raises(RuntimeError):
        _ = copy.base_url


def test_two_sites_get_different_ports() -> None:
    with DemoSite() as first, DemoSite() as second:
        assert first.base_url != second.base_url
        assert first.base_url.startswith("http://127.0.0.1:")
