"""The extraction pool: worker processes with bounded in-flight work, a CPU-time limit per
task, and dead or hung workers replaced with their task retried once. No Scrapy import.

One pool serves every crawl of a process (`shared_pool`): `newsarchive crawl --all` runs its
sites in one process, and a pool per site would hold a set of ~70 MB workers per site.

Each worker is a plain child process (`python -m newsarchive.extraction.workers`) talking over
a socket pair, watched by one thread of this process. That thread keeps two tasks on its worker
(the one it runs and the next, already in its socket, written only as fast as the socket takes
it so that this thread never blocks on it), and waits for each answer in turn while reading
the worker's CPU time: past `timeout` CPU seconds the worker is killed and replaced, and the
task ends as `Failure.TIME_LIMIT` (a page that took too long once will take too long again, so
it is not retried). A worker that dies, or uses no CPU for `hang_after` seconds while on a task
(stopped, deadlocked), is replaced and the task retried once on the new worker; a second loss
ends it as `Failure.WORKER_LOST`. A thread cannot be killed, so
`workers=0` (extraction in a thread of this process, for tests) has no time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum, StrEnum
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from newsarchive.extraction.workers import READY

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Tasks queued or running per worker: one running, one in its socket, and one queued here,
#: so that a worker's thread finds the next task at once when it settles one. With two, the
#: queue was mostly empty then, and the next task waited for the answer after: 7 % of the
#: machine idle in a bench/crawl.py crawl against 5.7 % with three (four runs each). More
#: only holds more response bodies in memory.
PENDING_PER_WORKER: Final = 3
#: Tasks a worker holds at once: the one it runs and the next, already in its socket, which
#: it starts as soon as it answers. Sent only after the answer, the next task waited for this
#: process's thread to wake and get the GIL: 8-12 % of each worker's time (bench/crawl.py).
_PIPELINE: Final = 2
#: Bytes of tasks a worker's socket is asked to hold (what the kernel allows of it).
_SEND_BUFFER: Final = 4 * 1024 * 1024
#: Seconds a stopped worker gets to exit before it is killed.
STOP_GRACE: Final = 5.0
#: Seconds a new worker gets to import what it needs (trafilatura, lxml) and say it is ready.
START_TIMEOUT: Final = 120.0
#: Shortest wait between two looks at a busy worker's CPU time (seconds).
_MIN_WAIT: Final = 0.05
#: CPU seconds that show a busy worker is working: its parent-watchdog thread alone uses
#: well under a millisecond in `hang_after`, so a hung worker shows no such progress.
_PROGRESS: Final = 0.1
_WORKER_MODULE: Final = "newsarchive.extraction.workers"


class Failure(StrEnum):
    """Why a task gave no answer (stored as the reason a page was not extracted)."""

    TIME_LIMIT = "time limit"
    WORKER_LOST = "worker lost"


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """How one task ended: its `value`, the `error` it raised, or a pool `failure`."""

    value: T | None = None
    error: Exception | None = None
    failure: Failure | None = None
    #: Workers that died or hung while on this task (or were found dead when it was sent),
    #: each replaced.
    workers_lost: int = 0


@dataclass(slots=True)
class _Task:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Outcome[Any]]


@dataclass(slots=True)
class _Held:
    """A task a pool thread has taken for its worker."""

    task: _Task
    data: bytes
    #: Times its worker was lost while running it.
    attempts: int = 0
    #: Workers lost while it ran or was about to be sent (reported with its outcome).
    lost: int = 0

    def settle(self, outcome: Outcome[Any]) -> None:
        self.task.future.set_result(outcome)


class _Closing(Enum):
    """What a pool thread takes from the queue when the pool closes."""

    CLOSE = "close"


class _Lost(Exception):
    """The worker died or hung on a task."""


class _TimeLimit(Exception):
    """The worker used its CPU budget on a task."""


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc); None when it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of proc(5); 3 is the first after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Worker:
    """One worker process and its end of the socket pair (used by one pool thread only).

    Tasks go out through an outbox that only ever writes what the socket takes at once, and
    the rest while the pool thread waits for an answer. A task sent behind a running one
    therefore never blocks the thread that watches the running one's CPU time, however large
    the page and however long the running task spins.
    """

    def __init__(self, preload: Sequence[str], nice: int = 0) -> None:
        ours, theirs = socket.socketpair()
        try:
            with theirs:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", _WORKER_MODULE, str(theirs.fileno()), str(os.getpid())],
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                )
            # Room for a whole page behind the running one, so the worker starts it without
            # waiting for this thread (Linux caps the size at net.core.wmem_max, doubled).
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
        except BaseException:
            ours.close()
            raise
        self.sock = ours
        # Answers are read whole, blocking, through the same socket (a second descriptor).
        self.conn = Connection(os.dup(ours.fileno()))
        self.pid = self.process.pid
        self.ready = False
        #: The worker's CPU seconds when it started its current task (when it last answered).
        self.cpu_mark: float | None = None
        #: Why a task could not be sent: the worker is gone, which its next answer shows.
        self.broken: BaseException | None = None
        #: Tasks sent and not answered yet; the first of them is the one it runs.
        self.outstanding = 0
        #: Framed tasks not yet in the socket.
        self._outbox = bytearray()
        try:
            # The worker sets its import path as ours, so it finds what we can (tests included).
            self.conn.send((sys.path, tuple(preload), nice))
        except OSError:
            self.kill()
            raise

    def _wait_ready(self) -> None:
        """Wait for the worker's imports to end, so they count against no task's time."""
        try:
            if self.conn.poll(START_TIMEOUT) and self.conn.recv_bytes() == READY:
                self.ready = True
                self.cpu_mark = _cpu_seconds(self.pid)
                return
        except (EOFError, OSError):
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_GRACE)
        raise _Lost(f"did not start ({self.how_it_ended()})")

    def alive(self) -> bool:
        return self.process.poll() is None

    def how_it_ended(self) -> str:
        code = self.process.poll()
        if code is None:
            return "running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
            return f"killed by signal {-code}"
        return f"exited with status {code}"

    def send(self, task: bytes) -> None:
        """Queue a pickled (fn, args) for the worker; it runs after those sent before."""
        self.outstanding += 1
        if self.broken is not None:
            return
        try:
            if not self.ready:
                self._wait_ready()
        except _Lost as exc:
            self.broken = exc
            return
        # Header and task appended apart: the page is copied once, not into a framed copy first.
        self._outbox += _header(len(task))
        self._outbox += task
        self._flush()

    def _flush(self) -> None:
        """Write what the socket takes now of the outbox, without waiting."""
        try:
            sent = self.sock.send(self._outbox, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        except BlockingIOError:
            return
        except OSError as exc:  # EPIPE, ECONNRESET: it died; its answer will say how
            self.broken = exc
            self._outbox.clear()
            return
        del self._outbox[:sent]

    def answer(self, timeout: float, hang_after: float) -> tuple[bool, Any]:
        """The (ok, value) answer to the oldest task sent, or _TimeLimit or _Lost raised."""
        if self.broken is not None:
            raise _Lost(str(self.broken))
        cpu_start, started = self.cpu_mark, time.monotonic()
        cpu_seen, progress_at, wait = 0.0, started, min(timeout, hang_after)
        poller = select.poll()
        while True:
            poller.register(self.sock, select.POLLIN | (select.POLLOUT if self._outbox else 0))
            try:
                # One descriptor polled: at most one (fd, events) pair.
                events = next((mask for _fd, mask in poller.poll(wait * 1000)), 0)
                if events & ~select.POLLOUT:
                    # Readable, hung up or in error: an answer, or the end that tells a loss.
                    ok, value, self.cpu_mark = _answer(self.conn.recv_bytes())
                    self.outstanding -= 1
                    return ok, value
            except (EOFError, OSError) as exc:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(STOP_GRACE)  # reaped, so how_it_ended can tell
                raise _Lost(self.how_it_ended()) from exc
            if events:
                self._flush()
                if self.broken is not None:
                    raise _Lost(str(self.broken))
            now = time.monotonic()
            cpu_now = _cpu_seconds(self.pid)
            if cpu_start is None or cpu_now is None:
                # No CPU figure here: wall-clock time stands in for it, and no hang is told apart.
                used, progress_at = now - started, now
            else:
                used = cpu_now - cpu_start
            if used >= timeout:
                raise _TimeLimit
            if used >= cpu_seen + _PROGRESS:
                cpu_seen, progress_at = used, now
            elif now - progress_at >= hang_after:
                raise _Lost(f"hung, no CPU used for {now - progress_at:.0f} s")
            # CPU time grows no faster than wall time: the limit cannot come sooner.
            wait = max(_MIN_WAIT, min(timeout - used, progress_at + hang_after - now))

    def stop(self) -> None:
        """Ask the worker to exit; kill it when it does not (or when half a task is still in
        its socket, where the exit signal would be read as the task's rest)."""
        if self._outbox:
            self.kill()
            return
        with contextlib.suppress(OSError):
            self.conn.send_bytes(b"")
        try:
            self.process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        self._close()

    def _close(self) -> None:
        self.conn.close()
        self.sock.close()


def _header(size: int) -> bytes:
    """The length header `Connection.recv_bytes` reads before a message of `size` bytes
    (multiprocessing.connection's framing; `Connection.send_bytes` would block on a full
    socket)."""
    if size > 0x7FFFFFFF:
        return struct.pack("!iQ", -1, size)
    return struct.pack("!i", size)


class ExtractionPool:
    """Runs picklable functions in worker processes.

    `workers`: processes (0: one thread of this process, no time limit); `timeout`: CPU
    seconds per task; `hang_after`: seconds without CPU use that make a busy worker hung
    (default `timeout`); `max_pending`: tasks queued or running at once, past which `run`
    waits (default PENDING_PER_WORKER per worker); `preload`: modules each worker imports
    when it starts, before its CPU time counts against a task; `nice`: how much lower the
    workers' CPU priority is than this process's.
    """

    def __init__(
        self,
        workers: int,
        *,
        timeout: float = 10.0,
        hang_after: float | None = None,
        max_pending: int | None = None,
        preload: Sequence[str] = (),
        nice: int = 0,
    ) -> None:
        if workers < 0 or (workers and timeout <= 0):
            raise ValueError(f"need workers >= 0 and timeout > 0, not {workers}, {timeout}")
        self.workers = workers
        self.timeout = timeout
        self.hang_after = hang_after if hang_after is not None else timeout
        self.max_pending = max_pending or max(1, workers) * PENDING_PER_WORKER
        self.preload = tuple(preload)
        self.nice = nice
        self._slots = asyncio.Semaphore(self.max_pending)
        self._in_flight = 0
        self._lock = threading.Lock()
        self._live: dict[int, _Worker] = {}
        self._thread: ThreadPoolExecutor | None = None
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._handlers: list[threading.Thread] = []
        self._closed = False
        if workers == 0:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")
        for n in range(workers):
            handler = threading.Thread(target=self._serve, name=f"extract-pool-{n}", daemon=True)
            handler.start()
            self._handlers.append(handler)

    # --- the caller's side --------------------------------------------------------------

    async def run(self, fn: Callable[..., T], /, *args: Any) -> Outcome[T]:
        """Run `fn(*args)` in a worker; waits first while `max_pending` tasks are in flight."""
        async with self._slots:
            if self._closed:
                raise RuntimeError("the extraction pool is closed")
            with self._lock:
                self._in_flight += 1
            try:
                if self._thread is not None:
                    return await asyncio.get_running_loop().run_in_executor(
                        self._thread, _call_inline, fn, args
                    )
                future: Future[Outcome[T]] = Future()
                self._tasks.put(_Task(fn, args, future))
                return await asyncio.wrap_future(future)
            finally:
                with self._lock:
                    self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        """Tasks queued or running now."""
        return self._in_flight

    def worker_pids(self) -> list[int]:
        """The worker processes alive now."""
        with self._lock:
            return sorted(self._live)

    def close(self) -> None:
        """Finish the queued tasks, then stop the workers."""
        if self._closed:
            return
        self._closed = True
        for _ in self._handlers:
            self._tasks.put(None)
        for handler in self._handlers:
            handler.join()
        for worker in list(self._live.values()):  # left by a failed task
            self._discard(worker)
        if self._thread is not None:
            self._thread.shutdown(wait=True)

    # --- one thread per worker ----------------------------------------------------------

    def _serve(self) -> None:
        worker: _Worker | None = None
        held: deque[_Held] = deque()  # oldest first: the first is the one its worker runs
        closing = False
        try:
            while held or not closing:
                while not closing and len(held) < _PIPELINE:
                    # Waits for work only when the worker has none.
                    taken = self._take(block=not held)
                    if taken is None:
                        break
                    if taken is _Closing.CLOSE:
                        closing = True
                        break
                    held.append(taken)
                if not held:
                    continue
                try:
                    worker = self._feed(worker, held)
                    if worker is not None:
                        worker = self._settle_oldest(worker, held)
                except Exception as exc:  # a pool bug must cost this task, not hang the rest
                    logger.error("Extraction pool failed on a task", exc_info=True)
                    if worker is not None:
                        self._discard(worker)
                    worker = None
                    if held:
                        held.popleft().settle(Outcome(error=exc))
        finally:
            if worker is not None:
                worker.stop()
                self._forget(worker)

    def _take(self, *, block: bool) -> _Held | _Closing | None:
        """The next task of the pool's queue, `_Closing.CLOSE`, or None (nothing queued, not
        blocking)."""
        while True:
            try:
                task = self._tasks.get(block=block)
            except queue.Empty:
                return None
            if task is None:
                return _Closing.CLOSE
            if not task.future.set_running_or_notify_cancel():
                continue
            try:
                data = pickle.dumps((task.fn, task.args))
            except Exception as exc:  # pickle raises many kinds: the task's fault, not the pool's
                task.future.set_result(Outcome(error=exc))
                continue
            return _Held(task, data)

    def _feed(self, worker: _Worker | None, held: deque[_Held]) -> _Worker | None:
        """A live worker that has been sent every held task; None when none could start (the
        oldest task then fails alone)."""
        if worker is not None and not worker.outstanding and not worker.alive():
            # Died while idle: not this task's attempt, but its run counts the loss.
            held[0].lost += 1
            logger.warning(
                "Extraction worker %d %s while idle; replaced", worker.pid, worker.how_it_ended()
            )
            self._discard(worker)
            worker = None
        if worker is None:
            try:
                worker = self._start()
            except OSError as exc:
                logger.error("Cannot start an extraction worker: %s", exc)
                oldest = held.popleft()
                oldest.settle(Outcome(error=exc, workers_lost=oldest.lost))
                return None
        for item in list(held)[worker.outstanding :]:
            worker.send(item.data)
        return worker

    def _settle_oldest(self, worker: _Worker, held: deque[_Held]) -> _Worker | None:
        """Wait for the answer to the oldest task; a worker lost on it takes the tasks sent
        after it along (not started: they go to the next worker as they are)."""
        oldest = held[0]
        try:
            ok, value = worker.answer(self.timeout, self.hang_after)
        except _TimeLimit:
            logger.info(
                "Extraction worker %d used its %.1f s of CPU on a task; replaced",
                worker.pid,
                self.timeout,
            )
            self._discard(worker)
            held.popleft()
            oldest.settle(Outcome(failure=Failure.TIME_LIMIT, workers_lost=oldest.lost))
            return None
        except _Lost as exc:
            oldest.lost += 1
            oldest.attempts += 1
            logger.warning(
                "Extraction worker %d %s on a task; replaced%s",
                worker.pid,
                exc,
                ", retrying the task" if oldest.attempts == 1 else "",
            )
            self._discard(worker)
            if oldest.attempts > 1:
                held.popleft()
                oldest.settle(Outcome(failure=Failure.WORKER_LOST, workers_lost=oldest.lost))
            return None
        held.popleft()
        if ok:
            oldest.settle(Outcome(value=value, workers_lost=oldest.lost))
        else:
            oldest.settle(Outcome(error=value, workers_lost=oldest.lost))
        return worker

    def _start(self) -> _Worker:
        worker = _Worker(self.preload, self.nice)
        with self._lock:
            self._live[worker.pid] = worker
        logger.debug("Extraction worker %d started", worker.pid)
        return worker

    def _forget(self, worker: _Worker) -> None:
        with self._lock:
            self._live.pop(worker.pid, None)

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self._forget(worker)


def _answer(data: bytes) -> tuple[bool, Any, float | None]:
    """A worker's (ok, value, CPU seconds) answer; one this process cannot read is an error."""
    try:
        answer = pickle.loads(data)  # noqa: S301 - bytes from our own worker
    except Exception as exc:  # unpickling runs arbitrary class code: any error is possible
        return False, RuntimeError(f"unreadable answer from the worker: {exc!r}"), None
    ok, value, cpu = answer
    return bool(ok), value, float(cpu)


def _call_inline(fn: Callable[..., T], args: tuple[Any, ...]) -> Outcome[T]:
    try:
        return Outcome(value=fn(*args))
    except Exception as exc:  # the task's own error, reported as the worker would
        return Outcome(error=exc)


# --- one pool per process -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """What makes two pools interchangeable: crawls asking for the same one share it."""

    workers: int
    timeout: float = 10.0
    preload: tuple[str, ...] = ()
    nice: int = 0


class SharedPools:
    """Pools shared by the crawls of a process, counted: the last `release` closes one.

    A process resource like the reactor's thread pool, so it lives beside the pools rather
    than in any one crawl.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[PoolConfig, tuple[ExtractionPool, int]] = {}

    def acquire(self, config: PoolConfig) -> ExtractionPool:
        with self._lock:
            pool, users = self._pools.get(config, (None, 0))
            if pool is None:
                pool = ExtractionPool(
                    config.workers,
                    timeout=config.timeout,
                    preload=config.preload,
                    nice=config.nice,
                )
            self._pools[config] = (pool, users + 1)
            return pool

    def release(self, pool: ExtractionPool) -> None:
        with self._lock:
            for config, (known, users) in self._pools.items():
                if known is pool:
                    if users > 1:
                        self._pools[config] = (pool, users - 1)
                        return
                    del self._pools[config]
                    break
        pool.close()


#: The process's pools.
shared_pools: Final = SharedPools()
