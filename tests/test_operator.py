"""Operator experience, in process: errors counted once, exact Prometheus values, every bad
site file listed, strict store URIs, checked -s values, one console line per failed host."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from newsarchive.archive.store import StoreError, check_store_uri
from newsarchive.cli.args import OverrideError, UsageError, command_name, scope_from_args
from newsarchive.cli.crawl import CrawlOutcome, summary_line, summary_table
from newsarchive.cli.logs import OneLineFormatter, OneLinePerProblem, log_level
from newsarchive.cli.main import DEMO_PORT, build_parser
from newsarchive.cli.settings import build_settings
from newsarchive.config.errors import error_count, error_kinds, skip_kinds
from newsarchive.config.sites import check_sites
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.extensions.progress import progress_line
from newsarchive.pipelines.extensions.report import build_report, prometheus_text, summary
from newsarchive.spiders.news import adhoc_site

if TYPE_CHECKING:
    from pathlib import Path

REFUSED = "twisted.internet.error.ConnectionRefusedError"
#: Two requests refused three times each (RETRY_TIMES=2); a 503 that succeeded on retry; two
#: favicons the site does not have; one article 404.
STATS: dict[str, object] = {
    "response_received_count": 5,
    f"downloader/exception_type_count/{REFUSED}": 6,
    f"retry/reason_count/{REFUSED}": 4,
    "retry/reason_count/503 Service Unavailable": 1,
    "downloader/response_status_count/200": 2,
    "downloader/response_status_count/503": 1,
    "downloader/response_status_count/404": 3,
    f"{StatsKeys.REQUISITES_STATUS}/404": 2,
    StatsKeys.DISCOVERY_SKIPPED_AGE: 107,
    StatsKeys.DISCOVERY_SKIPPED_LIMIT: 3,
    StatsKeys.DISCOVERY_SKIPPED_DUPLICATE: 9,
    "robotstxt/forbidden": 1,
}


def test_each_failed_request_is_one_error() -> None:
    assert error_kinds(STATS) == {"ConnectionRefusedError": 2, "http_404": 1}
    assert error_count(STATS) == 3


def test_progress_summary_report_and_prometheus_agree() -> None:
    now = datetime(2026, 11, 30, 10, 0, 0, 500000, tzinfo=UTC)
    report = build_report("polyglot", "run", "finished", STATS, now, now)
    assert ", 3 errors, " in progress_line(STATS, "polyglot")
    assert " 3 errors; " in summary(report)
    outcome = CrawlOutcome(site="polyglot", reason="finished", stats=dict(STATS))
    assert ", 3 errors, " in summary_line([outcome])
    text = prometheus_text(report)
    errors = [line for line in text.splitlines() if line.startswith("newsarchive_run_errors{")]
    assert sum(int(line.rsplit(" ", 1)[1]) for line in errors) == 3


def test_prometheus_values_are_exact() -> None:
    finished = datetime(2026, 12, 1, 9, 30, 0, tzinfo=UTC)
    report = build_report("polyglot", "run", "finished", STATS, finished, finished)
    report["duration_seconds"] = 12.345
    text = prometheus_text(report)
    lines = text.splitlines()
    assert (
        f'newsarchive_run_finished_timestamp_seconds{{site="polyglot"}} '
        f"{int(finished.timestamp())}" in lines
    )
    assert 'newsarchive_run_duration_seconds{site="polyglot"} 12.345' in lines
    assert 'newsarchive_run_exit_code{site="polyglot"} 0' in lines
    assert "e+" not in text


def test_summary_names_the_cause_and_every_skip_with_its_flag() -> None:
    failed = CrawlOutcome(site="127-0-0-1", reason="finished", stats={})
    assert summary_line([failed]) == (
        "newsarchive crawl: 127-0-0-1: FAILED (no page fetched), 0 pages, 0 articles, 0 errors"
    )
    ok = CrawlOutcome(site="example-com", reason="finished", stats=dict(STATS))
    assert skip_kinds(STATS) == {"age": 107, "limit": 3, "robots": 1, "duplicate": 9}
    assert summary_line([ok]) == (
        "newsarchive crawl: example-com: ok, 5 pages, 0 articles, 3 errors, skipped 111: "
        "age 107 (--max-age-days/--since, site keys max_age_days/since), "
        "limit 3 (--max-articles, site key max_articles), robots 1 (the site's robots.txt), "
        "duplicate 9 (one fetch per article and run)"
    )
    table = summary_table([ok]).splitlines()
    assert table[0].split() == [
        "site", "result", "pages", "articles", "skipped", "errors", "archived",
    ]  # fmt: skip
    assert table[2].split()[:6] == ["example-com", "ok", "5", "0", "111", "3"]


def test_sites_lists_every_bad_file_with_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nfeeds: [http://x/]\nmax_artcles: 3\n")
    (tmp_path / "b.yaml").write_text(
        "name: b\nfeeds: [http://x/]\nsections: [{url: http://x/, max_page: 2}]\n"
    )
    (tmp_path / "c.yaml").write_text("name: c\nfeeds: [http://x/]\n")
    (tmp_path / "d.yaml").write_text("name: d\nfeeds: [x\n")
    (tmp_path / "e.yaml").write_text("name: e\nfeeds: [ftp://x/]\n")
    sites, errors = check_sites(tmp_path)
    assert list(sites) == ["c"]
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'a.yaml'}: key 'max_artcles': unknown key (did you mean 'max_articles'?)",
        f"{tmp_path / 'b.yaml'}: key 'sections.0.max_page': unknown key "
        "(did you mean 'max_pages'?)",
        f"{tmp_path / 'd.yaml'}: invalid YAML at line 3, column 1: "
        "expected ',' or ']', but got '<stream end>'",
        f"{tmp_path / 'e.yaml'}: key 'feeds.0': Value error, not an absolute http(s) URL: "
        "'ftp://x/'",
    ]


@pytest.mark.parametrize(
    ("uri", "hint"),
    [("s3:/bucket", "s3://bucket"), ("s3//bucket", "s3://bucket"), ("file:relative", "relative"),
     ("s3:bucket/prefix", "s3://bucket/prefix")],
)  # fmt: skip
def test_mistyped_store_uris_are_errors(uri: str, hint: str) -> None:
    with pytest.raises(StoreError) as caught:
        check_store_uri(uri)
    assert str(caught.value) == (
        f"not a store URI: {uri!r} (a folder path, file:///path or s3://bucket; "
        f"did you mean {hint!r}?)"
    )


@pytest.mark.parametrize(
    "uri", ["archive-data", "./s3/bucket", "/srv/archive", "file:///srv/a", "s3://b/p", "~/a"]
)
def test_store_uris_and_paths_pass(uri: str) -> None:
    assert check_store_uri(uri) == uri


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (("DOWNLOAD_DELAY", "abc"), "expected float, like the default 0.25"),
        (("ROBOTSTXT_OBEY", "maybe"), "expected true/false, like the default True"),
        (("CONCURRENT_REQUESTS", "many"), "expected int, like the default 16"),
        (("RETRY_HTTP_CODES", "{"), None),  # a list takes any text
    ],
)
def test_setting_values_are_checked(pair: tuple[str, str], expected: str | None) -> None:
    name, value = pair
    if expected is None:
        build_settings(None, None, {name: value}, interactive=False)
        return
    with pytest.raises(OverrideError) as caught:
        build_settings(None, None, {name: value}, interactive=False)
    assert str(caught.value) == f"-s {name}={value}: not a valid value ({expected})"


def test_good_setting_values_pass() -> None:
    settings = build_settings(
        None, None, {"DOWNLOAD_DELAY": "0.5", "CONCURRENT_REQUESTS": "4"}, interactive=False
    )
    assert settings.getfloat("DOWNLOAD_DELAY") == 0.5


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["sites"], "WARNING"),
        (["-v", "sites"], "INFO"),
        (["sites", "-v"], "INFO"),
        (["-q", "sites"], "ERROR"),
        (["sites", "--loglevel", "debug"], "DEBUG"),
        (["--loglevel", "error", "sites", "-v"], "ERROR"),
    ],
)
def test_logging_options_before_or_after_the_subcommand(argv: list[str], level: str) -> None:
    assert log_level(build_parser().parse_args(argv)) == level


def test_logfile_after_the_subcommand() -> None:
    args = build_parser().parse_args(["verify", "--logfile", "x.log"])
    assert args.logfile == "x.log"
    assert build_parser().parse_args(["--logfile", "y.log", "verify"]).logfile == "y.log"


def test_demo_port_is_fixed() -> None:
    assert build_parser().parse_args(["demo"]).port == DEMO_PORT


def test_command_name_as_the_user_can_run_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [".venv/bin/newsarchive", "demo"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert command_name() == ".venv/bin/newsarchive"
    monkeypatch.setattr(sys, "argv", ["/x/newsarchive/cli/main.py", "demo"])
    assert command_name().endswith(" -m newsarchive.cli.main")


def test_scope_flags_become_site_keys() -> None:
    args = build_parser().parse_args(
        ["crawl", "--url", "https://example.org/news/", "--max-articles", "5",
         "--max-age-days", "0", "--since", "2026-01-02", "--depth", "3",
         "--include", "/20", "--exclude", "/video/", "--contact", "https://me.example/"]
    )  # fmt: skip
    site = adhoc_site(args.url, **scope_from_args(args))
    assert site.name == "example-org"
    assert (site.max_articles, site.max_age_days, str(site.since)) == (5, None, "2026-01-02")
    assert site.start_urls == []
    assert [(s.url, s.max_pages) for s in site.sections] == [("https://example.org/news/", 3)]
    assert (site.allow, site.deny) == (["/20"], ["/video/"])
    assert site.contact_url == "https://me.example/"


def test_scope_flags_need_url() -> None:
    args = build_parser().parse_args(["crawl", "--site", "bbc-news", "--max-articles", "5"])
    with pytest.raises(UsageError):
        scope_from_args(args)


class _Request:
    def __init__(self, url: str) -> None:
        self.url = url


def _record(msg: str, args: dict[str, object], exc: BaseException | None) -> logging.LogRecord:
    record = logging.LogRecord("scrapy.core.scraper", logging.WARNING, __file__, 1, msg, None,
                               (type(exc), exc, None) if exc else None)  # fmt: skip
    record.args = args
    return record


def test_console_shows_one_line_per_failed_host() -> None:
    refused = ConnectionRefusedError("Connection was refused by other side: 111")
    records = [
        _record(
            "Gave up retrying %(request)s (failed %(retry_times)d times): %(reason)s",
            {"request": _Request(f"http://h:1/{n}"), "retry_times": 3, "reason": refused},
            None,
        )
        for n in range(5)
    ]
    records.append(
        _record("Error downloading %(request)s", {"request": _Request("http://h:1/x")}, refused)
    )
    records.append(
        _record("Error downloading %(request)s", {"request": _Request("http://o:2/")}, refused)
    )
    keep = OneLinePerProblem()
    shown = [r for r in records if keep.filter(r)]
    assert len(shown) == 2
    formatter = OneLineFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    lines = [formatter.format(r) for r in shown]
    assert lines == [
        f"WARNING: {host}: cannot download (ConnectionRefusedError: Connection was refused by "
        "other side: 111); further failures of this host are in the summary"
        for host in ("h:1", "o:2")
    ]
    # The record itself keeps its traceback for the run log.
    assert shown[1].exc_info is not None
