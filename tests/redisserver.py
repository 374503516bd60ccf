"""A real Redis for tests and benchmarks: `redis-server` (Debian package) on loopback, a free
port, no persistence, its files in a temporary folder."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from typing import TYPE_CHECKING

import pytest
import redis

from tests.s3server import free_ports

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class RedisServer:
    """One `redis-server` process on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_ports(1)[0]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        client: redis.Redis = redis.Redis.from_url(self.url)
        return client

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: tests/run.sh installs the Debian package")
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "redis.log").open("wb") as log:
            self.process = subprocess.Popen(
                [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                 "--appendonly", "no", "--dir", str(self.root), "--protected-mode", "yes"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client().ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        (self.root / "redis.log").read_text(errors="replace")
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            process.wait(timeout=30)

    def used_memory(self) -> int:
        info = self.client().info("memory")
        return int(info["used_memory"])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of the test's own (SCALEOUT_KEY_PREFIX), so tests sharing the server never
    see each other's keys."""
    return f"t{uuid.uuid4().hex[:12]}"
