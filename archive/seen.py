"""The seen store: what each URL gave at its last fetch, so the next run fetches only news.

Per canonical URL it keeps the last fetch time, the HTTP validators (ETag, Last-Modified), the
payload digest, the WARC response record holding that payload, the text version extracted from
it and the feed/sitemap date the URL was last announced with; plus the frontier of a run (URLs
discovered but not fetched yet), so a killed run's successor can continue it.

`SeenStore` is the interface (Redis comes with scale-out); `SqliteSeenStore` the default, one
file per site in the store's local state folder. No Scrapy here: plain values in, plain out.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.files import sqlite_write_error
from newsarchive.archive.layout import (
    WARC_PREFIX,
    WARC_SUFFIXES,
    parse_warc_key,
    safe_segment,
    site_prefix,
)
from newsarchive.archive.reader import iter_records

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from newsarchive.archive.store import Store

#: Statuses that settle a URL for good: a capture to keep, a redirect, or a page that is gone.
#: Anything else (5xx, 403, 429, network errors) leaves the URL to be tried again next run.
FINAL_STATUSES = frozenset({*range(200, 400), 404, 410})
#: An announced date this long before our fetch of an article may still be news to the capture.
ANNOUNCED_GRACE = timedelta(hours=1)


class Kind(StrEnum):
    PAGE = "page"  # feeds, sitemaps, section and start pages: fetched (conditionally) every run
    ARTICLE = "article"  # fetched once, then only when announced newer or the policy says so


class Plan(StrEnum):
    """What to do with a discovered article URL."""

    NEW = "new"
    ANNOUNCED = "announced"  # archived, but its feed/sitemap date is newer than what we have
    POLICY = "policy"  # archived, but the refetch policy asks for another (conditional) look
    PENDING = "pending"  # discovered by an earlier run that ended before fetching it
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Fetch:
    """What one fetch of a URL gave."""

    url: str
    kind: Kind
    status: int
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    payload_digest: str | None = None
    warc: CaptureRef | None = None
    #: True when the payload differs from the last one (or there was none): a new capture.
    changed: bool = True


@dataclass(frozen=True, slots=True)
class SeenEntry:
    url: str
    kind: Kind
    pending: bool
    status: int | None = None
    first_fetched_at: datetime | None = None
    fetched_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    payload_digest: str | None = None
    warc: CaptureRef | None = None
    #: The text version extracted from `warc`: None while extraction has not ended (a killed
    #: run's capture, to extract at the next start), "" when the capture gave no text.
    text_key: str | None = None
    announced: datetime | None = None

    @property
    def archived(self) -> bool:
        """Fetched with an answer that settles it (see FINAL_STATUSES)."""
        return self.fetched_at is not None and self.status in FINAL_STATUSES

    def previous_capture(self) -> CaptureRef | None:
        """The last capture, with its payload digest: what a revisit of it refers to."""
        if self.warc is None or not self.payload_digest:
            return None
        return replace(self.warc, payload_digest=self.payload_digest)


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A URL discovered but not fetched yet: enough to request it again in the next run."""

    url: str
    kind: Kind
    callback: str
    meta: dict[str, Any] = field(default_factory=dict)
    announced: datetime | None = None
    #: When it was first made pending.
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefetchPolicy:
    """Look again at articles published within `within_hours`, every `every_hours` (the site
    file's `refetch:`; without one, only a newer announced date brings an article back)."""

    within_hours: float
    every_hours: float


def plan_article(
    entry: SeenEntry | None,
    announced: datetime | None,
    now: datetime,
    policy: RefetchPolicy | None = None,
) -> Plan:
    """Whether to fetch an article discovered now, given what the seen store knows of it."""
    if entry is None:
        return Plan.NEW
    if not entry.archived:
        return Plan.PENDING if entry.pending else Plan.NEW
    assert entry.fetched_at is not None  # archived implies it
    if announced is not None:
        # Compared with the date we last saw announced and with our fetch time: a date after
        # both means the article changed since. The fetch time counts too, less a grace for
        # pages served stale a while after their announced change (caches), because the dates
        # of a killed run's pages are never recorded: a page it did not finish reading announces
        # its articles anew at the next run, with dates our capture already holds.
        known = max(entry.announced or entry.fetched_at, entry.fetched_at - ANNOUNCED_GRACE)
        if announced > known:
            return Plan.ANNOUNCED
    if policy is not None:
        published = entry.announced or announced or entry.first_fetched_at or entry.fetched_at
        young = now - published <= timedelta(hours=policy.within_hours)
        due = now - entry.fetched_at >= timedelta(hours=policy.every_hours)
        if young and due:
            return Plan.POLICY
    return Plan.SKIP


class SeenStore(ABC):
    """Per-URL fetch history and the pending frontier of one site."""

    @abstractmethod
    def get(self, url: str) -> SeenEntry | None: ...

    @abstractmethod
    def add_pending(self, request: PendingRequest) -> None:
        """Remember a URL about to be requested; a later `record_fetch` settles it."""

    @abstractmethod
    def pending(self) -> list[PendingRequest]:
        """URLs added with `add_pending` and never settled, oldest first."""

    @abstractmethod
    def record_fetch(self, fetch: Fetch) -> None:
        """Store a fetch's result. An unchanged payload keeps the WARC record of the original,
        so revisits always refer to a record that holds the payload."""

    @abstractmethod
    def record_text(self, url: str, text_key: str) -> None:
        """The text version extracted from the URL's last capture ("" for none)."""

    @abstractmethod
    def without_text(self) -> list[SeenEntry]:
        """Archived article captures whose extraction never ended (see `SeenEntry.text_key`)."""

    @abstractmethod
    def record_announced(self, url: str, announced: datetime) -> None:
        """Keep the latest feed/sitemap date seen for an archived URL (for a pending one, the
        date its fetch will record)."""

    @abstractmethod
    def settle(self, url: str) -> None:
        """Drop a URL from the pending frontier (and the backlog) without a fetch (robots.txt
        said no)."""

    @abstractmethod
    def add_backlog(self, request: PendingRequest) -> None:
        """Remember an article this run found but did not take (over `max_articles`), for the
        next runs to take first; a recorded fetch or `drop_backlog` ends it."""

    @abstractmethod
    def backlog(self) -> list[PendingRequest]:
        """The backlog, oldest announcement first (undated ones last, by when found)."""

    @abstractmethod
    def drop_backlog(self, url: str) -> None:
        """Take a URL off the backlog without a fetch (archived meanwhile, or too old now)."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Numbers for reports: urls, articles, pending, backlog."""

    def close(self) -> None:  # noqa: B027 - optional hook; an in-memory store holds nothing
        """Release the store."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    url TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0,
    callback TEXT,
    pending_meta TEXT,
    pending_announced TEXT,
    pending_since TEXT,
    status INTEGER,
    first_fetched_at TEXT,
    fetched_at TEXT,
    etag TEXT,
    last_modified TEXT,
    payload_digest TEXT,
    warc_target_uri TEXT,
    warc_date TEXT,
    warc_record_id TEXT,
    warc_key TEXT,
    warc_offset INTEGER,
    text_key TEXT,
    announced TEXT
);
-- Added after the first release: CREATE ... IF NOT EXISTS adds it to older files as they open.
CREATE TABLE IF NOT EXISTS backlog (
    url TEXT PRIMARY KEY,
    callback TEXT NOT NULL,
    meta TEXT NOT NULL,
    announced TEXT,
    since TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_pending ON seen (pending_since) WHERE pending = 1;
CREATE INDEX IF NOT EXISTS seen_without_text ON seen (fetched_at)
    WHERE kind = 'article' AND status = 200 AND text_key IS NULL;
"""


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _request(row: sqlite3.Row) -> PendingRequest:
    """A pending (or backlog) row, its columns named as PendingRequest's fields."""
    return PendingRequest(
        url=row["url"],
        kind=Kind(row["kind"]),
        callback=row["callback"] or "",
        meta=json.loads(row["meta"] or "{}"),
        announced=_dt(row["announced"]),
        since=_dt(row["since"]),
    )


class SqliteSeenStore(SeenStore):
    """SQLite file in WAL mode: each call is one committed transaction, so a killed crawl loses
    nothing it recorded. One connection, usable from any thread (calls are serialised)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._writing():
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process (not a power cut), the risk here.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A full disk, read-only or failing store as the OSError it is, naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            failure = sqlite_write_error(exc, self.path)
            if failure is None:
                raise
            raise failure from exc

    def _row(self, url: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM seen WHERE url = ?", (url,)
        ).fetchone()
        return row

    def get(self, url: str) -> SeenEntry | None:
        with self._writing(), self._lock:
            row = self._row(url)
        return None if row is None else self._entry(row)

    @staticmethod
    def _entry(row: sqlite3.Row) -> SeenEntry:
        warc = None
        if row["warc_record_id"]:
            # No length column: the offset is all a reader needs.
            warc = CaptureRef(
                target_uri=row["warc_target_uri"],
                date=row["warc_date"],
                record_id=row["warc_record_id"],
                warc_key=row["warc_key"],
                offset=row["warc_offset"],
                payload_digest=row["payload_digest"],
            )
        return SeenEntry(
            url=row["url"],
            kind=Kind(row["kind"]),
            pending=bool(row["pending"]),
            status=row["status"],
            first_fetched_at=_dt(row["first_fetched_at"]),
            fetched_at=_dt(row["fetched_at"]),
            etag=row["etag"],
            last_modified=row["last_modified"],
            payload_digest=row["payload_digest"],
            warc=warc,
            text_key=row["text_key"],
            announced=_dt(row["announced"]),
        )

    def add_pending(self, request: PendingRequest) -> None:
        values = (
            request.url,
            request.kind.value,
            request.callback,
            json.dumps(request.meta, sort_keys=True),
            _iso(request.announced),
            datetime.now(UTC).isoformat(),
        )
        with self._writing(), self._lock:
            self._db.execute(
                "INSERT INTO seen (url, kind, pending, callback, pending_meta, pending_announced,"
                " pending_since) VALUES (?, ?, 1, ?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET pending = 1, kind = excluded.kind,"
                " callback = excluded.callback, pending_meta = excluded.pending_meta,"
                " pending_announced = excluded.pending_announced,"
                " pending_since = coalesce(seen.pending_since, excluded.pending_since)",
                values,
            )

    def pending(self) -> list[PendingRequest]:
        with self._writing(), self._lock:
            rows = self._db.execute(
                "SELECT url, kind, callback, pending_meta AS meta,"
                " pending_announced AS announced, pending_since AS since FROM seen"
                " WHERE pending = 1 ORDER BY pending_since, url"
            ).fetchall()
        return [_request(row) for row in rows]

    def record_fetch(self, fetch: Fetch) -> None:
        fetched = _iso(fetch.fetched_at)
        settled = fetch.status in FINAL_STATUSES
        with self._writing(), self._lock, self._db:
            self._db.execute("BEGIN")
            row = self._row(fetch.url)
            if row is None:
                self._db.execute(
                    "INSERT INTO seen (url, kind, pending) VALUES (?, ?, 0)",
                    (fetch.url, fetch.kind.value),
                )
            # An announced date waiting for this fetch becomes the known one.
            announced = row["pending_announced"] if row is not None else None
            self._db.execute(
                # A 304 confirms the stored status (that of the payload it revalidated).
                "UPDATE seen SET kind = ?, status = CASE WHEN ? = 304 THEN status ELSE ? END,"
                " fetched_at = ?,"
                " first_fetched_at = coalesce(first_fetched_at, ?),"
                " etag = coalesce(?, etag), last_modified = coalesce(?, last_modified),"
                " announced = CASE WHEN ? IS NOT NULL AND (announced IS NULL OR ? > announced)"
                "   THEN ? ELSE announced END"
                " WHERE url = ?",
                (
                    fetch.kind.value,
                    fetch.status,
                    fetch.status,
                    fetched,
                    fetched,
                    fetch.etag,
                    fetch.last_modified,
                    announced,
                    announced,
                    announced,
                    fetch.url,
                ),
            )
            if settled:
                self._db.execute(
                    "UPDATE seen SET pending = 0, callback = NULL, pending_meta = NULL,"
                    " pending_announced = NULL, pending_since = NULL WHERE url = ?",
                    (fetch.url,),
                )
                self._db.execute("DELETE FROM backlog WHERE url = ?", (fetch.url,))
            if fetch.changed and fetch.status != 304:
                warc = fetch.warc
                self._db.execute(
                    "UPDATE seen SET payload_digest = ?, warc_target_uri = ?, warc_date = ?,"
                    " warc_record_id = ?, warc_key = ?, warc_offset = ?, text_key = NULL"
                    " WHERE url = ?",
                    (
                        fetch.payload_digest,
                        warc.target_uri if warc else None,
                        warc.date if warc else None,
                        warc.record_id if warc else None,
                        warc.warc_key if warc else None,
                        warc.offset if warc else None,
                        fetch.url,
                    ),
                )

    def record_text(self, url: str, text_key: str) -> None:
        with self._writing(), self._lock:
            self._db.execute("UPDATE seen SET text_key = ? WHERE url = ?", (text_key, url))

    def without_text(self) -> list[SeenEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM seen WHERE kind = 'article' AND status = 200"
                " AND warc_record_id IS NOT NULL AND text_key IS NULL ORDER BY fetched_at, url"
            ).fetchall()
        return [self._entry(row) for row in rows]

    def record_announced(self, url: str, announced: datetime) -> None:
        value = _iso(announced)
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE seen SET announced = ? WHERE url = ? AND fetched_at IS NOT NULL"
                " AND (announced IS NULL OR announced < ?)",
                (value, url, value),
            )
            # Not fetched yet: the newest date it was announced with becomes the known one
            # when its fetch is recorded.
            self._db.execute(
                "UPDATE seen SET pending_announced = ? WHERE url = ? AND pending = 1"
                " AND (pending_announced IS NULL OR pending_announced < ?)",
                (value, url, value),
            )

    def settle(self, url: str) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE seen SET pending = 0, callback = NULL, pending_meta = NULL,"
                " pending_announced = NULL, pending_since = NULL WHERE url = ?",
                (url,),
            )
            self._db.execute("DELETE FROM backlog WHERE url = ?", (url,))

    def add_backlog(self, request: PendingRequest) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO backlog (url, callback, meta, announced, since)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                " meta = excluded.meta, announced = coalesce(excluded.announced, announced)",
                (
                    request.url,
                    request.callback,
                    json.dumps(request.meta, sort_keys=True),
                    _iso(request.announced),
                    datetime.now(UTC).isoformat(),
                ),
            )

    def backlog(self) -> list[PendingRequest]:
        with self._lock:
            rows = self._db.execute(
                "SELECT url, 'article' AS kind, callback, meta, announced, since FROM backlog"
                " ORDER BY announced IS NULL, announced, since, url"
            ).fetchall()
        return [_request(row) for row in rows]

    def drop_backlog(self, url: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM backlog WHERE url = ?", (url,))

    def counts(self) -> dict[str, int]:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) AS urls,"
                " coalesce(sum(kind = 'article' AND fetched_at IS NOT NULL), 0) AS articles,"
                " coalesce(sum(pending), 0) AS pending,"
                " (SELECT count(*) FROM backlog) AS backlog FROM seen"
            ).fetchone()
        return {key: row[key] for key in ("urls", "articles", "pending", "backlog")}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def seen_store_path(state_dir: Path, site: str) -> Path:
    return state_dir / "seen" / f"{safe_segment(site)}.sqlite3"


def open_seen_store(state_dir: Path, site: str) -> SeenStore:
    """The default seen store of a site: SQLite under the store's state folder."""
    return SqliteSeenStore(seen_store_path(state_dir, site))


def reconcile_pending(seen: SeenStore, store: Store, site: str) -> int:
    """Record captures a killed run wrote to its WARC but not to the seen store.

    The capture is written first and the seen store told right after; a run killed in between
    leaves an archived article pending. Its (repaired) WARC is read back instead of fetching the
    article again. Returns how many pending articles were found archived.
    """
    pending = {p.url: p for p in seen.pending() if p.kind is Kind.ARTICLE and p.since}
    if not pending:
        return 0
    since = min(p.since for p in pending.values() if p.since is not None)
    first_day = since.strftime("%Y-%m-%d")
    found = 0
    for key in store.list(site_prefix(WARC_PREFIX, site)):
        if not key.endswith(WARC_SUFFIXES):
            continue
        _site, day, _name = parse_warc_key(key)
        if day < first_day:
            continue
        with store.open_read(key) as fh:
            for ref, record in iter_records(fh, key):
                if record.rec_type != "response" or ref.target_uri not in pending:
                    continue
                when = datetime.fromisoformat(ref.date.replace("Z", "+00:00"))
                if when < since.replace(microsecond=0) - timedelta(seconds=1):
                    continue
                http = record.http_headers
                seen.record_fetch(
                    Fetch(
                        url=ref.target_uri,
                        kind=Kind.ARTICLE,
                        status=int(http.get_statuscode()),
                        fetched_at=when,
                        etag=http.get_header("ETag"),
                        last_modified=http.get_header("Last-Modified"),
                        payload_digest=ref.payload_digest,
                        warc=ref,
                    )
                )
                del pending[ref.target_uri]
                found += 1
    return found
