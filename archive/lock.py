"""One crawl per site at a time: a lock file in the store's state folder, held with flock.

The kernel drops an flock when its process dies, however it dies, so a lock can never outlive
its crawl; the file's text (pid, host, start time) only names the holder, and is left behind by
a killed run, which the next run reports as a stale lock it takes over.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from newsarchive.archive.layout import safe_segment
from newsarchive.archive.resource import Resource

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LockOwner:
    pid: int
    host: str
    started: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.started}"


class LockHeld(Exception):
    """Another live process holds the lock."""

    def __init__(self, name: str, owner: LockOwner | None) -> None:
        self.name = name
        self.owner = owner
        holder = owner.describe() if owner else "another process"
        super().__init__(f"{name} is locked by {holder}")


def _read_owner(fd: int) -> LockOwner | None:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        data = json.loads(raw.decode("utf-8"))
        return LockOwner(pid=int(data["pid"]), host=str(data["host"]), started=str(data["started"]))
    except (ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock(Resource):
    """An exclusive, non-blocking lock named `name` under `directory`; a context manager."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = safe_segment(name)
        self.path = directory / f"{self.name}.lock"
        self._fd: int | None = None
        self._shared = False
        #: Set when a dead run's lock was taken over.
        self.stale_owner: LockOwner | None = None

    def acquire(self, *, shared: bool = False) -> Self:
        """Take the lock or raise LockHeld at once; never waits. `shared`: held together with
        other shared holders (the workers of one scaled-out run), against exclusive ones."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_owner(fd)
            os.close(fd)
            raise LockHeld(self.name, owner) from None
        except BaseException:
            os.close(fd)
            raise
        if shared:
            # The holder text names one process; shared holders leave it to exclusive ones.
            self._fd, self._shared = fd, True
            return self
        previous = _read_owner(fd)
        if previous is not None:
            # The flock was free, so whoever wrote this is gone without cleaning up.
            self.stale_owner = previous
            state = "dead" if not _alive(previous.pid) else "unlocked"
            logger.warning(
                "Taking over stale lock %s of %s (process %s)",
                self.path,
                previous.describe(),
                state,
            )
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me).encode("utf-8") + b"\n")
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Emptied rather than deleted: deleting would let a waiting process lock an orphan inode.
        if not self._shared:
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _enter(self) -> Self:
        return self.acquire()

    def _exit(self) -> None:
        self.release()


def site_lock(state_dir: Path, site: str) -> RunLock:
    """The lock of one site's crawls in a store."""
    return RunLock(state_dir / "locks", site)
