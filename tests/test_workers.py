"""Extraction worker processes die with the process that spawned them, however it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.processes import children, wait_gone

#: A parent that spawns one worker the way the crawl does, prints its pid, then waits.
_PARENT = """
import functools, multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from newsarchive.extraction.workers import die_with_parent

pool = ProcessPoolExecutor(
    max_workers=1,
    mp_context=multiprocessing.get_context("spawn"),
    initializer=functools.partial(die_with_parent, use_prctl=sys.argv[1] == "prctl"),
    initargs=(os.getpid(),),
)
print(pool.submit(os.getpid).result(), flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process state from /proc")
@pytest.mark.parametrize("how", ["prctl", "watchdog"])
def test_worker_dies_with_a_killed_parent_and_releases_its_pipes(how: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, how],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert worker in children(parent.pid)
        os.kill(parent.pid, signal.SIGKILL)
        # The worker (and multiprocessing's resource tracker) held the pipes: they close too.
        started = time.monotonic()
        out, _err = parent.communicate(timeout=10)
        assert time.monotonic() - started < 5
        assert out == b""
        assert wait_gone([worker], timeout=5) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
