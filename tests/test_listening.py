"""No socket listens during a crawl: Scrapy's telnet console and remote control are off."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsarchive.demo.server import DemoSite
from tests.conftest import REPO, write_demo_config
from tests.processes import children

pytestmark = pytest.mark.slow

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's st column


def listening_inodes() -> set[str]:
    """Inodes of every TCP socket in LISTEN state in this network namespace."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == _LISTEN:
                found.add(fields[9])
    return found


def socket_inodes(pid: int) -> set[str]:
    found = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = str(fd.readlink())
            except OSError:
                continue
            if target.startswith("socket:["):
                found.add(target[8:-1])
    except OSError:
        pass  # the process ended meanwhile
    return found


def listening_during_crawl(tmp_path: Path, *settings: str) -> tuple[set[str], int]:
    """Inodes of listening sockets the crawl process (or its workers) held at any moment."""
    with DemoSite() as site:
        sites = write_demo_config(tmp_path / "sites", site.base_url)
        command = [sys.executable, "-m", "newsarchive.cli.main", "crawl", "--site", "demo",
                   "--sites-dir", str(sites), "--store", str(tmp_path / "store"),
                   "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
                   *settings]  # fmt: skip
        seen: set[str] = set()
        with subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as process:  # fmt: skip
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                owned: set[str] = set()
                for pid in [process.pid, *children(process.pid)]:
                    owned |= socket_inodes(pid)
                seen |= owned & listening_inodes()
                time.sleep(0.02)
            process.kill()
            returncode = process.wait()
    return seen, returncode


def test_no_socket_listens_during_a_crawl(tmp_path: Path) -> None:
    listening, returncode = listening_during_crawl(tmp_path)
    assert returncode == 0
    assert not listening


def test_the_probe_sees_a_listening_component(tmp_path: Path) -> None:
    """Control: Scrapy's remote control, turned back on, is seen listening."""
    listening, _ = listening_during_crawl(tmp_path, "-s", "REMOTE_CONTROL_ENABLED=True")
    assert listening
