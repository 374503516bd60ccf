"""`newsarchive reextract`: re-run extraction over the archive's response records."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from newsarchive.cli.args import add_settings, add_store, iso_day

if TYPE_CHECKING:
    from newsarchive.extraction.documents import ExtractOptions
    from newsarchive.jobs.reextract import Summary

HELP = "re-extract text and metadata from archived responses with the current extractor"

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--site", metavar="NAME", help="only this site's captures")
    parser.add_argument(
        "--since", type=iso_day, metavar="DATE", help="only captures made on or after DATE (UTC)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="extraction processes (default: one per CPU; 0 = in this process)",
    )
    parser.add_argument(
        "--sites-dir", metavar="DIR", help="folder of site YAML files (extraction overrides)"
    )
    parser.add_argument(
        "--replace-older",
        action="store_true",
        help="once a capture's new version reads back intact, delete its other text and "
        "metadata versions (WARCs are never deleted)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="extract every capture again, even those whose current version was made with the "
        "current settings",
    )
    add_settings(parser)
    # Tests and benchmarks tag output with another version, as a newer extractor would.
    parser.add_argument("--version-tag", help=argparse.SUPPRESS)


def _progress_line(summary: Summary) -> str:
    rate = summary.processed / summary.wall_seconds if summary.wall_seconds > 0 else 0.0
    return (
        f"reextract: {summary.processed}/{summary.planned} captures, "
        f"{len(summary.failed)} failed, {rate:.1f} pages/s"
    )


def run(args: argparse.Namespace) -> int:
    from newsarchive.archive.run import open_options_store, store_options  # noqa: PLC0415 - heavy imports only when run
    from newsarchive.cli.main import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_SPOOLED  # noqa: PLC0415
    from newsarchive.cli.settings import options_from_args  # noqa: PLC0415
    from newsarchive.config.sites import load_site_file  # noqa: PLC0415
    from newsarchive.extraction.documents import ExtractOptions  # noqa: PLC0415
    from newsarchive.extraction.version import EXTRACTOR_VERSION  # noqa: PLC0415
    from newsarchive.jobs.reextract import plan, replace_older  # noqa: PLC0415
    from newsarchive.jobs.reextract import run as reextract  # noqa: PLC0415
    from newsarchive.jobs.sites import check_site  # noqa: PLC0415

    if args.workers < 0:
        sys.stderr.write("newsarchive: --workers must be 0 or more\n")
        return EXIT_CONFIG
    settings = options_from_args(args)
    interactive = settings.progress
    uri = settings.store
    options = store_options(settings, reader=True)
    directory = settings.sites_dir
    version = args.version_tag or EXTRACTOR_VERSION

    def options_for(site: str) -> ExtractOptions:
        # As the crawl builds them: the EXTRACT_* settings, then the site file.
        path = directory / f"{site}.yaml"
        config = load_site_file(path) if path.is_file() else None
        if config is None:
            logger.info("No site file %s: default extraction options for %s", path, site)
        return ExtractOptions.build(settings, config)

    store = open_options_store(settings, reader=True)
    try:
        check_site(store, args.site)
        work = plan(store, version, options_for, site=args.site, since=args.since, force=args.force)
    finally:
        store.close()

    def progress(summary: Summary) -> None:
        sys.stderr.write("\r\033[K" + _progress_line(summary))
        sys.stderr.flush()

    summary = reextract(
        uri,
        work.tasks,
        version=version,
        workers=args.workers,
        store_options=options,
        already_done=work.done,
        progress=progress if interactive else None,
    )
    if interactive:
        sys.stderr.write("\n")
    kept: list[str] = []
    if args.replace_older and summary.spooled:
        kept.append(
            f"  older versions kept: {summary.spooled} new objects are not uploaded yet "
            f"(`newsarchive upload --store {uri}`, then run again)"
        )
    elif args.replace_older:
        store = open_options_store(settings, reader=True)
        try:
            cleanup = replace_older(store, version, site=args.site, since=args.since)
        finally:
            store.close()
        summary.removed = cleanup.removed
        kept += [f"  older versions kept: {o.source_key}: {o.detail}" for o in cleanup.kept]
    out = [summary.line()]
    if work.stale:
        why = "--force" if args.force else "their version was made with other extraction settings"
        out.append(f"  {work.stale} captures extracted again in place: {why}")
    out += [f"  failed: {o.source_key}: {o.detail}" for o in summary.failed]
    sys.stdout.write("\n".join(out + kept) + "\n")
    if summary.failed or (kept and not summary.spooled):
        return EXIT_FAILED
    return EXIT_SPOOLED if summary.spooled else EXIT_OK
