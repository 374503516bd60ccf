"""Every route from a public site to a private, loopback or link-local address is refused:
redirects (one and two hops), hostnames and `www.` aliases resolving there, numeric IP
spellings, meta refresh, robots.txt `Sitemap:` lines; file:, data:, s3: and ftp: sitemaps.

Each crawl runs in a network namespace of its own (`unshare --net --mount`, as root in CI),
so the private addresses exist, answer, and are reachable by nothing else.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.netns_site import PUBLIC, REDIRECTS, ROBOTS

pytestmark = pytest.mark.slow


def _namespaces_work() -> str | None:
    """Why namespaced crawls cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create a network namespace with extra loopback addresses"
    if not (shutil.which("unshare") and shutil.which("ip")):
        return "needs unshare(1) and ip(8)"
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "ip", "link", "set", "lo", "up"],
        capture_output=True, timeout=10, check=False,
    )  # fmt: skip
    return None if probe.returncode == 0 else f"unshare failed: {probe.stderr.decode()[:200]}"


_SKIP = _namespaces_work()


def crawl_in_namespace(out: Path, *settings: str) -> dict[str, Any]:
    command = ["unshare", "--net", "--mount", sys.executable, "-m", "tests.netns_site", str(out)]
    subprocess.run([*command, *settings], cwd=REPO, timeout=180, check=True)
    result: dict[str, Any] = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return result


def refused_stats(stderr: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"'policy/refused/(\w+)': (\d+)", stderr)}


def archived_bytes(store: Path) -> bytes:
    return b"".join(gzip.decompress(p.read_bytes()) for p in store.rglob("*.warc.gz"))


@pytest.fixture(scope="module")
def policed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if _SKIP:
        pytest.skip(_SKIP)
    return crawl_in_namespace(tmp_path_factory.mktemp("netns-policed"))


@pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")
def test_no_request_reaches_a_private_address(policed: dict[str, Any]) -> None:
    assert policed["returncode"] == 0, policed["stderr"][-3000:]
    reached = {r["local"] for r in policed["requests"]}
    assert reached == {PUBLIC}, policed["requests"]
    assert b"SECRET-INSTANCE-CREDENTIALS" not in archived_bytes(Path(policed["store"]))


@pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")
def test_every_route_is_refused_with_a_reason(policed: dict[str, Any]) -> None:
    warnings = [
        line for line in policed["stderr"].splitlines() if "refused by the network policy" in line
    ]
    text = "\n".join(warnings)
    port = policed["port"]
    for name, location in REDIRECTS.items():
        if location.startswith("/") or not location.startswith("http"):
            continue  # a first hop (the second is refused), or another scheme (below)
        target = location.format(port=port)
        host = (
            target.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0] if "://" in target else ""
        )
        assert (host or target.split(":", 1)[0]) in text, f"{name}: {target} not refused\n{text}"
    for needle in ("metadata.test", "10.77.0.1", "internal.test"):
        assert needle in text, f"{needle} not refused\n{text}"
    stats = refused_stats(policed["stderr"])
    for reason in ("loopback", "private_network", "link_local", "unspecified"):
        assert stats.get(reason, 0) >= 1, stats
    # file:, data:, s3: and ftp: never become requests: Scrapy's redirect middleware does not
    # follow a Location of another scheme, and robots Sitemap: lines of one are skipped as
    # invalid URLs by the spider's parser (or refused by the policy, were they requested).
    other_schemes = sum(
        line.startswith(("Sitemap: file:", "Sitemap: data:", "Sitemap: s3:", "Sitemap: ftp:"))
        for line in ROBOTS.splitlines()
    )
    invalid = re.search(r"'discovery/skipped_invalid/url': (\d+)", policed["stderr"])
    skipped = int(invalid[1]) if invalid else 0
    assert stats.get("scheme", 0) + skipped >= other_schemes, (stats, skipped)
    (report,) = Path(policed["store"]).glob("reports/hostile/*.json")
    assert json.loads(report.read_text(encoding="utf-8"))["policy_refused"] == stats
    # Refused once each: a refusal is not retried.
    assert "Gave up retrying" not in policed["stderr"]


@pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")
def test_the_routes_are_real_without_the_policy(tmp_path: Path) -> None:
    """Control: with the policy off, the same site does reach the private addresses."""
    result = crawl_in_namespace(tmp_path, "-s", "NETWORK_POLICY_ENABLED=False")
    reached = {r["local"] for r in result["requests"]}
    assert {"10.77.0.1", "169.254.169.254", "127.0.0.1"} <= reached, result["requests"]
