"""Loopback HTTP server for the bundled offline demo news site, "The Harbour Gazette"."""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import http.server
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC
from http import HTTPStatus
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Self, cast
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from newsarchive.archive.resource import Resource

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

logger = logging.getLogger(__name__)

SITE_ROOT: Final[Path] = Path(__file__).parent / "site"
ARTICLES_FILE: Final[Path] = Path(__file__).parent / "articles.yaml"
BASE_PLACEHOLDER: Final = b"{{BASE}}"
DISALLOWED_PATH: Final = "/private/"

# Only these are rewritten: binary files must never be touched by the placeholder swap.
_TEXT_SUFFIXES: Final = frozenset({".html", ".xml", ".txt"})
_CONTENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        ".html": "text/html; charset=utf-8",
        ".xml": "application/xml; charset=utf-8",
        ".txt": "text/plain; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".png": "image/png",
        ".gz": "application/gzip",
    }
)
_NOT_FOUND_BODY: Final = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    b"<title>Page not found | The Harbour Gazette</title></head>\n"
    b"<body><h1>Page not found</h1><p>Sorry, we could not find that page.</p></body></html>\n"
)
# Several chunks, so a client really has to reassemble the body.
_CHUNK_COUNT: Final = 4


@dataclass(frozen=True, slots=True)
class Route:
    """How one path deviates from plain static serving."""

    source: str | None = None  # site file behind the path, when it is not the path itself
    content_type: str | None = None  # overrides the Content-Type guessed from the suffix
    gzip_encoding: bool = False  # Content-Encoding: gzip whatever Accept-Encoding says
    gzip_body: bool = False  # body is a .gz file built from `source`, no Content-Encoding
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    redirect_to: str | None = None
    status: HTTPStatus = HTTPStatus.OK


ROUTES: Final[Mapping[str, Route]] = MappingProxyType(
    {
        "/feeds/rss.xml": Route(content_type="application/rss+xml; charset=utf-8"),
        "/feeds/atom.xml": Route(content_type="application/atom+xml; charset=utf-8"),
        # The archive sitemap exists only gzipped, as real sites ship big sitemaps.
        "/sitemap-archive.xml.gz": Route(source="/sitemap-archive.xml", gzip_body=True),
        "/sitemap-archive.xml": Route(status=HTTPStatus.NOT_FOUND),
        "/world/icebreaker-aurora-vale-returns.html": Route(gzip_encoding=True),
        "/business/port-automation-jobs.html": Route(chunked=True),
        "/world/ar/solar-desalination-plant.html": Route(
            content_type="text/html; charset=windows-1256"
        ),
        # The page has no <meta charset>: the header is the only place the charset is named.
        "/business/fr/ostreiculteurs-chaleur-de-l-eau.html": Route(
            content_type="text/html; charset=iso-8859-1"
        ),
        "/go/latest-story": Route(
            redirect_to="/business/port-automation-jobs.html",
            status=HTTPStatus.MOVED_PERMANENTLY,
        ),
        "/world/old-url.html": Route(
            redirect_to="/world/delta-flood-barrier-data.html",
            status=HTTPStatus.MOVED_PERMANENTLY,
        ),
        "/world/missing-story.html": Route(status=HTTPStatus.NOT_FOUND),
    }
)
_PLAIN: Final = Route()


@dataclass(frozen=True, slots=True)
class DemoArticle:
    """An article a crawl of the demo site should archive and extract."""

    path: str
    title: str  # without the " | The Harbour Gazette" suffix of <title>
    language: str
    must_contain: tuple[str, ...]  # body phrases the extracted text must keep
    must_not_contain: tuple[str, ...]  # page chrome the extracted text must drop
    encoding: str  # charset the bytes are served in
    published: str  # datePublished of the JSON-LD, ISO 8601 with offset
    authors: tuple[str, ...] = ()

    #: Read by pydantic (load_articles): a misspelt key in the articles file is an error.
    __pydantic_config__ = ConfigDict(extra="forbid")

    def url(self, base_url: str) -> str:
        return base_url + self.path


class _ArticlesFile(BaseModel):
    """demo/articles.yaml: page chrome by language, the articles, the one too old to crawl."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chrome: dict[str, tuple[str, ...]]
    articles: tuple[dict[str, Any], ...]
    old_article: dict[str, Any]


def load_articles(path: Path) -> tuple[tuple[DemoArticle, ...], DemoArticle]:
    """The articles file's `articles` and `old_article`, validated into DemoArticle; an article
    without `must_not_contain` gets the page chrome of its language."""
    try:
        data = _ArticlesFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        adapter = TypeAdapter(DemoArticle)

        def article(entry: Mapping[str, Any]) -> DemoArticle:
            chrome = data.chrome.get(str(entry.get("language")), ())
            return adapter.validate_python({"must_not_contain": chrome, **entry})

        return tuple(map(article, data.articles)), article(data.old_article)
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from exc


#: The articles a crawl of the demo site should archive and extract; OLD_ARTICLE is linked from
#: the feeds, a listing page and the archive sitemap, but far older than any sensible age
#: cutoff, so a crawl with one must skip it.
DEMO_ARTICLES, OLD_ARTICLE = load_articles(ARTICLES_FILE)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the server answered; header names are lower-cased."""

    method: str
    path: str  # as requested, query string included
    headers: dict[str, str]
    status: int
    time: float  # time.time() when the response was sent


@dataclass(slots=True)
class _Response:
    status: HTTPStatus
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunked: bool = False


def _gzip(data: bytes) -> bytes:
    # mtime=0 keeps the bytes, and so the ETag, stable between requests.
    return gzip.compress(data, compresslevel=6, mtime=0)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # RFC 9110 13.1.2: If-None-Match uses the weak comparison, so W/ prefixes are ignored.
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def _not_modified_since(if_modified_since: str, mtime: int) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return mtime <= since.timestamp()


def _not_found() -> _Response:
    return _Response(
        HTTPStatus.NOT_FOUND,
        [("Content-Type", "text/html; charset=utf-8")],
        _NOT_FOUND_BODY,
    )


def _redirect(status: HTTPStatus, location: str) -> _Response:
    body = f'<html><body><a href="{location}">Moved</a></body></html>\n'.encode()
    return _Response(
        status,
        [("Location", location), ("Content-Type", "text/html; charset=utf-8")],
        body,
    )


class DemoSite(Resource):
    """Serves a demo site folder on 127.0.0.1 at a free port, in a background thread.

    `root` defaults to the bundled site; tests pass a copy under `tmp_path` to change it.
    `delay` (seconds) slows every response, so a test can act while a crawl is under way.
    """

    def __init__(self, root: Path | None = None, port: int = 0, delay: float = 0.0) -> None:
        self.root = (root or SITE_ROOT).resolve()
        self._port = port
        self.delay = delay
        self._server: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []

    @property
    def base_url(self) -> str:
        if self._server is None:
            msg = "DemoSite is not started"
            raise RuntimeError(msg)
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _DemoHTTPServer(("127.0.0.1", self._port), _Handler)
        server.site = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"demo-site-{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("Demo site %s serving %s", self.base_url, self.root)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _enter(self) -> Self:
        return self.start()

    def _exit(self) -> None:
        self.stop()

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def requested_paths(self) -> list[str]:
        return [record.path for record in self.requests]

    def clear_log(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def _file(self, path: str) -> Path | None:
        """The file under root a URL path names, or None (missing, or outside root)."""
        if ".." in path or "\\" in path or "\x00" in path:
            return None
        relative = path.lstrip("/")
        candidate = (self.root / relative).resolve() if relative else self.root
        if not candidate.is_relative_to(self.root):
            return None
        if candidate.is_dir():
            candidate /= "index.html"
        return candidate if candidate.is_file() else None

    def _respond(self, raw_path: str, headers: Mapping[str, str]) -> _Response:
        """Build the response to a GET (HEAD drops the body later)."""
        split = urlsplit(raw_path)
        # Both spellings are checked so %2e%2e cannot sneak past the decoded check.
        if ".." in split.path:
            return _not_found()
        path = unquote(split.path)
        route = ROUTES.get(path, _PLAIN)
        if route.redirect_to is not None:
            return _redirect(route.status, self.base_url + route.redirect_to)
        if route.status == HTTPStatus.NOT_FOUND:
            return _not_found()
        source = self._file(route.source or path)
        if source is None:
            return _not_found()
        if source.name == "index.html" and not path.endswith(("/", ".html")):
            # A folder asked for without its slash: relative links need the slash.
            return _redirect(HTTPStatus.MOVED_PERMANENTLY, self.base_url + path + "/")
        return self._static(source, path, route, headers)

    def _static(
        self, source: Path, path: str, route: Route, headers: Mapping[str, str]
    ) -> _Response:
        data = source.read_bytes()
        if source.suffix in _TEXT_SUFFIXES:
            data = data.replace(BASE_PLACEHOLDER, self.base_url.encode("ascii"))
        content_type = route.content_type or _CONTENT_TYPES.get(
            Path(path).suffix if route.gzip_body else source.suffix,
            "application/octet-stream",
        )
        extra: list[tuple[str, str]] = []
        if route.gzip_body or route.gzip_encoding:
            data = _gzip(data)
        if route.gzip_encoding:
            extra.append(("Content-Encoding", "gzip"))
            extra.append(("Vary", "Accept-Encoding"))
        mtime = int(source.stat().st_mtime)
        validators = [
            ("ETag", _etag(data)),
            ("Last-Modified", email.utils.formatdate(mtime, usegmt=True)),
        ]
        etag = validators[0][1]
        if_none_match = headers.get("if-none-match")
        if_modified_since = headers.get("if-modified-since")
        # RFC 9110 13.2.2: If-Modified-Since is ignored when If-None-Match is present.
        if (if_none_match is not None and _etag_matches(if_none_match, etag)) or (
            if_none_match is None
            and if_modified_since is not None
            and _not_modified_since(if_modified_since, mtime)
        ):
            return _Response(HTTPStatus.NOT_MODIFIED, validators)
        return _Response(
            HTTPStatus.OK,
            [("Content-Type", content_type), *extra, *validators],
            data,
            chunked=route.chunked,
        )


class _DemoHTTPServer(http.server.ThreadingHTTPServer):
    site: DemoSite

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up mid-response is routine in crawls; keep it off stderr.
        # socketserver calls this from inside its `except` block, so exc_info is set.
        logger.debug(
            "Demo site connection error from %s",
            client_address,
            exc_info=True,  # noqa: LOG014 - called by socketserver within an except clause
        )


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked transfer coding does not exist in HTTP/1.0
    server_version = "HarbourGazetteDemo/1.0"
    sys_version = ""
    # Idle keep-alive connections are dropped after this long, so stop() never waits on them.
    timeout = 30

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, *, head: bool) -> None:
        site = cast("_DemoHTTPServer", self.server).site
        request_headers = {name.lower(): value for name, value in self.headers.items()}
        response = site._respond(self.path, request_headers)
        if site.delay > 0:
            time.sleep(site.delay)
        # Logged before the response goes out, so a client that has its answer always
        # finds its request in the log (the handler thread may otherwise lag behind).
        site._record(
            RequestRecord(
                method=self.command,
                path=self.path,
                headers=request_headers,
                status=int(response.status),
                time=time.time(),
            )
        )
        self._write(response, head=head)

    def _write(self, response: _Response, *, head: bool) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        has_body = response.status not in {HTTPStatus.NOT_MODIFIED, HTTPStatus.NO_CONTENT}
        if response.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif has_body:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if head or not has_body:
            return
        if not response.chunked:
            self.wfile.write(response.body)
            return
        body = response.body
        size = max(1, -(-len(body) // _CHUNK_COUNT))
        for start in range(0, len(body), size):
            chunk = body[start : start + size]
            self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the bundled site until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--root", type=Path, default=None, help="site folder to serve")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with DemoSite(args.root, port=args.port) as site:
        print(f"The Harbour Gazette demo site: {site.base_url}/  (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
