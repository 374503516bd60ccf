"""S3 store: every object lands in a durable local spool, then upload threads send it, verified."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import heapq
import json
import logging
import mimetypes
import os
import re
import shutil
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Self, cast
from urllib.parse import quote, urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from s3transfer.utils import ChunksizeAdjuster

from newsarchive.archive.files import write_atomic
from newsarchive.archive.layout import check_key
from newsarchive.archive.store import AWS_OPTIONS, ObjectInfo, Store, StoreError, UploadReport

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

#: Environment variable naming the base folder of local S3 state (spool) for every store.
STATE_DIR_ENV: Final = "NEWSARCHIVE_STATE_DIR"
#: Error codes meaning the credentials, not the request, are wrong.
_CREDENTIAL_CODES: Final = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
     "ExpiredToken", "TokenRefreshRequired", "403"}
)  # fmt: skip
_NOT_FOUND_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound"})
#: Orphan spool files younger than this may be a WARC between rename and commit in another run.
_ORPHAN_AGE: Final = 60.0
_MAX_BACKOFF: Final = 60.0
_HASH_CHUNK: Final = 1 << 20
_MD5_ETAG: Final = re.compile(r"^[0-9a-f]{32}(-\d+)?$")
_META_NAME: Final = re.compile(r"[^a-z0-9-]")
#: Content types for spool files found without their marker (a crash between the two writes).
_GUESSED_TYPES: Final = {".warc.gz": "application/warc", ".cdxj": "text/x-cdxj"}


class SpoolFullError(OSError):
    """The spool may not grow: over its size limit or the disk is nearly full."""


class _Unreachable(Exception):
    """The store cannot be reached or refuses our credentials: pause all uploads."""


class _VerifyError(Exception):
    """The uploaded object does not match the local file."""


@dataclass(frozen=True, slots=True)
class S3Options:
    """STORAGE_S3_* settings (documented in config/settings.py), parsed."""

    addressing_style: str = ""
    storage_class: str = ""
    sse: str = ""
    sse_kms_key_id: str = ""
    state_dir: str = ""
    keep_uploaded: bool = False
    spool_max_bytes: int = 50_000_000_000
    spool_min_free_bytes: int = 1_000_000_000
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 16 * 1024 * 1024
    upload_threads: int = 2
    close_timeout: float = 600.0
    abort_multipart_after: float = 900.0
    degraded_reads: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = options.get(f"STORAGE_S3_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            default = f.default
            try:
                if isinstance(default, bool):
                    values[f.name] = _as_bool(raw)
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, float):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = str(raw)
            except ValueError as exc:
                raise StoreError(f"STORAGE_S3_{f.name.upper()}: bad value {raw!r}") from exc
        opts = cls(**values)
        if opts.addressing_style not in ("", "auto", "path", "virtual"):
            raise StoreError(
                f"STORAGE_S3_ADDRESSING_STYLE must be auto, path or virtual, "
                f"got {opts.addressing_style!r}"
            )
        if opts.upload_threads < 1 or opts.multipart_chunksize < 5 * 1024 * 1024:
            raise StoreError(
                "STORAGE_S3_UPLOAD_THREADS >= 1, STORAGE_S3_MULTIPART_CHUNKSIZE >= 5MiB"
            )
        return opts


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def make_client(options: Mapping[str, Any], s3: S3Options, threads: int) -> S3Client:
    """One S3 client: the standard AWS chain, overridden by any Scrapy-style option given."""
    session_args = {
        arg: options[name]
        for name, arg in (
            ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
            ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
            ("AWS_SESSION_TOKEN", "aws_session_token"),
            ("AWS_REGION_NAME", "region_name"),
        )
        if options.get(name)
    }
    client_args: dict[str, Any] = {}
    if options.get("AWS_ENDPOINT_URL"):
        client_args["endpoint_url"] = options["AWS_ENDPOINT_URL"]
    if options.get("AWS_USE_SSL") not in (None, ""):
        client_args["use_ssl"] = _as_bool(options["AWS_USE_SSL"])
    if options.get("AWS_VERIFY") not in (None, ""):
        verify = options["AWS_VERIFY"]
        # A CA bundle path or a boolean, as botocore takes it.
        try:
            client_args["verify"] = _as_bool(verify)
        except ValueError:
            client_args["verify"] = str(verify)
    s3_config: Any = {"addressing_style": s3.addressing_style} if s3.addressing_style else None
    config = Config(
        s3=s3_config,
        # boto3's own retries give up within seconds on a dead endpoint; the spool keeps the data.
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=max(10, threads * 10),
        # We send Content-MD5 and compare after upload ourselves; no second checksum pass.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session(**session_args)
    return session.client("s3", config=config, **client_args)


def default_state_dir(bucket: str, prefix: str, endpoint: str) -> Path:
    """`$NEWSARCHIVE_STATE_DIR` (else `$XDG_STATE_HOME/newsarchive`, else ~/.local/state/...)
    `/s3/HOST/BUCKET/PREFIX`: one spool per endpoint, bucket and prefix."""
    base_env = os.environ.get(STATE_DIR_ENV)
    if base_env:
        base = Path(base_env).expanduser()
    else:
        xdg = os.environ.get("XDG_STATE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".local" / "state") / "newsarchive"
    host = re.sub(r"[^A-Za-z0-9.-]", "_", urlsplit(endpoint).netloc) or "aws"
    return base / "s3" / host / bucket / (prefix.replace("/", "+") or "_")


def _s3_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """User metadata as S3 carries it: lower-case names, ASCII values."""
    out = {}
    for name, value in metadata.items():
        clean = _META_NAME.sub("-", name.lower())
        text = str(value)
        out[clean] = text if text.isascii() and text.isprintable() else quote(text, safe="")
    return out


@dataclass(slots=True)
class _Hashes:
    md5: str  # whole-file MD5 hex, or the multipart ETag
    sha256: str


def _hash_file(path: Path, part_size: int | None) -> _Hashes:
    """MD5 (whole, or per part as S3 builds a multipart ETag) and SHA-256 in one read."""
    sha = hashlib.sha256()
    whole = hashlib.md5()  # noqa: S324 - S3's Content-MD5/ETag, not security
    parts: list[bytes] = []
    part = hashlib.md5()  # noqa: S324 - as above
    in_part = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            sha.update(chunk)
            if part_size is None:
                whole.update(chunk)
                continue
            view = memoryview(chunk)
            while view:
                take = min(len(view), part_size - in_part)
                part.update(view[:take])
                in_part += take
                view = view[take:]
                if in_part == part_size:
                    parts.append(part.digest())
                    part, in_part = hashlib.md5(), 0  # noqa: S324 - as above
    if part_size is None:
        return _Hashes(whole.hexdigest(), sha.hexdigest())
    if in_part or not parts:
        parts.append(part.digest())
    etag = hashlib.md5(b"".join(parts)).hexdigest()  # noqa: S324 - as above
    return _Hashes(f"{etag}-{len(parts)}", sha.hexdigest())


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, BotoConnectionError | HTTPClientError | NoCredentialsError):
        return True
    if isinstance(exc, S3UploadFailedError) and exc.__cause__ is not None:
        return _is_unreachable(exc.__cause__)
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return _error_code(exc) in _CREDENTIAL_CODES or status >= 500 or status == 429
    return False


class S3Store(Store):
    """`s3://bucket/prefix`: writes go to a local spool, upload threads send them verified.

    Options (`open_store(uri, **options)`): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, AWS_REGION_NAME, AWS_USE_SSL, AWS_VERIFY (else the
    standard AWS chain: environment, profiles, AWS_ENDPOINT_URL_S3) and the STORAGE_S3_* settings.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: S3Client,
        options: S3Options | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = check_key(prefix) if prefix else ""
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.client = client
        self.options = options or S3Options()
        self.endpoint = str(client.meta.endpoint_url)
        self._state = (
            state_dir
            or (Path(self.options.state_dir).expanduser() if self.options.state_dir else None)
            or default_state_dir(bucket, self.prefix, self.endpoint)
        )
        self._spool = self._state / "spool"
        self._pending = self._state / "pending"
        self._kept = self._state / "kept"
        self._tmp = self._state / "tmp"
        for folder in (self._spool, self._pending, self._tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self._transfer = TransferConfig(
            multipart_threshold=self.options.multipart_threshold,
            multipart_chunksize=self.options.multipart_chunksize,
            max_concurrency=10,
            preferred_transfer_client="classic",
        )
        self._cond = threading.Condition()
        self._ready: deque[str] = deque()
        self._waiting: list[tuple[float, str]] = []
        self._owned: set[str] = set()
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
        self._pending_bytes = 0
        self.uploaded = 0
        self.uploaded_bytes = 0
        self.failures: Counter[str] = Counter()
        self.aborted_multipart = 0
        self._threads: list[threading.Thread] = []

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> Self:
        """Open the store: check access, abort stale multipart uploads, start uploading."""
        parts = urlsplit(uri)
        bucket, prefix = parts.netloc, parts.path.strip("/")
        if parts.scheme != "s3" or not bucket or parts.query or parts.fragment:
            raise StoreError(f"bad S3 store URI {uri!r}: use s3://bucket/prefix")
        try:
            prefix = check_key(prefix) if prefix else ""
        except ValueError as exc:
            raise StoreError(f"bad S3 store URI {uri!r}: {exc}") from exc
        unknown = sorted(
            name
            for name in options
            if name not in AWS_OPTIONS and not name.startswith("STORAGE_S3_")
        )
        if unknown:
            raise StoreError(f"unknown S3 store options: {', '.join(unknown)}")
        s3 = S3Options.from_options(options)
        client = make_client(options, s3, s3.upload_threads)
        store = cls(bucket, prefix, client, s3)
        store.start()
        return store

    # --- start-up -----------------------------------------------------------------------------

    def start(self) -> None:
        """Probe the bucket, abort stale multipart uploads, queue what the spool holds."""
        if self._probe():
            self._abort_stale_multipart()
        self._scan_spool()
        for n in range(self.options.upload_threads):
            thread = threading.Thread(target=self._work, name=f"s3-upload-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _where(self) -> str:
        return f"{self.uri} at {self.endpoint}"

    def _probe(self) -> bool:
        """True when the bucket answers; StoreError when it never will as configured."""
        try:
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._s3key(""), MaxKeys=1)
        except NoCredentialsError as exc:
            raise StoreError(
                f"S3 store {self._where()}: no credentials found (environment, AWS profile or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY settings)"
            ) from exc
        except ClientError as exc:
            code = _error_code(exc)
            if code in _CREDENTIAL_CODES:
                raise StoreError(
                    f"S3 store {self._where()} refused the credentials ({code}): check "
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS profile"
                ) from None
            if code == "NoSuchBucket":
                raise StoreError(f"S3 store {self._where()}: bucket does not exist") from None
            if not _is_unreachable(exc):
                raise StoreError(f"S3 store {self._where()}: {code or exc}") from None
            self._mark_down(exc)
            return False
        except BotoCoreError as exc:
            self._mark_down(exc)
            return False
        return True

    def _abort_stale_multipart(self) -> None:
        """A killed run or server leaves multipart uploads that cost storage until aborted."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.options.abort_multipart_after)
        try:
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._s3key("")):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] > cutoff:
                        continue
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    self.aborted_multipart += 1
                    logger.warning(
                        "Aborted stale multipart upload of %s (started %s)",
                        upload["Key"],
                        upload["Initiated"].isoformat(),
                    )
        except (ClientError, BotoCoreError) as exc:
            logger.warning("Cannot list or abort stale multipart uploads in %s: %s", self.uri, exc)

    def _scan_spool(self) -> None:
        """Queue every object an earlier run left; adopt data files whose marker is missing."""
        keys = []
        for marker in self._pending.rglob("*.json"):
            if marker.name.startswith("."):
                continue
            keys.append(marker.relative_to(self._pending).as_posix().removesuffix(".json"))
        marked = set(keys)
        now = time.time()
        for path in self._spool.rglob("*"):
            name = path.name
            if not path.is_file() or name.startswith(".") or name.endswith(".open"):
                continue
            key = path.relative_to(self._spool).as_posix()
            if key in marked or now - path.stat().st_mtime < _ORPHAN_AGE:
                continue
            content_type = next(
                (t for suffix, t in _GUESSED_TYPES.items() if name.endswith(suffix)), None
            ) or (mimetypes.guess_type(name)[0] or "application/octet-stream")
            self._write_marker(key, content_type, {"recovered": "true"})
            keys.append(key)
        for key in sorted(keys):
            with contextlib.suppress(FileNotFoundError):
                self._pending_bytes += self._spool_path(key).stat().st_size
            self._enqueue(key)
        if keys:
            logger.info(
                "%d objects spooled by an earlier run in %s; uploading them to %s",
                len(keys),
                self._spool,
                self._where(),
            )

    # --- paths --------------------------------------------------------------------------------

    def _s3key(self, key: str) -> str:
        if not key:
            return f"{self.prefix}/" if self.prefix else ""
        return f"{self.prefix}/{key}" if self.prefix else key

    def _spool_path(self, key: str) -> Path:
        return self._spool.joinpath(*check_key(key).split("/"))

    def _marker_path(self, key: str) -> Path:
        path = self._pending.joinpath(*check_key(key).split("/"))
        return path.with_name(path.name + ".json")

    def _write_marker(
        self,
        key: str,
        content_type: str,
        metadata: Mapping[str, str] | None,
        hashes: _Hashes | None = None,
        size: int | None = None,
    ) -> None:
        record: dict[str, Any] = {
            "key": key,
            "content_type": content_type,
            "metadata": dict(metadata or {}),
        }
        if hashes is not None:
            record.update(md5=hashes.md5, sha256=hashes.sha256, size=size)
        write_atomic(self._marker_path(key), json.dumps(record).encode("utf-8"))

    def _check_room(self, adding: int) -> None:
        limit = self.options.spool_max_bytes
        if self._pending_bytes + adding > limit or self._pending_bytes >= limit:
            raise SpoolFullError(
                28,
                f"S3 spool {self._spool} is full: {self._pending_bytes} bytes wait for "
                f"{self._where()} (STORAGE_S3_SPOOL_MAX_BYTES={self.options.spool_max_bytes}); "
                "run `newsarchive upload` once the store is reachable",
            )
        free = shutil.disk_usage(self._spool).free
        if free - adding < self.options.spool_min_free_bytes:
            raise SpoolFullError(
                28,
                f"disk of the S3 spool {self._spool} is nearly full: {free} bytes free "
                f"(STORAGE_S3_SPOOL_MIN_FREE_BYTES={self.options.spool_min_free_bytes}), "
                f"{self._pending_bytes} bytes wait for {self._where()}",
            )

    # --- Store interface ----------------------------------------------------------------------

    def put_bytes(
        self,
        key: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        path = self._spool_path(key)
        self._check_room(len(data))
        write_atomic(path, data)
        hashes = _Hashes(
            hashlib.md5(data).hexdigest(),  # noqa: S324 - S3's Content-MD5, not security
            hashlib.sha256(data).hexdigest(),
        )
        if len(data) >= self.options.multipart_threshold:
            hashes = _hash_file(path, self._part_size(len(data)))
        self._write_marker(key, content_type, metadata, hashes, len(data))
        with self._cond:
            self._pending_bytes += len(data)
        self._enqueue(key)

    def staging_path(self, key: str) -> Path:
        self._check_room(0)
        path = self._spool_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def commit_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        target = self._spool_path(key)
        if path.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                path.replace(target)
            except OSError:
                # Another file system: copy, then drop the original.
                shutil.copyfile(path, target)
                path.unlink()
        size = target.stat().st_size
        self._write_marker(key, content_type, metadata)
        with self._cond:
            self._pending_bytes += size
        self._enqueue(key)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._spool_path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            pass
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._s3key(key))
            return response["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:
                raise KeyError(key) from None
            raise StoreError(f"cannot read {key} from {self._where()}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"cannot read {key} from {self._where()}: {exc}") from exc

    def open_read(self, key: str) -> BinaryIO:
        """A spooled object's local file, or the object downloaded to a temporary file."""
        try:
            return self._spool_path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            pass
        fh = tempfile.TemporaryFile(dir=self._tmp)  # noqa: SIM115 - returned to the caller
        try:
            self.client.download_fileobj(self.bucket, self._s3key(key), fh, Config=self._transfer)
        except ClientError as exc:
            fh.close()
            if _error_code(exc) in _NOT_FOUND_CODES:
                raise KeyError(key) from None
            raise StoreError(f"cannot read {key} from {self._where()}: {exc}") from exc
        except BotoCoreError as exc:
            fh.close()
            raise StoreError(f"cannot read {key} from {self._where()}: {exc}") from exc
        fh.seek(0)
        return cast("BinaryIO", fh)

    def exists(self, key: str) -> bool:
        if self._spool_path(key).is_file():
            return True
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._s3key(key))
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and _error_code(exc) in _NOT_FOUND_CODES:
                return False
            if self.options.degraded_reads and _is_unreachable(exc):
                self._mark_down(exc)
                return False
            raise StoreError(f"cannot check {key} in {self._where()}: {exc}") from exc
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
        spooled: dict[str, ObjectInfo] = {}
        base = self._spool_path(prefix) if prefix else self._spool
        if base.is_dir():
            for path in base.rglob("*"):
                name = path.name
                if not path.is_file() or name.startswith(".") or name.endswith(".open"):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # uploaded since found: the bucket listing below has it
                key = path.relative_to(self._spool).as_posix()
                spooled[key] = ObjectInfo(key, stat.st_size, f"spool-{stat.st_mtime_ns}")
        s3prefix = self._s3key(check_key(prefix)) + "/" if prefix else self._s3key("")
        strip = len(self._s3key(""))
        found: dict[str, ObjectInfo] = {}
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=s3prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"][strip:]
                    found[key] = ObjectInfo(key, obj["Size"], obj["ETag"].strip('"'))
        except (ClientError, BotoCoreError) as exc:
            if not (self.options.degraded_reads and _is_unreachable(exc)):
                raise StoreError(f"cannot list {prefix or '/'} in {self._where()}: {exc}") from exc
            # A crawl goes on through an outage (revisit lookups, end-of-run indexing) with what
            # it has; a reader (verify, replay) gets the error instead of a partial answer.
            self._mark_down(exc)
            logger.warning(
                "Listing %s from the local spool only: S3 store %s is unavailable",
                prefix or "/",
                self._where(),
            )
        # A spooled copy is newer than any uploaded one under the same key.
        found.update(spooled)
        return found

    def delete(self, key: str) -> None:
        """Drop a spooled copy and its queued upload first, then the object in the bucket.

        Kept copies (STORAGE_S3_KEEP_UPLOADED) are the user's local backup and stay.
        """
        self._unspool(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._s3key(key))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot delete {key} from {self._where()}: {exc}") from exc

    def _unspool(self, key: str) -> None:
        path, marker = self._spool_path(key), self._marker_path(key)
        with self._cond:
            owned = key in self._owned  # counted in our pending bytes
            with contextlib.suppress(ValueError):
                self._ready.remove(key)
            if any(k == key for _, k in self._waiting):
                self._waiting = [(t, k) for t, k in self._waiting if k != key]
                heapq.heapify(self._waiting)
            self._owned.discard(key)
        try:
            lock = marker.open("rb")
        except FileNotFoundError:
            path.unlink(missing_ok=True)  # uploaded already, or data without its marker
            return
        with lock:
            # Waits for an upload of this key in flight (here or in another run) to finish;
            # once we hold the lock, an upload thread finds no marker and skips the key.
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            path.unlink(missing_ok=True)
            pending = marker.exists()
            marker.unlink(missing_ok=True)
        if pending and owned:
            with self._cond:
                self._pending_bytes -= size

    @property
    def state_dir(self) -> Path:
        return self._state

    def upload_report(self) -> UploadReport:
        with self._cond:
            pending = [k for k in self._owned if self._marker_path(k).exists()]
            return UploadReport(
                uploaded=self.uploaded,
                uploaded_bytes=self.uploaded_bytes,
                failures=dict(self.failures),
                pending=len(pending),
                pending_bytes=max(self._pending_bytes, 0),
                unreachable=bool(self._down_reason),
                multipart_aborted=self.aborted_multipart,
            )

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

    def close(self) -> None:
        """Upload what is queued (up to STORAGE_S3_CLOSE_TIMEOUT), then report what is left."""
        with self._cond:
            if self._closed:
                return
            self._closed = self._closing = True
            self._deadline = time.monotonic() + self.options.close_timeout
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()
        report = self.upload_report()
        if report.uploaded:
            logger.info(
                "Uploaded %d objects (%d bytes) to %s",
                report.uploaded,
                report.uploaded_bytes,
                self._where(),
            )
        if report.pending:
            logger.error(
                "%d objects spooled, not uploaded, in %s (store %s: %s); "
                "run `newsarchive upload --store %s`",
                report.pending,
                self._spool,
                self._where(),
                self._down_reason or "upload failed",
                self.uri,
            )

    # --- uploads ------------------------------------------------------------------------------

    def _enqueue(self, key: str) -> None:
        with self._cond:
            self._owned.add(key)
            if key not in self._ready and all(k != key for _, k in self._waiting):
                self._ready.append(key)
            self._cond.notify()

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
            except _Unreachable as exc:
                self._failed(key, exc.__cause__ or exc, store_down=True)
            except (ClientError, BotoCoreError, S3UploadFailedError, _VerifyError, OSError) as exc:
                self._failed(key, exc, store_down=_is_unreachable(exc))
            else:
                with self._cond:
                    self._attempts.pop(key, None)
                    if self._down_reason:
                        logger.info("S3 store %s is reachable again", self._where())
                    self._down_reason = ""
                    self._backoff = 0.0
                    self._paused_until = 0.0
            finally:
                with self._cond:
                    self._inflight -= 1
                    self._cond.notify_all()

    def _mark_down(self, exc: BaseException) -> None:
        with self._cond:
            if not self._down_reason:
                logger.warning(
                    "S3 store %s is unavailable (%s); keeping objects in the local spool %s "
                    "and retrying",
                    self._where(),
                    type(exc).__name__,
                    self._spool,
                )
            self._down_reason = type(exc).__name__
            self._backoff = min(max(self._backoff * 2, 1.0), _MAX_BACKOFF)
            self._paused_until = time.monotonic() + self._backoff
            self._cond.notify_all()

    def _failed(self, key: str, exc: BaseException, *, store_down: bool) -> None:
        name = (
            _error_code(exc) or type(exc).__name__
            if isinstance(exc, ClientError)
            else type(exc).__name__
        )
        with self._cond:
            self.failures[name] += 1
        if store_down:
            self._mark_down(exc)
            with self._cond:
                if self._closing:
                    self._gave_up = True
                else:
                    self._ready.appendleft(key)
                self._cond.notify_all()
            return
        logger.warning("Upload of %s to %s failed: %s", key, self._where(), exc)
        with self._cond:
            self._attempts[key] += 1
            if not self._closing:
                delay = min(2.0 ** self._attempts[key], _MAX_BACKOFF)
                heapq.heappush(self._waiting, (time.monotonic() + delay, key))
            self._cond.notify_all()

    def _part_size(self, size: int) -> int:
        return int(ChunksizeAdjuster().adjust_chunksize(self.options.multipart_chunksize, size))

    def _upload(self, key: str) -> None:
        marker = self._marker_path(key)
        try:
            lock = marker.open("rb")
        except FileNotFoundError:
            return  # uploaded by another run sharing the spool
        with lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another run sharing the spool is uploading it
            if not marker.exists():
                return
            record = json.loads(lock.read())
            path = self._spool_path(key)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                marker.unlink(missing_ok=True)
                return
            multipart = size >= self.options.multipart_threshold
            if record.get("size") == size and record.get("md5") and record.get("sha256"):
                hashes = _Hashes(record["md5"], record["sha256"])
            else:
                hashes = _hash_file(path, self._part_size(size) if multipart else None)
            self._send(key, path, size, multipart, hashes, record)
            self._verify(key, size, hashes)
            if self.options.keep_uploaded:
                kept = self._kept.joinpath(*key.split("/"))
                kept.parent.mkdir(parents=True, exist_ok=True)
                path.replace(kept)
            else:
                path.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
        with self._cond:
            self._pending_bytes -= size
            self.uploaded += 1
            self.uploaded_bytes += size
        logger.debug("Uploaded %s (%d bytes) to %s", key, size, self._where())

    def _extra_args(self, record: Mapping[str, Any], hashes: _Hashes) -> dict[str, Any]:
        metadata = _s3_metadata({**record.get("metadata", {}), "sha256": hashes.sha256})
        extra: dict[str, Any] = {
            "ContentType": record.get("content_type") or "application/octet-stream",
            "Metadata": metadata,
        }
        if self.options.storage_class:
            extra["StorageClass"] = self.options.storage_class
        if self.options.sse:
            extra["ServerSideEncryption"] = self.options.sse
        if self.options.sse_kms_key_id:
            extra["SSEKMSKeyId"] = self.options.sse_kms_key_id
        return extra

    def _send(
        self,
        key: str,
        path: Path,
        size: int,
        multipart: bool,
        hashes: _Hashes,
        record: Mapping[str, Any],
    ) -> None:
        extra = self._extra_args(record, hashes)
        s3key = self._s3key(key)
        if multipart:
            self.client.upload_file(
                str(path), self.bucket, s3key, ExtraArgs=extra, Config=self._transfer
            )
            return
        content_md5 = base64.b64encode(bytes.fromhex(hashes.md5)).decode("ascii")
        with path.open("rb") as body:
            self.client.put_object(
                Bucket=self.bucket,
                Key=s3key,
                Body=body,
                ContentLength=size,
                ContentMD5=content_md5,
                **extra,
            )

    def _verify(self, key: str, size: int, hashes: _Hashes) -> None:
        """Do not trust the server to have checked: compare size and ETag (or SHA-256)."""
        head = self.client.head_object(
            Bucket=self.bucket, Key=self._s3key(key), ChecksumMode="ENABLED"
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
