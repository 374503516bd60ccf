"""The hostile corpus: what sites and sloppy servers send, each case with the outcome it must get.

`corpus(base)` gives the raw responses to serve (path -> bytes, see tests.rawhttp) and the cases.
A case names the URL it judges and one of three outcomes:

- EXTRACTED: archived (a 200 response record) and its text extracted;
- ARCHIVED: archived as served (some record for the URL), no text, for `reason`;
- REFUSED: never archived nor requested, for `reason` (a policy refusal, an invalid URL
  skipped, a download that failed).

`check` names what else must hold, as a key of CHECKS in tests/test_hostile_corpus.py.
Covers every bullet of issue 10's "Why" that a web server can send, and what already holds.
"""

# ruff: noqa: RUF001 - text in many scripts is the point of the charset cases

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import brotli  # type: ignore[import-untyped]  # brotli ships no type hints
from backports import zstd

from tests.rawhttp import response


class Outcome(StrEnum):
    EXTRACTED = "archived and extracted"
    ARCHIVED = "archived, not extracted"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    #: The Why bullet (or "holds") it is about.
    bullet: str
    #: The URL judged: a path on the corpus server, or an absolute URL.
    target: str
    outcome: Outcome
    reason: str
    #: A phrase the extracted text must hold (EXTRACTED), or a further check's name.
    phrase: str = ""
    check: str = ""


PRIVATE: Final = "reaches private networks and local files"
CRASH: Final = "crashes on bad input"
LOSS: Final = "loses data"
HOLDS: Final = "what already holds"

#: Bodies that expand past the corpus crawl's DOWNLOAD_MAXSIZE (2 MB) when decoded.
_BOMB_SIZE: Final = 8 * 1024 * 1024
ETC_ROOT_LINE: Final = "root:x:0:0"


def page(title: str, phrase: str = "", head: str = "", charset: str = "utf-8") -> str:
    """An article page long enough for the extractor, carrying `phrase` in its body."""
    paragraphs = "".join(
        f"<p>{title}: paragraph {n} tells the story of the harbour council, its budget and the "
        f"river crossing, with enough words for the extractor to keep it. {phrase}</p>"
        for n in range(6)
    )
    return (
        f'<!doctype html><html><head><meta charset="{charset}"><title>{title}</title>{head}'
        f"</head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )


def _html(body: bytes, *headers: tuple[str, str]) -> bytes:
    return response(body, headers or (("Content-Type", "text/html; charset=utf-8"),))


def _ok(title: str, phrase: str = "") -> bytes:
    return _html(page(title, phrase).encode())


def _deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


_CODINGS: Final = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": lambda data: brotli.compress(data, quality=5),
    "zstd": zstd.compress,
}


def _rss(*items: str) -> bytes:
    entries = "".join(f"<item><title>{i}</title><link>{i}</link></item>" for i in items)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Corpus</title>{entries}'
        "</channel></rss>"
    ).encode()


def _urlset(*locs: str, lastmod: str = "") -> bytes:
    mod = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    urls = "".join(f"<url><loc>{loc}</loc>{mod}</url>" for loc in locs)
    return (
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{urls}</urlset>"
    ).encode()


def sitemap_index(*locs: str) -> bytes:
    items = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return (
        f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{items}</sitemapindex>"
    ).encode()


_XML: Final = (("Content-Type", "application/xml"),)


class Corpus:
    """Routes and cases, built for one server base URL."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.routes: dict[str, bytes] = {}
        self.cases: list[Case] = []
        #: Article URLs the main feed lists; feeds and sitemaps of the site.
        self.articles: list[str] = []
        self.feeds: list[str] = []
        self.sitemaps: list[str] = []
        self.robots_lines: list[str] = []

    def serve(self, path: str, raw: bytes) -> str:
        self.routes[path] = raw
        return path

    def case(
        self,
        name: str,
        bullet: str,
        target: str,
        outcome: Outcome,
        reason: str,
        phrase: str = "",
        check: str = "",
    ) -> None:
        self.cases.append(Case(name, bullet, target, outcome, reason, phrase, check))

    def article(self, name: str, raw: bytes, bullet: str, *expected: str, check: str = "") -> str:
        """An article URL listed in the main feed, answered with `raw`; `expected`: the case's
        outcome, reason and phrase."""
        path = self.serve(f"/a/{name}", raw)
        self.articles.append(path)
        outcome, reason, *phrase = expected
        self.case(name, bullet, path, Outcome(outcome), reason, *phrase, check=check)
        return path


def corpus(base: str) -> Corpus:
    c = Corpus(base)
    _charsets(c)
    _encodings(c)
    _protocol(c)
    _headers(c)
    _locations(c)
    _private_redirects(c)
    _meta_refresh(c)
    _markup(c)
    _feeds(c)
    _sitemaps(c)
    _robots(c)
    c.serve("/feed.xml", response(_rss(*c.articles), (("Content-Type", "application/rss+xml"),)))
    robots = "User-agent: *\nAllow: /\n" + "".join(f"Sitemap: {s}\n" for s in c.robots_lines)
    c.serve("/robots.txt", response(robots.encode(), (("Content-Type", "text/plain"),)))
    return c


# --- charsets: every one extracts correctly (holds) ------------------------------------------

_CHARSETS: Final = (
    # (name, charset of the bytes, where it is declared, phrase)
    ("latin1-header", "iso-8859-1", "header", "Ça coûte très cher à Genève"),
    ("cp1252-meta", "windows-1252", "meta", "l’été “chaud” — déjà"),
    ("utf16-bom", "utf-16", "bom", "Ünïcödé sixteen"),
    ("shift-jis", "shift_jis", "header", "東京の天気は晴れ"),
    ("euc-jp", "euc-jp", "meta", "大阪の港は静か"),
    ("gb18030", "gb18030", "header", "北京的天气很好"),
    ("big5", "big5", "meta", "台北的天氣很好"),
    ("euc-kr", "euc-kr", "header", "서울의 날씨는 맑음"),
    ("koi8-r", "koi8-r", "meta", "Погода в Москве хорошая"),
    ("cp1256-arabic", "windows-1256", "header", "الطقس في القاهرة جميل"),
    ("greek", "iso-8859-7", "meta", "Ο καιρός στην Αθήνα"),
    ("bom-beats-header", "utf-8-sig", "wrong-header", "naïve café ✓"),
    ("header-beats-meta", "utf-8", "header-vs-meta", "Zürich Straße"),
    ("undeclared-utf8", "utf-8", "none", "Ελληνικά κείμενα για τον καιρό"),
    ("bogus-label", "utf-8", "bogus", "Kraków dziś słonecznie"),
    ("utf7-label", "ascii", "utf-7", "seven bits only"),
)


def _charsets(c: Corpus) -> None:
    for name, charset, declared, phrase in _CHARSETS:
        meta = {"meta": charset, "header-vs-meta": "iso-8859-1"}.get(declared, "")
        html = page(f"Charset {name}", phrase, charset=meta or "x")
        if not meta:
            html = html.replace('<meta charset="x">', "")
        header = {
            "header": f"text/html; charset={charset}",
            "header-vs-meta": "text/html; charset=utf-8",
            "wrong-header": "text/html; charset=iso-8859-1",
            "bogus": "text/html; charset=x-no-such-charset",
            "utf-7": "text/html; charset=utf-7",
        }.get(declared, "text/html")
        body = html.encode(charset)
        c.article(
            f"charset-{name}",
            _html(body, ("Content-Type", header)),
            HOLDS,
            Outcome.EXTRACTED,
            f"{charset} declared by {declared}",
            phrase,
        )


# --- content encodings and compression bombs ---------------------------------------------------


def _encodings(c: Corpus) -> None:
    body = page("Encoded story", "squeezed and unsqueezed").encode()
    for coding, compress in _CODINGS.items():
        c.article(
            f"encoding-{coding}",
            _html(compress(body), ("Content-Type", "text/html"), ("Content-Encoding", coding)),
            LOSS,
            Outcome.EXTRACTED,
            f"Content-Encoding {coding} indexed and extracted",
            "unsqueezed",
            check="indexed",
        )
    c.article(
        "encoding-raw-deflate",
        _html(_deflate_raw(body), ("Content-Type", "text/html"), ("Content-Encoding", "deflate")),
        HOLDS,
        Outcome.EXTRACTED,
        "deflate without its zlib header",
        "unsqueezed",
    )
    c.article(
        "encoding-double-gzip",
        _html(
            gzip.compress(gzip.compress(body)),
            ("Content-Type", "text/html"),
            ("Content-Encoding", "gzip, gzip"),
        ),
        HOLDS,
        Outcome.EXTRACTED,
        "two codings undone in order",
        "unsqueezed",
    )
    c.article(
        "encoding-identity",
        _html(body, ("Content-Type", "text/html"), ("Content-Encoding", "identity")),
        HOLDS,
        Outcome.EXTRACTED,
        "identity",
        "unsqueezed",
    )
    zeros = b"<html><body>" + b" " * _BOMB_SIZE
    bombs = {
        "gzip": gzip.compress(zeros, 9),
        "deflate": zlib.compress(zeros, 9),
        "br": brotli.compress(zeros, quality=1),
        "zstd": zstd.compress(zeros),
        "gzip, gzip": gzip.compress(gzip.compress(zeros, 9), 9),
    }
    for coding, bomb in bombs.items():
        name = "bomb-" + coding.replace(", ", "-")
        c.article(
            name,
            _html(bomb, ("Content-Type", "text/html"), ("Content-Encoding", coding)),
            HOLDS,
            Outcome.ARCHIVED,
            "archived as served, never decoded past the limit",
            check="as_served",
        )
    corrupt = {
        "corrupt-gzip": ("gzip", b"\x1f\x8b\x08\x00not gzip at all, just bytes"),
        "truncated-gzip": ("gzip", gzip.compress(body)[:60]),
        "corrupt-br": ("br", b"\xff\xfe this is not brotli"),
        "corrupt-zstd": ("zstd", b"\x28\xb5\x2f\xfd broken frame"),
    }
    for name, (coding, data) in corrupt.items():
        c.article(
            name,
            _html(data, ("Content-Type", "text/html"), ("Content-Encoding", coding)),
            CRASH,
            Outcome.ARCHIVED,
            "a body that cannot be decoded: no text, no crash",
            check="indexed",
        )
    c.article(
        "encoding-unknown",
        _html(body, ("Content-Type", "text/html"), ("Content-Encoding", "x-snappy-framed")),
        LOSS,
        Outcome.EXTRACTED,
        "an unknown coding is archived and indexed; the body is plain here",
        "unsqueezed",
        check="indexed",
    )


# --- status lines, framing -------------------------------------------------------------------


def _protocol(c: Corpus) -> None:
    body = page("Framing", "framed just so").encode()
    html = ("Content-Type", "text/html; charset=utf-8")
    good = {
        "status-no-reason": response(body, (html,), status=b"HTTP/1.1 200"),
        "http10-close-delimited": response(body, (html,), status=b"HTTP/1.0 200 OK", length=False),
        "status-odd-reason": response(body, (html,), status=b"HTTP/1.1 200 Fine \xff Thanks"),
    }
    for name, raw in good.items():
        c.article(name, raw, HOLDS, Outcome.EXTRACTED, "odd but readable framing", "framed just so")
    chunked = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    )
    c.article(
        "chunked",
        chunked,
        HOLDS,
        Outcome.EXTRACTED,
        "stored de-chunked",
        "framed just so",
        check="dechunked",
    )
    c.article(
        "truncated-body",
        response(body[: len(body) // 2], (html, ("Content-Length", str(len(body)))), length=False),
        HOLDS,
        Outcome.EXTRACTED,
        "cut mid-stream: archived with WARC-Truncated",
        check="truncated",
    )
    statuses = {
        "status-999": (b"HTTP/1.1 999 Whatever", "an unknown status code"),
        "status-204-with-body": (b"HTTP/1.1 204 No Content", "no content, yet a body"),
        "status-404": (b"HTTP/1.1 404 Not Found", "gone"),
        "status-410": (b"HTTP/1.1 410 Gone", "gone for good"),
        "status-418": (b"HTTP/1.1 418 I'm a teapot", "a teapot"),
        "status-500": (b"HTTP/1.1 500 Internal Server Error", "server error, retried"),
    }
    for name, (status, reason) in statuses.items():
        c.article(
            name,
            response(body, (html,), status=status),
            HOLDS,
            Outcome.ARCHIVED,
            f"HTTP status: {reason}",
        )
    retry_after = {
        "retry-after-superscript": "²",
        "retry-after-negative": "-5",
        "retry-after-bad-date": "Wed, 99 Foo 2026 99:99:99 GMT",
    }
    for name, value in retry_after.items():
        c.article(
            name,
            response(
                body, (html, ("Retry-After", value)), status=b"HTTP/1.1 503 Service Unavailable"
            ),
            CRASH,
            Outcome.ARCHIVED,
            f"unreadable Retry-After {value!r}: Scrapy's backoff, counted",
            check="retry_after",
        )
    broken = {
        "status-not-a-number": b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
        "status-line-garbage": b"\x00\x01\x02\x03 garbage \xff\xfe\r\n\r\n",
        "empty-reply": b"",
        "headers-never-end": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n",
        "header-line-too-long": b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        "content-length-negative": response(body, (html, ("Content-Length", "-5")), length=False),
        "content-length-letters": response(body, (html, ("Content-Length", "ten")), length=False),
    }
    for name, raw in broken.items():
        c.article(
            name,
            raw,
            CRASH,
            Outcome.REFUSED,
            "unparsable HTTP: one download warning, nothing archived",
        )
    c.article(
        "bad-chunk-size",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
        CRASH,
        Outcome.ARCHIVED,
        "a chunk size that is no number: what arrived (nothing) archived as cut short",
        check="truncated",
    )
    c.article(
        "over-maxsize",
        response(b"<html>" + b" " * (3 * 1024 * 1024)),
        HOLDS,
        Outcome.REFUSED,
        "a body over DOWNLOAD_MAXSIZE is not downloaded: one warning",
    )


# --- headers ---------------------------------------------------------------------------------


def _headers(c: Corpus) -> None:
    body = page("Headers", "headed well").encode()
    html = ("Content-Type", "text/html; charset=utf-8")
    cookies = [("Set-Cookie", f"c{n}=v{n}; Path=/") for n in range(1000)]
    variants: dict[str, tuple[list[tuple[str, str]], str, str]] = {
        "set-cookie-1000": ([html, *cookies], "1,000 Set-Cookie headers kept", "cookies"),
        "duplicate-content-type": ([html, ("Content-Type", "text/plain")], "two Content-Types", ""),
        "many-headers": ([html, *((f"X-H{n}", "v") for n in range(300))], "300 headers", ""),
        "long-header-value": ([html, ("X-Long", "b" * 8000)], "an 8 kB header value", ""),
        "latin1-header-bytes": ([html, ("X-Name", "Müller")], "a latin-1 header value", ""),
        "no-content-type": ([], "no Content-Type at all", ""),
        "bad-content-type": (
            [("Content-Type", 'text/html; charset="; x=')],
            "a mangled Content-Type",
            "",
        ),
        "lowercase-names": (
            [("content-type", "text/html"), ("x-lower", "yes")],
            "lower-case header names",
            "",
        ),
    }
    for name, (headers, reason, check) in variants.items():
        c.article(
            name,
            response(body, headers),
            HOLDS,
            Outcome.EXTRACTED,
            reason,
            "headed well",
            check=check,
        )


# --- redirects whose Location names no http(s) page --------------------------------------------


def _redirect(location: str, status: bytes = b"HTTP/1.1 302 Found") -> bytes:
    return response(b"", (("Location", location),), status=status)


def _locations(c: Corpus) -> None:
    port = c.base.rsplit(":", 1)[-1]
    locations = {
        "location-javascript": "javascript:alert(document.cookie)",
        "location-mailto": "mailto:editor@example.org",
        "location-unclosed-ipv6": "http://[::1/x",
        "location-port-99999": "http://127.0.0.1:99999/x",
        "location-no-host": "http:///p",
        "location-file": "file:///etc/passwd",
        "location-data": "data:text/html,<h1>hello</h1>",
        "location-ftp": f"ftp://127.0.0.1:{port}/x",
        "location-s3": "s3://bucket/key",
        "location-empty": "",
    }
    for name, location in locations.items():
        c.article(
            name,
            _redirect(location),
            CRASH,
            Outcome.ARCHIVED,
            "a Location that names no http(s) page: the 3xx is archived, not followed",
            check="location",
        )
    target = c.serve("/a/redirect-target", _ok("Redirect target", "arrived safely"))
    c.article(
        "redirect-relative",
        _redirect("redirect-target"),
        HOLDS,
        Outcome.ARCHIVED,
        "a 3xx followed: archived, its target extracted",
    )
    c.case(
        "redirect-relative-target",
        HOLDS,
        target,
        Outcome.EXTRACTED,
        "the target of a relative Location",
        "arrived safely",
    )
    c.article(
        "redirect-no-location",
        response(b"", (), status=b"HTTP/1.1 301 Moved"),
        CRASH,
        Outcome.ARCHIVED,
        "a 301 without Location",
    )
    c.serve("/a/loop-b", _redirect("/a/redirect-loop"))
    c.article(
        "redirect-loop",
        _redirect("/a/loop-b"),
        CRASH,
        Outcome.ARCHIVED,
        "a redirect loop ends at REDIRECT_MAX_TIMES",
    )


# --- redirects to private, loopback, link-local addresses --------------------------------------

_PRIVATE_TARGETS: Final = (
    ("metadata", "http://169.254.169.254/latest/meta-data/iam/", "link_local"),
    ("rfc1918-10", "http://10.0.0.1/admin", "private_network"),
    ("rfc1918-172", "http://172.16.0.1/admin", "private_network"),
    ("rfc1918-192", "http://192.168.1.1/admin", "private_network"),
    ("loopback-other", "http://127.0.0.2/", "loopback"),
    ("loopback-decimal", "http://2130706434/", "loopback"),
    ("loopback-hex", "http://0x7f000002/", "loopback"),
    ("loopback-v6", "http://[::1]/", "loopback"),
    ("mapped-v6", "http://[::ffff:127.0.0.2]/", "loopback"),
    ("unspecified", "http://0.0.0.0/", "unspecified"),
    ("cgnat", "http://100.64.0.1/", "cgnat"),
    ("multicast", "http://224.0.0.1/", "multicast"),
    ("link-local-v6", "http://[fe80::1]/", "link_local"),
    ("ula-v6", "http://[fc00::1]/", "private_network"),
)


def _private_redirects(c: Corpus) -> None:
    for name, url, reason in _PRIVATE_TARGETS:
        c.article(
            f"to-{name}",
            _redirect(url),
            PRIVATE,
            Outcome.ARCHIVED,
            "the 3xx is archived; its target is refused",
        )
        c.case(
            f"to-{name}-target",
            PRIVATE,
            url,
            Outcome.REFUSED,
            f"policy: {reason}",
            check=f"policy:{reason}",
        )
    c.serve("/a/hop-2", _redirect("http://169.254.169.254/latest/api/token"))
    c.article(
        "two-hops",
        _redirect("/a/hop-2"),
        PRIVATE,
        Outcome.ARCHIVED,
        "the first hop is archived; the second's target is refused",
    )
    c.case(
        "two-hops-target",
        PRIVATE,
        "http://169.254.169.254/latest/api/token",
        Outcome.REFUSED,
        "policy: link_local",
        check="policy:link_local",
    )


# --- meta refresh ------------------------------------------------------------------------------


def _meta_refresh(c: Corpus) -> None:
    def refresh(name: str, content: str) -> bytes:
        head = f'<meta http-equiv="refresh" content="{content}">'
        return _html(page(f"Refresh {name}", "refreshing news", head).encode())

    target = c.serve("/a/refresh-target", _ok("Refresh target", "the page refreshed to"))
    c.article(
        "refresh-same-origin",
        refresh("same", "0; url=/a/refresh-target"),
        LOSS,
        Outcome.ARCHIVED,
        "a meta refresh is followed as a link, not stored under this URL",
        check="meta_refresh",
    )
    c.case(
        "refresh-same-origin-target",
        LOSS,
        target,
        Outcome.EXTRACTED,
        "the refresh target judged on its own",
        "the page refreshed to",
    )
    c.article(
        "refresh-self",
        refresh("self", "0; url=refresh-self"),
        LOSS,
        Outcome.EXTRACTED,
        "a self-refresh is the page itself",
        "refreshing news",
    )
    c.article(
        "refresh-slow",
        refresh("slow", "3600; url=/a/refresh-target"),
        HOLDS,
        Outcome.EXTRACTED,
        "a refresh after an hour is no redirect",
        "refreshing news",
    )
    other = "http://127.0.0.2/stolen.html"
    c.article(
        "refresh-other-origin",
        refresh("other", f"0; url={other}"),
        LOSS,
        Outcome.ARCHIVED,
        "the other origin's page is never stored under this URL",
    )
    c.case(
        "refresh-other-origin-target",
        PRIVATE,
        other,
        Outcome.REFUSED,
        "policy: loopback",
        check="policy:loopback",
    )
    c.article(
        "refresh-metadata",
        refresh("meta", "0; url=http://169.254.169.254/latest/"),
        PRIVATE,
        Outcome.ARCHIVED,
        "refresh to cloud metadata",
    )
    c.case(
        "refresh-metadata-target",
        PRIVATE,
        "http://169.254.169.254/latest/",
        Outcome.REFUSED,
        "policy: link_local",
        check="policy:link_local",
    )
    for name, url in (
        ("javascript", "javascript:alert(1)"),
        ("file", "file:///etc/passwd"),
        ("unclosed-ipv6", "http://[::1/x"),
    ):
        c.article(
            f"refresh-{name}",
            refresh(name, f"0; url={url}"),
            CRASH,
            Outcome.EXTRACTED,
            "a refresh to no http(s) page: the page is kept as it is",
            "refreshing news",
        )


# --- markup: XXE, entity expansion, deep JSON-LD -----------------------------------------------


def _markup(c: Corpus) -> None:
    deep = '<script type="application/ld+json">' + "[" * 100_000 + "]" * 100_000 + "</script>"
    c.article(
        "jsonld-100k-deep",
        _html(page("Deep JSON-LD", "deeply nested", deep).encode()),
        CRASH,
        Outcome.EXTRACTED,
        "deep JSON-LD ignored",
        "deeply nested",
    )
    big = '<script type="application/ld+json">{"@type": "NewsArticle", "x": "' + "y" * 1_500_000
    c.article(
        "jsonld-huge",
        _html(page("Huge JSON-LD", "hugely padded", big + '"}</script>').encode()),
        CRASH,
        Outcome.EXTRACTED,
        "1.5 MB of JSON-LD",
        "hugely padded",
    )
    # Layout tables nested 80 deep around 5,000 one-cell tables, the story at the bottom: every
    # level is a layout table (extraction.layout) whose cells hold all the text below them.
    head, body = page("Nested tables", "nested deep").split("<body>")
    nested = (
        f"{head}<body>{'<table><tr><td>' * 80}{'<table><tr><td>a</td></tr></table>' * 5000}"
        f"{body.removesuffix('</body></html>')}{'</td></tr></table>' * 80}</body></html>"
    )
    c.article(
        "tables-nested-80-deep",
        _html(nested.encode()),
        CRASH,
        Outcome.EXTRACTED,
        "layout tables nested 80 deep around 5,000 tables",
        "nested deep",
    )
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>XXE</title></head><body>'
        "<article><h1>XXE</h1>" + "<p>External entity &xxe; must stay unexpanded in this "
        "story about the council and the river crossing and its budget.</p>"
        * 6
        + "</article></body></html>"
    )
    c.article(
        "xhtml-xxe",
        response(xxe.encode(), (("Content-Type", "application/xhtml+xml"),)),
        HOLDS,
        Outcome.EXTRACTED,
        "XXE neither leaks nor fails",
        "unexpanded",
        check="no_leak",
    )
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;'
        '&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;'
        '&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>'
        + xxe.split("]>", 1)[1].replace("&xxe;", "&e;").replace("XXE", "Laughs")
    )
    c.article(
        "xhtml-billion-laughs",
        response(laughs.encode(), (("Content-Type", "application/xhtml+xml"),)),
        HOLDS,
        Outcome.EXTRACTED,
        "entity expansion does not blow up",
        "unexpanded",
    )
    c.article(
        "binary-as-html",
        response(bytes(range(256)) * 40, (("Content-Type", "text/html"),)),
        CRASH,
        Outcome.ARCHIVED,
        "binary bytes: no article text",
    )
    c.article(
        "octet-stream",
        response(
            page("Octets", "as bytes").encode(), (("Content-Type", "application/octet-stream"),)
        ),
        HOLDS,
        Outcome.EXTRACTED,
        "HTML served as octets: sniffed as HTML, as browsers and Scrapy do",
        "as bytes",
    )
    c.article(
        "empty-200",
        response(b"", (("Content-Type", "text/html"),)),
        CRASH,
        Outcome.ARCHIVED,
        "an empty page",
    )


# --- feeds -------------------------------------------------------------------------------------


def _feeds(c: Corpus) -> None:
    rss = (("Content-Type", "application/rss+xml"),)

    def feed(name: str, raw: bytes, bullet: str, reason: str, check: str = "") -> None:
        path = c.serve(f"/f/{name}", raw)
        c.feeds.append(path)
        c.case(name, bullet, path, Outcome.ARCHIVED, f"a feed: {reason}", check=check)

    def listed(name: str, bullet: str, reason: str, phrase: str) -> str:
        path = c.serve(f"/a/{name}", _ok(name.replace("-", " ").title(), phrase))
        c.case(name, bullet, path, Outcome.EXTRACTED, reason, phrase)
        return path

    good = listed("feed-survivor", CRASH, "the good entry of a feed with bad ones", "survived")
    bad = (
        "http://[::1/broken",
        "http://127.0.0.1:99999/port",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,x",
        "s3://bucket/k",
        "ftp://127.0.0.1/x",
    )
    items = "".join(f"<item><link>{u}</link></item>" for u in bad)
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bad</title>{items}'
        f"<item><title>Good</title><link>{good}</link>"
        "<pubDate>9999-12-31T23:59:59-23:59</pubDate></item></channel></rss>"
    ).encode()
    feed(
        "rss-bad-entries",
        response(body, rss),
        CRASH,
        "bad links and dates skipped, counted",
        check="invalid_url",
    )
    for n, url in enumerate(bad):
        c.case(f"rss-bad-entry-{n}", CRASH, url, Outcome.REFUSED, "names no http(s) page")
    atom_target = listed("atom-relative", CRASH, "Atom xml:base and a relative href", "based")
    atom = (
        f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xml:base="{c.base}/a/"><title>Atom</title><entry><title>Rel</title>'
        '<link href="atom-relative"/><updated>2026-02-01T00:00:00Z</updated></entry></feed>'
    )
    feed(
        "atom-xml-base",
        response(atom.encode(), (("Content-Type", "application/atom+xml"),)),
        CRASH,
        "entries resolved against xml:base",
    )
    del atom_target
    json_target = listed("json-relative", CRASH, "a JSON Feed with a relative URL", "jsonned")
    jfeed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "items": [{"id": "1", "url": json_target}, {"id": "2", "url": "javascript:x"}],
    }
    feed(
        "json-feed",
        response(json.dumps(jfeed).encode(), (("Content-Type", "application/feed+json"),)),
        CRASH,
        "good items kept",
    )
    feed(
        "json-feed-100k-deep",
        response(
            b'{"items": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
            (("Content-Type", "application/feed+json"),),
        ),
        CRASH,
        "too deep: skipped, counted",
        check="invalid_json",
    )
    xxe_target = listed("rss-xxe-survivor", HOLDS, "listed by a feed with an XXE", "xxe-proof")
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        '<rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title>'
        f"<link>{xxe_target}</link></item></channel></rss>"
    )
    feed(
        "rss-xxe",
        response(xxe.encode(), rss),
        HOLDS,
        "XXE neither leaks nor fails",
        check="no_leak",
    )
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;'
        '&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;'
        '&c;&c;&c;">]><rss version="2.0"><channel><title>&d;</title><item><title>&d;'
        f"</title><link>{c.base}/a/never-expanded</link></item></channel></rss>"
    )
    feed(
        "rss-billion-laughs",
        response(laughs.encode(), rss),
        HOLDS,
        "entity expansion refused, nothing blows up",
    )
    feed(
        "not-a-feed",
        _ok("Not a feed"),
        CRASH,
        "HTML where a feed was expected, counted",
        check="invalid_feed",
    )
    feed("empty-feed", response(b"", rss), CRASH, "an empty body")
    feed(
        "feed-gzip-bomb",
        response(
            gzip.compress(b"<rss>" + b" " * _BOMB_SIZE, 9), (*rss, ("Content-Encoding", "gzip"))
        ),
        HOLDS,
        "a compression bomb, never decoded past the limit",
        check="as_served",
    )


# --- sitemaps ----------------------------------------------------------------------------------


def _sitemaps(c: Corpus) -> None:
    def sitemap(name: str, raw: bytes, bullet: str, reason: str, check: str = "") -> str:
        path = c.serve(f"/s/{name}", raw)
        c.sitemaps.append(path)
        c.case(name, bullet, path, Outcome.ARCHIVED, f"a sitemap: {reason}", check=check)
        return path

    gz = (("Content-Type", "application/gzip"),)
    bomb = gzip.compress(_urlset()[:-10] + b" " * _BOMB_SIZE + b"</urlset>", 9)
    sitemap(
        "bomb.xml.gz",
        response(bomb, gz),
        CRASH,
        "a gzip bomb, skipped past the limit",
        "invalid_sitemap",
    )
    sitemap(
        "corrupt.xml.gz",
        response(b"\x1f\x8b\x08\x00 not gzip", gz),
        CRASH,
        "corrupt gzip, skipped",
        "invalid_sitemap",
    )
    for n in range(1, 8):  # an endless chain of indexes
        c.serve(f"/s/chain-{n}.xml", response(sitemap_index(f"/s/chain-{n + 1}.xml"), _XML))
    sitemap(
        "chain-0.xml",
        response(sitemap_index("/s/chain-1.xml"), _XML),
        CRASH,
        "an endless index chain, cut at SITEMAP_MAX_DEPTH",
        "sitemap_depth",
    )
    c.case(
        "chain-past-depth",
        CRASH,
        "/s/chain-4.xml",
        Outcome.REFUSED,
        "past SITEMAP_MAX_DEPTH: never fetched",
        check="unrequested",
    )
    fan = [f"/s/fan-{n}.xml" for n in range(5000)]
    sitemap(
        "fan-out.xml",
        response(sitemap_index(*fan), _XML),
        CRASH,
        "5,000 children, only SITEMAP_MAX_CHILDREN fetched",
        "sitemap_children",
    )
    c.case(
        "fan-out-child",
        CRASH,
        "/s/fan-4999.xml",
        Outcome.REFUSED,
        "past SITEMAP_MAX_CHILDREN: never fetched",
        check="unrequested",
    )
    good = c.serve("/news/2026/02/01/sitemap-survivor.html", _ok("Sitemap survivor", "mapped well"))
    c.case(
        "sitemap-survivor",
        CRASH,
        good,
        Outcome.EXTRACTED,
        "the good <loc> of a bad sitemap",
        "mapped well",
    )
    bad = (
        "file:///etc/passwd",
        "data:text/xml,<urlset/>",
        "s3://bucket/sitemap.xml",
        "http://[::1/broken",
        "javascript:void(0)",
    )
    sitemap(
        "bad-locs.xml",
        response(_urlset(*bad, good, lastmod="0001-01-01T00:00:00+23:59"), _XML),
        CRASH,
        "bad <loc>s and dates skipped",
        "invalid_url",
    )
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
        f"{c.base}/a/xxe&xxe;</loc></url></urlset>"
    )
    sitemap(
        "xxe.xml", response(xxe.encode(), _XML), HOLDS, "XXE neither leaks nor fails", "no_leak"
    )
    sitemap("not-xml.xml", response(b"{not: xml}", _XML), CRASH, "not XML at all")


# --- robots.txt Sitemap: lines -----------------------------------------------------------------


def _robots(c: Corpus) -> None:
    lines = {
        "robots-file": ("file:///etc/passwd", "scheme"),
        "robots-data": ("data:text/xml,<urlset/>", "scheme"),
        "robots-s3": ("s3://public-bucket/sitemap.xml", "scheme"),
        "robots-unclosed-ipv6": ("http://[::1/x.xml", "url"),
        "robots-metadata": ("http://169.254.169.254/sitemap.xml", "link_local"),
    }
    for name, (url, reason) in lines.items():
        c.robots_lines.append(url)
        check = f"policy:{reason}" if reason in ("link_local",) else ""
        c.case(
            name,
            PRIVATE,
            url,
            Outcome.REFUSED,
            f"a robots.txt Sitemap: line ({reason})",
            check=check,
        )
    good = c.serve(
        "/s/from-robots.xml",
        response(_urlset(f"{c.base}/news/2026/02/01/robots-survivor.html"), _XML),
    )
    c.robots_lines.append(c.base + good)
    c.serve("/news/2026/02/01/robots-survivor.html", _ok("Robots survivor", "robots listed"))
    c.case(
        "robots-survivor",
        CRASH,
        "/news/2026/02/01/robots-survivor.html",
        Outcome.EXTRACTED,
        "the good Sitemap: line beside the bad ones",
        "robots listed",
    )
