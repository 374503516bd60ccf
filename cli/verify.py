"""`newsarchive verify`: check every WARC, revisit, index and metadata pointer of a store."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

HELP = "check the store's WARCs, revisits, CDXJ indexes and metadata pointers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URI",
        help="archive location: folder, file:// or s3://bucket/prefix (default ./archive-data)",
    )
    parser.add_argument("--site", metavar="NAME", help="only this site's WARCs and metadata")


def run(args: argparse.Namespace) -> int:
    from newsarchive.archive.store import StoreError, open_store  # noqa: PLC0415 - keeps --help fast
    from newsarchive.cli.main import EXIT_CONFIG, EXIT_FAILED, EXIT_OK  # noqa: PLC0415
    from newsarchive.cli.settings import build_settings  # noqa: PLC0415
    from newsarchive.jobs.verify import verify_store  # noqa: PLC0415
    from newsarchive.pipelines.extensions.storage import store_options  # noqa: PLC0415

    settings = build_settings(args.store, None, interactive=False)
    uri = settings.get("NEWSARCHIVE_STORE")
    try:
        # A reader: an unreachable store is an error, not a listing of the local spool only.
        store = open_store(uri, **store_options(settings, reader=True))
    except StoreError as exc:
        sys.stderr.write(f"newsarchive: {exc}\n")
        return EXIT_CONFIG
    try:
        report = verify_store(store, args.site)
    finally:
        store.close()
    sys.stdout.write(report.table() + "\n")
    return EXIT_OK if report.ok else EXIT_FAILED
