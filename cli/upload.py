"""`newsarchive upload`: send what an S3 store's local spool still holds (after an outage)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from newsarchive.archive.run import open_options_store
from newsarchive.cli.main import EXIT_FAILED, EXIT_OK, EXIT_SPOOLED
from newsarchive.cli.settings import options_from_args
from newsarchive.jobs.upload import upload
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
    from newsarchive.archive.s3 import S3Store  # noqa: PLC0415 - boto3 only for this command

    store = open_options_store(options)
    assert isinstance(store, S3Store)
    outcome = upload(store)
    report = outcome.report
    line = (
        f"newsarchive upload: {store.uri}: {report.uploaded} objects uploaded "
        f"({human_bytes(report.uploaded_bytes)})"
    )
    if outcome.recovered:
        line += f", {len(outcome.recovered)} WARCs left open by a killed crawl recovered"
    if report.multipart_aborted:
        line += f", {report.multipart_aborted} stale multipart uploads aborted"
    if report.pending:
        line += f"; {report.pending} objects still spooled in {store.state_dir}"
        if report.unreachable:
            line += " (store unavailable)"
    sys.stdout.write(line + "\n")
    if outcome.dangling:
        sys.stderr.write(
            f"newsarchive upload: {len(outcome.dangling)} metadata records uploaded point at "
            f"WARCs not in {store.uri}: "
            f"{', '.join(sorted(set(outcome.dangling.values())))}\n"
        )
    for failure in outcome.failed:
        sys.stderr.write(f"newsarchive upload: could not index {failure}\n")
    if report.pending:
        return EXIT_SPOOLED
    return EXIT_OK if outcome.ok else EXIT_FAILED
