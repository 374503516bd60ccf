"""Shared fixtures: the demo news site on loopback, and a real demo crawl into a local store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from newsarchive.demo.server import DemoSite

if TYPE_CHECKING:
    from collections.abc import Iterator

    from newsarchive.archive.store import Store
    from tests.s3server import SeaweedS3

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "config" / "demo.yaml"

#: The real S3 server fixtures (s3_server, own_s3_server, s3_bucket) and Redis (redis_server).
pytest_plugins = ["tests.s3server", "tests.redisserver"]


def run_cli(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `newsarchive` command in a child process (no terminal: cron mode)."""
    return subprocess.run(
        [sys.executable, "-m", "newsarchive.cli.main", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def run_reports(store: Path, site: str) -> list[dict[str, Any]]:
    """A local store's run reports of `site`, oldest first.

    By their start time, not their names: a run id has whole seconds, so two quick runs in one
    second sort by their random suffix.
    """
    reports = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in (store / "reports" / site).glob("*.json")
    ]
    return sorted(reports, key=lambda report: str(report["started"]))


def write_demo_config(directory: Path, base_url: str, **changes: object) -> Path:
    """The bundled demo site config with {base} filled in, as a sites folder of one file."""
    import yaml  # noqa: PLC0415 - only fixtures need it

    data = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8").replace("{base}", base_url))
    data.update(changes)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSite]:
    with DemoSite() as site:
        yield site


@dataclass
class DemoCrawl:
    store: Path
    site: DemoSite
    result: subprocess.CompletedProcess[str]
    requested_paths: list[str]

    def metadata(self) -> list[dict[str, object]]:
        return [
            json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(self.store.glob("meta/demo/*/*.json"))
        ]

    def warcs(self) -> list[Path]:
        return sorted(self.store.glob("warcs/demo/*/*.warc.gz"))


@pytest.fixture(scope="session")
def demo_crawl(tmp_path_factory: pytest.TempPathFactory) -> DemoCrawl:
    """One real crawl of the demo site, through the CLI, shared by the read-only tests."""
    root = tmp_path_factory.mktemp("demo-crawl")
    with DemoSite() as site:
        sites = write_demo_config(root / "sites", site.base_url)
        result = run_cli(
            "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(root / "store"),
            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
        )  # fmt: skip
        paths = [r.path for r in site.requests]
    return DemoCrawl(store=root / "store", site=site, result=result, requested_paths=paths)


@pytest.fixture(scope="session")
def pywb_env_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh folder per test session, so the command's first-use install is what is tested."""
    return tmp_path_factory.mktemp("pywb") / "env"


@dataclass
class S3DemoCrawl:
    """A demo crawl into `s3://BUCKET/news` on the session's SeaweedFS."""

    uri: str
    bucket: str
    server: SeaweedS3
    site: DemoSite
    sites: Path
    #: Environment of the crawl's child process: the standard AWS variables, its own state dir.
    env: dict[str, str]
    result: subprocess.CompletedProcess[str]

    def open(self, state_dir: Path, uri: str | None = None) -> Store:
        """The store (or another prefix of the bucket), with a spool of the caller's own."""
        from newsarchive.archive.store import open_store  # noqa: PLC0415 - only S3 tests load boto3

        options = self.server.options(STORAGE_S3_STATE_DIR=str(state_dir))
        return open_store(uri or self.uri, **options)


@pytest.fixture(scope="session")
def s3_demo_crawl(
    s3_server: SeaweedS3, demo_site: DemoSite, tmp_path_factory: pytest.TempPathFactory
) -> S3DemoCrawl:
    """One real crawl of the demo site into S3, through the CLI, shared by read-only tests."""
    root = tmp_path_factory.mktemp("s3-demo-crawl")
    bucket = s3_server.new_bucket()
    sites = write_demo_config(root / "sites", demo_site.base_url)
    env = s3_server.env(root / "state")
    uri = f"s3://{bucket}/news"
    result = run_cli(
        "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", uri,
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return S3DemoCrawl(uri, bucket, s3_server, demo_site, sites, env, result)


#: Test modules whose tests drive real servers (SeaweedFS, pywb, Chromium) or whole crawls in
#: child processes: marked `slow`, so `pytest -m "not slow"` runs the unit tests alone.
SLOW_MODULES = frozenset(
    {
        "test_archive_crash",
        "test_scheduler",
        "test_backfill",
        "test_backlog",
        "test_archive_revisits",
        "test_cli",
        "test_extraction_quality",
        "test_extraction_site",
        "test_hostile_corpus",
        "test_incremental",
        "test_operator_cli",
        "test_pool",
        "test_pool_crawl",
        "test_reextract",
        "test_replay",
        "test_replay_incremental",
        "test_replay_fidelity",
        "test_s3_crawl",
        "test_s3_store",
        "test_scaleout",
        "test_store_full",
        "test_wheel",
        "test_workers",
    }
)
#: Fixtures that start a real server or crawl in a child process: any test using one is slow.
SLOW_FIXTURES = frozenset(
    {"s3_server", "own_s3_server", "s3_bucket", "s3_demo_crawl", "redis_server"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        if module in SLOW_MODULES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
