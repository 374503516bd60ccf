"""Every Scrapy stats key the project writes, in one place so tests and reports agree."""

from __future__ import annotations

from enum import StrEnum


class StatsKeys:
    ARCHIVE_RECORDS = "archive/records_written"
    ARCHIVE_RESPONSES = "archive/responses_written"
    ARCHIVE_REVISITS = "archive/revisits_written"
    ARCHIVE_BYTES = "archive/bytes_written"
    ARCHIVE_FILES = "archive/files_closed"
    ARCHIVE_SKIPPED_CACHED = "archive/skipped_cached"
    ARCHIVE_ERRORS = "archive/write_failed"
    ARCHIVE_REVISITS_NOT_MODIFIED = "archive/revisits_not_modified"
    ARCHIVE_RECOVERED = "archive/files_recovered"
    ARCHIVE_DIGESTS_LOADED = "archive/digests_loaded"
    ARCHIVE_DIGESTS_FAILED = "archive/digests_failed"
    #: Closed WARCs whose digests a killed run left unpublished, published at start.
    ARCHIVE_DIGESTS_BACKFILLED = "archive/digests_backfilled"

    PACKAGE_CDXJ = "package/cdxj_written"
    PACKAGE_WACZ = "package/wacz_written"
    PACKAGE_FAILED = "package/failed"
    #: Capture records a CDXJ index left out (logged with their offset); the rest is indexed.
    PACKAGE_CDXJ_SKIPPED = "package/cdxj_skipped_records"
    #: WARCs of earlier runs in no package (a run killed before packaging), packaged now.
    PACKAGE_BACKFILLED = "package/warcs_backfilled"

    DISCOVERY_FEEDS = "discovery/feeds"
    DISCOVERY_SITEMAPS = "discovery/sitemaps"
    DISCOVERY_SECTIONS = "discovery/sections"
    DISCOVERY_ARTICLES = "discovery/articles"
    DISCOVERY_SKIPPED_AGE = "discovery/skipped_age"
    DISCOVERY_SKIPPED_DUPLICATE = "discovery/skipped_duplicate"
    DISCOVERY_SKIPPED_LIMIT = "discovery/skipped_limit"
    DISCOVERY_NOT_ARTICLE = "discovery/not_article"
    #: Site input skipped, one item at a time, as malformed or over a limit: suffixed by
    #: /<InvalidKind>; the first of each kind per run is logged (pipelines.skips).
    DISCOVERY_SKIPPED_INVALID = "discovery/skipped_invalid"
    #: Meta refreshes to another URL, followed as links instead of archived as the article.
    DISCOVERY_META_REFRESH = "discovery/meta_refresh"

    EXTRACT_OK = "extract/articles"
    EXTRACT_EMPTY = "extract/empty_text"
    EXTRACT_FAILED = "extract/failed"
    #: Blocks removed because they repeat across the site's articles (extraction.sitemodel).
    EXTRACT_SITE_BLOCKS_REMOVED = "extract/site_blocks_removed"
    #: Articles archived without text, by why (the /suffix, a NotExtracted value); each has a
    #: metadata record whose `not_extracted` says the same (pipelines.article).
    EXTRACT_NOT_EXTRACTED = "extract/not_extracted"
    #: Extraction workers that died or hung and were replaced (their page retried once).
    EXTRACT_WORKERS_LOST = "extract/workers_lost"

    STORAGE_OBJECTS = "storage/objects_written"
    STORAGE_FAILED = "storage/write_failed"
    #: Objects uploaded to a remote store and their bytes; failed attempts by error name.
    STORAGE_UPLOADED = "storage/uploaded"
    STORAGE_UPLOADED_BYTES = "storage/uploaded_bytes"
    STORAGE_UPLOAD_FAILED = "storage/upload_failed"
    #: Objects still only in the local spool at the end of the run (`newsarchive upload`).
    STORAGE_SPOOLED_PENDING = "storage/spooled_pending"
    #: 1 when the remote store was unreachable at the end of the run.
    STORAGE_UNAVAILABLE = "storage/unavailable"
    #: "CAUSE: PATH" of the write that stopped the crawl: a full disk, read-only store, I/O error.
    STORAGE_UNWRITABLE = "storage/unwritable"
    STORAGE_MULTIPART_ABORTED = "storage/multipart_aborted"

    #: Incremental runs (pipelines.extensions.seen): conditional requests sent, 304s received;
    #: articles by what their fetch gave; discovery decisions taken from the seen store.
    INCREMENTAL_CONDITIONAL = "incremental/conditional_requests"
    INCREMENTAL_NOT_MODIFIED = "incremental/not_modified"
    INCREMENTAL_PAGES_CHANGED = "incremental/pages_changed"
    INCREMENTAL_PAGES_UNCHANGED = "incremental/pages_unchanged"
    INCREMENTAL_FETCHED = "incremental/articles_fetched"
    INCREMENTAL_NEW = "incremental/articles_new"
    INCREMENTAL_UPDATED = "incremental/articles_updated"
    INCREMENTAL_UNCHANGED = "incremental/articles_unchanged"
    INCREMENTAL_OTHER_STATUS = "incremental/articles_other_status"
    INCREMENTAL_SKIPPED_SEEN = "incremental/skipped_seen"
    #: Archived articles fetched again, by why: announced (newer feed/sitemap date), policy.
    INCREMENTAL_REFETCH = "incremental/refetch"
    #: Requests a killed run left pending, queued again at start; still pending at the end.
    INCREMENTAL_RESUMED = "incremental/resumed"
    INCREMENTAL_PENDING_LEFT = "incremental/pending_left"
    #: Articles over `max_articles` put in the backlog; taken from it; left in it at the end.
    INCREMENTAL_BACKLOG_ADDED = "incremental/backlog_added"
    INCREMENTAL_BACKLOG_TAKEN = "incremental/backlog_taken"
    INCREMENTAL_BACKLOG = "incremental/backlog"
    INCREMENTAL_ROBOTS_DENIED = "incremental/robots_denied"
    #: Redirects to an archived article that is not due again: not followed.
    INCREMENTAL_REDIRECT_ARCHIVED = "incremental/redirect_to_archived"
    #: Captures a killed run archived before their text was written, extracted at start from
    #: the archive; those whose WARC record could not be read.
    INCREMENTAL_TEXTS_RECOVERED = "incremental/texts_recovered"
    INCREMENTAL_TEXTS_RECOVER_FAILED = "incremental/texts_recover_failed"

    #: Bans and walls (pipelines.bans): 429/403 answers seen; 1 when the crawl was stopped.
    BANS_RESPONSES = "bans/responses"
    BANS_STOPPED = "bans/stopped"
    BANS_REASON = "bans/reason"

    #: Scale-out (pipelines.scaleout): requests pushed to and taken from the shared Redis queue
    #: (scrapy-redis's names); dead workers this worker found (their requests re-queued).
    SCALEOUT_ENQUEUED = "scheduler/enqueued/redis"
    SCALEOUT_DEQUEUED = "scheduler/dequeued/redis"
    SCALEOUT_DEAD_WORKERS = "scaleout/dead_workers"
    #: 1 in every process of a scaled-out run (seeder or worker).
    SCALEOUT_SHARED = "scaleout/shared_frontier"

    #: Run report (pipelines.report): 1 when the JSON report was stored.
    REPORT_WRITTEN = "report/written"
    REPORT_FAILED = "report/failed"

    #: Page requisites (spiders.requisites): stylesheets, scripts, images and icons of article
    #: pages, and the url()s of those stylesheets. Requested; skipped as already requested this
    #: run, out of ARCHIVE_REQUISITES_SCOPE, or past ARCHIVE_REQUISITES_MAX_PER_PAGE; answered
    #: 200; answered otherwise (by status); failed (by exception name).
    REQUISITES_REQUESTED = "requisites/requested"
    REQUISITES_SKIPPED_DUPLICATE = "requisites/skipped_duplicate"
    REQUISITES_SKIPPED_SCOPE = "requisites/skipped_scope"
    REQUISITES_SKIPPED_LIMIT = "requisites/skipped_limit"
    REQUISITES_FETCHED = "requisites/fetched"
    REQUISITES_STATUS = "requisites/status"
    REQUISITES_FAILED = "requisites/failed"

    #: Network policy (pipelines.downloadermiddlewares.netpolicy): requests refused, by reason:
    #: scheme, loopback, private_network, link_local, cgnat, multicast, unspecified, reserved
    #: (the reasons are config.network's constants).
    POLICY_REFUSED = "policy/refused"


class InvalidKind(StrEnum):
    """What a DISCOVERY_SKIPPED_INVALID count is about (the last part of its key)."""

    #: A link, feed entry, sitemap <loc>, robots Sitemap: line or meta refresh target that
    #: names no http(s) page (bad IPv6 literal or port, other scheme, no host).
    URL = "url"
    #: A feed or sitemap date that cannot be read or is out of range (the entry is kept, undated).
    DATE = "date"
    #: A JSON Feed over JSON_MAX_DEPTH or JSON_MAX_BYTES, or not JSON at all.
    JSON = "json"
    #: A feed body that is neither RSS, Atom nor JSON Feed.
    FEED = "feed"
    #: A sitemap body that is corrupt gzip or decompresses past SITEMAP_MAX_DECOMPRESSED_BYTES.
    SITEMAP = "sitemap"
    #: Child sitemaps of an index at SITEMAP_MAX_DEPTH (not fetched).
    SITEMAP_DEPTH = "sitemap_depth"
    #: Child sitemaps of an index past SITEMAP_MAX_CHILDREN (the oldest, not fetched).
    SITEMAP_CHILDREN = "sitemap_children"
    #: A Retry-After header that is neither delta-seconds nor an HTTP date (Scrapy's backoff).
    RETRY_AFTER = "retry_after"
    #: A redirect whose Location names no http(s) URL (`javascript:`, `file:`, `[::1`): the
    #: 3xx reaches the spider unfollowed.
    LOCATION = "location"


class NotExtracted(StrEnum):
    """Why an archived article has no text: an EXTRACT_NOT_EXTRACTED suffix (with _ for
    spaces) and the `not_extracted` value of its metadata record."""

    #: The page used its EXTRACT_TIMEOUT of CPU in the extraction worker.
    TIME_LIMIT = "time limit"
    #: More start tags than EXTRACT_MAX_ELEMENTS: not parsed.
    TOO_MANY_ELEMENTS = "too many elements"
    #: The extraction worker died or hung on the page twice. The next run extracts it again.
    WORKER_LOST = "worker lost"

    @property
    def stat(self) -> str:
        return f"{StatsKeys.EXTRACT_NOT_EXTRACTED}/{self.value.replace(' ', '_')}"
