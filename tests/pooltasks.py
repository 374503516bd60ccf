"""Tasks for the extraction pool tests (tests/test_pool.py), run in its worker processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def worker_pid() -> int:
    return os.getpid()


def fail() -> None:
    raise ValueError("a task's own error")


def size_and_pid(data: bytes) -> tuple[int, int]:
    return len(data), os.getpid()


def spin() -> None:
    """Uses CPU until killed."""
    while True:
        sum(range(10_000))


def sleep() -> None:
    """Uses no CPU until killed: a hung worker."""
    while True:
        time.sleep(1)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def die_once(marker: str) -> int:
    """Dies the first time (leaving `marker`), answers its pid the second."""
    path = Path(marker)
    if not path.exists():
        path.touch()
        die()
    return os.getpid()


def die_once_when(started: str, release: str, marker: str) -> int:
    """Leaves `started`, waits for `release`, then dies the first time (leaving `marker`);
    answers its pid the second."""
    wait_for(started, release)
    return die_once(marker)


def wait_for(started: str, release: str) -> int:
    """Leaves `started`, then waits until the file `release` exists; answers its pid."""
    Path(started).touch()
    while not Path(release).exists():
        time.sleep(0.02)
    return os.getpid()


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def freed_heap_kept_mb() -> float:
    """Allocates about 32 MB in blocks malloc serves from its heap (over pymalloc's 512 bytes,
    under the mmap threshold), frees them; answers how much of it the process still holds."""
    before = _rss_kb()
    blocks = [bytes(4000) for _ in range(8000)]
    del blocks
    return (_rss_kb() - before) / 1024
