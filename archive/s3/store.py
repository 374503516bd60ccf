"""`s3://bucket/prefix` as a Store: writes go to the spool, the uploader sends them; reads look
in the spool first, then in the bucket."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, Self, cast
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from newsarchive.archive.layout import check_key
from newsarchive.archive.s3.client import Bucket, is_not_found, is_unreachable, make_client
from newsarchive.archive.s3.options import PREFIX, S3Options
from newsarchive.archive.s3.spool import Spool, default_state_dir
from newsarchive.archive.s3.uploader import Uploader, transfer_config
from newsarchive.archive.store import AWS_OPTIONS, ObjectInfo, Store, StoreError, UploadReport
from newsarchive.config.redact import redact

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)


class S3Store(Store):
    """`s3://bucket/prefix`: writes go to a local spool, upload threads send them verified.

    Options (`open_store(uri, **options)`): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, AWS_REGION_NAME, AWS_USE_SSL, AWS_VERIFY (else the
    standard AWS chain: environment, profiles, AWS_ENDPOINT_URL_S3) and the STORAGE_S3_* settings
    (`S3Options`; a missing one takes its default from config/settings.py).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: S3Client,
        options: S3Options,
        state_dir: Path | None = None,
    ) -> None:
        self.bucket = Bucket(client, bucket, check_key(prefix) if prefix else "")
        self.uri = self.bucket.uri
        self.options = options
        state = (
            state_dir
            or (Path(self.options.state_dir).expanduser() if self.options.state_dir else None)
            or default_state_dir(bucket, self.bucket.prefix, self.bucket.endpoint)
        )
        self.spool = Spool(
            state,
            max_bytes=self.options.spool_max_bytes,
            min_free_bytes=self.options.spool_min_free_bytes,
            keep_uploaded=self.options.keep_uploaded,
            destination=self.bucket.where,
        )
        self.uploader = Uploader(self.bucket, self.spool, self.options)
        self._transfer = transfer_config(self.options)

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> Self:
        """Open the store: check access, abort stale multipart uploads, start uploading."""
        parts = urlsplit(uri)
        bucket, prefix = parts.netloc, parts.path.strip("/")
        if parts.scheme != "s3" or not bucket or parts.query or parts.fragment:
            raise StoreError(f"bad S3 store URI {redact(uri)!r}: use s3://bucket/prefix")
        try:
            prefix = check_key(prefix) if prefix else ""
        except ValueError as exc:
            raise StoreError(f"bad S3 store URI {redact(uri)!r}: {exc}") from exc
        unknown = sorted(
            name for name in options if name not in AWS_OPTIONS and not name.startswith(PREFIX)
        )
        if unknown:
            raise StoreError(f"unknown S3 store options: {', '.join(unknown)}")
        s3 = S3Options.from_settings(options)
        store = cls(bucket, prefix, make_client(options, s3), s3)
        store.start()
        return store

    def start(self) -> None:
        """Probe the bucket, abort stale multipart uploads, queue what the spool holds."""
        if self.uploader.probe():
            self.uploader.abort_stale_multipart()
        keys = self.spool.recover()
        self.uploader.enqueue(keys)
        if keys:
            logger.info(
                "%d objects spooled by an earlier run in %s; uploading them to %s",
                len(keys),
                self.spool.files,
                self.bucket.where,
            )
        self.uploader.start()

    # --- writing ------------------------------------------------------------------------------

    def put_bytes(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> None:
        path = self.spool.write(key, data)
        hashes = self.uploader.checksums(path, len(data), data)
        self.spool.mark(key, content_type, metadata, hashes)
        self.uploader.enqueue([key])

    def staging_path(self, key: str) -> Path:
        return self.spool.staging_path(key)

    def commit_file(
        self, key: str, path: Path, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> None:
        self.spool.adopt(key, path)
        self.spool.mark(key, content_type, metadata)
        self.uploader.enqueue([key])

    def delete(self, key: str) -> None:
        """Drop a spooled copy and its queued upload first, then the object in the bucket.

        Kept copies (STORAGE_S3_KEEP_UPLOADED) are the user's local backup and stay.
        """
        self.uploader.discard(key)
        self.spool.remove(key)
        try:
            self.bucket.client.delete_object(Bucket=self.bucket.name, Key=self.bucket.key(key))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot delete {key} from {self.bucket.where}: {exc}") from exc

    # --- reading ------------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        data = self.spool.read_bytes(key)
        if data is not None:
            return data
        try:
            response = self.bucket.client.get_object(
                Bucket=self.bucket.name, Key=self.bucket.key(key)
            )
            return response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            self._read_failed(key, exc)

    def open_read(self, key: str) -> BinaryIO:
        """A spooled object's local file, or the object downloaded to a temporary file."""
        spooled = self.spool.open(key)
        if spooled is not None:
            return spooled
        fh = tempfile.TemporaryFile(dir=self.spool.tmp)  # noqa: SIM115 - returned to the caller
        try:
            self.bucket.client.download_fileobj(
                self.bucket.name, self.bucket.key(key), fh, Config=self._transfer
            )
        except (ClientError, BotoCoreError) as exc:
            fh.close()
            self._read_failed(key, exc)
        fh.seek(0)
        return cast("BinaryIO", fh)

    def _read_failed(self, key: str, exc: ClientError | BotoCoreError) -> NoReturn:
        if is_not_found(exc):
            raise KeyError(key) from None
        raise StoreError(f"cannot read {key} from {self.bucket.where}: {exc}") from exc

    def exists(self, key: str) -> bool:
        if self.spool.holds(key):
            return True
        try:
            self.bucket.client.head_object(Bucket=self.bucket.name, Key=self.bucket.key(key))
        except (ClientError, BotoCoreError) as exc:
            if is_not_found(exc):
                return False
            if self.options.degraded_reads and is_unreachable(exc):
                self.uploader.mark_down(exc)
                return False
            raise StoreError(f"cannot check {key} in {self.bucket.where}: {exc}") from exc
        return True

    def list(self, prefix: str) -> Iterator[str]:
        """Spooled and uploaded keys under `prefix`, sorted (spool first, so none falls between).

        While the store is unreachable this raises StoreError, or with STORAGE_S3_DEGRADED_READS
        (crawls) lists the spool only.
        """
        yield from sorted(self._listing(prefix))

    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        """As `list`; a spooled copy (newer than any uploaded one) describes its key."""
        listing = self._listing(prefix)
        for key in sorted(listing):
            yield listing[key]

    def _listing(self, prefix: str) -> dict[str, ObjectInfo]:
        spooled = self.spool.listing(prefix)
        s3prefix = self.bucket.key(check_key(prefix)) + "/" if prefix else self.bucket.key("")
        strip = len(self.bucket.key(""))
        found: dict[str, ObjectInfo] = {}
        try:
            paginator = self.bucket.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket.name, Prefix=s3prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"][strip:]
                    found[key] = ObjectInfo(key, obj["Size"], obj["ETag"].strip('"'))
        except (ClientError, BotoCoreError) as exc:
            if not (self.options.degraded_reads and is_unreachable(exc)):
                raise StoreError(
                    f"cannot list {prefix or '/'} in {self.bucket.where}: {exc}"
                ) from exc
            # A crawl goes on through an outage (revisit lookups, end-of-run indexing) with what
            # it has; a reader (verify, replay) gets the error instead of a partial answer.
            self.uploader.mark_down(exc)
            logger.warning(
                "Listing %s from the local spool only: S3 store %s is unavailable",
                prefix or "/",
                self.bucket.where,
            )
        # A spooled copy is newer than any uploaded one under the same key.
        found.update(spooled)
        return found

    # --- state and the end --------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return self.spool.root

    def upload_report(self) -> UploadReport:
        return self.uploader.report()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until nothing is queued or in flight (benchmarks, tests); True when idle."""
        return self.uploader.wait_idle(timeout)

    def drain(self) -> None:
        """Wait for the queue to empty (up to STORAGE_S3_CLOSE_TIMEOUT) while the store answers."""
        self.uploader.drain()

    def close(self) -> None:
        """Upload what is queued (up to STORAGE_S3_CLOSE_TIMEOUT), then report what is left."""
        if not self.uploader.close():
            return
        report = self.upload_report()
        if report.uploaded:
            logger.info(
                "Uploaded %d objects (%d bytes) to %s",
                report.uploaded,
                report.uploaded_bytes,
                self.bucket.where,
            )
        if report.pending:
            logger.error(
                "%d objects spooled, not uploaded, in %s (store %s: %s); "
                "run `newsarchive upload --store %s`",
                report.pending,
                self.spool.files,
                self.bucket.where,
                self.uploader.down_reason or "upload failed",
                self.uri,
            )
