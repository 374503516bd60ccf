"""Logging options every command takes (-v, -q, --logfile, --loglevel, before or after the
subcommand), and the console's one line per problem: a failed download is one line per host and
cause, without a traceback, however many requests failed (the run log keeps every line)."""

from __future__ import annotations

import argparse
import copy
import logging
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from newsarchive.cli.args import UsageError

#: Lines of commands that run no crawl (a crawl uses Scrapy's LOG_FORMAT).
FORMAT: Final = "%(levelname)s %(name)s: %(message)s"
#: Levels --loglevel takes (Python's names).
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Scrapy's messages about a request that failed to download: their arguments name the request
#: and the cause (retry give-up, the scraper's and the robots.txt middleware's "Error downloading").
_CAUSE_ARGS: Final = ("reason", "errmsg", "f_exception")


def _level(value: str) -> str:
    level = value.upper()
    if level not in LEVELS:
        raise argparse.ArgumentTypeError(f"not a log level ({', '.join(LEVELS)}): {value!r}")
    return level


def add_logging(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The logging options; a subcommand's copies default to SUPPRESS, so `-v` before the
    subcommand is not undone by its absence after it."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("logging")
    group.add_argument("-v", "--verbose", action="store_true", default=default(False),
                       help="log at INFO level (lifecycle lines, Scrapy's log)")  # fmt: skip
    group.add_argument("-q", "--quiet", action="store_true", default=default(False),
                       help="log errors only (no warnings)")  # fmt: skip
    group.add_argument("--loglevel", type=_level, metavar="LEVEL", default=default(None),
                       help=f"log level, one of {', '.join(LEVELS)} (default WARNING)")  # fmt: skip
    group.add_argument("--logfile", metavar="FILE", default=default(None),
                       help="write the log to FILE (appending) instead of stderr")  # fmt: skip


def check_logfile(args: argparse.Namespace) -> None:
    """A --logfile that cannot be appended to is a usage error, before anything runs."""
    logfile = getattr(args, "logfile", None)
    if logfile:
        try:
            with open(logfile, "a", encoding="utf-8"):  # noqa: PTH123 - the handler opens it so too
                pass
        except OSError as exc:
            raise UsageError(f"--logfile {logfile}: {exc.strerror or exc}") from None


def log_level(args: argparse.Namespace) -> str:
    """--loglevel, else INFO with -v, ERROR with -q, else WARNING."""
    chosen: str | None = getattr(args, "loglevel", None)
    if chosen:
        return chosen
    if getattr(args, "verbose", False):
        return "INFO"
    return "ERROR" if getattr(args, "quiet", False) else "WARNING"


def download_failure(record: logging.LogRecord) -> tuple[str, str] | None:
    """(host, cause) of a log record about a request that could not be downloaded."""
    args = record.args
    if not isinstance(args, Mapping) or not ("request" in args or "url" in args):
        return None
    cause = next((args[name] for name in _CAUSE_ARGS if name in args), None)
    if cause is None and record.exc_info and record.exc_info[1] is not None:
        cause = record.exc_info[1]
    if cause is None:
        return None
    # Scrapy's messages carry the request; the project's LOG_FORMATTER its (shortened) URL.
    url = str(args["url"]) if "url" in args else getattr(args["request"], "url", "")
    if isinstance(cause, BaseException):
        cause = f"{type(cause).__name__}: {cause}"
    text = " ".join(str(cause).split())
    return urlsplit(url).netloc or url, text


class OneLinePerProblem(logging.Filter):
    """Lets through the first failed download of each host and cause, drops the repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        failure = download_failure(record)
        if failure is None:
            return True
        host, cause = failure
        # Retry messages add "(failed N times)" before the cause: key on the cause itself.
        key = (host, cause.rsplit(": ", 1)[-1])
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class OneLineFormatter(logging.Formatter):
    """Formats a failed download as one line naming the host and the cause, no traceback; the
    record itself is left whole for the other handlers (the run log)."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter("%(levelname)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        failure = download_failure(record)
        if failure is None:
            return self.inner.format(record)
        host, cause = failure
        short = copy.copy(record)
        short.msg = "%s: cannot download (%s); further failures of this host are in the summary"
        short.args = (host, cause)
        short.exc_info = None
        short.exc_text = None
        short.stack_info = None
        return self.inner.format(short)


def quiet_console(handler: logging.Handler) -> None:
    """Put the one-line-per-problem filter and formatter on a console handler."""
    handler.addFilter(OneLinePerProblem())
    handler.setFormatter(OneLineFormatter(handler.formatter))


def log_handler(
    logfile: str | None, level: str, fmt: str, datefmt: str | None = None
) -> logging.Handler:
    """The one log handler of a command: the --logfile (appended to), else stderr with one line
    per problem."""
    handler: logging.Handler = (
        logging.FileHandler(logfile, encoding="utf-8") if logfile else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter(fmt, datefmt))
    handler.setLevel(level)
    if not logfile:
        quiet_console(handler)
    return handler


def configure_logging(args: argparse.Namespace) -> None:
    """Logging for the commands that run no crawl (cli.crawl installs a crawl's handler from
    LOG_LEVEL and LOG_FILE in its settings)."""
    level = log_level(args)
    root = logging.getLogger()
    root.addHandler(log_handler(getattr(args, "logfile", None), level, FORMAT))
    root.setLevel(level)
