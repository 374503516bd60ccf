"""Worker processes that die with their parent: the extraction pool's worker (`main`, run as
`python -m newsarchive.extraction.workers FD PARENT_PID`) and the re-extraction pool's
initializer.

A crawl killed with SIGKILL runs no clean-up, and a spawned worker would otherwise live on,
holding the crawl's stdout and stderr open, which cron and systemd wait on. No Scrapy import:
it runs in every freshly started worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any, Final

#: From <linux/prctl.h>.
_PR_SET_PDEATHSIG: Final = 1
#: From glibc's <malloc.h>.
_M_TRIM_THRESHOLD: Final = -1
#: Freed memory a worker keeps for its next page instead of giving it back to the system.
#: A page's trees are a few MB, freed when it is done: given back at once (glibc's default),
#: the next page faults it all in again, zeroed by the kernel: 135 page faults and about 4 % of
#: the extraction's CPU per bench/crawl.py page. What a worker keeps stays within its peak.
KEEP_FREED_BYTES: Final = 64 * 1024 * 1024
#: What a pool worker sends when its imports are done (extraction.pool waits for it).
READY: Final = b"ready"
#: How often the fallback watchdog looks at the parent pid (seconds).
WATCHDOG_INTERVAL: Final = 0.5


def _set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send `signum` when the parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def keep_freed_memory(size: int) -> bool:
    """Ask glibc's malloc to keep up to `size` freed bytes at the top of the heap; False
    where malloc is not glibc's."""
    try:
        libc = ctypes.CDLL(None)
        return int(libc.mallopt(_M_TRIM_THRESHOLD, size)) == 1
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval: float) -> None:
    while True:
        # Orphans are re-parented (to init or a subreaper), so any other ppid means it is gone.
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(interval)


def die_with_parent(parent_pid: int, *, use_prctl: bool = True) -> None:
    """Pool initializer: exit when the process `parent_pid` (the crawl) dies, however it dies.

    Linux delivers SIGTERM at once through PR_SET_PDEATHSIG. That signal follows the parent
    *thread* that spawned the worker (the crawl's reactor thread, which lives as long as the
    crawl), and does not exist elsewhere; a watchdog thread polling the parent pid backs it up.
    """
    if use_prctl:
        _set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the death signal was armed
    with contextlib.suppress(RuntimeError):  # interpreter shutting down: nothing to guard
        threading.Thread(
            target=_watch_parent,
            args=(parent_pid, WATCHDOG_INTERVAL),
            name="parent-watchdog",
            daemon=True,
        ).start()


def _answer(fn: Any, args: tuple[Any, ...]) -> bytes:
    """The pickled (ok, value, CPU seconds) answer to one task; any error of the task is its
    answer. The process's CPU time as it answers is where the next task's count starts."""
    try:
        answer: tuple[bool, Any] = (True, fn(*args))
    except Exception as exc:  # the caller decides what a failed task means
        # The traceback does not pickle; a note keeps it for the parent's log.
        exc.add_note("In the extraction worker:\n" + "".join(traceback.format_exc()))
        answer = (False, exc)
    try:
        return pickle.dumps((*answer, time.process_time()))
    except Exception as exc:  # an answer that does not pickle: say what it was instead
        failed = RuntimeError(f"unpicklable answer: {exc!r}")
        return pickle.dumps((False, failed, time.process_time()))


def serve(conn: Connection) -> None:
    """Answer tasks until an empty message or the end of the connection."""
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        if not data:
            return
        try:
            fn, args = pickle.loads(data)  # noqa: S301 - bytes from the parent that started us
        except Exception as exc:  # a task that does not unpickle here is that task's error
            failed = RuntimeError(f"unreadable task: {exc!r}")
            conn.send_bytes(pickle.dumps((False, failed, time.process_time())))
            continue
        conn.send_bytes(_answer(fn, args))


def main(argv: list[str] | None = None) -> None:
    """An extraction pool worker (extraction.pool): FD of its socket, the parent's pid."""
    fd, parent = (int(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    die_with_parent(parent)
    # Ctrl-C reaches the whole process group; the crawl decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    path, preload, nice = conn.recv()
    if nice:
        # Below the crawl that feeds us: it must never wait for a core we hold.
        os.nice(nice)
    keep_freed_memory(KEEP_FREED_BYTES)
    sys.path[:] = path
    for name in preload:
        importlib.import_module(name)
    conn.send_bytes(READY)
    serve(conn)


if __name__ == "__main__":
    main()
