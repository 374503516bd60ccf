"""Exit codes of `newsarchive crawl` (documented in the README) and how a run earns one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsarchive.config.stats import StatsKeys

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

EXIT_OK = 0
#: Some pages failed: a download or write error, an error logged, no page fetched, an
#: extraction worker died or hung, or the site banned us (repeated 429/403) and the crawl
#: stopped early.
EXIT_FAILED = 1
EXIT_CONFIG = 2
#: The crawl finished but its store was unavailable: data waits in the local spool.
EXIT_SPOOLED = 3
#: Another crawl of the same site still runs (its lock is held); nothing was done.
EXIT_LOCKED = 4
#: The store took no more writes (full disk, read-only store, I/O error): the crawl stopped at
#: once; nothing unwritten was recorded, so the next run with space recaptures it.
EXIT_UNWRITABLE = 5

#: The finish_reason of a crawl that found its site locked by another (archive.run).
LOCKED_REASON = "locked"
#: The finish_reason of a crawl stopped because its store took no more writes.
UNWRITABLE_REASON = "store_unwritable"

#: When several sites end differently, the exit code is the first of these that occurred.
PRECEDENCE = (EXIT_CONFIG, EXIT_UNWRITABLE, EXIT_FAILED, EXIT_SPOOLED, EXIT_LOCKED, EXIT_OK)


def _count(stats: Mapping[str, object], key: str) -> int:
    value = stats.get(key, 0)
    return value if isinstance(value, int) else 0


def failure_cause(reason: str, stats: Mapping[str, object]) -> str | None:
    """Why a run failed (it did not finish, fetched nothing, or lost data), or None."""
    unwritable = stats.get(StatsKeys.STORAGE_UNWRITABLE)
    if isinstance(unwritable, str):
        return f"store not writable: {unwritable}"
    if reason != "finished":
        return f"stopped: {reason}"
    # A process of a scaled-out run may fetch nothing: a seeder never does, and a worker may
    # find the others took everything.
    if _count(stats, "response_received_count") == 0 and not _count(
        stats, StatsKeys.SCALEOUT_SHARED
    ):
        return "no page fetched"
    if written := _count(stats, StatsKeys.ARCHIVE_ERRORS):
        return f"{written} WARC writes failed"
    if logged := _count(stats, "log_count/ERROR"):
        return f"{logged} errors logged"
    if lost := _count(stats, StatsKeys.EXTRACT_WORKERS_LOST):
        # Its pages were retried, but a worker that dies (OOM, a crash) wants looking at.
        return f"{lost} extraction workers lost"
    return None


def run_failed(reason: str, stats: Mapping[str, object]) -> bool:
    """A run that did not finish, fetched nothing, or lost data, as far as its stats tell."""
    return failure_cause(reason, stats) is not None


def run_exit_code(reason: str, stats: Mapping[str, object]) -> int:
    if reason == LOCKED_REASON:
        return EXIT_LOCKED
    if reason == UNWRITABLE_REASON or isinstance(stats.get(StatsKeys.STORAGE_UNWRITABLE), str):
        return EXIT_UNWRITABLE
    if run_failed(reason, stats):
        return EXIT_FAILED
    if _count(stats, StatsKeys.STORAGE_SPOOLED_PENDING) > 0:
        return EXIT_SPOOLED
    return EXIT_OK


def combine(codes: Iterable[int]) -> int:
    """One exit code for several runs."""
    seen = set(codes)
    return next((code for code in PRECEDENCE if code in seen), EXIT_OK)
