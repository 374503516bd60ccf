"""The STORAGE_S3_* settings of an S3 store, parsed; their defaults are in config/settings.py."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final, Self, get_type_hints

from newsarchive.archive.store import StoreError
from newsarchive.config import settings as defaults

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Every STORAGE_S3_* option's name starts so: the field name in upper case follows.
PREFIX: Final = "STORAGE_S3_"
_MIN_CHUNKSIZE: Final = 5 * 1024 * 1024  # S3's smallest part but the last


def as_bool(value: object) -> bool:
    """A boolean setting as Scrapy's `getbool` reads it, strings included."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


@dataclass(frozen=True, slots=True)
class S3Options:
    """STORAGE_S3_* settings, documented beside their defaults in config/settings.py."""

    addressing_style: str
    storage_class: str
    sse: str
    sse_kms_key_id: str
    state_dir: str
    keep_uploaded: bool
    spool_max_bytes: int
    spool_min_free_bytes: int
    multipart_threshold: int
    multipart_chunksize: int
    upload_threads: int
    close_timeout: float
    abort_multipart_after: float
    degraded_reads: bool

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        """Parse the STORAGE_S3_* names of `settings`; a missing or empty one takes the
        project default, so a bare `open_store(uri)` behaves as a crawl with default settings."""
        types = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f"{PREFIX}{f.name.upper()}"
            raw = settings.get(name)
            if raw is None or raw == "":
                raw = getattr(defaults, name)
            try:
                values[f.name] = as_bool(raw) if types[f.name] is bool else types[f.name](raw)
            except ValueError as exc:
                raise StoreError(f"{name}: bad value {raw!r}") from exc
        opts = cls(**values)
        if opts.addressing_style not in ("", "auto", "path", "virtual"):
            raise StoreError(
                f"STORAGE_S3_ADDRESSING_STYLE must be auto, path or virtual, "
                f"got {opts.addressing_style!r}"
            )
        if opts.upload_threads < 1 or opts.multipart_chunksize < _MIN_CHUNKSIZE:
            raise StoreError(
                "STORAGE_S3_UPLOAD_THREADS >= 1, STORAGE_S3_MULTIPART_CHUNKSIZE >= 5MiB"
            )
        return opts
