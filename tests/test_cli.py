"""The `newsarchive` command as users run it: from cron (no terminal) and from a terminal."""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from tests.conftest import REPO, run_cli, write_demo_config

if TYPE_CHECKING:
    from pathlib import Path

    from newsarchive.demo.server import DemoSite


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("crawl", "demo", "extract-file", "sites"):
        assert command in result.stdout


def test_failed_crawl_exits_non_zero(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/"
    result = run_cli(
        "crawl", "--url", url, "--store", str(tmp_path / "store"),
        "-s", "RETRY_TIMES=0", "-s", "DOWNLOAD_TIMEOUT=5",
    )  # fmt: skip
    assert result.returncode == 1, result
    assert "FAILED" in result.stdout


def test_bad_setting_override_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("crawl", "--url", "http://127.0.0.1:1/", "-s", "NOVALUE")
    assert result.returncode == 2
    assert "NAME=VALUE" in result.stderr


def test_terminal_shows_progress_and_summary_table(demo_site: DemoSite, tmp_path: Path) -> None:
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "newsarchive.cli.main", "crawl", "--site", "demo",
            "--sites-dir", str(sites), "--store", str(tmp_path / "store"),
            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
        ],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary,
        env={**os.environ, "TERM": "xterm"},
    )  # fmt: skip
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    os.close(primary)
    assert process.wait(timeout=30) == 0, output
    text = output.decode("utf-8", "replace")
    assert " articles, " in text  # the live progress line
    assert "\r\x1b[K" in text
    assert "site  result  pages  articles" in text  # the closing table
    assert "demo  ok" in text


def test_scrapy_crawl_news_works_from_repo_root(demo_site: DemoSite, tmp_path: Path) -> None:
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    store = tmp_path / "store"
    result = subprocess.run(
        [
            sys.executable, "-m", "scrapy", "crawl", "news", "-a", "site=demo",
            "-s", f"NEWSARCHIVE_SITES_DIR={sites}", "-s", f"NEWSARCHIVE_STORE={store}",
            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", "-s", "LOG_LEVEL=WARNING",
        ],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert list(store.glob("warcs/demo/*/*.warc.gz"))
    assert len(list(store.glob("text/demo/*/*.txt"))) >= 7
