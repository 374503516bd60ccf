"""Group commit of text and metadata objects (pipelines.groupwrite, archive.files)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from newsarchive.archive.files import write_atomic_many
from newsarchive.archive.local import LocalStore
from newsarchive.archive.store import StoreObject
from newsarchive.pipelines.groupwrite import GroupWriter

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


class CountingStore(LocalStore):
    """A local store that keeps the keys of each `put_many` call."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.calls: list[list[str]] = []

    def put_many(self, objects: Sequence[StoreObject]) -> None:
        self.calls.append([obj.key for obj in objects])
        super().put_many(objects)


def _objects(name: str) -> list[StoreObject]:
    return [
        StoreObject(f"text/{name}.txt", f"text of {name}\n".encode(), "text/plain"),
        StoreObject(f"meta/{name}.json", b"{}", "application/json"),
    ]


def test_many_files_are_written_whole_and_no_temporary_file_stays(tmp_path: Path) -> None:
    files = [(tmp_path / "a" / "1.txt", b"one"), (tmp_path / "b" / "2.txt", b"two")]
    write_atomic_many(files)
    assert [path.read_bytes() for path, _ in files] == [b"one", b"two"]
    (tmp_path / "c").write_text("a file where a folder should be")
    with pytest.raises(OSError, match="c") as raised:
        write_atomic_many([(tmp_path / "a" / "3.txt", b"three"), (tmp_path / "c" / "4.txt", b"")])
    assert raised.value.filename is not None
    # nothing of the failed group is in place, and no temporary file is left beside it
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["1.txt"]


@deferred_f_from_coro_f
async def test_concurrent_items_are_written_in_one_group(tmp_path: Path) -> None:
    store = CountingStore(tmp_path)
    writer = GroupWriter(store, wait=0.05)
    await asyncio.gather(*(writer.put(_objects(str(n))) for n in range(3)))
    assert store.calls == [[key for n in range(3) for key in (f"text/{n}.txt", f"meta/{n}.json")]]
    assert store.get_bytes("text/2.txt") == b"text of 2\n"
    assert store.exists("meta/0.json")


@deferred_f_from_coro_f
async def test_a_full_group_is_written_without_waiting(tmp_path: Path) -> None:
    store = CountingStore(tmp_path)
    # a wait no test could sit through: only the size limit can start the write
    writer = GroupWriter(store, wait=3600, limit=4)
    await asyncio.gather(writer.put(_objects("a")), writer.put(_objects("b")))
    assert len(store.calls) == 1


@deferred_f_from_coro_f
async def test_a_failed_write_fails_only_its_own_item(tmp_path: Path) -> None:
    store = CountingStore(tmp_path)
    (tmp_path / "text" / "bad.txt").mkdir(parents=True)  # a folder where the text should go
    writer = GroupWriter(store, wait=0.05)
    good, bad = await asyncio.gather(
        writer.put(_objects("good")), writer.put(_objects("bad")), return_exceptions=True
    )
    assert good is None
    assert isinstance(bad, OSError)
    assert store.get_bytes("text/good.txt") == b"text of good\n"
    assert store.exists("meta/good.json")
    assert not store.exists("meta/bad.json")  # no record points at a text that is not there
