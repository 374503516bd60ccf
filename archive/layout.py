"""The one place that decides where everything lives in a store (local folder or S3 bucket).

Keys use dates and hashes, never raw URL paths, so any URL maps to a short, safe key.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

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

_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def url_hash(url: str) -> str:
    """A stable 16-hex-digit name for a canonical URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def safe_segment(value: str) -> str:
    """Check one key segment (a site name, a file name) so no key can escape its prefix."""
    if not _SAFE_SEGMENT.match(value) or ".." in value:
        raise ValueError(f"unsafe store key segment: {value!r}")
    return value


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


def warc_key(site: str, filename: str, when: datetime) -> str:
    return f"{WARC_PREFIX}/{safe_segment(site)}/{_day(when)}/{safe_segment(filename)}"


def text_key(site: str, url: str, when: datetime, version: str) -> str:
    """Text of one capture; `version` tags the extractor that produced it."""
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    return (
        f"{TEXT_PREFIX}/{safe_segment(site)}/{_day(when)}/"
        f"{url_hash(url)}-{stamp}.{safe_segment(version)}.txt"
    )


def meta_key(site: str, url: str, when: datetime, version: str) -> str:
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    return (
        f"{META_PREFIX}/{safe_segment(site)}/{_day(when)}/"
        f"{url_hash(url)}-{stamp}.{safe_segment(version)}.json"
    )


def report_key(site: str, run_id: str) -> str:
    return f"{REPORT_PREFIX}/{safe_segment(site)}/{safe_segment(run_id)}.json"


def index_key(site: str, warc_filename: str) -> str:
    return f"{INDEX_PREFIX}/{safe_segment(site)}/{safe_segment(warc_filename)}.cdxj"


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
