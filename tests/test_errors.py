"""One definition of a run's errors: the progress line, the CLI summary and the report agree."""

from __future__ import annotations

from datetime import UTC, datetime

from newsarchive.cli.crawl import CrawlOutcome, summary_line
from newsarchive.config.errors import error_count, error_kinds
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.extensions.progress import progress_line
from newsarchive.pipelines.extensions.report import build_report, summary

STATS: dict[str, object] = {
    "response_received_count": 10,
    "downloader/exception_type_count/twisted.internet.error.TimeoutError": 2,
    "downloader/exception_type_count/scrapy.exceptions.IgnoreRequest": 7,
    "downloader/exception_type_count/newsarchive.BannedRequest": 1,
    "downloader/response_status_count/200": 8,
    "downloader/response_status_count/404": 1,
    "downloader/response_status_count/503": 1,
    "log_count/ERROR": 3,
    StatsKeys.ARCHIVE_ERRORS: 1,
    StatsKeys.EXTRACT_EMPTY: 2,
    f"{StatsKeys.STORAGE_FAILED}/OSError": 1,
}


def test_error_kinds() -> None:
    assert error_kinds(STATS) == {
        "TimeoutError": 2,
        "http_404": 1,
        "http_503": 1,
        "archive_write_failed": 1,
        "extract_empty_text": 2,
        "log_error": 3,
        "storage_write_failed_OSError": 1,
    }
    assert error_count(STATS) == 11
    assert error_count({}) == 0


def test_progress_summary_and_report_count_the_same_errors() -> None:
    total = error_count(STATS)
    assert f", {total} errors, " in progress_line(STATS, "demo")
    outcome = CrawlOutcome(site="demo", reason="finished", stats=dict(STATS))
    assert outcome.errors == total
    assert f", {total} errors" in summary_line([outcome])
    now = datetime.now(UTC)
    report = build_report("demo", "run", "finished", STATS, now, now)
    assert sum(report["errors"].values()) == total
    assert f" {total} errors; " in summary(report)
