"""pywb in a virtual environment of its own, created on first use and reused afterwards.

pywb 2.10 pins `redis==2.10.6` (and old `fakeredis`), which cannot share an environment with
scrapy-redis (`redis>=4.2`), so replay runs pywb from a separate venv with every package pinned.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Final, Self

logger = logging.getLogger(__name__)

PYWB_VERSION: Final = "2.10.0"
#: pywb's dependency tree as installed and tested with it on Python 3.11; pywb itself pins
#: almost nothing, so an unpinned install would drift from what the tests checked.
PYWB_CONSTRAINTS: Final = (
    "brotlipy==0.7.0",
    "certauth==1.3.0",
    "certifi==2026.10.19.post1",
    "cffi==2.1.1",
    "charset-normalizer==3.5.3",
    "cryptography==47.0.0",
    "defusedxml==0.7.1",
    "fakeredis==0.16.0",
    "filelock==4.3.1",
    "gevent==26.9.0",
    "greenlet==3.5.6",
    "idna==3.20",
    "Jinja2==3.1.6",
    "MarkupSafe==3.0.4",
    "portalocker==4.4.2",
    "Py3AMF==0.9.1",
    "pycparser==3.12",
    "pyOpenSSL==26.1.0",
    "python-dateutil==4.0.0",
    f"pywb=={PYWB_VERSION}",
    "PyYAML==6.0.4",
    "redis==2.10.6",
    "requests==2.34.2",
    "requests-file==3.0.1",
    "six==1.17.0",
    "surt==0.3.1",
    "tldextract==5.4.0",
    "typing_extensions==4.16.0",
    "tzdata==2026.6",
    "ua-parser==1.0.2",
    "ua-parser-builtins==202610",
    "urllib3==2.8.0",
    "warcio==1.8.1",
    "webassets==2.0",
    "webencodings==0.6.1",
    "Werkzeug==3.1.7",
    "wsgiprox==1.5.2",
    "zope.event==6.2",
    "zope.interface==8.7",
)
#: Environment variable naming the pywb venv folder (`newsarchive replay --pywb-env` wins over it).
PYWB_ENV_VAR: Final = "NEWSARCHIVE_PYWB_ENV"
#: Written last by a complete install; a folder without it (killed install) is rebuilt.
_MARKER: Final = "newsarchive-pywb.txt"
_INSTALL_TIMEOUT: Final = 600


class PywbEnvError(Exception):
    """The pywb environment could not be created (no network, no venv module, pip failed)."""


def default_env_dir() -> Path:
    """`$NEWSARCHIVE_PYWB_ENV`, else the user cache: one venv per pywb and Python version."""
    configured = os.environ.get(PYWB_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    return cache / "newsarchive" / f"pywb-{PYWB_VERSION}-{python}"


def _spec() -> str:
    """What the marker records: a changed pin list or interpreter means a rebuild."""
    text = "\n".join((sys.version, *PYWB_CONSTRAINTS))
    return f"pywb {PYWB_VERSION} {hashlib.sha256(text.encode()).hexdigest()[:16]}\n"


class PywbEnv:
    """A venv at `path` holding pywb and its pinned dependencies."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def is_ready(self) -> bool:
        marker = self.path / _MARKER
        try:
            return marker.read_text(encoding="utf-8") == _spec() and self.python.exists()
        except FileNotFoundError:
            return False

    def ensure(self) -> Self:
        """Create the venv and install pywb unless a complete install is already there.

        An exclusive lock beside the folder makes concurrent first runs wait for one install.
        """
        if self.is_ready():
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            if not self.is_ready():
                self._install()
        return self

    def _install(self) -> None:
        logger.info("Installing pywb %s into %s", PYWB_VERSION, self.path)
        if self.path.exists():
            # Left by an interrupted install or another pin list: start from scratch.
            shutil.rmtree(self.path)
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(self.path)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise PywbEnvError(
                f"cannot create a virtual environment in {self.path}: {exc}"
            ) from exc
        constraints = self.path / "constraints.txt"
        constraints.write_text("\n".join(PYWB_CONSTRAINTS) + "\n", encoding="utf-8")
        command = [
            str(self.python), "-m", "pip", "install", "--quiet", "--no-input",
            "--disable-pip-version-check", "-c", str(constraints), f"pywb=={PYWB_VERSION}",
        ]  # fmt: skip
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=_INSTALL_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise PywbEnvError(f"installing pywb timed out after {_INSTALL_TIMEOUT} s") from exc
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise PywbEnvError(f"installing pywb {PYWB_VERSION} into {self.path} failed:\n{tail}")
        (self.path / _MARKER).write_text(_spec(), encoding="utf-8")
        logger.info("pywb %s ready in %s", PYWB_VERSION, self.path)
