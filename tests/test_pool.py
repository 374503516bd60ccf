"""The extraction pool (extraction.pool) with real worker processes: answers and errors, the
CPU-time limit, dead and hung workers replaced with their task retried once, the bounded queue,
one pool shared per configuration."""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from newsarchive.extraction.pool import ExtractionPool, Failure, PoolConfig, SharedPools
from tests import pooltasks
from tests.conftest import REPO
from tests.processes import process_alive, wait_gone

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def pool() -> Iterator[ExtractionPool]:
    """One worker, a 1 s CPU limit; hung after 10 s without CPU, so a loaded machine does
    not pass for a hang."""
    pool = ExtractionPool(1, timeout=1.0, hang_after=10.0)
    yield pool
    pool.close()


@deferred_f_from_coro_f
async def test_answers_and_the_tasks_own_errors(pool: ExtractionPool) -> None:
    first = await pool.run(pooltasks.worker_pid)
    assert first.value in pool.worker_pids()
    assert first.value != os.getpid()
    failed = await pool.run(pooltasks.fail)
    assert isinstance(failed.error, ValueError)
    assert "In the extraction worker" in "".join(failed.error.__notes__)
    assert failed.failure is None
    assert failed.workers_lost == 0
    # A task's error is an answer: the same worker goes on.
    assert (await pool.run(pooltasks.worker_pid)).value == first.value


@deferred_f_from_coro_f
async def test_time_limit_replaces_the_worker_without_retrying(pool: ExtractionPool) -> None:
    before = (await pool.run(pooltasks.worker_pid)).value
    assert before is not None
    outcome = await pool.run(pooltasks.spin)
    assert outcome.failure is Failure.TIME_LIMIT
    assert outcome.workers_lost == 0
    assert not process_alive(before)
    after = await pool.run(pooltasks.worker_pid)
    assert after.value not in (None, before)
    assert after.workers_lost == 0


@deferred_f_from_coro_f
async def test_a_dead_worker_is_replaced_and_its_task_retried_once(
    pool: ExtractionPool, tmp_path: Path
) -> None:
    recovered = await pool.run(pooltasks.die_once, str(tmp_path / "died"))
    assert recovered.value in pool.worker_pids()
    assert recovered.workers_lost == 1
    lost = await pool.run(pooltasks.die)
    assert lost.failure is Failure.WORKER_LOST
    assert lost.workers_lost == 2
    assert (await pool.run(pooltasks.worker_pid)).workers_lost == 0


@deferred_f_from_coro_f
async def test_a_hung_worker_is_replaced_and_its_task_retried_once() -> None:
    pool = ExtractionPool(1, timeout=30.0, hang_after=1.0)
    try:
        outcome = await pool.run(pooltasks.sleep)
        assert outcome.failure is Failure.WORKER_LOST
        assert outcome.workers_lost == 2
    finally:
        pool.close()


async def _queued_behind_a_gate(
    pool: ExtractionPool, tmp_path: Path, *calls: tuple[Callable[..., Any], tuple[Any, ...]]
) -> list[asyncio.Future[Any]]:
    """`calls` queued while the worker runs a gate task, then the gate opened: the pool's
    thread takes them together, so the second is sent while the first runs."""
    gate = asyncio.ensure_future(
        pool.run(pooltasks.wait_for, str(tmp_path / "gate"), str(tmp_path / "open"))
    )
    while not (tmp_path / "gate").exists():
        await asyncio.sleep(0.02)
    futures = [asyncio.ensure_future(pool.run(fn, *args)) for fn, args in calls]
    while pool.in_flight < 1 + len(calls):
        await asyncio.sleep(0.02)
    (tmp_path / "open").touch()
    assert (await gate).value in pool.worker_pids()
    return futures


@deferred_f_from_coro_f
async def test_a_task_sent_behind_one_that_loses_its_worker_is_answered_uncounted(
    tmp_path: Path,
) -> None:
    pool = ExtractionPool(1, timeout=30.0, hang_after=300.0, max_pending=3)
    try:
        marks = (str(tmp_path / "a"), str(tmp_path / "go"), str(tmp_path / "m"))
        dying, behind = await _queued_behind_a_gate(
            pool, tmp_path, (pooltasks.die_once_when, marks), (pooltasks.worker_pid, ())
        )
        while not (tmp_path / "a").exists():
            await asyncio.sleep(0.02)
        first_pid = pool.worker_pids()
        (tmp_path / "go").touch()
        retried, answered = await dying, await behind
        assert retried.value in pool.worker_pids()
        assert retried.workers_lost == 1
        # Sent, never started: it goes to the new worker as it is, no loss of its own.
        assert answered.value == retried.value
        assert answered.value not in first_pid
        assert answered.workers_lost == 0
        assert answered.failure is None
    finally:
        pool.close()


@deferred_f_from_coro_f
async def test_a_task_sent_behind_one_over_its_time_limit_is_answered(tmp_path: Path) -> None:
    pool = ExtractionPool(1, timeout=1.0, hang_after=10.0, max_pending=3)
    try:
        spinning, behind = await _queued_behind_a_gate(
            pool, tmp_path, (pooltasks.spin, ()), (pooltasks.worker_pid, ())
        )
        first_pid = pool.worker_pids()
        stopped, answered = await spinning, await behind
        assert stopped.failure is Failure.TIME_LIMIT
        assert answered.value in pool.worker_pids()
        assert answered.value not in first_pid
        assert answered.workers_lost == 0
    finally:
        pool.close()


@deferred_f_from_coro_f
async def test_a_page_larger_than_the_socket_sent_behind_a_spinning_task_blocks_no_limit(
    tmp_path: Path,
) -> None:
    # Larger than any send buffer this kernel grants a socket (net.core.wmem_max, doubled):
    # written whole behind the spinning task, it would block the thread that must stop that task.
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 30)
        largest = ours.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    page = os.urandom(largest + 1_000_000)
    pool = ExtractionPool(1, timeout=1.0, hang_after=10.0, max_pending=3)
    try:
        spinning, behind = await _queued_behind_a_gate(
            pool, tmp_path, (pooltasks.spin, ()), (pooltasks.size_and_pid, (page,))
        )
        first_pid = pool.worker_pids()
        try:
            stopped = await asyncio.wait_for(spinning, 30)
            answered = await asyncio.wait_for(behind, 30)
        except TimeoutError:
            for pid in first_pid:  # unblocks the pool thread, so that closing the pool ends
                os.kill(pid, signal.SIGKILL)
            raise
        assert stopped.failure is Failure.TIME_LIMIT
        assert answered.value is not None
        size, pid = answered.value
        assert size == len(page)
        assert pid in pool.worker_pids()
        assert pid not in first_pid
    finally:
        pool.close()


@deferred_f_from_coro_f
async def test_a_worker_killed_while_idle_is_replaced(pool: ExtractionPool) -> None:
    before = (await pool.run(pooltasks.worker_pid)).value
    assert before is not None
    os.kill(before, signal.SIGKILL)
    assert wait_gone([before], timeout=10) == []
    after = await pool.run(pooltasks.worker_pid)
    assert after.value not in (None, before)
    assert after.workers_lost == 1  # counted against the task that found it dead


@deferred_f_from_coro_f
async def test_in_flight_work_is_bounded(tmp_path: Path) -> None:
    pool = ExtractionPool(1, timeout=30.0, hang_after=300.0, max_pending=2)
    release = tmp_path / "release"
    try:
        tasks = [
            asyncio.ensure_future(
                pool.run(pooltasks.wait_for, str(tmp_path / f"{n}"), str(release))
            )
            for n in range(5)
        ]
        while not (tmp_path / "0").exists():
            await asyncio.sleep(0.05)
        # Two tasks in the pool (one running, one queued); three callers wait for room.
        assert pool.in_flight == 2
        assert sum(not task.done() for task in tasks) == 5
        assert sorted(p.name for p in tmp_path.iterdir()) == ["0"]
        release.touch()
        outcomes = await asyncio.gather(*tasks)
        assert {o.value for o in outcomes} == set(pool.worker_pids())
        assert pool.in_flight == 0
    finally:
        pool.close()


@deferred_f_from_coro_f
async def test_close_stops_the_workers() -> None:
    pool = ExtractionPool(2, timeout=5.0)
    outcomes = await asyncio.gather(*(pool.run(pooltasks.worker_pid) for _ in range(4)))
    pids = pool.worker_pids()
    assert {o.value for o in outcomes} <= set(pids)
    pool.close()
    assert wait_gone(pids, timeout=10) == []
    assert pool.worker_pids() == []
    with pytest.raises(RuntimeError, match="closed"):
        await pool.run(pooltasks.worker_pid)


@deferred_f_from_coro_f
async def test_workers_run_at_the_lower_priority_asked_for() -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    niced = ExtractionPool(1, timeout=5.0, nice=5)
    plain = ExtractionPool(1, timeout=5.0)
    try:
        for pool, expected in ((niced, min(ours + 5, 19)), (plain, ours)):
            pid = (await pool.run(pooltasks.worker_pid)).value
            assert os.getpriority(os.PRIO_PROCESS, pid) == expected
        # this process keeps its own priority
        assert os.getpriority(os.PRIO_PROCESS, 0) == ours
    finally:
        niced.close()
        plain.close()


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not Path("/proc/self/status").exists(),
    reason="glibc's malloc tuning, measured through /proc",
)
@deferred_f_from_coro_f
async def test_workers_keep_freed_memory_for_the_next_page() -> None:
    # A fresh interpreter gives freed heap back at once (glibc's default) ...
    script = "from tests import pooltasks; print(pooltasks.freed_heap_kept_mb())"
    fresh = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert float(fresh.stdout) < 8
    # ... a worker keeps it, so its next page does not fault it all in again.
    pool = ExtractionPool(1, timeout=5.0)
    try:
        kept = (await pool.run(pooltasks.freed_heap_kept_mb)).value
    finally:
        pool.close()
    assert kept is not None
    assert kept > 24


@deferred_f_from_coro_f
async def test_a_thread_pool_runs_in_this_process() -> None:
    pool = ExtractionPool(0)
    try:
        assert (await pool.run(pooltasks.worker_pid)).value == os.getpid()
        assert isinstance((await pool.run(pooltasks.fail)).error, ValueError)
        assert pool.worker_pids() == []
    finally:
        pool.close()


def test_crawls_of_one_process_share_a_pool() -> None:
    pools = SharedPools()
    config = PoolConfig(workers=0, timeout=5.0)
    first = pools.acquire(config)
    assert pools.acquire(config) is first
    other = pools.acquire(PoolConfig(workers=0, timeout=1.0))
    assert other is not first
    pools.release(other)
    pools.release(first)
    assert pools.acquire(config) is first  # one user left: still open
    pools.release(first)
    pools.release(first)
    again = pools.acquire(config)
    assert again is not first  # the last release closed it
    pools.release(again)
