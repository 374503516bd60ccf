"""The hostile corpus (tests/hostile_corpus.py) crawled once from a raw loopback server: every
case gets its expected outcome, nothing crashes (no ERROR line, no traceback), nothing is lost
(every WARC record reads back with valid digests, and is indexed and packaged)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.cdxj import parse_cdxj
from newsarchive.config.stats import InvalidKind, StatsKeys
from tests.conftest import REPO
from tests.hostile_corpus import ETC_ROOT_LINE, Case, Outcome, corpus
from tests.rawhttp import RawHttpServer

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SITE = "corpus"
INVALID = StatsKeys.DISCOVERY_SKIPPED_INVALID


@dataclass
class Record:
    kind: str
    status: int
    headers: list[tuple[str, str]]
    warc_headers: dict[str, str]
    payload_length: int
    warc: str


@dataclass
class Crawled:
    base: str
    stats: dict[str, Any]
    log: list[dict[str, Any]]
    requested: list[str]
    records: dict[str, list[Record]] = field(default_factory=dict)
    #: URL -> extracted text.
    texts: dict[str, str] = field(default_factory=dict)
    #: URLs in the run's CDXJ indexes, and in its WACZ index.
    indexed: set[str] = field(default_factory=set)
    packaged: set[str] = field(default_factory=set)

    def url(self, target: str) -> str:
        return target if "://" in target or ":" in target.split("/", 1)[0] else self.base + target

    def stat(self, key: str) -> int:
        value = self.stats.get(key, 0)
        return value if isinstance(value, int) else 0


def _read_store(store: Path, crawled: Crawled) -> None:
    for path in sorted(store.glob(f"warcs/{SITE}/*/*.warc.gz")):
        with path.open("rb") as fh:
            # Digests checked on the bytes as stored: zero data loss, bombs never decoded.
            for record in ArchiveIterator(fh, check_digests="raise"):
                length = len(record.raw_stream.read())
                if record.rec_type not in ("response", "revisit"):
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI")
                http = record.http_headers
                crawled.records.setdefault(uri, []).append(
                    Record(
                        record.rec_type,
                        int(http.get_statuscode()),
                        list(http.headers),
                        dict(record.rec_headers.headers),
                        length,
                        path.name,
                    )
                )
    for path in store.glob(f"meta/{SITE}/*/*.json"):
        meta = json.loads(path.read_text(encoding="utf-8"))
        crawled.texts[meta["url"]] = (store / meta["text_key"]).read_text(encoding="utf-8")
    for path in store.glob(f"indexes/{SITE}/*.cdxj"):
        crawled.indexed |= {fields["url"] for _k, _t, fields in parse_cdxj(path.read_bytes())}
    for path in store.glob(f"wacz/{SITE}/*.wacz"):
        with zipfile.ZipFile(path) as wacz:
            lines = gzip.decompress(wacz.read("indexes/index.cdx.gz"))
        crawled.packaged |= {fields["url"] for _k, _t, fields in parse_cdxj(lines)}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Crawled, list[Case]]:
    out = tmp_path_factory.mktemp("corpus")
    with RawHttpServer() as server:
        built = corpus(server.base_url)
        server.serve(built.routes)
        base = server.base_url
        site = {
            "name": SITE,
            "feeds": [base + "/feed.xml", *(base + f for f in built.feeds)],
            "sitemaps": [base + s for s in built.sitemaps],
            "robots_sitemaps": True,
            "max_age_days": None,
            "max_articles": 1000,
            "politeness": {"concurrent_requests": 4, "download_delay": 0},
        }
        site_file = out / "site.json"
        site_file.write_text(json.dumps(site), encoding="utf-8")
        subprocess.run(
            [sys.executable, "-m", "tests.corpus_crawl", str(out), str(site_file)],
            cwd=REPO, timeout=300, check=True,
        )  # fmt: skip
        result = json.loads((out / "result.json").read_text(encoding="utf-8"))
        crawled = Crawled(base, result["stats"], result["log"], list(server.requested))
    _read_store(out / "store", crawled)
    return crawled, built.cases


def _policy(reason: str) -> Callable[[Crawled, str], bool]:
    def check(c: Crawled, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        logged = any(host.strip("[]") in r["message"] for r in c.log if r["level"] == "WARNING")
        return c.stat(f"{StatsKeys.POLICY_REFUSED}/{reason}") > 0 and logged

    return check


def _stat(key: str) -> Callable[[Crawled, str], bool]:
    return lambda c, _url: c.stat(key) > 0


def _leaks(c: Crawled, _url: str) -> bool:
    return not any(ETC_ROOT_LINE in text for text in c.texts.values())


CHECKS: dict[str, Callable[[Crawled, str], bool]] = {
    "indexed": lambda c, url: url in c.indexed and url in c.packaged,
    "as_served": lambda c, url: (
        all(r.payload_length < 1_000_000 for r in c.records[url]) and url in c.indexed
    ),
    "truncated": lambda c, url: any(
        r.warc_headers.get("WARC-Truncated") == "disconnect" for r in c.records[url]
    ),
    "dechunked": lambda c, url: all(
        name.lower() != "transfer-encoding" for r in c.records[url] for name, _ in r.headers
    ),
    "cookies": lambda c, url: (
        sum(name.lower() == "set-cookie" for name, _ in c.records[url][0].headers) == 1000
    ),
    "location": _stat(f"{INVALID}/{InvalidKind.LOCATION}"),
    "retry_after": _stat(f"{INVALID}/{InvalidKind.RETRY_AFTER}"),
    "meta_refresh": _stat(StatsKeys.DISCOVERY_META_REFRESH),
    "invalid_url": _stat(f"{INVALID}/{InvalidKind.URL}"),
    "invalid_json": _stat(f"{INVALID}/{InvalidKind.JSON}"),
    "invalid_feed": _stat(f"{INVALID}/{InvalidKind.FEED}"),
    "invalid_sitemap": _stat(f"{INVALID}/{InvalidKind.SITEMAP}"),
    "sitemap_depth": _stat(f"{INVALID}/{InvalidKind.SITEMAP_DEPTH}"),
    "sitemap_children": _stat(f"{INVALID}/{InvalidKind.SITEMAP_CHILDREN}"),
    "no_leak": _leaks,
    "unrequested": lambda c, url: url[len(c.base) :] not in c.requested,
    **{
        f"policy:{reason}": _policy(reason)
        for reason in (
            "link_local",
            "private_network",
            "loopback",
            "unspecified",
            "cgnat",
            "multicast",
        )
    },
}


def judge(c: Crawled, case: Case) -> str | None:
    """Why the case did not get its outcome, or None when it did."""
    url = c.url(case.target)
    records = c.records.get(url, [])
    extracted = url in c.texts
    if case.outcome is Outcome.EXTRACTED:
        # A payload already archived at another URL of the site (several cases serve the same
        # page) is an identical-payload revisit of that 200 response, with its own HTTP head.
        if not any(r.kind in ("response", "revisit") and r.status == 200 for r in records):
            return f"no 200 response archived (records: {[r.status for r in records]})"
        if not extracted:
            return "archived but not extracted"
        if case.phrase and case.phrase not in c.texts[url]:
            return f"text lacks {case.phrase!r}: {c.texts[url][:200]!r}"
    elif case.outcome is Outcome.ARCHIVED:
        if not records:
            return "not archived"
        if extracted:
            return "extracted, expected no text"
    else:
        if records:
            return f"archived ({[r.status for r in records]}), expected refused"
    if case.check and not CHECKS[case.check](c, url):
        return f"check {case.check} failed"
    return None


def test_corpus_size_covers_every_bullet(crawled: tuple[Crawled, list[Case]]) -> None:
    _crawled, cases = crawled
    assert len(cases) >= 100
    assert len({case.name for case in cases}) == len(cases)
    counts = Counter(case.outcome.value for case in cases)
    bullets = Counter(case.bullet for case in cases)
    print(f"\nhostile corpus: {len(cases)} cases; {dict(counts)}; by bullet {dict(bullets)}")
    assert set(bullets) == {
        "reaches private networks and local files",
        "crashes on bad input",
        "loses data",
        "what already holds",
    }


def test_every_case_gets_its_outcome(crawled: tuple[Crawled, list[Case]]) -> None:
    c, cases = crawled
    failures = {case.name: why for case in cases if (why := judge(c, case)) is not None}
    assert failures == {}, "\n".join(f"{name}: {why}" for name, why in failures.items())


def test_no_crash_no_error_no_traceback(crawled: tuple[Crawled, list[Case]]) -> None:
    c, _cases = crawled
    assert c.stats["finish_reason"] == "finished"
    errors = [r for r in c.log if r["level"] in ("ERROR", "CRITICAL") or r["traceback"]]
    assert [(r["logger"], r["message"][:200]) for r in errors] == []
    assert c.stat("spider_exceptions") == 0
    # Log hygiene: no line carries a body.
    long_lines = [
        line[:100] for r in c.log for line in r["message"].splitlines() if len(line) > 500
    ]
    assert long_lines == []


def test_nothing_lost(crawled: tuple[Crawled, list[Case]]) -> None:
    c, _cases = crawled
    archived = set(c.records)
    assert archived, "nothing archived"
    # Every capture (read back above with valid digests) is indexed and packaged.
    assert archived - c.indexed == set()
    assert archived - c.packaged == set()
    assert c.stat(StatsKeys.PACKAGE_FAILED) == 0
    assert c.stat(StatsKeys.ARCHIVE_ERRORS) == 0
