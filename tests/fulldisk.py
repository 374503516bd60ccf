"""Two demo crawls into a store on a tiny tmpfs: the first fills it, the second has space again.

Run as root inside a mount namespace of its own (`unshare --mount python -m tests.fulldisk OUT
BASE_URL SIZE [FOLDER]`), so the tmpfs is seen by nothing else and vanishes with the process: it
holds the whole store, or only FOLDER of it (`warcs`: the WARCs fill up while the seen store still
takes writes); SIZE `ro` mounts it read-only for the first crawl. Writes OUT/result.json (each
crawl's exit code, stdout and stderr) and copies the store to OUT/store.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli, write_demo_config


def crawl(sites: Path, store: Path) -> dict[str, object]:
    result = run_cli(
        "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store),
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0", timeout=120,
    )  # fmt: skip
    return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def main(out: Path, base_url: str, size: str, folder: str = "") -> None:
    sites = write_demo_config(out / "sites", base_url)
    store = out / "mnt"
    mount = store / folder
    mount.mkdir(parents=True)
    # Private propagation: the mount must not leak into the parent's namespace.
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    # SIZE "ro": a read-only store, made writable for the second crawl.
    first = "ro,size=64m" if size == "ro" else f"size={size}"
    subprocess.run(["mount", "-t", "tmpfs", "-o", first, "tmpfs", str(mount)], check=True)
    try:
        full = crawl(sites, store)
        subprocess.run(["mount", "-o", "remount,rw,size=64m", str(mount)], check=True)
        again = crawl(sites, store)
        shutil.copytree(store, out / "store", symlinks=True)
    finally:
        subprocess.run(["umount", str(mount)], check=False)
    (out / "result.json").write_text(json.dumps({"full": full, "again": again}), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:])
