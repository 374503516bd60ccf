"""Entry point of the `newsarchive` command."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import TYPE_CHECKING

from newsarchive import __version__
from newsarchive.archive.files import store_write_failure
from newsarchive.archive.store import StoreError
from newsarchive.cli.args import UsageError, add_scope, add_settings, add_store
from newsarchive.cli.logs import add_logging, check_logfile, configure_logging

# Exit codes, documented in the README; config.exitcodes says what earns each. Re-exported.
from newsarchive.config.exitcodes import EXIT_CONFIG as EXIT_CONFIG
from newsarchive.config.exitcodes import EXIT_FAILED as EXIT_FAILED
from newsarchive.config.exitcodes import EXIT_LOCKED as EXIT_LOCKED
from newsarchive.config.exitcodes import EXIT_OK as EXIT_OK
from newsarchive.config.exitcodes import EXIT_SPOOLED as EXIT_SPOOLED
from newsarchive.config.exitcodes import EXIT_UNWRITABLE as EXIT_UNWRITABLE
from newsarchive.config.options import SettingError
from newsarchive.config.redact import install_log_redaction, redact, remember_settings
from newsarchive.config.sites import SiteConfigError
from newsarchive.jobs.sites import UnknownSiteError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)


#: Commands kept in modules of their own: each module defines HELP (one line),
#: add_arguments(parser) and run(args) -> exit code, and imports heavy packages inside run().
MODULE_COMMANDS: dict[str, str] = {
    "verify": "newsarchive.cli.verify",
    "replay": "newsarchive.cli.replay",
    "reextract": "newsarchive.cli.reextract",
    "export": "newsarchive.cli.export",
    "get": "newsarchive.cli.get",
    "package": "newsarchive.cli.package",
    "seed": "newsarchive.cli.seed",
}
#: The demo site's port: fixed, so its URLs (and so the archive's) stay the same between runs.
DEMO_PORT = 8765
#: Commands that run a crawl: Scrapy configures their logging from LOG_LEVEL and LOG_FILE.
SCRAPY_LOGGING = frozenset({"crawl", "demo", "get"})
#: Exit code when the reader of our output went away (`newsarchive ... | head`), as a shell
#: reports a process killed by SIGPIPE.
EXIT_BROKEN_PIPE = 141
#: Errors that mean the command was set up wrong (exit EXIT_CONFIG, no traceback), each with
#: the words put before its message.
CONFIG_ERRORS: dict[type[Exception], str] = {
    UsageError: "",
    SiteConfigError: "configuration error: ",
    SettingError: "configuration error: ",
    StoreError: "storage error: ",
    UnknownSiteError: "",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsarchive",
        description="Crawl news sites into WARC archives plus clean article text and metadata.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_logging(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    crawl = commands.add_parser("crawl", help="crawl configured sites or one URL into the store")
    target = crawl.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--site", action="append", metavar="NAME", help="site config name (repeatable)"
    )
    target.add_argument("--all", action="store_true", help="every site in the sites folder")
    target.add_argument("--url", help="ad hoc: discover articles from this URL's site")
    crawl.add_argument("--sites-dir", metavar="DIR", help="folder of site YAML files")
    crawl.add_argument(
        "--worker",
        action="store_true",
        help="take requests from the shared Redis queue (see `newsarchive seed`)",
    )
    crawl.add_argument("--redis", metavar="URL", help="with --worker: the Redis (REDIS_URL)")
    crawl.add_argument(
        "--idle-close",
        type=float,
        metavar="SECONDS",
        help="with --worker: close once the queue has been empty this long (SCALEOUT_IDLE_CLOSE)",
    )
    crawl.add_argument(
        "--continuous", action="store_true", help="with --worker: stay up when the queue is empty"
    )
    add_scope(crawl)
    add_settings(crawl)
    add_store(crawl)

    demo = commands.add_parser("demo", help="serve the bundled demo news site and crawl it")
    demo.add_argument(
        "--port",
        type=int,
        default=DEMO_PORT,
        help=f"port of the demo site on 127.0.0.1 (default {DEMO_PORT}: the same site each "
        "time, so a second demo shows an incremental run; 0: a free one)",
    )
    add_settings(demo)
    add_store(demo)

    extract = commands.add_parser("extract-file", help="extract article text from saved HTML files")
    extract.add_argument("paths", nargs="+", metavar="PATH")
    extract.add_argument("--url", help="URL the page was fetched from (helps metadata)")
    extract.add_argument("--content-type", help="HTTP Content-Type it was served with (charset)")
    extract.add_argument("--site", help="apply this site's extraction overrides")
    extract.add_argument("--sites-dir", metavar="DIR", help="folder of site YAML files")
    extract.add_argument("--jsonl", action="store_true", help="one JSON line per file")
    add_settings(extract)

    upload = commands.add_parser(
        "upload", help="upload what an s3:// store's local spool holds (after an outage)"
    )
    add_settings(upload)
    add_store(upload)

    sites = commands.add_parser("sites", help="list and validate the site configs")
    sites.add_argument("--sites-dir", metavar="DIR", help="folder of site YAML files")
    add_settings(sites)

    for name, module_name in MODULE_COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(module_run=module.run)
    for sub in commands.choices.values():
        add_logging(sub, top=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Before anything can print: secrets given on the command line or in the environment.
    install_log_redaction()
    remember_settings(os.environ)
    remember_settings(pair.partition("=")[::2] for pair in getattr(args, "set", None) or ())
    from newsarchive.cli import commands  # noqa: PLC0415 - keeps `--help` fast: no Scrapy import for it

    handler: Callable[[argparse.Namespace], int] = (
        getattr(args, "module_run", None) or (commands.HANDLERS[args.command])
    )
    try:
        check_logfile(args)
        if args.command not in SCRAPY_LOGGING:
            configure_logging(args)
        return handler(args)
    except tuple(CONFIG_ERRORS) as exc:
        # The first kind that matches, in table order, as a chain of except clauses would.
        words = next(words for kind, words in CONFIG_ERRORS.items() if isinstance(exc, kind))
        sys.stderr.write(redact(f"newsarchive: {words}{exc}\n"))
        return EXIT_CONFIG
    except BrokenPipeError:
        # Whatever was still buffered for the closed pipe goes nowhere, quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        sys.stderr.write("newsarchive: interrupted\n")
        return 130
    except OSError as exc:
        # An unwritable store or log file, a full disk: the system's words, not a traceback.
        unwritable = store_write_failure(exc)
        if unwritable:
            sys.stderr.write(redact(f"newsarchive: store not writable ({unwritable})\n"))
            return EXIT_UNWRITABLE
        sys.stderr.write(redact(f"newsarchive: {exc}\n"))
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
