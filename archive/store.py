"""The storage interface every backend implements, and `open_store` to pick one from a URI."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from newsarchive.config.redact import redact, uri_secrets

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path


#: Scrapy's own names for S3 access, accepted as store options as its S3 feed storage takes them.
AWS_OPTIONS: Final = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_REGION_NAME",
    "AWS_USE_SSL",
    "AWS_VERIFY",
)


#: A scheme-like start ("s3:", "file:") on a URI without "//" after it, or "s3//": a mistyped
#: URI, never meant as a relative folder of that name.
_MISTYPED_URI: Final = re.compile(r"^(?:[a-z][a-z0-9+.-]*:(?!//)|(?:s3|file)//)", re.IGNORECASE)


class StoreError(Exception):
    """The store cannot be used (bad URI, unreachable, refused)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object as a listing describes it: enough to tell whether a local copy is current."""

    key: str
    size: int
    #: Changes whenever the content does: an S3 ETag, or a local file's modification time.
    tag: str


@dataclass(frozen=True, slots=True)
class UploadReport:
    """What a remote backend has sent, and what it still holds only locally (its spool)."""

    uploaded: int = 0
    uploaded_bytes: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    pending_bytes: int = 0
    unreachable: bool = False
    multipart_aborted: int = 0


@dataclass(frozen=True, slots=True)
class StoreObject:
    """One small object for `Store.put_many`: what `Store.put_bytes` takes."""

    key: str
    data: bytes
    content_type: str
    metadata: Mapping[str, str] | None = None


class Store(ABC):
    """A place for WARCs, text, metadata, indexes and reports, addressed by keys from `layout`.

    Large files (WARCs) are always written locally first, under `staging_path(key)`, and handed
    over with `commit_file` once complete; a remote backend uploads them from there, so nothing
    is lost when the remote side is down.
    """

    uri: str

    @abstractmethod
    def put_bytes(
        self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Store a small object in one piece, atomically."""

    def put_many(self, objects: Sequence[StoreObject]) -> None:
        """Store small objects, each as `put_bytes`, in order: a later one is never stored
        without the earlier ones. A backend may make them durable together, which costs less."""
        for obj in objects:
            self.put_bytes(obj.key, obj.data, obj.content_type, obj.metadata)

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Whole object; raises KeyError when it does not exist."""

    @abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Seekable binary stream of an object; raises KeyError when it does not exist."""

    @abstractmethod
    def staging_path(self, key: str) -> Path:
        """Local path where the file for `key` is to be written before `commit_file`."""

    @abstractmethod
    def commit_file(
        self, key: str, path: Path, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Hand over a finished local file (written at `staging_path(key)`) to the store."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix` (a folder-like prefix, without trailing slash), sorted."""

    @abstractmethod
    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        """As `list`, with each object's size and change tag (replay mirrors WARCs with it)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; one that does not exist is not an error.

        Callers decide what may go: re-extraction deletes only older text and metadata
        versions, never a WARC.
        """

    @property
    @abstractmethod
    def state_dir(self) -> Path:
        """Local folder for working state (seen store, locks, open WARCs, spool)."""

    def upload_report(self) -> UploadReport | None:
        """Upload counts and the spool left for a remote backend; None for a local one."""
        return None

    def drain(self) -> None:  # noqa: B027 - optional hook; a local store writes in place
        """Send what waits for upload, as far as the backend can now: a crawl drains its store
        before it writes the run report, so the report states the final upload outcome."""

    def close(self) -> None:  # noqa: B027 - optional hook; most backends hold nothing
        """Flush and release anything held."""


def check_store_uri(uri: str) -> str:
    """The URI, or StoreError when it is mistyped: `s3:/bucket`, `s3//bucket`, `file:relative`."""
    if not uri:
        raise StoreError("empty store URI")
    carried = uri_secrets(uri)
    if carried:
        # Never echo the URI: the secret is in it.
        raise StoreError(
            f"store URI refused: it carries credentials ({', '.join(carried)}); give them as "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY settings or the standard AWS environment"
        )
    if _MISTYPED_URI.match(uri):
        scheme = re.split(r"[:/]", uri, maxsplit=1)[0].lower()
        rest = re.sub(r"^[^:/]*:?/*", "", uri)
        hint = f"s3://{rest}" if scheme == "s3" else rest
        raise StoreError(f"not a store URI: {uri!r} (a folder path, file:///path or s3://bucket; "
                         f"did you mean {hint!r}?)")  # fmt: skip
    return uri


def open_store(uri: str, *, create: bool = True, **options: Any) -> Store:
    """Build the backend for a store URI: a folder path, `file://...` or `s3://bucket/prefix`.

    `create=False` (commands that only read or add to an archive): a local store folder that
    does not exist is an error instead of being made."""
    check_store_uri(uri)
    if uri.startswith("s3://"):
        try:
            from newsarchive.archive.s3 import S3Store  # noqa: PLC0415 - boto3 is only loaded for S3 stores
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError(f"S3 store {redact(uri)} needs the S3 backend: {exc}") from exc
        return S3Store.from_uri(uri, **options)
    if "://" in uri and not uri.startswith("file://"):
        scheme = uri.split("://", 1)[0]
        raise StoreError(
            f"unsupported store URI scheme {scheme!r} in {redact(uri)!r} "
            "(use a path, file:// or s3://)"
        )
    from newsarchive.archive.local import LocalStore  # noqa: PLC0415 - keeps backends independent

    return LocalStore.from_uri(uri, create=create)
