"""`newsarchive export`: the archive's articles as JSON Lines or Parquet, one row each."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from newsarchive.cli.args import UsageError, add_settings, add_store, iso_day

if TYPE_CHECKING:
    import argparse

HELP = "write one row per archived article (text, metadata, WARC location) to JSONL or Parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(parser)
    parser.add_argument("--site", metavar="NAME", help="only this site's articles")
    parser.add_argument("--since", type=iso_day, metavar="DATE",
                        help="only captures made on or after DATE (UTC, YYYY-MM-DD)")  # fmt: skip
    parser.add_argument("--until", type=iso_day, metavar="DATE",
                        help="only captures made on or before DATE (UTC, YYYY-MM-DD)")  # fmt: skip
    parser.add_argument(
        "--format",
        choices=("jsonl", "parquet"),
        help="output format (default: parquet for a .parquet FILE, else jsonl)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", default="-",
                        help="file to write (replaced once complete); - for stdout, JSONL only "
                        "(default -)")  # fmt: skip
    add_settings(parser)


def run(args: argparse.Namespace) -> int:
    from newsarchive.archive.files import move_file  # noqa: PLC0415 - keeps --help fast
    from newsarchive.archive.run import open_options_store  # noqa: PLC0415
    from newsarchive.cli.main import EXIT_FAILED, EXIT_OK  # noqa: PLC0415
    from newsarchive.cli.settings import options_from_args  # noqa: PLC0415
    from newsarchive.jobs.export import (  # noqa: PLC0415
        ExportError,
        iter_rows,
        parquet_schema,
        write_jsonl,
        write_parquet,
    )
    from newsarchive.jobs.sites import check_site  # noqa: PLC0415

    output = args.output
    fmt = args.format or ("parquet" if output.endswith(".parquet") else "jsonl")
    if fmt == "parquet" and output == "-":
        raise UsageError("export: Parquet needs a file: give -o FILE.parquet")
    if args.since and args.until and args.since > args.until:
        raise UsageError("export: --since is after --until")
    if fmt == "parquet":
        try:
            parquet_schema()
        except ExportError as exc:
            raise UsageError(f"export: {exc}") from None
    options = options_from_args(args, interactive=False)
    store = open_options_store(options, reader=True)
    unreadable: dict[str, str] = {}
    try:
        check_site(store, args.site)
        rows = iter_rows(
            store, site=args.site, since=args.since, until=args.until, unreadable=unreadable
        )
        if output == "-":
            count = write_jsonl(rows, sys.stdout)
            sys.stdout.flush()
        else:
            target = Path(output)
            # Written beside the target and moved over it once complete: a reader never sees
            # half an export, and a failed one leaves the last good file.
            partial = target.with_name(f".{target.name}.part")
            if fmt == "parquet":
                count = write_parquet(rows, partial)
            else:
                with partial.open("w", encoding="utf-8") as out:
                    count = write_jsonl(rows, out)
            move_file(partial, target)
    finally:
        store.close()
    for key, why in unreadable.items():
        sys.stderr.write(f"newsarchive export: unreadable metadata record {key}: {why}\n")
    # The summary goes where the rows do not.
    summary = sys.stderr if output == "-" else sys.stdout
    where = "stdout" if output == "-" else output
    summary.write(f"newsarchive export: {count} articles ({fmt}) to {where}\n")
    return EXIT_FAILED if unreadable else EXIT_OK
