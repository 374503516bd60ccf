"""The one place that decides where everything lives in a store (local folder or S3 bucket).

Keys use dates and hashes, never raw URL paths, so any URL maps to a short, safe key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from datetime import datetime

WARC_PREFIX = "warcs"
TEXT_PREFIX = "text"
META_PREFIX = "meta"
REPORT_PREFIX = "reports"
INDEX_PREFIX = "indexes"
WACZ_PREFIX = "wacz"
#: Durable copy of the digest index (revisits): one JSON-lines object per closed WARC.
DIGEST_PREFIX = "digests"
#: Local-only working state (seen store, locks, spool); never uploaded.
STATE_PREFIX = "state"
#: File endings of the WARCs under WARC_PREFIX: written gzipped, plain ones are read too.
WARC_SUFFIXES: Final = (".warc.gz", ".warc")

_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: What `text_key` and `meta_key` build after their prefix, read back.
_VERSIONED_NAME: Final = re.compile(
    r"^(?P<site>[^/]+)/(?P<day>\d{4}-\d{2}-\d{2})/"
    r"(?P<stem>[0-9a-f]{16}-\d{8}T\d{6}Z)\.(?P<version>[^/]+)\.(?P<suffix>txt|json)$"
)
_SUFFIXES: Final = {TEXT_PREFIX: "txt", META_PREFIX: "json"}


@dataclass(frozen=True, slots=True)
class VersionedKey:
    """A text or metadata key read back: which capture it belongs to, made by which version."""

    prefix: str  # TEXT_PREFIX or META_PREFIX
    site: str
    day: str  # the capture's UTC day, YYYY-MM-DD
    stem: str  # URL hash and capture time: one capture of one URL
    version: str

    @property
    def capture(self) -> tuple[str, str, str]:
        """What every version of one capture's text and metadata keys share."""
        return self.site, self.day, self.stem


def url_hash(url: str) -> str:
    """A stable 16-hex-digit name for a canonical URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def safe_segment(value: str) -> str:
    """Check one key segment (a site name, a file name) so no key can escape its prefix."""
    if not _SAFE_SEGMENT.match(value) or ".." in value:
        raise ValueError(f"unsafe store key segment: {value!r}")
    return value


def site_prefix(prefix: str, site: str | None) -> str:
    """The folder of one site's objects under `prefix` (WARC_PREFIX, META_PREFIX...); with no
    site, of every site's."""
    return f"{prefix}/{safe_segment(site)}" if site else prefix


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


def warc_key(site: str, filename: str, when: datetime) -> str:
    return f"{WARC_PREFIX}/{safe_segment(site)}/{_day(when)}/{safe_segment(filename)}"


def _versioned_key(prefix: str, site: str, url: str, when: datetime, version: str) -> str:
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    return (
        f"{prefix}/{safe_segment(site)}/{_day(when)}/"
        f"{url_hash(url)}-{stamp}.{safe_segment(version)}.{_SUFFIXES[prefix]}"
    )


def text_key(site: str, url: str, when: datetime, version: str) -> str:
    """Text of one capture; `version` tags the extractor that produced it."""
    return _versioned_key(TEXT_PREFIX, site, url, when, version)


def meta_key(site: str, url: str, when: datetime, version: str) -> str:
    """Metadata record of one capture (see `archive.metadata`), beside its text."""
    return _versioned_key(META_PREFIX, site, url, when, version)


def parse_versioned_key(key: str) -> VersionedKey | None:
    """The parts of a `text_key` or `meta_key`; None for any other object."""
    prefix, _, rest = key.partition("/")
    match = _VERSIONED_NAME.match(rest)
    if match is None or _SUFFIXES.get(prefix) != match["suffix"]:
        return None
    return VersionedKey(prefix, match["site"], match["day"], match["stem"], match["version"])


def parse_meta_key(key: str) -> VersionedKey | None:
    """The parts of a `meta_key`; None for any other object."""
    parts = parse_versioned_key(key)
    return parts if parts is not None and parts.prefix == META_PREFIX else None


def parse_text_key(key: str) -> VersionedKey | None:
    """The parts of a `text_key`; None for any other object."""
    parts = parse_versioned_key(key)
    return parts if parts is not None and parts.prefix == TEXT_PREFIX else None


def key_site(key: str) -> str:
    """The site segment of a per-site key (``PREFIX/SITE/...``)."""
    parts = key.split("/")
    if len(parts) < 3:
        raise ValueError(f"not a per-site key: {key!r}")
    return parts[1]


def parse_warc_key(key: str) -> tuple[str, str, str]:
    """Site, day and file name of a `warc_key`; ValueError for any other key."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != WARC_PREFIX:
        raise ValueError(f"not a WARC key: {key!r}")
    return safe_segment(parts[1]), parts[2], safe_segment(parts[3])


def report_key(site: str, run_id: str) -> str:
    return f"{REPORT_PREFIX}/{safe_segment(site)}/{safe_segment(run_id)}.json"


def index_key(site: str, warc_filename: str) -> str:
    return f"{INDEX_PREFIX}/{safe_segment(site)}/{safe_segment(warc_filename)}.cdxj"


def warc_index_key(warc_key: str) -> str:
    """The `index_key` of a stored WARC."""
    site, _day, filename = parse_warc_key(warc_key)
    return index_key(site, filename)


def digest_key(site: str, warc_filename: str) -> str:
    return f"{DIGEST_PREFIX}/{safe_segment(site)}/{safe_segment(warc_filename)}.jsonl"


def wacz_key(site: str, run_id: str) -> str:
    return f"{WACZ_PREFIX}/{safe_segment(site)}/{safe_segment(run_id)}.wacz"


def check_key(key: str) -> str:
    """Reject keys S3 would mangle or a folder could be escaped with."""
    if not key or key.startswith("/") or key.endswith("/") or "//" in key:
        raise ValueError(f"invalid store key: {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid store key: {key!r}")
    return key
