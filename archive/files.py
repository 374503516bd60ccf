"""Whole-file writes and moves: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def atomic_file(path: Path, *, fsync: bool = True, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary file written beside `path` that replaces it on success and vanishes on error.

    `fsync` makes the content durable before the rename (objects of the archive); files any
    run can rebuild (replay indexes, textfiles) skip it. `mode` sets permissions that
    mkstemp's private 0600 would otherwise deny other readers.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield cast("BinaryIO", fh)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        if mode is not None:
            tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes, *, fsync: bool = True, mode: int | None = None) -> None:
    with atomic_file(path, fsync=fsync, mode=mode) as fh:
        fh.write(data)


def move_file(path: Path, target: Path) -> None:
    """Move a finished file to `target` (nothing to do when it is there already), copying
    when the two are on different file systems."""
    if path.resolve() == target.resolve():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.replace(target)
    except OSError:
        shutil.copyfile(path, target)
        path.unlink()
