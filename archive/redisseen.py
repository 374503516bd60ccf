"""The seen store in Redis, shared by every worker of a scaled-out crawl (see archive.frontier).

Same contract as `SqliteSeenStore`: one hash per site (URL -> JSON entry) plus three indexes
kept in step with it in the same transaction: the pending frontier (sorted by when it became
pending), the archived articles still without text, and the URLs of fetched articles.
Updates that read an entry first (WATCH/MULTI) are retried when another worker changed it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from newsarchive.archive.captures import CaptureRef
from newsarchive.archive.frontier import as_text
from newsarchive.archive.layout import safe_segment
from newsarchive.archive.seen import (
    FINAL_STATUSES,
    Fetch,
    Kind,
    PendingRequest,
    SeenEntry,
    SeenStore,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import redis
    from redis.client import Pipeline

Row = dict[str, Any]

_PENDING_FIELDS = ("callback", "pending_meta", "pending_announced", "pending_since")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _epoch(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else 0.0


class RedisSeenStore(SeenStore):
    """A site's seen store in Redis under ``PREFIX:SITE:seen*``; any number of processes."""

    def __init__(self, client: redis.Redis, site: str, prefix: str) -> None:
        self.client = client
        base = f"{prefix}:{safe_segment(site)}:seen"
        self.key = base
        self.pending_key = f"{base}:pending"
        self.notext_key = f"{base}:notext"
        self.articles_key = f"{base}:articles"
        self.backlog_key = f"{base}:backlog"

    # --- reading ------------------------------------------------------------------------------

    def _rows(self, urls: list[str]) -> list[Row | None]:
        if not urls:
            return []
        raw = self.client.hmget(self.key, urls)
        return [json.loads(value) if value else None for value in raw]

    def get(self, url: str) -> SeenEntry | None:
        row = self._rows([url])[0]
        return None if row is None else _entry(url, row)

    def pending(self) -> list[PendingRequest]:
        urls = [as_text(u) for u in self.client.zrange(self.pending_key, 0, -1)]
        found = []
        for url, row in zip(urls, self._rows(urls), strict=True):
            if row is None or not row.get("pending"):
                continue
            found.append(
                PendingRequest(
                    url=url,
                    kind=Kind(row["kind"]),
                    callback=row.get("callback") or "",
                    meta=row.get("pending_meta") or {},
                    announced=_dt(row.get("pending_announced")),
                    since=_dt(row.get("pending_since")),
                )
            )
        return found

    def without_text(self) -> list[SeenEntry]:
        urls = [as_text(u) for u in self.client.zrange(self.notext_key, 0, -1)]
        entries = [_entry(url, row) for url, row in zip(urls, self._rows(urls), strict=True) if row]
        return [e for e in entries if e.warc is not None and e.text_key is None]

    def counts(self) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hlen(self.key)
        pipe.scard(self.articles_key)
        pipe.zcard(self.pending_key)
        pipe.hlen(self.backlog_key)
        urls, articles, pending, backlog = pipe.execute()
        return {
            "urls": int(urls),
            "articles": int(articles),
            "pending": int(pending),
            "backlog": int(backlog),
        }

    def backlog(self) -> list[PendingRequest]:
        raw = self.client.hgetall(self.backlog_key)
        found = [
            PendingRequest(
                url=as_text(url),
                kind=Kind.ARTICLE,
                callback=row.get("callback") or "",
                meta=row.get("meta") or {},
                announced=_dt(row.get("announced")),
                since=_dt(row.get("since")),
            )
            for url, row in ((url, json.loads(value)) for url, value in raw.items())
        ]
        # As the SQLite store: oldest announcement first, undated ones last, by when found.
        return sorted(found, key=_backlog_order)

    # --- writing ------------------------------------------------------------------------------

    def _update(self, url: str, change: Callable[[Row | None], Row | None]) -> None:
        """Read the entry, let `change` return its new value (None: leave it), write it with
        its index entries, all in one transaction retried on a concurrent change."""

        def apply(pipe: Pipeline) -> None:
            raw = pipe.hget(self.key, url)
            row = change(json.loads(raw) if raw else None)
            if row is None:
                return
            pipe.multi()
            pipe.hset(self.key, url, json.dumps(row, sort_keys=True))
            self._index(pipe, url, row)

        self.client.transaction(apply, self.key)

    def _index(self, pipe: Pipeline, url: str, row: Row) -> None:
        if row.get("pending"):
            pipe.zadd(self.pending_key, {url: _epoch(row.get("pending_since"))})
        else:
            pipe.zrem(self.pending_key, url)
        article = row["kind"] == Kind.ARTICLE.value
        if article and row.get("status") == 200 and row.get("warc") and row.get("text_key") is None:
            pipe.zadd(self.notext_key, {url: _epoch(row.get("fetched_at"))})
        else:
            pipe.zrem(self.notext_key, url)
        if article and row.get("fetched_at"):
            pipe.sadd(self.articles_key, url)

    def add_pending(self, request: PendingRequest) -> None:
        def change(row: Row | None) -> Row:
            row = row or {}
            since = row.get("pending_since") or datetime.now(UTC).isoformat()
            row.update(
                kind=request.kind.value,
                pending=True,
                callback=request.callback,
                pending_meta=request.meta,
                pending_announced=_iso(request.announced),
                pending_since=since,
            )
            return row

        self._update(request.url, change)

    def record_fetch(self, fetch: Fetch) -> None:
        fetched = _iso(fetch.fetched_at)

        def change(row: Row | None) -> Row:
            announced = row.get("pending_announced") if row is not None else None
            row = row or {"pending": False}
            row["kind"] = fetch.kind.value
            # A 304 confirms the stored status (that of the payload it revalidated).
            if fetch.status != 304:
                row["status"] = fetch.status
            row["fetched_at"] = fetched
            row["first_fetched_at"] = row.get("first_fetched_at") or fetched
            row["etag"] = fetch.etag or row.get("etag")
            row["last_modified"] = fetch.last_modified or row.get("last_modified")
            # An announced date waiting for this fetch becomes the known one.
            if announced and (not row.get("announced") or announced > row["announced"]):
                row["announced"] = announced
            if fetch.status in FINAL_STATUSES:
                _unpend(row)
            if fetch.changed and fetch.status != 304:
                row["payload_digest"] = fetch.payload_digest
                row["warc"] = _warc_json(fetch.warc)
                row["text_key"] = None
            return row

        self._update(fetch.url, change)
        if fetch.status in FINAL_STATUSES:
            self.drop_backlog(fetch.url)

    def record_text(self, url: str, text_key: str) -> None:
        def change(row: Row | None) -> Row | None:
            if row is not None:
                row["text_key"] = text_key
            return row

        self._update(url, change)

    def record_announced(self, url: str, announced: datetime) -> None:
        value = _iso(announced)

        def change(row: Row | None) -> Row | None:
            if row is None or not row.get("fetched_at"):
                return None
            if row.get("announced") and row["announced"] >= (value or ""):
                return None
            row["announced"] = value
            return row

        self._update(url, change)

    def settle(self, url: str) -> None:
        def change(row: Row | None) -> Row | None:
            if row is not None:
                _unpend(row)
            return row

        self._update(url, change)
        self.drop_backlog(url)

    def add_backlog(self, request: PendingRequest) -> None:
        def add(pipe: Pipeline) -> None:
            raw = pipe.hget(self.backlog_key, request.url)
            old = json.loads(raw) if raw else {}
            row = {
                "callback": request.callback,
                "meta": request.meta,
                "announced": _iso(request.announced) or old.get("announced"),
                "since": old.get("since") or datetime.now(UTC).isoformat(),
            }
            pipe.multi()
            pipe.hset(self.backlog_key, request.url, json.dumps(row, sort_keys=True))

        self.client.transaction(add, self.backlog_key)

    def drop_backlog(self, url: str) -> None:
        self.client.hdel(self.backlog_key, url)

    def close(self) -> None:
        self.client.close()


def _backlog_order(request: PendingRequest) -> tuple[bool, str, str, str]:
    return (
        request.announced is None,
        _iso(request.announced) or "",
        _iso(request.since) or "",
        request.url,
    )


def _unpend(row: Row) -> None:
    row["pending"] = False
    for name in _PENDING_FIELDS:
        row[name] = None


def _warc_json(warc: CaptureRef | None) -> dict[str, Any] | None:
    if warc is None:
        return None
    # No length: the offset is all a reader needs (as in the SQLite store).
    return {
        "target_uri": warc.target_uri,
        "date": warc.date,
        "record_id": warc.record_id,
        "warc_key": warc.warc_key,
        "offset": warc.offset,
    }


def _entry(url: str, row: Row) -> SeenEntry:
    warc_data = row.get("warc")
    warc = None
    if warc_data:
        warc = CaptureRef(**warc_data, payload_digest=row.get("payload_digest"))
    return SeenEntry(
        url=url,
        kind=Kind(row["kind"]),
        pending=bool(row.get("pending")),
        status=row.get("status"),
        first_fetched_at=_dt(row.get("first_fetched_at")),
        fetched_at=_dt(row.get("fetched_at")),
        etag=row.get("etag"),
        last_modified=row.get("last_modified"),
        payload_digest=row.get("payload_digest"),
        warc=warc,
        text_key=row.get("text_key"),
        announced=_dt(row.get("announced")),
    )
