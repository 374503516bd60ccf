"""Upload threads of an S3 store: send what the spool holds, verify each object, back off and
retry through outages, abort stale multipart uploads, and report what was sent and what waits."""

from __future__ import annotations

import base64
import heapq
import logging
import re
import threading
import time
from collections import Counter, deque
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from s3transfer.utils import ChunksizeAdjuster

from newsarchive.archive.s3.checksums import Hashes
from newsarchive.archive.s3.client import CREDENTIAL_CODES, error_code, is_unreachable
from newsarchive.archive.store import StoreError, UploadReport

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    from newsarchive.archive.s3.client import Bucket
    from newsarchive.archive.s3.options import S3Options
    from newsarchive.archive.s3.spool import Spool, SpooledFile

logger = logging.getLogger(__name__)

_MAX_BACKOFF: Final = 60.0
_MD5_ETAG: Final = re.compile(r"^[0-9a-f]{32}(-\d+)?$")
_META_NAME: Final = re.compile(r"[^a-z0-9-]")


class _VerifyError(Exception):
    """The uploaded object does not match the local file."""


def transfer_config(options: S3Options) -> TransferConfig:
    """boto3's transfer manager as the options size multipart uploads (and downloads)."""
    return TransferConfig(
        multipart_threshold=options.multipart_threshold,
        multipart_chunksize=options.multipart_chunksize,
        max_concurrency=10,
        preferred_transfer_client="classic",
    )


def s3_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """User metadata as S3 carries it: lower-case names, ASCII values."""
    out = {}
    for name, value in metadata.items():
        clean = _META_NAME.sub("-", name.lower())
        text = str(value)
        out[clean] = text if text.isascii() and text.isprintable() else quote(text, safe="")
    return out


class Uploader:
    """Threads that send the spool's objects to the bucket, one verified object at a time.

    Options read: upload_threads, multipart_threshold, multipart_chunksize, close_timeout,
    abort_multipart_after, storage_class, sse, sse_kms_key_id. An outage (the endpoint is down
    or refuses the credentials) pauses every thread with a doubling back-off; a failure of one
    object retries that object alone, later.
    """

    def __init__(self, bucket: Bucket, spool: Spool, options: S3Options) -> None:
        self.bucket = bucket
        self.spool = spool
        self.options = options
        self._transfer = transfer_config(options)
        self._cond = threading.Condition()
        self._ready: deque[str] = deque()
        self._waiting: list[tuple[float, str]] = []  # heap of (retry at, key)
        self._inflight = 0
        self._attempts: Counter[str] = Counter()
        self._paused_until = 0.0
        self._backoff = 0.0
        self._down_reason = ""
        self._closing = False
        self._closed = False
        self._close_probe = False
        self._gave_up = False
        self._deadline = 0.0
        self._threads: list[threading.Thread] = []
        self.uploaded = 0
        self.uploaded_bytes = 0
        self.failures: Counter[str] = Counter()
        self.aborted_multipart = 0

    # --- start-up -----------------------------------------------------------------------------

    def probe(self) -> bool:
        """True when the bucket answers; StoreError when it never will as configured."""
        where = self.bucket.where
        try:
            self.bucket.client.list_objects_v2(
                Bucket=self.bucket.name, Prefix=self.bucket.key(""), MaxKeys=1
            )
        except NoCredentialsError as exc:
            raise StoreError(
                f"S3 store {where}: no credentials found (environment, AWS profile or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY settings)"
            ) from exc
        except ClientError as exc:
            code = error_code(exc)
            if code in CREDENTIAL_CODES:
                raise StoreError(
                    f"S3 store {where} refused the credentials ({code}): check "
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS profile"
                ) from None
            if code == "NoSuchBucket":
                raise StoreError(f"S3 store {where}: bucket does not exist") from None
            if not is_unreachable(exc):
                raise StoreError(f"S3 store {where}: {code or exc}") from None
            self.mark_down(exc)
            return False
        except BotoCoreError as exc:
            self.mark_down(exc)
            return False
        return True

    def abort_stale_multipart(self) -> None:
        """A killed run or server leaves multipart uploads that cost storage until aborted."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.options.abort_multipart_after)
        client = self.bucket.client
        try:
            paginator = client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket.name, Prefix=self.bucket.key("")):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] > cutoff:
                        continue
                    client.abort_multipart_upload(
                        Bucket=self.bucket.name, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    self.aborted_multipart += 1
                    logger.warning(
                        "Aborted stale multipart upload of %s (started %s)",
                        upload["Key"],
                        upload["Initiated"].isoformat(),
                    )
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "Cannot list or abort stale multipart uploads in %s: %s", self.bucket.uri, exc
            )

    def start(self) -> None:
        for n in range(self.options.upload_threads):
            thread = threading.Thread(target=self._work, name=f"s3-upload-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    # --- the queue ----------------------------------------------------------------------------

    def enqueue(self, keys: Iterable[str]) -> None:
        with self._cond:
            added = 0
            for key in keys:
                if key not in self._ready and all(k != key for _, k in self._waiting):
                    self._ready.append(key)
                    added += 1
            self._cond.notify(added)

    def discard(self, key: str) -> None:
        """Forget a queued key (deleted before its upload)."""
        with self._cond:
            if key in self._ready:
                self._ready.remove(key)
            if any(k == key for _, k in self._waiting):
                self._waiting = [(t, k) for t, k in self._waiting if k != key]
                heapq.heapify(self._waiting)

    def checksums(self, path: Path, size: int, data: bytes | None = None) -> Hashes:
        """What the upload of a spooled file will be verified against: the multipart ETag from
        the threshold on, else the whole MD5 (from `data` when at hand, saving a read)."""
        if size >= self.options.multipart_threshold:
            return Hashes.of_file(path, self._part_size(size))
        return Hashes.of_bytes(data) if data is not None else Hashes.of_file(path, None)

    def _part_size(self, size: int) -> int:
        return int(ChunksizeAdjuster().adjust_chunksize(self.options.multipart_chunksize, size))

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until nothing is queued or in flight (benchmarks, tests); True when idle."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._ready or self._waiting or self._inflight:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def drain(self) -> None:
        """Block until nothing is queued or in flight, the store is found down (what is left
        waits in the spool) or close_timeout has passed; the threads keep running."""
        end = time.monotonic() + self.options.close_timeout
        with self._cond:
            while (self._ready or self._waiting or self._inflight) and not self._down_reason:
                left = end - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(min(left, 0.5))

    def close(self) -> bool:
        """Send what is queued (up to close_timeout while the store answers) and stop the
        threads; False when already closed."""
        with self._cond:
            if self._closed:
                return False
            self._closed = self._closing = True
            self._deadline = time.monotonic() + self.options.close_timeout
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()
        return True

    def report(self) -> UploadReport:
        pending, pending_bytes = self.spool.waiting()
        with self._cond:
            return UploadReport(
                uploaded=self.uploaded,
                uploaded_bytes=self.uploaded_bytes,
                failures=dict(self.failures),
                pending=pending,
                pending_bytes=max(pending_bytes, 0),
                unreachable=bool(self._down_reason),
                multipart_aborted=self.aborted_multipart,
            )

    # --- outages ------------------------------------------------------------------------------

    @property
    def down_reason(self) -> str:
        """Why the store is taken to be down (an exception name); "" while it answers."""
        return self._down_reason

    def mark_down(self, exc: BaseException) -> None:
        """The store did not answer: pause every upload for a doubling back-off."""
        with self._cond:
            if not self._down_reason:
                logger.warning(
                    "S3 store %s is unavailable (%s); keeping objects in the local spool %s "
                    "and retrying",
                    self.bucket.where,
                    type(exc).__name__,
                    self.spool.files,
                )
            self._down_reason = type(exc).__name__
            self._backoff = min(max(self._backoff * 2, 1.0), _MAX_BACKOFF)
            self._paused_until = time.monotonic() + self._backoff
            self._cond.notify_all()

    def _mark_up(self, key: str) -> None:
        with self._cond:
            self._attempts.pop(key, None)
            if self._down_reason:
                logger.info("S3 store %s is reachable again", self.bucket.where)
            self._down_reason = ""
            self._backoff = 0.0
            self._paused_until = 0.0

    # --- the threads --------------------------------------------------------------------------

    def _next(self) -> str | None:
        with self._cond:
            while True:
                now = time.monotonic()
                if self._closing and (self._gave_up or now >= self._deadline):
                    return None
                while self._waiting and (self._waiting[0][0] <= now or self._closing):
                    self._ready.append(heapq.heappop(self._waiting)[1])
                paused = now < self._paused_until
                if self._closing and paused and self._ready and not self._close_probe:
                    # One last attempt at close, not a wait through the whole back-off.
                    self._close_probe = True
                    paused = False
                if self._ready and not paused:
                    self._inflight += 1
                    return self._ready.popleft()
                if self._closing and not self._ready and not self._inflight:
                    return None
                timeouts = [0.5]
                if paused:
                    timeouts.append(self._paused_until - now)
                if self._waiting:
                    timeouts.append(self._waiting[0][0] - now)
                self._cond.wait(max(0.01, min(timeouts)))

    def _work(self) -> None:
        while (key := self._next()) is not None:
            try:
                self._upload(key)
            except (ClientError, BotoCoreError, S3UploadFailedError, _VerifyError, OSError) as exc:
                self._failed(key, exc, store_down=is_unreachable(exc))
            else:
                self._mark_up(key)
            finally:
                with self._cond:
                    self._inflight -= 1
                    self._cond.notify_all()

    def _failed(self, key: str, exc: BaseException, *, store_down: bool) -> None:
        name = (
            error_code(exc) or type(exc).__name__
            if isinstance(exc, ClientError)
            else type(exc).__name__
        )
        with self._cond:
            self.failures[name] += 1
        if store_down:
            self.mark_down(exc)
            with self._cond:
                if self._closing:
                    self._gave_up = True
                else:
                    self._ready.appendleft(key)
                self._cond.notify_all()
            return
        logger.warning("Upload of %s to %s failed: %s", key, self.bucket.where, exc)
        with self._cond:
            self._attempts[key] += 1
            if not self._closing:
                delay = min(2.0 ** self._attempts[key], _MAX_BACKOFF)
                heapq.heappush(self._waiting, (time.monotonic() + delay, key))
            self._cond.notify_all()

    # --- one object ---------------------------------------------------------------------------

    def _upload(self, key: str) -> None:
        with self.spool.claim(key) as spooled:
            if spooled is None:
                return
            hashes = spooled.hashes or self.checksums(spooled.path, spooled.size)
            self._send(spooled, hashes)
            self._verify(key, spooled.size, hashes)
            self.spool.uploaded(spooled)
        with self._cond:
            self.uploaded += 1
            self.uploaded_bytes += spooled.size
        logger.debug("Uploaded %s (%d bytes) to %s", key, spooled.size, self.bucket.where)

    def _extra_args(self, spooled: SpooledFile, hashes: Hashes) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "ContentType": spooled.content_type,
            "Metadata": s3_metadata({**spooled.metadata, "sha256": hashes.sha256}),
        }
        if self.options.storage_class:
            extra["StorageClass"] = self.options.storage_class
        if self.options.sse:
            extra["ServerSideEncryption"] = self.options.sse
        if self.options.sse_kms_key_id:
            extra["SSEKMSKeyId"] = self.options.sse_kms_key_id
        return extra

    def _send(self, spooled: SpooledFile, hashes: Hashes) -> None:
        extra = self._extra_args(spooled, hashes)
        s3key = self.bucket.key(spooled.key)
        client = self.bucket.client
        if spooled.size >= self.options.multipart_threshold:
            client.upload_file(
                str(spooled.path), self.bucket.name, s3key, ExtraArgs=extra, Config=self._transfer
            )
            return
        content_md5 = base64.b64encode(bytes.fromhex(hashes.md5)).decode("ascii")
        with spooled.path.open("rb") as body:
            client.put_object(
                Bucket=self.bucket.name,
                Key=s3key,
                Body=body,
                ContentLength=spooled.size,
                ContentMD5=content_md5,
                **extra,
            )

    def _verify(self, key: str, size: int, hashes: Hashes) -> None:
        """Do not trust the server to have checked: compare size and ETag (or SHA-256)."""
        head = self.bucket.client.head_object(
            Bucket=self.bucket.name, Key=self.bucket.key(key), ChecksumMode="ENABLED"
        )
        if head["ContentLength"] != size:
            raise _VerifyError(f"{key}: stored {head['ContentLength']} bytes, sent {size}")
        etag = head.get("ETag", "").strip('"')
        if etag == hashes.md5:
            return
        checksum = head.get("ChecksumSHA256")
        if checksum and "-" not in checksum:
            if base64.b64decode(checksum).hex() != hashes.sha256:
                raise _VerifyError(f"{key}: stored SHA-256 differs from the local file")
            return
        if self.options.sse in ("aws:kms", "aws:kms:dsse") and not _MD5_ETAG.match(etag):
            # SSE-KMS ETags are not MD5s; AWS checked Content-MD5 / part checksums on receipt.
            return
        raise _VerifyError(f"{key}: stored ETag {etag} differs from the local {hashes.md5}")
