"""Run report: a JSON summary per run in the store, a Prometheus textfile, and a run log file."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Self

from scrapy import signals

from newsarchive.archive.files import write_atomic
from newsarchive.archive.layout import report_key
from newsarchive.config.errors import counts_by_suffix, error_kinds
from newsarchive.config.exitcodes import run_exit_code
from newsarchive.config.stats import StatsKeys
from newsarchive.pipelines.extensions.run import enabled_run

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from newsarchive.archive.run import CrawlRun

logger = logging.getLogger(__name__)

#: Loggers whose INFO lines are lifecycle (opened, rolled, uploaded, resumed, summary); every
#: other logger only reaches the run log from WARNING up.
LIFECYCLE_LOGGERS: Final = (
    "newsarchive.pipelines.extensions.report",
    "newsarchive.pipelines.extensions.seen",
    "newsarchive.pipelines.extensions.packaging",
    "newsarchive.archive.run",
    "newsarchive.archive.warc",
    "newsarchive.archive.lock",
)


def _int(stats: Mapping[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return value if isinstance(value, int) else 0


def _str(stats: Mapping[str, Any], key: str) -> str | None:
    value = stats.get(key)
    return value if isinstance(value, str) else None


def build_report(
    site: str,
    run_id: str,
    reason: str,
    stats: Mapping[str, Any],
    started: datetime,
    finished: datetime,
) -> dict[str, Any]:
    """The run report from a crawl's stats: plain JSON-ready values."""
    new = _int(stats, StatsKeys.INCREMENTAL_NEW)
    updated = _int(stats, StatsKeys.INCREMENTAL_UPDATED)
    unchanged = _int(stats, StatsKeys.INCREMENTAL_UNCHANGED)
    skipped = {
        "archived": _int(stats, StatsKeys.INCREMENTAL_SKIPPED_SEEN),
        "age": _int(stats, StatsKeys.DISCOVERY_SKIPPED_AGE),
        "limit": _int(stats, StatsKeys.DISCOVERY_SKIPPED_LIMIT),
        "duplicate": _int(stats, StatsKeys.DISCOVERY_SKIPPED_DUPLICATE),
    }
    requested = _int(stats, StatsKeys.DISCOVERY_ARTICLES)
    return {
        "site": site,
        "run_id": run_id,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "duration_seconds": round((finished - started).total_seconds(), 3),
        "finish_reason": reason,
        "exit_code": run_exit_code(reason, stats),
        # Distinct article URLs found this run, whatever was then decided about them.
        "discovered": requested + skipped["archived"] + skipped["age"] + skipped["limit"],
        "requested": {
            "articles": requested,
            "pages": sum(
                _int(stats, key)
                for key in (
                    StatsKeys.DISCOVERY_FEEDS,
                    StatsKeys.DISCOVERY_SITEMAPS,
                    StatsKeys.DISCOVERY_SECTIONS,
                )
            ),
            "conditional": _int(stats, StatsKeys.INCREMENTAL_CONDITIONAL),
            "resumed": _int(stats, StatsKeys.INCREMENTAL_RESUMED),
        },
        "fetched": {
            # Every response, robots.txt and redirects included, 304s too.
            "responses": _int(stats, "downloader/response_count"),
            "articles": _int(stats, StatsKeys.INCREMENTAL_FETCHED),
            "not_modified": _int(stats, StatsKeys.INCREMENTAL_NOT_MODIFIED),
            "pages_changed": _int(stats, StatsKeys.INCREMENTAL_PAGES_CHANGED),
            "pages_unchanged": _int(stats, StatsKeys.INCREMENTAL_PAGES_UNCHANGED),
        },
        "new": new,
        "updated": updated,
        "unchanged": unchanged,
        "other_status": _int(stats, StatsKeys.INCREMENTAL_OTHER_STATUS),
        "refetched": counts_by_suffix(stats, StatsKeys.INCREMENTAL_REFETCH + "/"),
        "texts": _int(stats, StatsKeys.EXTRACT_OK),
        # Of those, captures a killed run archived without text, extracted from the archive.
        "texts_recovered": _int(stats, StatsKeys.INCREMENTAL_TEXTS_RECOVERED),
        "skipped": skipped,
        "robots_denied": _int(stats, "robotstxt/forbidden"),
        # Requests the network policy refused, by reason (scheme, loopback, private_network...).
        "policy_refused": counts_by_suffix(stats, StatsKeys.POLICY_REFUSED + "/"),
        "pending_left": _int(stats, StatsKeys.INCREMENTAL_PENDING_LEFT),
        # Articles found over max_articles, waiting to be taken first by the next runs.
        "backlog": _int(stats, StatsKeys.INCREMENTAL_BACKLOG),
        "errors": error_kinds(stats),
        "bytes": {
            "downloaded": _int(stats, "downloader/response_bytes"),
            "archived": _int(stats, StatsKeys.ARCHIVE_BYTES),
        },
        "archive": {
            "responses": _int(stats, StatsKeys.ARCHIVE_RESPONSES),
            "revisits": _int(stats, StatsKeys.ARCHIVE_REVISITS),
            "revisits_not_modified": _int(stats, StatsKeys.ARCHIVE_REVISITS_NOT_MODIFIED),
        },
        "banned": _str(stats, StatsKeys.BANS_REASON),
        # The write that stopped the crawl ("CAUSE: PATH"): a full disk, a read-only store.
        "store_unwritable": _str(stats, StatsKeys.STORAGE_UNWRITABLE),
        # Known once the store is closed: objects left only in an S3 store's local spool (this
        # report among them when it waits there too), and whether the store was unreachable.
        "storage": {
            "spooled": _int(stats, StatsKeys.STORAGE_SPOOLED_PENDING),
            "unavailable": bool(_int(stats, StatsKeys.STORAGE_UNAVAILABLE)),
        },
    }


def summary(report: Mapping[str, Any]) -> str:
    line = (
        f"{report['site']}: run {report['run_id']} {report['finish_reason']} in "
        f"{report['duration_seconds']:.1f}s: {report['fetched']['responses']} responses, "
        f"{report['new']} new, {report['updated']} updated, {report['unchanged']} unchanged, "
        f"{report['skipped']['archived']} already archived, "
        # The sum of the kinds: config.errors.error_count, as the CLI summary counts.
        f"{sum(report['errors'].values())} errors; exit code {report['exit_code']}"
    )
    if report["banned"]:
        line += f"; BANNED: {report['banned']}"
    if report["storage"]["spooled"]:
        line += f"; STORAGE UNAVAILABLE: {report['storage']['spooled']} objects spooled"
    return line


def prometheus_value(value: float) -> str:
    """A sample value written exactly: integers as integers (a timestamp in `:g` form loses up
    to an hour), other numbers in their shortest exact form."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)


def prometheus_text(report: Mapping[str, Any]) -> str:
    """node_exporter textfile-collector format, one file per site."""
    site = json.dumps(report["site"])  # a quoted, escaped label value
    finished = int(datetime.fromisoformat(report["finished"]).timestamp())
    gauges: list[tuple[str, str, float]] = [
        ("newsarchive_run_finished_timestamp_seconds", "End of the last run.", finished),
        ("newsarchive_run_duration_seconds", "Duration of the last run.",
         float(report["duration_seconds"])),
        ("newsarchive_run_exit_code", "Exit code of the last run (0 ok).", report["exit_code"]),
        ("newsarchive_run_banned", "1 when the last run was stopped by 429/403s.",
         1 if report["banned"] else 0),
    ]  # fmt: skip
    lines = []
    for name, help_text, value in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines.append(f"{name}{{site={site}}} {prometheus_value(value)}")
    name = "newsarchive_run_articles"
    lines += [f"# HELP {name} Articles of the last run by result.", f"# TYPE {name} gauge"]
    for result in ("new", "updated", "unchanged"):
        lines.append(f'{name}{{site={site},result="{result}"}} {report[result]}')
    lines.append(f'{name}{{site={site},result="skipped"}} {report["skipped"]["archived"]}')
    name = "newsarchive_run_responses"
    lines += [f"# HELP {name} HTTP responses of the last run.", f"# TYPE {name} gauge"]
    lines.append(f"{name}{{site={site}}} {report['fetched']['responses']}")
    name = "newsarchive_run_errors"
    lines += [f"# HELP {name} Errors of the last run by kind.", f"# TYPE {name} gauge"]
    for kind, count in report["errors"].items():
        lines.append(f"{name}{{site={site},kind={json.dumps(kind)}}} {count}")
    name = "newsarchive_run_bytes"
    lines += [f"# HELP {name} Bytes of the last run.", f"# TYPE {name} gauge"]
    for what, count in report["bytes"].items():
        lines.append(f'{name}{{site={site},what="{what}"}} {count}')
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """A reader (node_exporter) never sees half a file."""
    write_atomic(path, text.encode("utf-8"), fsync=False, mode=0o644)


class _RunLogHandler(logging.FileHandler):
    """The run log file, which falls silent when it cannot be written.

    It lives in the store's state folder: when that disk is full or read-only the crawl has
    said so in one line (pipelines.downloadermiddlewares.storeguard), where logging's default
    would print a traceback to stderr for every later line."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            self.failed = True
            return
        super().handleError(record)


class _RunLogFilter(logging.Filter):
    """INFO lines of lifecycle loggers, WARNING and up from anyone; not another crawl's."""

    def __init__(self, spider: object) -> None:
        super().__init__()
        self.spider = spider

    def filter(self, record: logging.LogRecord) -> bool:
        other = getattr(record, "spider", None)
        if other is not None and other is not self.spider:
            return False
        if record.levelno >= logging.WARNING:
            return True
        return record.levelno >= logging.INFO and record.name.startswith(LIFECYCLE_LOGGERS)


class RunReport:
    """Writes reports/SITE/RUN.json into the store when the run finishes, a run log file while
    it runs, and optionally a Prometheus textfile.

    `CrawlRun.finish` calls `write` once, after the store has been drained and the upload
    outcome counted, and before the store closes (so an S3 store uploads the report too). A
    crawl that found its site locked by another does nothing and gets no report.

    Settings: REPORT_ENABLED, REPORT_LOG_ENABLED, REPORT_PROMETHEUS_DIR.
    """

    def __init__(
        self,
        crawler: Crawler,
        run: CrawlRun,
        stats: StatsCollector,
    ) -> None:
        self.crawler = crawler
        self.run = run
        self.stats = stats
        self.site = run.site.name
        self.started = datetime.now(UTC)
        self.finished: datetime | None = None
        self.reason = "not finished"
        self.handler: logging.Handler | None = None
        #: The last report written (for callers in the same process).
        self.report: dict[str, Any] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        run = enabled_run(crawler, lambda options: options.report, "REPORT_ENABLED")
        assert crawler.stats is not None
        ext = cls(crawler, run, crawler.stats)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        run.steps.report = ext.write
        return ext

    def spider_opened(self) -> None:
        self.started = datetime.now(UTC)
        store = self.run.store
        if self.run.options.report_log:
            path = store.state_dir / "logs" / self.site / f"{self.run.name}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = _RunLogHandler(path, encoding="utf-8")
            handler.setLevel(logging.INFO)
            handler.addFilter(_RunLogFilter(self.crawler.spider))
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            logging.getLogger().addHandler(handler)
            self.handler = handler
        logger.info("%s: run %s opened into %s", self.site, self.run.run_id, store.uri)

    def spider_closed(self, reason: str) -> None:
        self.reason = reason

    def _build(self) -> dict[str, Any]:
        assert self.finished is not None
        report = build_report(
            self.site,
            self.run.run_id,
            self.reason,
            self.stats.get_stats(),
            self.started,
            self.finished,
        )
        if self.run.frontier is not None:
            # One report per worker of a scaled-out run (`newsarchive report` adds them up).
            report["worker"] = self.run.frontier.worker
        return report

    def _put(self, report: dict[str, Any]) -> bool:
        try:
            self.run.store.put_bytes(
                report_key(self.site, self.run.name),
                json.dumps(report, indent=2, sort_keys=True).encode("utf-8") + b"\n",
                "application/json",
            )
        except OSError:
            logger.error("Could not store the run report of %s", self.site, exc_info=True)
            self.stats.inc_value(StatsKeys.REPORT_FAILED)
            return False
        self.report = report
        return True

    def write(self) -> None:
        """The run's report, with its final numbers: written once, then summarised."""
        try:
            self.finished = datetime.now(UTC)
            report = self._build()
            if self._put(report):
                self.stats.set_value(StatsKeys.REPORT_WRITTEN, 1)
            if (prometheus_dir := self.run.options.report_prometheus_dir) is not None:
                try:
                    path = prometheus_dir / f"newsarchive_{self.site}.prom"
                    write_atomically(path, prometheus_text(report))
                except OSError:
                    logger.warning("Could not write the Prometheus textfile", exc_info=True)
            logger.info("%s", summary(report))
        finally:
            self._close_log()

    def _close_log(self) -> None:
        handler, self.handler = self.handler, None
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
