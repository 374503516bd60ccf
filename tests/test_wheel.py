"""The wheel: one top-level import name; its console script and `scrapy crawl` work installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO, write_demo_config

if TYPE_CHECKING:
    from newsarchive.demo.server import DemoSite


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # setuptools builds in the source tree (build/, *.egg-info): build from a copy of it.
    source = tmp_path_factory.mktemp("source") / "newsarchive"
    skip = shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "*_cache", "archive-data"
    )
    shutil.copytree(REPO, source, symlinks=True, ignore=skip)
    # Build isolation brings the setuptools pyproject.toml asks for (the venv's may be older).
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
         source)  # fmt: skip
    (path,) = out.glob("newsarchive-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; its dependencies come from the test venv's site-packages.

    A .pth line adds that folder to sys.path without running the .pth files in it, so the
    checkout's editable install stays out and only the wheel's newsarchive is importable.
    """
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], venv)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
          str(wheel)], venv)  # fmt: skip
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     venv).strip())  # fmt: skip
    (site / "test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    return venv


def test_wheel_installs_one_top_level_name(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = {n.split("/", 1)[0] for n in archive.namelist() if not n.split("/")[0].endswith(
            (".dist-info", ".data"))}  # fmt: skip
        files = archive.namelist()
    assert names == {"newsarchive"}
    # The bundled configs and the demo site travel with the code.
    assert "newsarchive/config/demo.yaml" in files
    assert any(f.startswith("newsarchive/config/sites/") and f.endswith(".yaml") for f in files)
    assert any(f.startswith("newsarchive/demo/site/") and f.endswith(".html") for f in files)


def test_installed_wheel_imports_from_itself(installed: Path, tmp_path: Path) -> None:
    where = _run(
        [str(installed / "bin" / "python"), "-c",
         "import newsarchive.cli.main as m, newsarchive;"
         "print(m.__file__); print(newsarchive.__version__)"],
        tmp_path,
    ).split()  # fmt: skip
    assert where[0].startswith(str(installed))
    assert where[1] != "0+unknown"


def test_newsarchive_demo_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    _run([str(installed / "bin" / "newsarchive"), "demo", "--store", str(tmp_path / "store")],
         tmp_path)  # fmt: skip
    assert list((tmp_path / "store").glob("warcs/demo/*/*.warc.gz"))
    assert len(list((tmp_path / "store").glob("text/demo/*/*.txt"))) == 7


def test_scrapy_crawl_from_the_wheel(installed: Path, demo_site: DemoSite, tmp_path: Path) -> None:
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    store = tmp_path / "store"
    # Outside a checkout there is no scrapy.cfg: the settings module is named in the environment.
    _run(
        [str(installed / "bin" / "python"), "-m", "scrapy", "crawl", "news", "-a", "site=demo",
         "-s", f"NEWSARCHIVE_SITES_DIR={sites}", "-s", f"NEWSARCHIVE_STORE={store}",
         "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=WARNING"],
        tmp_path,
        env={"SCRAPY_SETTINGS_MODULE": "newsarchive.config.settings"},
    )  # fmt: skip
    assert list(store.glob("warcs/demo/*/*.warc.gz"))
    assert len(list(store.glob("text/demo/*/*.txt"))) == 7
