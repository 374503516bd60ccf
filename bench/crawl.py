"""Crawl speed, CPU and memory of newsarchive against plain Scrapy and the naive design, same run.

Generates a news site (N articles of 60-120 KB: navigation, share bar, related links, a
600-1200-word body, listings, sitemaps) in a temp folder, serves it on 127.0.0.1 with nginx
(else a Python server, said so), shows with wrk (else a small threaded client) that the server
is not the bottleneck, then crawls it round-robin, each design in a child process:

- plain Scrapy, fetch only (SitemapSpider);
- plain Scrapy + WARC of the bytes as served (archive/warc.py writer, in the reactor);
- + trafilatura in the reactor thread (the naive design);
- newsarchive end to end (`newsarchive crawl`: WARC + extraction + local store);
- newsarchive with extraction off.

Prints pages/s, CPU ms per page (the child and every process it reaped), peak RSS of the
child's main process and of its process tree, their ratios, and the command line.

Usage: python bench/crawl.py [--articles 3000] [--repeat 1] [--designs a,b] [--scaling 2000:20000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # run as a script from anywhere: the repo root holds the packages
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger("bench.crawl")

SECTIONS: Final = ("world", "business", "politics", "science", "culture", "sport", "health", "tech")
LISTING_SIZE: Final = 20
SITEMAP_SIZE: Final = 1000
#: One Scrapy configuration for every design: what the machine can do, not the per-site
#: politeness newsarchive applies by default (3 requests per site, a 0.25 s delay).
SHARED_SETTINGS: Final = {
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "ROBOTSTXT_OBEY": True,
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "WARNING",
    "USER_AGENT": "newsarchive-bench (+https://github.com/newsarchive/newsarchive)",
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
}
#: Designs in run order, with what the ratios compare them against.
DESIGNS: Final = {
    "plain": "plain Scrapy, fetch only",
    "plain-warc": "+ WARC of the bytes as served",
    "naive": "+ trafilatura in the reactor (naive)",
    "newsarchive": "newsarchive, end to end",
    "newsarchive-noextract": "newsarchive, extraction off",
}

# --- the site -----------------------------------------------------------------------------------

_SYLLABLES: Final = (
    "ka ri to ne sa mo lu vi de pa ra no ti be sho ga mi ru en al or is at um ex tra con pro "
    "har bour flo od ba rri er fe rry crew stri ke mar ket coun cil"
)


def _vocabulary(rng: random.Random, size: int = 2500) -> list[str]:
    syllables = _SYLLABLES.split()
    words = {"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def _sentence(rng: random.Random, words: list[str], n: int) -> str:
    text = " ".join(rng.choices(words, k=n))
    return text[0].upper() + text[1:] + "."


def _article_path(i: int) -> str:
    day = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(hours=i % 500)
    section = SECTIONS[i % len(SECTIONS)]
    return f"/news/{section}/{day:%Y/%m/%d}/story-{i:06d}.html"


def _links(paths: list[tuple[str, str]], css: str) -> str:
    return "".join(f'<li class="{css}"><a href="{p}">{t}</a></li>' for p, t in paths)


_SHARE_ICON: Final = (
    '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path d="M18 16.08c-.76'
    " 0-1.44.3-1.96.77L8.91 12.7c.05-.23.09-.46.09-.7s-.04-.47-.09-.7l7.05-4.11c.54.5 1.25.81"
    " 2.04.81 1.66 0 3-1.34 3-3s-1.34-3-3-3-3 1.34-3 3c0 .24.04.47.09.7L8.04 9.81C7.5 9.31 6.79"
    ' 9 6 9c-1.66 0-3 1.34-3 3s1.34 3 3 3c.79 0 1.5-.31 2.04-.81l7.12 4.16"/></svg>'
)


def article_html(i: int, total: int, words: list[str], base: str) -> str:
    """One article page of 60-120 KB, as news sites send them: most of it is not the story."""
    rng = random.Random(i)
    target = rng.randint(60_000, 120_000)
    title = _sentence(rng, words, rng.randint(6, 11))[:-1]
    path = _article_path(i)
    published = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(hours=i % 500)
    body_words = rng.randint(600, 1200)
    paragraphs = []
    while body_words > 0:
        n = min(body_words, rng.randint(40, 90))
        body_words -= n
        sentences = []
        while n > 0:
            k = min(n, rng.randint(8, 22))
            n -= k
            sentences.append(_sentence(rng, words, k))
        paragraphs.append(f"<p>{' '.join(sentences)}</p>")
    nav = "".join(
        f'<li class="menu"><a href="/news/{s}/index.html">{s.title()}</a><ul>'
        + _links(
            [(f"/news/{s}/topic-{t}.html", " ".join(rng.choices(words, k=2))) for t in range(25)],
            "sub",
        )
        + "</ul></li>"
        for s in SECTIONS
    )
    share = "".join(
        f'<a class="share share-{n}" href="https://{n}.example/share?u={base}{path}">'
        f"{_SHARE_ICON}<span>{n}</span></a>"
        for n in ("facebook", "x", "whatsapp", "linkedin", "email", "copy")
    )
    related = "".join(
        f'<article class="teaser"><a href="{_article_path(j)}"><h3>'
        f"{_sentence(rng, words, 8)}</h3></a><p>{_sentence(rng, words, 18)}</p></article>"
        for j in rng.sample(range(total), min(10, total))
    )
    most_read = _links(
        [
            (_article_path(j), _sentence(rng, words, 7))
            for j in rng.sample(range(total), min(10, total))
        ],
        "most-read",
    )
    footer = _links(
        [(f"/about/page-{n}.html", " ".join(rng.choices(words, k=2))) for n in range(100)], "foot"
    )
    jsonld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "datePublished": published.isoformat(),
            "author": {"@type": "Person", "name": " ".join(rng.choices(words, k=2)).title()},
            "publisher": {"@type": "Organization", "name": "Bench Daily"},
        }
    )
    style = "".join(
        f".c{n}{{margin:{n % 7}px;padding:{n % 5}px;color:#{n:06x}}}" for n in range(120)
    )
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} | Bench Daily</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta property="og:type" content="article"><meta property="og:title" content="{title}">'
        f'<link rel="canonical" href="{base}{path}">'
        '<link rel="stylesheet" href="/static/site.css"><link rel="icon" href="/static/logo.png">'
        '<script src="/static/app.js" defer></script>'
        f'<script type="application/ld+json">{jsonld}</script><style>{style}</style>'
    )
    page = (
        f'</head><body><header><a href="/"><img src="/static/logo.png" alt="Bench Daily"></a>'
        f'<nav><ul class="mega">{nav}</ul></nav></header>'
        f'<main><article><h1>{title}</h1><p class="byline">By {" ".join(rng.choices(words, k=2))}'
        f'</p><time datetime="{published.isoformat()}">{published:%d %B %Y}</time>'
        f'<div class="share-bar">{share}</div><div class="body">{"".join(paragraphs)}</div>'
        f'<div class="share-bar">{share}</div></article>'
        f'<aside class="related"><h2>Related</h2>{related}</aside>'
        f'<aside class="most-read"><h2>Most read</h2><ol>{most_read}</ol></aside></main>'
        f"<footer><ul>{footer}</ul><p>&copy; Bench Daily</p></footer></body></html>"
    )
    # The rest is what pads real pages: an inline configuration blob for ads and analytics.
    room = max(0, target - len(head) - len(page) - 60)
    blob = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=room))
    return f'{head}<script>window.__CONFIG__={{"slots":"{blob}"}};</script>{page}'


def listing_html(section: str, page: int, paths: list[str], last: bool) -> str:
    items = "".join(f'<li><a href="{p}">Story {p.rsplit("-", 1)[-1][:-5]}</a></li>' for p in paths)
    nxt = (
        "" if last else f'<a rel="next" href="/news/{section}/page/{page + 1}/index.html">Next</a>'
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><meta property="og:type" '
        f'content="website"><title>{section}</title></head><body><ul>{items}</ul>{nxt}</body></html>'
    )


def sitemap_index(articles: int) -> str:
    """The sitemap index listing the site's first `articles` articles."""
    return f"sitemap_index-{articles}.xml"


def generate_site(folder: Path, articles: int, base: str, sizes: tuple[int, ...] = ()) -> int:
    """Write the site, with a sitemap index for all and for each of `sizes`; its bytes."""
    words = _vocabulary(random.Random(0))
    total = 0
    paths = [_article_path(i) for i in range(articles)]
    for i, path in enumerate(paths):
        target = folder / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = article_html(i, articles, words, base).encode("utf-8")
        target.write_bytes(data)
        total += len(data)
    for section in SECTIONS:
        mine = [p for p in paths if p.startswith(f"/news/{section}/")]
        pages = [mine[n : n + LISTING_SIZE] for n in range(0, len(mine), LISTING_SIZE)] or [[]]
        for n, chunk in enumerate(pages, start=1):
            name = "index.html" if n == 1 else f"page/{n}/index.html"
            target = folder / "news" / section / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(listing_html(section, n, chunk, n == len(pages)), encoding="utf-8")
    lastmod = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # One sitemap index per crawl size: a design reads the first `n` articles of a site
    # generated for the largest size (--scaling), never the whole site.
    for size in {articles, *sizes}:
        maps = []
        for n in range(0, size, SITEMAP_SIZE):
            name = f"sitemap-{size}-{n // SITEMAP_SIZE}.xml"
            urls = "".join(
                f"<url><loc>{base}{p}</loc><lastmod>{lastmod}</lastmod></url>"
                for p in paths[n : min(n + SITEMAP_SIZE, size)]
            )
            (folder / name).write_text(
                '<?xml version="1.0" encoding="UTF-8"?>'
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
                encoding="utf-8",
            )
            maps.append(name)
        index = "".join(
            f"<sitemap><loc>{base}/{m}</loc><lastmod>{lastmod}</lastmod></sitemap>" for m in maps
        )
        (folder / sitemap_index(size)).write_text(
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{index}</sitemapindex>",
            encoding="utf-8",
        )
    (folder / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", encoding="utf-8")
    static = folder / "static"
    static.mkdir(exist_ok=True)
    (static / "site.css").write_text("body{font:16px serif}.mega{display:flex}", encoding="utf-8")
    (static / "app.js").write_text("window.bench=1;", encoding="utf-8")
    (static / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    return total


# --- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_NGINX_CONF: Final = """\
worker_processes 1;
daemon off;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{
        text/html html; text/css css; application/javascript js; image/png png;
        application/xml xml; text/plain txt;
    }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/css application/xml text/plain application/javascript;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


@dataclass
class Server:
    kind: str
    process: subprocess.Popen[bytes]
    base: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def start_server(root: Path, work: Path, port: int, use_nginx: bool) -> Server:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if use_nginx and nginx:
        tmp = work / "nginx"
        tmp.mkdir()
        # As root nginx would serve as "nobody", who cannot read a mkdtemp folder.
        user = "user root;" if os.geteuid() == 0 else ""
        conf = tmp / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root))
        process = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        kind = "nginx (1 worker)"
    else:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "--directory",
                str(root),
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        kind = "Python http.server (nginx not found: the server may limit the crawl)"
    _wait_listening(port, process)
    return Server(kind, process, f"http://127.0.0.1:{port}")


def server_capacity(url: str, seconds: int = 3) -> str:
    """Requests/s the server answers for one article, from wrk or a threaded client."""
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run(
            [wrk, "-t2", "-c16", f"-d{seconds}s", url], capture_output=True, text=True, check=False
        ).stdout
        found = re.search(r"Requests/sec:\s*([\d.]+)", out)
        rate = float(found.group(1)) if found else 0.0
        return f"{rate:,.0f} req/s (wrk -t2 -c16 -d{seconds}s, one article)"
    count = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        nonlocal count
        while time.monotonic() < stop:
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback URL we built
                answer.read()
            with lock:
                count += 1

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return f"{count / seconds:,.0f} req/s (8-thread Python client, a lower bound; wrk not found)"


# --- measuring a child --------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _tree(pid: int) -> list[int]:
    try:
        import psutil  # noqa: PLC0415 - optional: /proc otherwise

        return [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
    except ImportError:
        pass
    except Exception:
        return [pid]
    children, found, todo = _children_map(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Polls a child's process tree: peak RSS of the child itself and of the whole tree."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.main_kb = 0
        self.tree_kb = 0
        self.processes = 1
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids = _tree(self.pid)
            self.processes = max(self.processes, len(pids))
            # VmHWM is the kernel's own peak for the main process, between samples too.
            self.main_kb = max(self.main_kb, _status_kb(self.pid, "VmHWM"))
            self.tree_kb = max(self.tree_kb, sum(_status_kb(p, "VmRSS") for p in pids))
            self.done.wait(self.interval)


@dataclass
class Result:
    design: str
    pages: int
    wall: float
    cpu: float
    main_mb: float
    tree_mb: float
    processes: int

    @property
    def rate(self) -> float:
        return self.pages / self.wall

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.pages


def measure(design: str, command: list[str], log: Path, pages: int, env: dict[str, str]) -> Result:
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        sampler = Sampler(process.pid)
        sampler.start()
        # wait4: the child's CPU plus that of every process it reaped (extraction workers).
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.done.set()
        sampler.join()
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{design} exited with {process.returncode}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return Result(
        design, pages, wall, cpu, sampler.main_kb / 1024, sampler.tree_kb / 1024, sampler.processes
    )


# --- the designs --------------------------------------------------------------------------------


def _sitemap_spider(extract: bool, out: Path) -> type:
    from scrapy.spiders import SitemapSpider  # noqa: PLC0415 - only in the child

    class BenchSpider(SitemapSpider):  # type: ignore[misc]  # Scrapy's SitemapSpider is untyped here
        name = "bench"
        sitemap_rules: ClassVar = [("/news/", "parse_article")]
        extracted = 0

        def parse_article(self, response: Response) -> None:
            if not extract:
                return
            import trafilatura  # noqa: PLC0415

            text = trafilatura.extract(response.text, favor_precision=True)
            if text:
                BenchSpider.extracted += 1
                (out / f"{BenchSpider.extracted}.txt").write_text(text, encoding="utf-8")

    return BenchSpider


class BenchWarcMiddleware:
    """The plain WARC design: every exchange written as served, in the reactor thread."""

    def __init__(self, out: Path) -> None:
        from newsarchive.archive.local import LocalStore  # noqa: PLC0415
        from newsarchive.archive.warc import RollingWarcWriter  # noqa: PLC0415

        self.writer = RollingWarcWriter(
            LocalStore(out),
            site="bench",
            warcinfo={"isPartOf": "bench", "http-header-user-agent": "newsarchive-bench"},
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BenchWarcMiddleware:
        from scrapy import signals  # noqa: PLC0415

        mw = cls(Path(crawler.settings["BENCH_OUT"]) / "store")
        crawler.signals.connect(mw.writer.close, signal=signals.spider_closed)
        return mw

    def process_request(self, request: Request) -> None:
        request.meta["bench_date"] = datetime.now(UTC)

    def process_response(self, request: Request, response: Response) -> Response:
        from newsarchive.pipelines.downloadermiddlewares.capture import (  # noqa: PLC0415
            exchange_from_response,
        )

        self.writer.write_exchange(
            exchange_from_response(request, response, request.meta["bench_date"])
        )
        return response


def run_child(design: str, base: str, out: Path, articles: int) -> int:
    """The plain designs, in this (child) process."""
    from scrapy.crawler import CrawlerProcess  # noqa: PLC0415

    settings: dict[str, Any] = {**SHARED_SETTINGS, "BENCH_OUT": str(out)}
    if design in ("plain-warc", "naive"):
        # Above HttpCompressionMiddleware, as newsarchive's capture middleware: bytes as served.
        settings["DOWNLOADER_MIDDLEWARES"] = {BenchWarcMiddleware: 950}
    (out / "text").mkdir(parents=True, exist_ok=True)
    process = CrawlerProcess(settings, install_root_handler=True)
    spider = _sitemap_spider(design == "naive", out / "text")
    process.crawl(spider, sitemap_urls=[f"{base}/{sitemap_index(articles)}"])
    process.start()
    return 0


def design_command(
    design: str, base: str, out: Path, articles: int, extra: list[str] | None = None
) -> list[str]:
    if design.startswith("newsarchive"):
        sites = out / "sites"
        sites.mkdir(parents=True)
        (sites / "bench.yaml").write_text(
            "name: bench\n"
            f"sitemaps: ['{base}/{sitemap_index(articles)}']\n"
            "robots_sitemaps: false\n"
            "allow: ['/news/']\n"
            f"max_articles: {articles}\n"
            "max_age_days: null\n",
            encoding="utf-8",
        )
        command = [sys.executable, "-m", "newsarchive.cli.main", "crawl", "--site", "bench"]
        command += ["--sites-dir", str(sites), "--store", str(out / "store")]
        options = dict(SHARED_SETTINGS)
        if design == "newsarchive-noextract":
            options["EXTRACT_ENABLED"] = False
        for name, value in options.items():
            command += ["-s", f"{name}={value}"]
        for setting in extra or []:
            command += ["-s", setting]
        return command
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        design,
        "--base",
        base,
        "--out",
        str(out),
        "--articles",
        str(articles),
    ]


def check_output(design: str, out: Path, articles: int) -> None:
    """Each design must have fetched every article, or its rate means nothing."""
    if design.startswith("newsarchive"):
        reports = sorted((out / "store" / "reports" / "bench").glob("*.json"))
        report = json.loads(reports[-1].read_text(encoding="utf-8"))
        got = int(report["new"])
        texts = int(report.get("texts") or 0)
        if design == "newsarchive" and texts < articles * 0.99:
            raise RuntimeError(f"{design}: {texts} texts for {articles} articles")
    elif design == "naive":
        got = len(list((out / "text").glob("*.txt")))
    else:
        return
    if got < articles * 0.99:
        raise RuntimeError(f"{design}: {got} articles of {articles}")


# --- the report ---------------------------------------------------------------------------------


def _median(results: list[Result]) -> Result:
    return Result(
        results[0].design,
        results[0].pages,
        statistics.median(r.wall for r in results),
        statistics.median(r.cpu for r in results),
        statistics.median(r.main_mb for r in results),
        statistics.median(r.tree_mb for r in results),
        max(r.processes for r in results),
    )


def table(results: dict[str, Result]) -> str:
    plain = results.get("plain")
    header = (
        f"{'design':<40} {'pages/s':>8} {'CPU ms/page':>11} {'RSS MB main / tree':>19} "
        f"{'procs':>5} {'x plain':>7} {'RSS x plain':>12}"
    )
    lines = [header, "-" * len(header)]
    for name, r in results.items():
        speed = f"{r.rate / plain.rate:.2f}" if plain else "-"
        memory = (
            f"{r.main_mb / plain.main_mb:.2f}/{r.tree_mb / plain.tree_mb:.2f}" if plain else "-"
        )
        lines.append(
            f"{DESIGNS[name]:<40} {r.rate:>8.1f} {r.cpu_ms:>11.1f} "
            f"{r.main_mb:>9.0f} / {r.tree_mb:<7.0f} {r.processes:>5} {speed:>7} {memory:>12}"
        )
    return "\n".join(lines)


#: Issue 14's Must-show ratios: (label, design, baseline, measure, limit, higher is better).
TARGETS: Final = (
    ("newsarchive end to end / naive, pages/s", "newsarchive", "naive", "rate", 1.4, True),
    ("newsarchive extraction off / plain + WARC, pages/s", "newsarchive-noextract",
     "plain-warc", "rate", 0.8, True),
    ("newsarchive main RSS / plain Scrapy", "newsarchive", "plain", "main_mb", 1.5, False),
)  # fmt: skip


def targets(results: dict[str, Result]) -> list[str]:
    out = []
    for label, design, baseline, measure_, limit, higher in TARGETS:
        if design not in results or baseline not in results:
            continue
        value = getattr(results[design], measure_) / getattr(results[baseline], measure_)
        ok = value >= limit if higher else value <= limit
        sign = ">=" if higher else "<="
        out.append(f"{label}: {value:.2f} (target {sign} {limit}) {'ok' if ok else 'MISSED'}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every design, round-robin")
    parser.add_argument("--designs", default=",".join(DESIGNS), help="comma-separated subset")
    parser.add_argument(
        "--no-nginx", action="store_true", help="serve with Python even if nginx is here"
    )
    parser.add_argument(
        "--scaling",
        metavar="SMALL:LARGE",
        help="also: newsarchive's tree RSS at SMALL and LARGE articles",
    )
    parser.add_argument("--keep", type=Path, help="keep the site and outputs in this folder")
    parser.add_argument(
        "-s", "--set", action="append", default=[], metavar="NAME=VALUE",
        help="a Scrapy setting for the newsarchive designs (to measure a setting's effect)",
    )  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.base, args.out, args.articles)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    designs = [d for d in args.designs.split(",") if d]
    unknown = set(designs) - set(DESIGNS)
    if unknown:
        parser.error(f"unknown designs: {', '.join(sorted(unknown))}")
    small = large = 0
    if args.scaling:
        small, large = (int(n) for n in args.scaling.split(":"))
    with tempfile.TemporaryDirectory(prefix="newsarchive-bench-crawl-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        work.chmod(0o755)  # nginx workers read the site from here
        site = work / "site"
        site.mkdir()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        size_articles = max(args.articles, large)
        started = time.perf_counter()
        sizes = (args.articles, small, large) if args.scaling else ()
        size = generate_site(site, size_articles, base, sizes)
        print(
            f"site: {size_articles} articles, {size / size_articles / 1000:.0f} KB average, "
            f"{time.perf_counter() - started:.0f} s to generate",
            flush=True,
        )
        server = start_server(site, work, port, not args.no_nginx)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        try:
            print(f"server: {server.kind} on {base}", flush=True)
            print(f"server capacity: {server_capacity(base + _article_path(0))}", flush=True)
            runs: dict[str, list[Result]] = {d: [] for d in designs}
            for round_ in range(args.repeat):
                for design in designs:
                    out = work / f"{design}-{round_}"
                    out.mkdir()
                    command = design_command(design, base, out, args.articles, args.set)
                    # Untimed: dirty pages left by the site's generation or an earlier run
                    # are written back now, not in the middle of whichever design runs next.
                    os.sync()
                    result = measure(
                        design, command, work / f"{design}-{round_}.log", args.articles, env
                    )
                    check_output(design, out, args.articles)
                    runs[design].append(result)
                    print(
                        f"  round {round_ + 1} {design:<22} {result.rate:7.1f} pages/s "
                        f"{result.cpu_ms:6.1f} CPU ms/page "
                        f"{result.main_mb:5.0f}/{result.tree_mb:.0f} MB",
                        flush=True,
                    )
                    if not args.keep:
                        shutil.rmtree(out)
            scaling = []
            for n in (small, large) if args.scaling else ():
                out = work / f"scaling-{n}"
                out.mkdir()
                command = design_command("newsarchive", base, out, n, args.set)
                os.sync()
                scaling.append(measure("newsarchive", command, work / f"scaling-{n}.log", n, env))
                check_output("newsarchive", out, n)
                if not args.keep:
                    shutil.rmtree(out)
        finally:
            server.stop()
    results = {d: _median(r) for d, r in runs.items()}
    print()
    print(f"os.cpu_count(): {os.cpu_count()}; {args.articles} articles, ", end="")
    print(f"median of {args.repeat} round(s)")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(table(results))
    for line in targets(results):
        print(line)
    if scaling:
        a, b = scaling
        print(
            f"newsarchive tree RSS {b.pages} vs {a.pages} pages: "
            f"{b.tree_mb:.0f} / {a.tree_mb:.0f} MB = {b.tree_mb / a.tree_mb:.2f} (target <= 1.15); "
            f"main {b.main_mb:.0f} / {a.main_mb:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
