"""One crawl of one site: its store, run ID, lock, seen store and digest index, opened in one
place and finished in one fixed order. No Scrapy: the crawl's components hand in their steps."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from newsarchive.archive.backfill import recover_warcs
from newsarchive.archive.digests import DigestIndex
from newsarchive.archive.lock import LockHeld, site_lock
from newsarchive.archive.seen import open_seen_store, reconcile_pending
from newsarchive.archive.store import AWS_OPTIONS, open_store

if TYPE_CHECKING:
    from collections.abc import Callable

    from newsarchive.archive.frontier import SharedFrontier
    from newsarchive.archive.lock import LockOwner, RunLock
    from newsarchive.archive.seen import SeenStore
    from newsarchive.archive.store import Store, UploadReport
    from newsarchive.config.options import Options
    from newsarchive.config.sites import SiteConfig

logger = logging.getLogger(__name__)


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run name: 20260217T131500Z-1a2b3c4d."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def store_options(options: Options, *, reader: bool = False) -> dict[str, Any]:
    """Options for `open_store`: Scrapy's AWS_* names and STORAGE_S3_* (S3 stores only).

    `reader` (replay, reextract, verify): no degraded reads, so an unreachable store is an
    error instead of a listing of the local spool only.
    """
    if not options.store.startswith("s3://"):
        return {}
    chosen = {
        name: value
        for name, value in options.storage.items()
        if name in AWS_OPTIONS or name.startswith("STORAGE_S3_")
    }
    if reader:
        chosen["STORAGE_S3_DEGRADED_READS"] = False
    return chosen


def open_options_store(options: Options, *, reader: bool = False) -> Store:
    """The store of the options; a `reader` never creates one that does not exist."""
    return open_store(options.store, create=not reader, **store_options(options, reader=reader))


def _nothing() -> None:
    return None


class NoRunSeeded(Exception):
    """A worker found no run of its site in Redis: `newsarchive seed` it first."""

    def __init__(self, site: str) -> None:
        self.site = site
        super().__init__(f"{site}: no run seeded in Redis (run `newsarchive seed` first)")


def shared_frontier(site: SiteConfig, options: Options) -> SharedFrontier:
    """The site's frontier in the Redis of REDIS_URL, joined to the run to seed or work on."""
    # Imported here: redis is loaded only by scaled-out runs.
    from newsarchive.archive.frontier import SharedFrontier, connect  # noqa: PLC0415

    frontier = SharedFrontier(connect(options.redis_url), site.name, options.scaleout_prefix)
    if options.scaleout_role == "seed":
        frontier.begin_run(new_run_id())
        return frontier
    run_id = frontier.current_run()
    if run_id is None:
        raise NoRunSeeded(site.name)
    return frontier.join(run_id)


@dataclass(slots=True)
class FinishSteps:
    """What the crawl's components do at the end of a run, called by `CrawlRun.finish`."""

    #: Close the WARC writer; returns the keys of every WARC this run wrote.
    close_writer: Callable[[], list[str]] = list
    #: CDXJ indexes and the WACZ package of those WARCs.
    package: Callable[[list[str]], None] = lambda _keys: None
    #: Put what the run learnt while finishing (`pending_left`, `upload`) into the stats.
    count: Callable[[], None] = _nothing
    #: Write the run report: the store is drained and `CrawlRun.upload` known.
    report: Callable[[], None] = _nothing


@dataclass(slots=True)
class CrawlRun:
    """A crawl of one site. `open` takes the site lock in the store's state folder; a run that
    finds it held is `locked_out` and must touch nothing of the site. `finish` ends the run:

    1. close the WARC writer (its last file is committed to the store);
    2. index (CDXJ) and package (WACZ) the run's WARCs;
    3. close the seen store (counting requests left pending) and the digest index;
    4. drain the store (an S3 store uploads what waits, while it answers) and count;
    5. write the run report, once, with the final numbers (and the Prometheus textfile);
    6. close the store (the report itself is uploaded, or waits in the spool);
    7. release the site lock: the next run may start.
    """

    site: SiteConfig
    options: Options
    store: Store
    run_id: str = field(default_factory=new_run_id)
    lock: RunLock | None = None
    #: Who holds the site's lock, when another crawl does (this run then does nothing).
    locked_by: LockOwner | None = None
    locked_out: bool = False
    #: Requests left pending in the seen store at the end (set by finish).
    pending_left: int | None = None
    #: Articles left in the seen store's backlog at the end (set by finish).
    backlog_left: int | None = None
    #: The store's upload outcome once closed (None for a local store).
    upload: UploadReport | None = None
    #: Set by the crawl's components as they are built; run in order by `finish`.
    steps: FinishSteps = field(default_factory=lambda: FinishSteps())
    #: Scaled out (REDIS_URL): the shared frontier, whose run this is.
    frontier: SharedFrontier | None = None
    _seen: SeenStore | None = None
    _digests: DigestIndex | None = None
    _recovered: list[str] | None = None
    _finished: bool = False

    @classmethod
    def open(cls, site: SiteConfig, options: Options, store: Store | None = None) -> Self:
        """Open the store and, with LOCK_ENABLED, take the site's lock. Scaled out, the run
        is the one seeded in Redis and the lock is shared by its processes on this machine."""
        frontier = shared_frontier(site, options) if options.redis_url else None
        run = cls(site, options, store or open_options_store(options), frontier=frontier)
        if frontier is not None and frontier.keys is not None:
            run.run_id = frontier.keys.run_id
        if options.lock:
            lock = site_lock(run.store.state_dir, site.name)
            try:
                run.lock = lock.acquire(shared=frontier is not None)
            except LockHeld as exc:
                run.locked_out, run.locked_by = True, exc.owner
                logger.info("%s: not crawled, another crawl is running (%s)", site.name, run.holder)
        if not run.locked_out:
            logger.info("Archiving run %s into %s", run.run_id, run.store.uri)
        return run

    @property
    def holder(self) -> str:
        return self.locked_by.describe() if self.locked_by else "another process"

    def recover(self) -> list[str]:
        """Close the WARCs a killed run of the site left open (once, at the first call);
        the keys of those recovered. Done before the seen store is reconciled with the archive,
        so the captures in those files are known before any request is planned."""
        if self._recovered is None:
            self._recovered = recover_warcs(self.store, self.site.name)
        return list(self._recovered)

    @property
    def name(self) -> str:
        """What this process's run files are called (report, log, WACZ): the run ID, and
        scaled out, the worker's host and process too."""
        if self.frontier is None:
            return self.run_id
        return f"{self.run_id}-{self.frontier.worker}"

    @property
    def seen(self) -> SeenStore:
        """The site's seen store, opened on first use (reconciled with the archive). Scaled out
        it is in Redis, shared, and not reconciled: pending URLs there belong to live workers,
        and a dead worker's come back through its in-flight ledger."""
        if self._seen is None and self.frontier is not None:
            from newsarchive.archive.redisseen import RedisSeenStore  # noqa: PLC0415

            self._seen = RedisSeenStore(self.frontier.client, self.site.name, self.frontier.prefix)
        if self._seen is None:
            self.recover()
            seen = open_seen_store(self.store.state_dir, self.site.name)
            found = reconcile_pending(seen, self.store, self.site.name)
            if found:
                logger.warning(
                    "%d articles a killed run archived but did not record; recorded now", found
                )
            self._seen = seen
        return self._seen

    @property
    def digests(self) -> DigestIndex:
        """The site's payload digest index (revisits), opened on first use."""
        if self._digests is None:
            self._digests = DigestIndex(self.store, self.site.name)
        return self._digests

    def finish(self) -> None:
        """End the run in the documented order; blocking, call it off the reactor. A failing
        step is logged and the next one still runs: the lock is always released."""
        if self._finished:
            return
        self._finished = True
        steps = self.steps
        keys: list[str] = []

        def close_writer() -> None:
            keys.extend(steps.close_writer())

        order: list[tuple[str, Callable[[], None]]] = [
            ("close the WARC writer", close_writer),
            ("package the run", lambda: steps.package(keys)),
            ("close the seen store", self._close_seen),
            ("close the digest index", self._close_digests),
            ("drain the store", self._drain_store),
            ("count what is left", steps.count),
            ("write the run report", steps.report),
            ("close the store", self.store.close),
            ("release the site lock", self._release),
        ]
        for what, step in order:
            try:
                step()
            except Exception:  # every later step must run: above all the lock's release
                logger.error("Could not %s of run %s", what, self.run_id, exc_info=True)

    def _close_seen(self) -> None:
        seen, self._seen = self._seen, None
        if seen is not None:
            counts = seen.counts()
            self.pending_left, self.backlog_left = counts["pending"], counts["backlog"]
            seen.close()

    def _close_digests(self) -> None:
        digests, self._digests = self._digests, None
        if digests is not None:
            digests.close()

    def _drain_store(self) -> None:
        self.store.drain()
        upload = self.store.upload_report()
        if upload is not None and upload.unreachable and self.steps.report is not _nothing:
            # The report, written next, stays in the spool with the rest: counted, so the
            # report, the stats and the summary agree on what is left behind.
            upload = replace(upload, pending=upload.pending + 1)
        self.upload = upload

    def _release(self) -> None:
        lock, self.lock = self.lock, None
        if lock is not None:
            lock.release()
