"""`newsarchive package`: one WACZ over a site's whole archive or a date range of it."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from newsarchive.cli.args import add_settings, add_store

if TYPE_CHECKING:
    import argparse

HELP = "package a site's archive (or a date range) into one WACZ for ReplayWeb.page"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument(
        "--site", metavar="NAME", help="the site to package (default: the store's only site)"
    )
    parser.add_argument(
        "--since", metavar="DATE", type=date.fromisoformat,
        help="first UTC day (YYYY-MM-DD) of WARCs to include",
    )  # fmt: skip
    parser.add_argument(
        "--until", metavar="DATE", type=date.fromisoformat,
        help="last UTC day (YYYY-MM-DD) of WARCs to include",
    )  # fmt: skip
    parser.add_argument(
        "-o", "--output", metavar="FILE.wacz", type=Path, required=True, help="package to write"
    )
    add_settings(parser)


def run(args: argparse.Namespace) -> int:
    from newsarchive.archive.backfill import stored_sites  # noqa: PLC0415
    from newsarchive.archive.run import open_options_store  # noqa: PLC0415 - keeps --help fast
    from newsarchive.archive.store import StoreError  # noqa: PLC0415
    from newsarchive.archive.wacz import WaczError  # noqa: PLC0415
    from newsarchive.cli.main import EXIT_CONFIG, EXIT_FAILED, EXIT_OK  # noqa: PLC0415
    from newsarchive.cli.settings import options_from_args  # noqa: PLC0415
    from newsarchive.jobs.package import PackageError, package_site  # noqa: PLC0415

    err = sys.stderr.write
    options = options_from_args(args, interactive=False)
    try:
        store = open_options_store(options, reader=True)
    except StoreError as exc:
        err(f"newsarchive package: {exc}\n")
        return EXIT_CONFIG
    try:
        site = args.site
        if site is None:
            sites = stored_sites(store)
            if len(sites) != 1:
                err(f"newsarchive package: give --site, the store holds {sites or 'no site'}\n")
                return EXIT_CONFIG
            site = sites[0]
        result = package_site(store, site, args.output, args.since, args.until)
    except PackageError as exc:
        err(f"newsarchive package: {exc}\n")
        return EXIT_FAILED
    except (StoreError, WaczError, OSError) as exc:
        err(f"newsarchive package: could not package {args.site or ''}: {exc}\n")
        return EXIT_FAILED
    finally:
        store.close()
    sys.stdout.write(
        f"newsarchive package: {result.path}: {result.warcs} WARCs, {result.captures} captures, "
        f"{result.pages} articles\n"
    )
    return EXIT_OK
