"""Local-folder store: the embedded default. Keys map to paths below one root folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Self
from urllib.parse import unquote, urlsplit

from newsarchive.archive.files import move_file, write_atomic, write_atomic_many
from newsarchive.archive.layout import STATE_PREFIX, check_key
from newsarchive.archive.store import ObjectInfo, Store, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from newsarchive.archive.store import StoreObject


class LocalStore(Store):
    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = root.resolve()
        self.uri = self.root.as_uri()
        if not create and not self.root.is_dir():
            raise StoreError(f"no store at {self.root} (the folder does not exist)")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store folder {self.root}: {exc}") from exc

    @classmethod
    def from_uri(cls, uri: str, *, create: bool = True) -> Self:
        if uri.startswith("file://"):
            parts = urlsplit(uri)
            if parts.netloc not in ("", "localhost"):
                raise StoreError(f"file:// store must be local, got host {parts.netloc!r}")
            return cls(Path(unquote(parts.path)), create=create)
        return cls(Path(uri).expanduser(), create=create)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put_bytes(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> None:
        write_atomic(self._path(key), data)

    def put_many(self, objects: Sequence[StoreObject]) -> None:
        write_atomic_many([(self._path(obj.key), obj.data) for obj in objects])

    def staging_path(self, key: str) -> Path:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def commit_file(
        self, key: str, path: Path, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> None:
        move_file(path, self._path(key))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def open_read(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            name = path.name
            # Hidden temp files and still-open WARCs are not objects yet.
            if path.is_file() and not name.startswith(".") and not name.endswith(".open"):
                yield path.relative_to(self.root).as_posix()

    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        for key in self.list(prefix):
            try:
                stat = self._path(key).stat()
            except FileNotFoundError:
                continue  # removed since listed
            yield ObjectInfo(key, stat.st_size, str(stat.st_mtime_ns))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    @property
    def state_dir(self) -> Path:
        path = self.root / STATE_PREFIX
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path_for(self, key: str) -> Path:
        """Filesystem path of an object (local store only, used by replay)."""
        return self._path(key)
