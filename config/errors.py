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
    """Errors by kind: download exceptions by class, HTTP error statuses, write and extraction
    failures (pages archived without text by why, extraction workers lost), ERROR log lines."""
    kinds: dict[str, int] = {}
    for name, count in counts_by_suffix(stats, "downloader/exception_type_count/").items():
        short = name.rsplit(".", 1)[-1]
        if short not in _NOT_ERRORS:
            kinds[short] = kinds.get(short, 0) + count
    for status, count in counts_by_suffix(stats, "downloader/response_status_count/").items():
        if status.isdigit() and int(status) >= 400:
            kinds[f"http_{status}"] = count
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
