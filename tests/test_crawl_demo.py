"""End to end: a real crawl of the demo news site over loopback, judged by what it stored."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.request
from typing import TYPE_CHECKING

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.demo.server import DEMO_ARTICLES, DISALLOWED_PATH, OLD_ARTICLE, DemoArticle
from tests.conftest import DemoCrawl, run_cli

if TYPE_CHECKING:
    from pathlib import Path

ARABIC = next(a for a in DEMO_ARTICLES if a.language == "ar")


def _responses(crawl: DemoCrawl) -> dict[str, object]:
    """WARC response records by target path (last one wins), read through warcio."""
    records = {}
    for path in crawl.warcs():
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    payload = record.raw_stream.read()
                    records[uri.split("/", 3)[3].join(("/", ""))] = (record, payload)
    return records


def _meta_by_path(crawl: DemoCrawl) -> dict[str, dict[str, object]]:
    by_path = {}
    for record in crawl.metadata():
        url = str(record["url"])
        by_path["/" + url.split("/", 3)[3]] = record
    return by_path


def _text_of(crawl: DemoCrawl, article: DemoArticle) -> str:
    record = _meta_by_path(crawl)[article.path]
    return (crawl.store / str(record["text_key"])).read_text(encoding="utf-8")


def test_crawl_succeeds_quietly(demo_crawl: DemoCrawl) -> None:
    result = demo_crawl.result
    assert result.returncode == 0, result.stderr
    # Cron mode: one summary line on stdout, nothing on stderr for a healthy run.
    assert result.stdout.strip().count("\n") == 0
    assert result.stdout.startswith("newsarchive crawl: demo: ok")
    assert "Traceback" not in result.stderr
    assert "ERROR" not in result.stderr


def test_every_demo_article_archived_and_extracted(demo_crawl: DemoCrawl) -> None:
    meta = _meta_by_path(demo_crawl)
    assert set(meta) == {a.path for a in DEMO_ARTICLES}
    responses = _responses(demo_crawl)
    for article in DEMO_ARTICLES:
        assert article.path in responses, f"{article.path} not in any WARC"
        text = _text_of(demo_crawl, article)
        for phrase in article.must_contain:
            assert phrase in text, (article.path, phrase)
        for phrase in article.must_not_contain:
            assert phrase not in text, (article.path, phrase)
        record = meta[article.path]
        assert record["title"] == article.title
        assert record["language"] == article.language
        assert record["published"] == article.published
        assert record["authors"] == list(article.authors)


def test_arabic_article_keeps_body_drops_dateline_and_related(demo_crawl: DemoCrawl) -> None:
    text = _text_of(demo_crawl, ARABIC)
    lines = text.splitlines()
    assert len(lines) >= 4, "paragraphs must stay one per line"
    assert lines[0].startswith("بدأت محطة جديدة")
    for boilerplate in ("الثلاثاء", "17 فبراير 2026", "13:15", "مواضيع قد تعجبك"):
        assert boilerplate not in text
    record = _meta_by_path(demo_crawl)[ARABIC.path]
    assert record["encoding"] in ("windows-1256", "cp1256")


def test_header_only_charset_page_decodes(demo_crawl: DemoCrawl) -> None:
    french = next(a for a in DEMO_ARTICLES if a.encoding == "iso-8859-1")
    text = _text_of(demo_crawl, french)
    assert "température" in text
    assert "\ufffd" not in text
    assert "Ã©" not in text  # UTF-8 misreading of é


def test_disallowed_and_old_pages_never_requested(demo_crawl: DemoCrawl) -> None:
    paths = demo_crawl.requested_paths
    # Fetched once: the spider reads its Sitemap: lines from RobotsTxtMiddleware's fetch.
    assert paths.count("/robots.txt") == 1
    assert not [p for p in paths if p.startswith(DISALLOWED_PATH)]
    assert OLD_ARTICLE.path not in paths
    # Never the same article twice in one run, whatever tracking parameters links carry.
    article_paths = [
        p.split("?")[0] for p in paths if p.split("?")[0] in {a.path for a in DEMO_ARTICLES}
    ]
    assert len(article_paths) == len(set(article_paths))


def test_warcs_pass_warcio_check(demo_crawl: DemoCrawl) -> None:
    warcs = demo_crawl.warcs()
    assert warcs
    assert not list(demo_crawl.store.rglob("*.open"))
    result = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", *map(str, warcs)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for path in warcs:
        with path.open("rb") as fh:
            first = next(iter(ArchiveIterator(fh)))
            assert first.rec_type == "warcinfo"
            assert first.rec_headers.get_header("WARC-Filename") == path.name


def test_gzip_page_archived_as_served(demo_crawl: DemoCrawl) -> None:
    gz = next(a for a in DEMO_ARTICLES if a.path == "/world/icebreaker-aurora-vale-returns.html")
    record, payload = _responses(demo_crawl)[gz.path]
    assert record.http_headers.get_header("Content-Encoding") == "gzip"
    assert payload[:2] == b"\x1f\x8b"
    assert gz.must_contain[0].encode() in gzip.decompress(payload)
    assert int(record.http_headers.get_header("Content-Length")) == len(payload)


def test_no_chunked_header_over_dechunked_body(demo_crawl: DemoCrawl) -> None:
    responses = _responses(demo_crawl)
    chunked_page = responses["/business/port-automation-jobs.html"]
    record, payload = chunked_page
    assert b"remotely operated cranes" in payload  # de-chunked body, no chunk sizes
    for record, _payload in responses.values():
        assert (record.http_headers.get_header("Transfer-Encoding") or "").lower() != "chunked"


def test_redirect_and_404_archived(demo_crawl: DemoCrawl) -> None:
    responses = _responses(demo_crawl)
    assert responses["/world/old-url.html"][0].http_headers.get_statuscode() == "301"
    assert responses["/world/missing-story.html"][0].http_headers.get_statuscode() == "404"
    assert "/robots.txt" in responses


def test_metadata_points_at_its_warc_record(demo_crawl: DemoCrawl) -> None:
    for record in demo_crawl.metadata():
        warc = record["warc"]
        assert isinstance(warc, dict)
        path = demo_crawl.store / str(warc["key"])
        with path.open("rb") as fh:
            fh.seek(int(warc["offset"]))
            found = next(iter(ArchiveIterator(fh)))
        assert found.rec_type == "response"
        assert found.rec_headers.get_header("WARC-Record-ID") == warc["record_id"]
        assert found.rec_headers.get_header("WARC-Target-URI") == record["url"]
        text = (demo_crawl.store / str(record["text_key"])).read_bytes()
        import hashlib  # noqa: PLC0415

        assert hashlib.sha256(text.rstrip(b"\n")).hexdigest() == record["text_sha256"]


def test_extract_file_matches_crawl(demo_crawl: DemoCrawl, demo_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    saved = []
    for article in DEMO_ARTICLES:
        # Saved the way a browser saves: decoded transfer and content encodings, bytes as sent.
        with urllib.request.urlopen(demo_site.url(article.path), timeout=10) as response:
            body = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            content_type = response.headers.get("Content-Type")
        path = tmp_path / (article.path.strip("/").replace("/", "_"))
        path.write_bytes(body)
        saved.append((article, path, content_type))
    args = ["extract-file", "--jsonl"]
    for _article, path, _ct in saved:
        args.append(str(path))
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(saved)
    for (article, path, _ct), line in zip(saved, lines, strict=True):
        assert line["path"] == str(path)
        assert line["text"] + "\n" == _text_of(demo_crawl, article), article.path


def test_bad_site_yaml_fails_naming_file_and_key(tmp_path: Path) -> None:
    sites = tmp_path / "sites"
    sites.mkdir()
    bad = sites / "broken.yaml"
    bad.write_text("name: broken\nfeeds: [https://example.org/rss]\nmax_articles: many\n")
    store = ["--store", str(tmp_path / "s")]
    for args in (["crawl", "--site", "broken", *store], ["crawl", "--all", *store], ["sites"]):
        result = run_cli(*args, "--sites-dir", str(sites))
        assert result.returncode == 2, result
        assert str(bad) in result.stderr
        assert "max_articles" in result.stderr
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").rglob("*.warc.gz"))


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ("name: x\nfeeds: [ftp://nope]\n", "feeds.0"),
        ("name: x\nfeeds: [https://a.example/rss]\nmax_age_days: 0\n", "max_age_days"),
        ("name: x\nfeeds: [https://a.example/rss]\nallow: ['([']\n", "allow.0"),
        ("name: x\nfeeds: [https://a.example/rss]\nfeeeds: []\n", "feeeds"),
        ("name: x\n", "top level"),
        ("name: [x\n", "invalid YAML"),
    ],
)
def test_site_validation_messages(tmp_path: Path, content: str, key: str) -> None:
    from newsarchive.config.sites import SiteConfigError, load_site_file  # noqa: PLC0415

    path = tmp_path / "x.yaml"
    path.write_text(content)
    with pytest.raises(SiteConfigError) as info:
        load_site_file(path)
    assert str(path) in str(info.value)
    assert key in str(info.value)
