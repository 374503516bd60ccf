"""`newsarchive verify`: check every WARC, revisit, index and metadata pointer of a store."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from newsarchive.cli.args import add_settings, add_store

if TYPE_CHECKING:
    import argparse

HELP = "check the store's WARCs, revisits, CDXJ indexes and metadata pointers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--site", metavar="NAME", help="only this site's WARCs and metadata")
    parser.add_argument(
        "--no-backfill",
        action="store_true",
        help="only check: a WARC with no CDXJ index, digests object or package is a failure "
        "(by default what a killed run left undone is done first, and listed)",
    )
    add_settings(parser)


def run(args: argparse.Namespace) -> int:
    from newsarchive.archive.run import open_options_store  # noqa: PLC0415 - keeps --help fast
    from newsarchive.archive.store import StoreError  # noqa: PLC0415
    from newsarchive.cli.main import EXIT_CONFIG, EXIT_FAILED, EXIT_OK  # noqa: PLC0415
    from newsarchive.cli.settings import options_from_args  # noqa: PLC0415
    from newsarchive.jobs.sites import check_site  # noqa: PLC0415
    from newsarchive.jobs.verify import verify_store  # noqa: PLC0415

    options = options_from_args(args, interactive=False)
    try:
        # A reader: an unreachable S3 store is an error, not a listing of the local spool.
        store = open_options_store(options, reader=True)
    except StoreError as exc:
        sys.stderr.write(f"newsarchive: {exc}\n")
        return EXIT_CONFIG
    try:
        check_site(store, args.site)
        report = verify_store(store, args.site, repair=not args.no_backfill, packages=options.wacz)
    finally:
        store.close()
    sys.stdout.write(report.table() + "\n")
    return EXIT_OK if report.ok else EXIT_FAILED
