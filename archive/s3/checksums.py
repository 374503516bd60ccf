"""The hashes an upload is verified against: MD5 as S3 builds its ETag, and SHA-256."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Self

if TYPE_CHECKING:
    from pathlib import Path

_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Hashes:
    #: Whole-file MD5 hex, or the multipart ETag (`MD5-OF-PART-MD5S-N`).
    md5: str
    sha256: str

    @classmethod
    def of_bytes(cls, data: bytes) -> Self:
        return cls(
            hashlib.md5(data).hexdigest(),  # noqa: S324 - S3's Content-MD5, not security
            hashlib.sha256(data).hexdigest(),
        )

    @classmethod
    def of_file(cls, path: Path, part_size: int | None) -> Self:
        """MD5 (whole, or per part as S3 builds a multipart ETag) and SHA-256 in one read."""
        sha = hashlib.sha256()
        whole = hashlib.md5()  # noqa: S324 - S3's Content-MD5/ETag, not security
        parts: list[bytes] = []
        part = hashlib.md5()  # noqa: S324 - as above
        in_part = 0
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                sha.update(chunk)
                if part_size is None:
                    whole.update(chunk)
                    continue
                view = memoryview(chunk)
                while view:
                    take = min(len(view), part_size - in_part)
                    part.update(view[:take])
                    in_part += take
                    view = view[take:]
                    if in_part == part_size:
                        parts.append(part.digest())
                        part, in_part = hashlib.md5(), 0  # noqa: S324 - as above
        if part_size is None:
            return cls(whole.hexdigest(), sha.hexdigest())
        if in_part or not parts:
            parts.append(part.digest())
        etag = hashlib.md5(b"".join(parts)).hexdigest()  # noqa: S324 - as above
        return cls(f"{etag}-{len(parts)}", sha.hexdigest())
