"""WACZ 1.1.1 packages of a run's WARCs, built with the `wacz` package's own `create`."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from newsarchive.archive.cdxj import open_warc
from newsarchive.archive.layout import wacz_key

if TYPE_CHECKING:
    from collections.abc import Iterable

    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

WACZ_CONTENT_TYPE: Final = "application/wacz"
#: `python -m wacz` ignores main()'s return value, so a failed create would exit 0.
_WACZ_MAIN: Final = "import sys; from wacz.main import main; sys.exit(main(sys.argv[1:]))"
_TIMEOUT: Final = 3600


class WaczError(Exception):
    """`wacz create` or `wacz validate` failed; the message carries its output."""


@dataclass(frozen=True, slots=True)
class Page:
    """One entry of pages/pages.jsonl: an article, by the WARC-Date of its capture."""

    url: str
    date: str
    title: str


def pages_jsonl(pages: Iterable[Page], title: str) -> bytes:
    header = {"format": "json-pages-1.0", "id": "pages", "title": title}
    lines = [json.dumps(header, ensure_ascii=False)]
    # `ts` makes wacz match each page to its own capture (ts/url), not any capture of the URL.
    lines += [
        json.dumps({"url": p.url, "ts": p.date, "title": p.title}, ensure_ascii=False)
        for p in pages
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _wacz(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _WACZ_MAIN, *args],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise WaczError(
            f"wacz {args[0]} failed ({result.returncode}): {result.stdout}{result.stderr}"
        )
    return result.stdout


def create_wacz(
    output: Path, warcs: list[Path], pages: Iterable[Page], *, title: str, url: str | None = None
) -> None:
    """Package local WARC files (stored uncompressed in the ZIP, as WACZ wants) into `output`."""
    with tempfile.TemporaryDirectory(prefix="wacz-", dir=output.parent) as tmp:
        pages_path = Path(tmp) / "pages.jsonl"
        pages_path.write_bytes(pages_jsonl(pages, title))
        args = ["create", "-o", str(output), "--pages", str(pages_path), "--title", title]
        if url:
            args += ["--url", url]
        _wacz(*args, *map(str, warcs))


def validate_wacz(path: Path) -> str:
    """Run `wacz validate`; raises WaczError when the package is invalid."""
    out = _wacz("validate", "-f", str(path))
    if "Validation succeeded" not in out:
        raise WaczError(f"wacz validate: {out}")
    return out


def package_run(
    store: Store, site: str, run_id: str, warc_keys: list[str], pages: Iterable[Page]
) -> str:
    """Build and store ``wacz/SITE/RUN.wacz`` from stored WARCs; returns its key."""
    key = wacz_key(site, run_id)
    target = store.staging_path(key)
    with tempfile.TemporaryDirectory(prefix="wacz-", dir=store.state_dir) as tmp:
        warcs = []
        for warc_key in dict.fromkeys(warc_keys):
            # Copied, so the package never depends on a spool file the uploader may remove.
            local = Path(tmp) / warc_key.rsplit("/", 1)[-1]
            with open_warc(store, warc_key) as src, local.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            warcs.append(local)
        built = Path(tmp) / target.name
        create_wacz(built, warcs, pages, title=f"newsarchive {site} {run_id}")
        shutil.move(built, target)
    store.commit_file(key, target, WACZ_CONTENT_TYPE, {"site": site, "run": run_id})
    logger.info("Packaged %d WARCs into %s", len(warcs), key)
    return key
