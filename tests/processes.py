"""Process helpers for tests that kill crawls: children of a pid, waiting for pids to die, and
waiting for what a crawl writes (the event to kill it at)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import REPO

if TYPE_CHECKING:
    from collections.abc import Callable


def start_cli(*args: str) -> subprocess.Popen[bytes]:
    """Start the real `newsarchive` command in a quiet child process, to kill it mid-run."""
    return subprocess.Popen(
        [sys.executable, "-m", "newsarchive.cli.main", *args],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def sigkill(proc: subprocess.Popen[bytes]) -> None:
    """Kill a child as a crash would (no clean-up), if it still runs, and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def wait_until(condition: Callable[[], object], what: str, timeout: float = 120) -> None:
    """Poll `condition` until it is true; fail naming `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def found_while_running(root: Path, pattern: str) -> list[Path]:
    """`root.rglob(pattern)` under a running crawl: its request queue's folders come and go (a
    folder listed, then removed before the walk enters it), so such a walk is just tried again."""
    for _ in range(100):
        try:
            return list(root.rglob(pattern))
        except FileNotFoundError:
            continue
    return list(root.rglob(pattern))


def process_alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """The pids still alive after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (alive := [p for p in pids if process_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive
