"""Digest index for revisits: payload digest and URI to the original capture, kept in the store.

The working copy is SQLite under ``store.state_dir``; the durable copy is one JSON-lines object
per closed WARC at ``layout.digest_key`` (so an S3 store keeps it and another host rebuilds it).
Captures are only published once their WARC is closed and committed, so no revisit written by a
later run can point into a file a crash cut back. A revisit's original is the earliest capture
of the same URI with that payload, or failing that (a reprint at another URL) the earliest
capture of the payload at any URI of the site: the revisit then names it in
WARC-Refers-To-Target-URI and WARC-Refers-To-Date, which pywb and ReplayWeb.page follow.
Entries are never deleted, and neither are the WARCs they point into.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import TYPE_CHECKING, BinaryIO, Final

from newsarchive.archive.captures import CaptureRef, ref_from_json, ref_to_json
from newsarchive.archive.layout import DIGEST_PREFIX, digest_key, safe_segment
from newsarchive.archive.reader import iter_records

if TYPE_CHECKING:
    from pathlib import Path

    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

DIGEST_CONTENT_TYPE: Final = "application/x-ndjson"
#: sha1 of b"": a revisit of an empty payload saves nothing and only adds a lookup.
EMPTY_PAYLOAD_DIGEST: Final = "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS captures (
    record_id TEXT PRIMARY KEY,
    payload_digest TEXT NOT NULL,
    target_uri TEXT NOT NULL,
    date TEXT NOT NULL,
    warc_key TEXT NOT NULL,
    filename TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS captures_digest ON captures (payload_digest, target_uri, date);
CREATE TABLE IF NOT EXISTS loaded (key TEXT PRIMARY KEY);
"""


def captures_in_warc(stream: BinaryIO, warc_key: str) -> list[CaptureRef]:
    """The full (non-truncated) response records of a WARC stream, read to the end."""
    return [
        ref
        for ref, record in iter_records(stream, warc_key)
        if record.rec_type == "response"
        and ref.payload_digest
        and not record.rec_headers.get_header("WARC-Truncated")
    ]


class DigestIndex:
    """Payload digest + target URI -> earliest original capture, for one site of a store.

    Thread-safe: the capture middleware calls it from worker threads.
    """

    def __init__(self, store: Store, site: str, path: Path | None = None) -> None:
        self.store = store
        self.site = safe_segment(site)
        if path is None:
            folder = store.state_dir / "digests"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{self.site}.sqlite3"
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        #: Captures in WARCs still open, by file name; published when the file closes.
        self._pending: dict[str, list[CaptureRef]] = {}

    def sync(self) -> int:
        """Load the store's durable entries this working copy lacks; returns how many."""
        prefix = f"{DIGEST_PREFIX}/{self.site}"
        with self._lock:
            known = {row[0] for row in self._db.execute("SELECT key FROM loaded")}
        added = 0
        for key in self.store.list(prefix):
            if key in known or not key.endswith(".jsonl"):
                continue
            lines = self.store.get_bytes(key).decode("utf-8").splitlines()
            captures = [ref_from_json(line) for line in lines if line.strip()]
            with self._lock:
                self._insert(captures, key)
            added += len(captures)
        if added:
            logger.info("Digest index %s: loaded %d captures from the store", self.site, added)
        return added

    def lookup(self, payload_digest: str, target_uri: str) -> CaptureRef | None:
        """The earliest full capture of this URI with this payload, or None."""
        return self._find(payload_digest, target_uri)

    def lookup_payload(self, payload_digest: str) -> CaptureRef | None:
        """The earliest full capture of this payload at any URI of the site, or None."""
        return self._find(payload_digest, None)

    def _find(self, payload_digest: str, target_uri: str | None) -> CaptureRef | None:
        if payload_digest == EMPTY_PAYLOAD_DIGEST:
            return None
        with self._lock:
            pending = [
                capture
                for captures in self._pending.values()
                for capture in captures
                if capture.payload_digest == payload_digest
                and target_uri in (None, capture.target_uri)
            ]
            # The index's digest prefix narrows the rows; few captures share a payload.
            row = self._db.execute(
                "SELECT target_uri, date, record_id, warc_key, offset, length, payload_digest "
                "FROM captures WHERE payload_digest = ?1 AND (?2 IS NULL OR target_uri = ?2) "
                "ORDER BY date LIMIT 1",
                (payload_digest, target_uri),
            ).fetchone()
        published = [CaptureRef(*row)] if row else []
        # Published captures are older than those of files still open.
        found = published + pending
        return found[0] if found else None

    def add(self, capture: CaptureRef) -> None:
        """Remember a capture just written; usable at once, published when its file closes."""
        with self._lock:
            self._pending.setdefault(capture.filename, []).append(capture)

    def file_closed(self, filename: str, warc_key: str) -> None:
        """Publish the captures of a committed WARC: durable object first, then SQLite."""
        with self._lock:
            captures = self._pending.pop(filename, [])
        self._publish(captures, filename, warc_key)

    def index_warc(self, filename: str, warc_key: str) -> int:
        """Publish the captures of a WARC this process did not write (a recovered file)."""
        with self.store.open_read(warc_key) as stream:
            captures = captures_in_warc(stream, warc_key)
        self._publish(captures, filename, warc_key)
        return len(captures)

    def _publish(self, captures: list[CaptureRef], filename: str, warc_key: str) -> None:
        # Published even when empty (a WARC of revisits only): its presence says the step was
        # done, so `archive.backfill` can tell a WARC whose digests a kill left unpublished.
        key = digest_key(self.site, filename)
        body = "".join(ref_to_json(capture) + "\n" for capture in captures).encode("utf-8")
        self.store.put_bytes(key, body, DIGEST_CONTENT_TYPE, {"warc-key": warc_key})
        with self._lock:
            self._insert(captures, key)

    def _insert(self, captures: list[CaptureRef], key: str) -> None:
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT OR IGNORE INTO captures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.record_id,
                        c.payload_digest,
                        c.target_uri,
                        c.date,
                        c.warc_key,
                        c.filename,
                        c.offset,
                        c.length,
                    )
                    for c in captures
                ],
            )
            self._db.execute("INSERT OR IGNORE INTO loaded VALUES (?)", (key,))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
