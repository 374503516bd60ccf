"""Worker processes that die with their parent: the initializer of the extraction pool.

A crawl killed with SIGKILL runs no clean-up, and a spawned worker would otherwise live on,
holding the crawl's stdout and stderr open, which cron and systemd wait on. No Scrapy import:
it runs in every freshly spawned worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from typing import Final

#: From <linux/prctl.h>.
_PR_SET_PDEATHSIG: Final = 1
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
