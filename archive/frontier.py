"""The shared frontier of a scaled-out run in Redis: per-run keys, in-flight ledgers, heartbeats.

scrapy-redis keeps the run's request queue (a sorted set) and duplicate filter (a set); this
module names those keys per site and run, and adds what scrapy-redis lacks for crash tolerance
(Scrapy core issue #7978): each worker takes a request and records it in its own in-flight
ledger in one step (a Lua script), beats a heartbeat key with a TTL, and releases the entry
once the request's callback has run. A worker whose heartbeat has expired is dead: any worker
moves the dead one's ledger back to the queue (at least once; the archive's digest index makes
a repeated fetch a revisit). No Scrapy here: requests are the bytes scrapy-redis serialised.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import redis

from newsarchive.archive.layout import safe_segment

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

#: Take the best-scored request (scrapy-redis scores by -priority) and record it, with its
#: score, in the worker's ledger under the SHA-1 of its bytes. KEYS: queue, ledger.
_TAKE: Final = """
local item = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #item == 0 then return false end
redis.call('ZREM', KEYS[1], item[1])
local id = redis.sha1hex(item[1])
redis.call('HSET', KEYS[2], id, item[2] .. ' ' .. item[1])
return {item[1], id}
"""

#: Move the ledgers of workers whose heartbeat key is gone back to the queue and forget them.
#: KEYS: queue, workers set; ARGV: the run's key prefix. Returns how many requests moved.
_REAP: Final = """
local moved = 0
for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[1] .. ':alive:' .. w) == 0 then
    local ledger = ARGV[1] .. ':inflight:' .. w
    for _, v in ipairs(redis.call('HVALS', ledger)) do
      local sp = string.find(v, ' ', 1, true)
      redis.call('ZADD', KEYS[1], tonumber(string.sub(v, 1, sp - 1)), string.sub(v, sp + 1))
      moved = moved + 1
    end
    redis.call('DEL', ledger)
    redis.call('SREM', KEYS[2], w)
  end
end
return moved
"""


def worker_name(host: str | None = None, pid: int | None = None) -> str:
    """HOST-PID of this process, safe as a key and file name segment."""
    raw = f"{host or socket.gethostname()}-{pid if pid is not None else os.getpid()}"
    cleaned = "".join(c if c.isalnum() or c in ".-" else "-" for c in raw).strip(".-")
    return safe_segment(cleaned[-100:] or "worker")


@dataclass(frozen=True, slots=True)
class RunKeys:
    """The Redis keys of one run of a site: ``PREFIX:SITE:RUN:...``."""

    run_id: str
    run_base: str
    #: scrapy-redis's request queue (sorted set) and duplicate filter (set of fingerprints).
    queue: str
    dupefilter: str
    #: Set of the workers that joined; hash worker -> responses received (per-worker rates).
    workers: str
    responses: str

    @classmethod
    def of(cls, prefix: str, site: str, run_id: str) -> RunKeys:
        base = f"{prefix}:{site}:{run_id}"
        parts = ("requests", "dupefilter", "workers", "responses")
        return cls(run_id, base, *(f"{base}:{part}" for part in parts))

    def ledger(self, worker: str) -> str:
        return f"{self.run_base}:inflight:{worker}"

    def alive(self, worker: str) -> str:
        return f"{self.run_base}:alive:{worker}"


def as_text(value: object) -> str:
    """A Redis reply (bytes: the client does not decode) as text."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def current_run_key(prefix: str, site: str) -> str:
    return f"{prefix}:{safe_segment(site)}:run"


def connect(url: str) -> redis.Redis:
    """A client for REDIS_URL; bytes in and out (serialised requests are binary)."""
    client: redis.Redis = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=30)
    return client


@dataclass(frozen=True, slots=True)
class FrontierStatus:
    """What to monitor: queued requests, in-flight ones by worker, workers alive, responses."""

    run_id: str
    queued: int
    in_flight: dict[str, int]
    alive: list[str]
    responses: dict[str, int]


class SharedFrontier:
    """One site's shared frontier in Redis, seen from one process (`worker`)."""

    def __init__(
        self, client: redis.Redis, site: str, prefix: str, worker: str | None = None
    ) -> None:
        self.client = client
        self.site = safe_segment(site)
        self.prefix = prefix
        self.worker = worker or worker_name()
        self._take = client.register_script(_TAKE)
        self._reap = client.register_script(_REAP)
        self.keys: RunKeys | None = None

    # --- runs ---------------------------------------------------------------------------------

    def current_run(self) -> str | None:
        value = self.client.get(current_run_key(self.prefix, self.site))
        return None if value is None else as_text(value)

    def begin_run(self, new_run_id: str) -> str:
        """The run to seed: the current one while it has work queued or in flight, else
        `new_run_id`, made current. Sets `keys`."""
        current = self.current_run()
        if current is not None and not self.join(current).drained():
            return current
        self.client.set(current_run_key(self.prefix, self.site), new_run_id)
        self.join(new_run_id)
        return new_run_id

    def join(self, run_id: str) -> SharedFrontier:
        self.keys = RunKeys.of(self.prefix, self.site, safe_segment(run_id))
        return self

    def _keys(self) -> RunKeys:
        if self.keys is None:
            raise RuntimeError("no run joined")
        return self.keys

    # --- the worker's ledger ------------------------------------------------------------------

    def register(self, ttl: float) -> None:
        """Announce this worker (heartbeat first, so no reaper takes it for dead)."""
        keys = self._keys()
        self.beat(ttl)
        self.client.sadd(keys.workers, self.worker)

    def beat(self, ttl: float) -> None:
        self.client.set(self._keys().alive(self.worker), b"1", px=max(1, int(ttl * 1000)))

    def take(self) -> tuple[bytes, str] | None:
        """Pop the best request into this worker's ledger: its bytes and ledger id."""
        keys = self._keys()
        result: Any = self._take(keys=[keys.queue, keys.ledger(self.worker)])
        if not result:
            return None
        data, ledger_id = result
        return bytes(data), ledger_id.decode("ascii")

    def release(self, ledger_id: str) -> None:
        """The request is done (its callback ran, or it went back to the queue)."""
        self.client.hdel(self._keys().ledger(self.worker), ledger_id)

    def clear_ledger(self) -> None:
        """Everything this worker took has been handled (it is idle)."""
        self.client.delete(self._keys().ledger(self.worker))

    def count_response(self) -> None:
        self.client.hincrby(self._keys().responses, self.worker, 1)

    def leave(self) -> None:
        """Normal end of this worker: whatever its ledger holds was answered (or failed)."""
        keys = self._keys()
        pipe = self.client.pipeline()
        pipe.delete(keys.ledger(self.worker))
        pipe.srem(keys.workers, self.worker)
        pipe.delete(keys.alive(self.worker))
        pipe.execute()

    def dead_workers(self) -> list[str]:
        keys = self._keys()
        workers = sorted(as_text(w) for w in self.client.smembers(keys.workers))
        return [w for w in workers if not self.client.exists(keys.alive(w))]

    def reap(self) -> int:
        """Re-queue the in-flight requests of dead workers; returns how many."""
        keys = self._keys()
        moved = int(self._reap(keys=[keys.queue, keys.workers], args=[keys.run_base]))
        if moved:
            logger.warning("Re-queued %d requests of dead workers of %s", moved, self.site)
        return moved

    # --- monitoring ---------------------------------------------------------------------------

    def queued(self) -> int:
        return int(self.client.zcard(self._keys().queue))

    def in_flight(self) -> dict[str, int]:
        keys = self._keys()
        workers = sorted(as_text(w) for w in self.client.smembers(keys.workers))
        return {w: int(self.client.hlen(keys.ledger(w))) for w in workers}

    def drained(self) -> bool:
        """Nothing queued and nothing in any worker's ledger."""
        return self.queued() == 0 and not any(self.in_flight().values())

    def status(self) -> FrontierStatus:
        keys = self._keys()
        in_flight = self.in_flight()
        responses = {as_text(k): int(v) for k, v in self.client.hgetall(keys.responses).items()}
        alive = [w for w in in_flight if self.client.exists(keys.alive(w))]
        return FrontierStatus(keys.run_id, self.queued(), in_flight, alive, responses)


class Heartbeat:
    """A thread that keeps the worker's heartbeat key alive and reaps dead workers' requests.

    A thread rather than a reactor timer, so a busy reactor (a long parse) does not make a live
    worker look dead. `on_dead` runs before the re-queue (repair the dead worker's files, so a
    repeated fetch finds its captures in the digest index).
    """

    def __init__(
        self,
        frontier: SharedFrontier,
        interval: float,
        on_dead: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.frontier = frontier
        self.interval = interval
        #: Three missed beats make a worker dead.
        self.ttl = interval * 3
        self.on_dead = on_dead
        self._stop = threading.Event()
        self._checking = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="newsarchive-heartbeat", daemon=True)

    def start(self) -> None:
        self.frontier.register(self.ttl)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.frontier.beat(self.ttl)
                self.check()
            except redis.RedisError as exc:
                logger.warning("Heartbeat to Redis failed: %s", exc)

    def check(self) -> int:
        """Reap dead workers now (also called when the worker is idle); returns requests moved."""
        with self._checking:
            dead = self.frontier.dead_workers()
            if not dead:
                return 0
            if self.on_dead is not None:
                try:
                    self.on_dead(dead)
                except Exception:  # the re-queue must happen whatever the repair did
                    logger.error("Could not repair files of dead workers %s", dead, exc_info=True)
            return self.frontier.reap()
