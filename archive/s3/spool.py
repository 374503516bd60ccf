"""The durable local spool of an S3 store: objects waiting for upload, kept across crashes and
runs, bounded in size, each with a marker that an uploader locks while it sends the object."""

from __future__ import annotations

import contextlib
import fcntl
import json
import mimetypes
import os
import re
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final
from urllib.parse import urlsplit

from newsarchive.archive.files import move_file, write_atomic
from newsarchive.archive.layout import check_key
from newsarchive.archive.s3.checksums import Hashes
from newsarchive.archive.store import ObjectInfo

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

#: Environment variable naming the base folder of local S3 state (spool) for every store.
STATE_DIR_ENV: Final = "NEWSARCHIVE_STATE_DIR"
#: Orphan spool files younger than this may be a WARC between rename and commit in another run.
_ORPHAN_AGE: Final = 60.0
#: Content types for spool files found without their marker (a crash between the two writes).
_GUESSED_TYPES: Final = {".warc.gz": "application/warc", ".cdxj": "text/x-cdxj"}
_ENOSPC: Final = 28


class SpoolFullError(OSError):
    """The spool may not grow: over its size limit or the disk is nearly full."""


def default_state_dir(bucket: str, prefix: str, endpoint: str) -> Path:
    """`$NEWSARCHIVE_STATE_DIR` (else `$XDG_STATE_HOME/newsarchive`, else ~/.local/state/...)
    `/s3/HOST/BUCKET/PREFIX`: one spool per endpoint, bucket and prefix."""
    base_env = os.environ.get(STATE_DIR_ENV)
    if base_env:
        base = Path(base_env).expanduser()
    else:
        xdg = os.environ.get("XDG_STATE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".local" / "state") / "newsarchive"
    # Without any user-info: a password never becomes part of a path.
    netloc = urlsplit(endpoint).netloc.rpartition("@")[2]
    host = re.sub(r"[^A-Za-z0-9.-]", "_", netloc) or "aws"
    return base / "s3" / host / bucket / (prefix.replace("/", "+") or "_")


@dataclass(frozen=True, slots=True)
class SpooledFile:
    """One object an uploader has claimed: its data file and what its marker says."""

    key: str
    path: Path
    size: int
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: Recorded when the object was spooled whole; None: hash the file before sending.
    hashes: Hashes | None = None


class Spool:
    """Objects waiting for upload under one local folder (the store's state dir).

    `spool/KEY` holds the data, `pending/KEY.json` (the marker) its content type, metadata and
    hashes, for as long as it waits; `kept/KEY` the uploaded copies with keep_uploaded;
    `tmp/` downloads. Several runs may share a spool: whoever uploads or removes an object holds
    an flock on its marker. Each instance counts the bytes it has spooled (or recovered) and
    not yet seen uploaded, which `max_bytes` bounds.
    """

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int,
        min_free_bytes: int,
        keep_uploaded: bool,
        destination: str,
    ) -> None:
        self.root = root
        self.files = root / "spool"
        self.tmp = root / "tmp"
        self._pending = root / "pending"
        self._kept = root / "kept"
        for folder in (self.files, self._pending, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self.keep_uploaded = keep_uploaded
        #: Where objects go, as messages name it.
        self.destination = destination
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}
        self._bytes = 0

    # --- paths --------------------------------------------------------------------------------

    def path(self, key: str) -> Path:
        return self.files.joinpath(*check_key(key).split("/"))

    def _marker(self, key: str) -> Path:
        path = self._pending.joinpath(*check_key(key).split("/"))
        return path.with_name(path.name + ".json")

    # --- adding -------------------------------------------------------------------------------

    def check_room(self, adding: int) -> None:
        """SpoolFullError when `adding` more bytes would pass max_bytes or min_free_bytes."""
        waiting, limit = self._bytes, self.max_bytes
        if waiting + adding > limit or waiting >= limit:
            raise SpoolFullError(
                _ENOSPC,
                f"S3 spool {self.files} is full: {waiting} bytes wait for "
                f"{self.destination} (STORAGE_S3_SPOOL_MAX_BYTES={limit}); "
                "run `newsarchive upload` once the store is reachable",
            )
        free = shutil.disk_usage(self.files).free
        if free - adding < self.min_free_bytes:
            raise SpoolFullError(
                _ENOSPC,
                f"disk of the S3 spool {self.files} is nearly full: {free} bytes free "
                f"(STORAGE_S3_SPOOL_MIN_FREE_BYTES={self.min_free_bytes}), "
                f"{waiting} bytes wait for {self.destination}",
            )

    def write(self, key: str, data: bytes) -> Path:
        """Write an object's data, durably; it waits for upload once `mark`ed."""
        path = self.path(key)
        self.check_room(len(data))
        write_atomic(path, data)
        return path

    def staging_path(self, key: str) -> Path:
        """Where a large file (a WARC) is written before `adopt`."""
        self.check_room(0)
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def adopt(self, key: str, path: Path) -> None:
        """Move a finished file into the spool (it may already be at `staging_path(key)`)."""
        move_file(path, self.path(key))

    def mark(
        self,
        key: str,
        content_type: str,
        metadata: Mapping[str, str] | None,
        hashes: Hashes | None = None,
    ) -> None:
        """Record a spooled object as waiting for upload (after its data is in place)."""
        size = self.path(key).stat().st_size
        record: dict[str, Any] = {
            "key": key,
            "content_type": content_type,
            "metadata": dict(metadata or {}),
        }
        if hashes is not None:
            record.update(md5=hashes.md5, sha256=hashes.sha256, size=size)
        write_atomic(self._marker(key), json.dumps(record).encode("utf-8"))
        self._hold(key, size)

    def recover(self) -> list[str]:
        """Keys an earlier run left waiting, sorted; data files whose marker is missing (a crash
        between the two writes) are marked again, unless so young another run may be writing."""
        keys = []
        for marker in self._pending.rglob("*.json"):
            if marker.name.startswith("."):
                continue
            keys.append(marker.relative_to(self._pending).as_posix().removesuffix(".json"))
        marked = set(keys)
        now = time.time()
        for key, path in self._data_files(self.files):
            if key in marked or now - path.stat().st_mtime < _ORPHAN_AGE:
                continue
            name = path.name
            content_type = next(
                (t for suffix, t in _GUESSED_TYPES.items() if name.endswith(suffix)), None
            ) or (mimetypes.guess_type(name)[0] or "application/octet-stream")
            self.mark(key, content_type, {"recovered": "true"})
            keys.append(key)
        for key in marked:
            with contextlib.suppress(FileNotFoundError):
                self._hold(key, self.path(key).stat().st_size)
        return sorted(keys)

    # --- uploading and removing ---------------------------------------------------------------

    @contextmanager
    def claim(self, key: str) -> Iterator[SpooledFile | None]:
        """The object to upload, locked against other runs sharing the spool; None when there
        is nothing to do (sent or being sent by another run, removed). Call `uploaded` inside."""
        marker = self._marker(key)
        try:
            lock = marker.open("rb")
        except FileNotFoundError:
            yield None  # uploaded by another run sharing the spool
            return
        with lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None  # another run sharing the spool is uploading it
                return
            if not marker.exists():
                yield None
                return
            record = json.loads(lock.read())
            path = self.path(key)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                marker.unlink(missing_ok=True)
                yield None
                return
            hashes = None
            if record.get("size") == size and record.get("md5") and record.get("sha256"):
                hashes = Hashes(record["md5"], record["sha256"])
            yield SpooledFile(
                key,
                path,
                size,
                record.get("content_type") or "application/octet-stream",
                record.get("metadata", {}),
                hashes,
            )

    def uploaded(self, spooled: SpooledFile) -> None:
        """The claimed object is safely in the bucket: drop (or keep) the local copy."""
        if self.keep_uploaded:
            kept = self._kept.joinpath(*spooled.key.split("/"))
            kept.parent.mkdir(parents=True, exist_ok=True)
            spooled.path.replace(kept)
        else:
            spooled.path.unlink(missing_ok=True)
        self._marker(spooled.key).unlink(missing_ok=True)
        self._release(spooled.key)

    def remove(self, key: str) -> None:
        """Drop a spooled object so it is never uploaded; kept copies are the user's backup."""
        path, marker = self.path(key), self._marker(key)
        try:
            lock = marker.open("rb")
        except FileNotFoundError:
            path.unlink(missing_ok=True)  # uploaded already, or data without its marker
            self._release(key)
            return
        with lock:
            # Waits for an upload of this key in flight (here or in another run) to finish;
            # once we hold the lock, an uploader finds no marker and skips the key.
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            path.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
        self._release(key)

    def _hold(self, key: str, size: int) -> None:
        with self._lock:
            self._bytes += size - self._sizes.get(key, 0)
            self._sizes[key] = size

    def _release(self, key: str) -> None:
        with self._lock:
            self._bytes -= self._sizes.pop(key, 0)

    def waiting(self) -> tuple[int, int]:
        """Objects this instance spooled or recovered that still wait for upload, and bytes."""
        with self._lock:
            keys = list(self._sizes)
            waiting_bytes = self._bytes
        return sum(1 for key in keys if self._marker(key).exists()), waiting_bytes

    # --- reading ------------------------------------------------------------------------------

    def read_bytes(self, key: str) -> bytes | None:
        """The spooled copy (newer than any uploaded one), or None."""
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def open(self, key: str) -> BinaryIO | None:
        try:
            return self.path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            return None

    def holds(self, key: str) -> bool:
        return self.path(key).is_file()

    def listing(self, prefix: str) -> dict[str, ObjectInfo]:
        """Spooled objects under `prefix`, tagged so a change of the local copy shows."""
        found = {}
        base = self.path(prefix) if prefix else self.files
        for key, path in self._data_files(base):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # uploaded since found: the bucket has it
            found[key] = ObjectInfo(key, stat.st_size, f"spool-{stat.st_mtime_ns}")
        return found

    def _data_files(self, base: Path) -> Iterator[tuple[str, Path]]:
        if not base.is_dir():
            return
        for path in base.rglob("*"):
            name = path.name
            # Hidden temp files and still-open WARCs are not objects yet.
            if path.is_file() and not name.startswith(".") and not name.endswith(".open"):
                yield path.relative_to(self.files).as_posix(), path
