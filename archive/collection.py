"""A site's captures as replay tools need them: CDXJ lines across WARCs, with every
server-not-modified revisit resolved to the capture it revalidated.

A 304 is archived as what the server said: a `revisit` record (WARC 1.1 server-not-modified
profile) whose block is the 304's head. pywb and ReplayWeb.page both answer a revisit with the
revisit record's own HTTP head, so they replay such a capture as an empty 304 (pywb) or a blank
page (ReplayWeb.page). The record stays as it is; the *index* line of the capture is what is
resolved here: it keeps the capture's URL key and timestamp and points at the original response
record (file, offset, length, status, MIME type), so both tools replay the original payload with
its own headers at the 304's timestamp. The WARC-Payload-Digest of the revisit (the original's)
and its URL key find the original, the latest full capture of that payload at or before it.
"""

from __future__ import annotations

import bisect
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from newsarchive.archive.cdxj import index_warc
from newsarchive.archive.files import write_atomic
from newsarchive.archive.layout import WARC_PREFIX, parse_warc_key, safe_segment, warc_index_key

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date
    from pathlib import Path

    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

REVISIT_MIME: Final = "warc/revisit"
NOT_MODIFIED: Final = "304"
#: Added to a resolved line: the WARC file that holds the 304 record itself.
RESOLVED_FIELD: Final = "not_modified_of"
_WARC_SUFFIXES: Final = (".warc.gz", ".warc")


def split_line(line: str) -> tuple[str, str, dict[str, str]]:
    urlkey, timestamp, fields = line.rstrip("\n").split(" ", 2)
    return urlkey, timestamp, json.loads(fields)


def join_line(urlkey: str, timestamp: str, fields: dict[str, str]) -> str:
    return f"{urlkey} {timestamp} {json.dumps(fields)}\n"


@dataclass(frozen=True, slots=True)
class _Original:
    timestamp: str
    fields: dict[str, str]


@dataclass(slots=True)
class Originals:
    """Full captures by URL key and payload digest, to resolve 304 revisits against."""

    _by_key: dict[tuple[str, str], list[_Original]] = field(default_factory=dict)
    #: WARC file holding the first full capture of each payload (any URL), for revisits.
    _files: dict[str, str] = field(default_factory=dict)

    def add_line(self, line: str) -> None:
        urlkey, timestamp, fields = split_line(line)
        digest = fields.get("digest")
        if not digest or fields.get("mime") == REVISIT_MIME:
            return
        if fields.get("status", "200") == NOT_MODIFIED:
            return
        self._files.setdefault(_bare(digest), fields.get("filename", ""))
        found = self._by_key.setdefault((urlkey, _bare(digest)), [])
        bisect.insort(found, _Original(timestamp, fields), key=lambda o: o.timestamp)

    def find(self, urlkey: str, digest: str, timestamp: str) -> _Original | None:
        found = self._by_key.get((urlkey, _bare(digest)))
        if not found:
            return None
        at = bisect.bisect_right([o.timestamp for o in found], timestamp)
        # The latest full capture at or before the 304; a clock step back falls to the first.
        return found[at - 1] if at else found[0]

    def file_of(self, digest: str) -> str | None:
        """The WARC file with the first full capture of a payload, for a revisit of it."""
        return self._files.get(_bare(digest))


def _bare(digest: str) -> str:
    # cdxj-indexer writes "sha1:BASE32"; pywb's indexer the bare BASE32.
    return digest.rsplit(":", 1)[-1].upper()


def is_not_modified(fields: dict[str, str]) -> bool:
    return fields.get("mime") == REVISIT_MIME and fields.get("status") == NOT_MODIFIED


#: How a resolved 304 line reads, per replay tool (see the module docstring).
#: pywb: an alias of the original response record, at the 304's timestamp. pywb takes status and
#: headers from the record the line points at, and answers a revisit whose head says 3xx with
#: that head alone, so the line must not point at the 304 record.
PYWB: Final = "pywb"
#: ReplayWeb.page (wabac.js): the 304 record itself, indexed with the original's status. wabac
#: checks that the record it loads has the line's timestamp (so an alias fails), skips the
#: payload of any 3xx line, and for a revisit line loads the original through the record's
#: WARC-Refers-To-Target-URI and WARC-Refers-To-Date, serving its payload.
WABAC: Final = "wabac"


def resolve_line(line: str, originals: Originals, style: str) -> str:
    """The replayable form of one CDXJ line (unchanged unless it is a 304 revisit)."""
    urlkey, timestamp, fields = split_line(line)
    if not is_not_modified(fields) or not fields.get("digest"):
        return line
    original = originals.find(urlkey, fields["digest"], timestamp)
    if original is None:
        logger.warning("No original for the 304 of %s at %s", fields.get("url"), timestamp)
        return line
    status = original.fields.get("status", "200")
    if style == WABAC:
        return join_line(urlkey, timestamp, {**fields, "status": status})
    resolved = {
        **original.fields,
        "url": fields.get("url", original.fields.get("url", "")),
        RESOLVED_FIELD: fields.get("filename", ""),
    }
    return join_line(urlkey, timestamp, resolved)


def not_modified_offsets(lines: Iterable[str]) -> set[tuple[str, str]]:
    """(urlkey, offset) of the 304 revisits among CDXJ lines that carry a status."""
    found = set()
    for line in lines:
        if line.strip():
            urlkey, _ts, fields = split_line(line)
            if is_not_modified(fields):
                found.add((urlkey, fields.get("offset", "")))
    return found


def mark_not_modified(path: Path, offsets: set[tuple[str, str]]) -> None:
    """Add the 304 status to revisit lines of a pywb index, whose indexer leaves revisits
    without one; `offsets` come from `not_modified_offsets` over cdxj-indexer's lines."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out = []
    for line in lines:
        if line.strip():
            urlkey, timestamp, fields = split_line(line)
            if fields.get("mime") == REVISIT_MIME and (urlkey, fields.get("offset")) in offsets:
                line = join_line(urlkey, timestamp, {**fields, "status": NOT_MODIFIED})
        out.append(line)
    write_atomic(path, "".join(out).encode("utf-8"), fsync=False)


def resolve_index_files(paths: list[Path], style: str) -> int:
    """Resolve the 304 lines of local CDXJ files in place (a replay tool's index folder);
    returns how many lines changed. Originals are looked up across all of `paths`."""
    originals = Originals()
    contents = {}
    for path in paths:
        contents[path] = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for line in contents[path]:
            if line.strip():
                originals.add_line(line)
    changed = 0
    for path, lines in contents.items():
        resolved = [
            resolve_line(line, originals, style) if line.strip() else line for line in lines
        ]
        differ = sum(a != b for a, b in zip(lines, resolved, strict=True))
        if differ:
            write_atomic(path, "".join(resolved).encode("utf-8"), fsync=False)
            changed += differ
    return changed


def site_warc_keys(
    store: Store, site: str, since: date | None = None, until: date | None = None
) -> list[str]:
    """Closed WARCs of a site, by day folder (the UTC day each file was opened), oldest first."""
    keys = []
    for key in store.list(f"{WARC_PREFIX}/{safe_segment(site)}"):
        if not key.endswith(_WARC_SUFFIXES):
            continue
        day = parse_warc_key(key)[1]
        if (since and day < since.isoformat()) or (until and day > until.isoformat()):
            continue
        keys.append(key)
    return sorted(keys, key=lambda k: (parse_warc_key(k)[1], k))


def index_lines(store: Store, warc_key: str) -> list[str]:
    """The stored CDXJ lines of one WARC, indexing it first when its index is missing."""
    key = warc_index_key(warc_key)
    if not store.exists(key):
        index_warc(store, warc_key)
    return store.get_bytes(key).decode("utf-8").splitlines(keepends=True)


def originals_of(store: Store, warc_keys: Iterable[str]) -> Originals:
    originals = Originals()
    for warc_key in warc_keys:
        for line in index_lines(store, warc_key):
            if line.strip():
                originals.add_line(line)
    return originals


def replay_index(
    store: Store, warc_keys: list[str], site_keys: list[str]
) -> tuple[list[str], list[str]]:
    """Sorted, resolved CDXJ lines of `warc_keys`, and the WARCs they point into: `warc_keys`
    plus those of `site_keys` holding the originals of their 304s (so a package replays alone).
    """
    originals = originals_of(store, site_keys)
    names = {parse_warc_key(key)[2]: key for key in site_keys}
    lines: list[str] = []
    for key in warc_keys:
        lines += [
            resolve_line(line, originals, WABAC) for line in index_lines(store, key) if line.strip()
        ]
    lines.sort()
    needed = dict.fromkeys(warc_keys)
    for line in lines:
        fields = split_line(line)[2]
        if fields.get("mime") != REVISIT_MIME:
            continue
        # The originals of the revisits go in too, wherever they are, so the package replays.
        name = originals.file_of(fields.get("digest", ""))
        if name in names:
            needed.setdefault(names[name])
    return lines, list(needed)
