"""`newsarchive upload`: send what an S3 store's local spool still holds (after an outage)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from newsarchive.archive.run import open_options_store
from newsarchive.cli.main import EXIT_OK, EXIT_SPOOLED
from newsarchive.cli.settings import options_from_args
from newsarchive.jobs.upload import drain_store
from newsarchive.pipelines.extensions.progress import human_bytes

if TYPE_CHECKING:
    import argparse


def cmd_upload(args: argparse.Namespace) -> int:
    options = options_from_args(args, interactive=False)
    uri = options.store
    if not uri.startswith("s3://"):
        # A local store has no spool: nothing waits, which is success (one that does not exist
        # is a usage error, raised by opening it as a reader).
        open_options_store(options, reader=True).close()
        sys.stdout.write(f"newsarchive upload: {uri} is a local store; nothing to upload\n")
        return EXIT_OK
    store = open_options_store(options)
    report = drain_store(store)
    assert report is not None
    line = (
        f"newsarchive upload: {store.uri}: {report.uploaded} objects uploaded "
        f"({human_bytes(report.uploaded_bytes)})"
    )
    if report.multipart_aborted:
        line += f", {report.multipart_aborted} stale multipart uploads aborted"
    if report.pending:
        line += f"; {report.pending} objects still spooled in {store.state_dir}"
        if report.unreachable:
            line += " (store unavailable)"
    sys.stdout.write(line + "\n")
    return EXIT_SPOOLED if report.pending else EXIT_OK
