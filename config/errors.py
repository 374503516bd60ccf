"""What counts as an error of a run, by kind: the one definition the progress line, the CLI
summary, the run report and its log line all count with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from newsarchive.config.stats import StatsKeys

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Download exceptions that are the crawler being polite (robots.txt, a ban), not errors.
_NOT_ERRORS: Final = ("IgnoreRequest", "BannedRequest")
_COUNTED: Final = (
    ("archive_write_failed", StatsKeys.ARCHIVE_ERRORS),
    ("extract_failed", StatsKeys.EXTRACT_FAILED),
    ("extract_empty_text", StatsKeys.EXTRACT_EMPTY),
    ("extract_workers_lost", StatsKeys.EXTRACT_WORKERS_LOST),
    ("text_recovery_failed", StatsKeys.INCREMENTAL_TEXTS_RECOVER_FAILED),
    ("log_error", "log_count/ERROR"),
)


def counts_by_suffix(stats: Mapping[str, Any], prefix: str) -> dict[str, int]:
    """Non-zero counters under `prefix`, by the rest of their key."""
    return {
        key[len(prefix) :]: value
        for key, value in sorted(stats.items())
        if key.startswith(prefix) and isinstance(value, int) and value
    }


def error_kinds(stats: Mapping[str, Any]) -> dict[str, int]:
    """Errors by kind: requests that finally failed, by exception class; final HTTP error
    statuses; write and extraction failures (pages archived without text by why, extraction
    workers lost); ERROR log lines.

    Each failed request counts once: attempts that were retried (Scrapy's retry/reason_count,
    keyed by the exception's class or "STATUS Reason") are not errors, a 503 that succeeded on
    retry is none at all, and Scrapy's own messages about a failed download are warnings
    (RETRY_GIVE_UP_LOG_LEVEL, pipelines.logformatter), so ERROR lines do not count it again.
    A page requisite the site does not have (a favicon's 404) is counted under requisites/,
    not as an error of the run."""
    kinds: dict[str, int] = {}
    retried = counts_by_suffix(stats, "retry/reason_count/")
    for name, count in counts_by_suffix(stats, "downloader/exception_type_count/").items():
        short = name.rsplit(".", 1)[-1]
        final = count - retried.get(name, 0)
        if short not in _NOT_ERRORS and final > 0:
            kinds[short] = kinds.get(short, 0) + final
    requisites = counts_by_suffix(stats, StatsKeys.REQUISITES_STATUS + "/")
    for status, count in counts_by_suffix(stats, "downloader/response_status_count/").items():
        if not status.isdigit() or int(status) < 400:
            continue
        again = sum(n for reason, n in retried.items() if reason.split(" ", 1)[0] == status)
        final = count - again - requisites.get(status, 0)
        if final > 0:
            kinds[f"http_{status}"] = final
    for label, key in _COUNTED:
        value = stats.get(key)
        if isinstance(value, int) and value:
            kinds[label] = value
    for name, count in counts_by_suffix(stats, StatsKeys.STORAGE_FAILED + "/").items():
        kinds[f"storage_write_failed_{name}"] = count
    for name, count in counts_by_suffix(stats, StatsKeys.EXTRACT_NOT_EXTRACTED + "/").items():
        kinds[f"not_extracted_{name}"] = count
    return kinds


def error_count(stats: Mapping[str, Any]) -> int:
    """All errors of a run: the sum of `error_kinds`."""
    return sum(error_kinds(stats).values())


#: Why discovered article URLs were not requested, by the stats key that counts each.
_SKIPS: Final = (
    ("age", StatsKeys.DISCOVERY_SKIPPED_AGE),
    ("limit", StatsKeys.DISCOVERY_SKIPPED_LIMIT),
    ("robots", "robotstxt/forbidden"),
    ("duplicate", StatsKeys.DISCOVERY_SKIPPED_DUPLICATE),
    ("archived", StatsKeys.INCREMENTAL_SKIPPED_SEEN),
)


def skip_kinds(stats: Mapping[str, Any]) -> dict[str, int]:
    """URLs a run did not request, by why (non-zero only): older than the age window, past the
    article limit, denied by robots.txt, a duplicate, already archived."""
    kinds = {}
    for label, key in _SKIPS:
        value = stats.get(key)
        if isinstance(value, int) and value:
            kinds[label] = value
    return kinds
