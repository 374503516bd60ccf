"""Scrapy settings for newsarchive: every project default in one place, documented beside it."""

from __future__ import annotations

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["newsarchive.spiders"]
NEWSPIDER_MODULE = "newsarchive.spiders"

# --- newsarchive -----------------------------------------------------------------------------
#: Where the archive lives: a folder path, file:///path or s3://bucket/prefix.
NEWSARCHIVE_STORE = "./archive-data"
#: Folder of per-site YAML files; empty means the bundled config/sites.
NEWSARCHIVE_SITES_DIR = ""
#: The site a crawl archives: a site name from NEWSARCHIVE_SITES_DIR (or a SiteConfig object,
#: as `newsarchive crawl` and ad-hoc `--url` crawls pass it). `scrapy crawl news -a site=NAME`
#: sets it from the spider argument.
NEWSARCHIVE_SITE = ""
#: Contact URL placed in the user agent when the site config names none.
NEWSARCHIVE_CONTACT_URL = "https://github.com/newsarchive/newsarchive"
#: Live progress line on stderr; the CLI turns it on when stderr is a terminal.
NEWSARCHIVE_PROGRESS = False
NEWSARCHIVE_PROGRESS_INTERVAL = 1.0

# --- limits on site input (each bad or oversized item is skipped and counted, never fatal) ---
#: Sitemap indexes nest; past this depth their children are not fetched, which cuts endless
#: index chains (a site's real index is one level, rarely two).
SITEMAP_MAX_DEPTH = 3
#: At most this many child sitemaps per index, the most recent by <lastmod> first: news lives
#: in the newest ones, and an index of thousands would otherwise be fetched in full.
SITEMAP_MAX_CHILDREN = 100
#: A gzipped sitemap is decompressed up to this many bytes (the sitemaps.org limit is 50 MB
#: uncompressed), so a gzip bomb costs no more than a large sitemap.
SITEMAP_MAX_DECOMPRESSED_BYTES = 50 * 1024 * 1024
#: JSON Feeds and JSON-LD blocks nested deeper than this, or larger than this many bytes, are
#: skipped: real ones nest a handful of levels, and 100k-deep arrays exhaust the recursion limit.
JSON_MAX_DEPTH = 64
JSON_MAX_BYTES = 10 * 1024 * 1024
#: Short log lines: dropped, scraped and failed items are logged as URL and reason, never their
#: body (newsarchive.pipelines.logformatter).
LOG_FORMATTER = "newsarchive.pipelines.logformatter.ShortLogFormatter"

# --- archive (WARC capture) -------------------------------------------------------------------
ARCHIVE_ENABLED = True
#: First part of WARC file names: PREFIX-TIMESTAMP-SERIAL-HOST-PID.warc.gz
ARCHIVE_WARC_PREFIX = "NEWSARCHIVE"
#: Roll to a new WARC file once the current one reaches this many bytes (1 GB, as Heritrix).
ARCHIVE_WARC_MAX_SIZE = 1_000_000_000
#: "identical": a payload already archived for the same URI (digest index in the store) is
#: written as a revisit record (identical-payload-digest), and a 304 answering a conditional
#: request that carries request.meta["newsarchive_previous"] as a server-not-modified revisit.
#: "off": every response is written in full, 304s as plain responses.
ARCHIVE_REVISITS = "identical"
#: At the end of each run, write a CDXJ index (indexes/SITE/FILE.cdxj) for every WARC of the
#: site that lacks one, and a WACZ 1.1.1 package of the run's WARCs (wacz/SITE/RUN.wacz).
ARCHIVE_CDXJ_ENABLED = True
ARCHIVE_WACZ_ENABLED = True
#: Archive each article's page requisites too, so it replays styled: <link rel=stylesheet>,
#: <link rel=icon>, <script src>, <img src> and the first srcset candidate, and the url()s and
#: @imports of those stylesheets (one level). Each URL once per run, robots.txt obeyed; not
#: extracted, not counted by the site's max_articles, not kept in the seen store.
ARCHIVE_PAGE_REQUISITES = True
#: At most this many requisite requests per article page (and per stylesheet).
ARCHIVE_REQUISITES_MAX_PER_PAGE = 30
#: "same-site": only requisites on the site's hosts; "all": any host (CDNs, third parties).
ARCHIVE_REQUISITES_SCOPE = "same-site"

# --- storage (S3 stores: NEWSARCHIVE_STORE = s3://bucket/prefix) ---------------------------
# Credentials and endpoint come from the standard AWS chain (environment, ~/.aws profiles,
# AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL); Scrapy's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, AWS_REGION_NAME, AWS_USE_SSL and AWS_VERIFY settings,
# when set, take precedence. Everything is written to a local spool first and uploaded, verified,
# by background threads; `newsarchive upload --store s3://...` drains a spool a run left behind.
#: Local folder for the spool and state of this S3 store. Empty: $NEWSARCHIVE_STATE_DIR (else
#: $XDG_STATE_HOME/newsarchive, else ~/.local/state/newsarchive) + /s3/HOST/BUCKET/PREFIX.
STORAGE_S3_STATE_DIR = ""
#: "path", "virtual" or "auto"; empty leaves it to boto3 (and the AWS profile's s3 section).
STORAGE_S3_ADDRESSING_STYLE = ""
#: Storage class of uploaded objects (STANDARD_IA, GLACIER_IR...); empty: the bucket default.
STORAGE_S3_STORAGE_CLASS = ""
#: Server-side encryption: "AES256" or "aws:kms" (with STORAGE_S3_SSE_KMS_KEY_ID); empty: none.
STORAGE_S3_SSE = ""
STORAGE_S3_SSE_KMS_KEY_ID = ""
#: Keep a copy of each uploaded file under STATE_DIR/kept instead of deleting it.
STORAGE_S3_KEEP_UPLOADED = False
#: The spool stops taking new data past this many bytes waiting for upload (50 GB) ...
STORAGE_S3_SPOOL_MAX_BYTES = 50_000_000_000
#: ... or when the spool's disk has less than this free (1 GB); writes then fail with an ERROR.
STORAGE_S3_SPOOL_MIN_FREE_BYTES = 1_000_000_000
#: Files from this size on go up in parts through boto3's transfer manager (64 MiB, 16 MiB parts).
STORAGE_S3_MULTIPART_THRESHOLD = 64 * 1024 * 1024
STORAGE_S3_MULTIPART_CHUNKSIZE = 16 * 1024 * 1024
#: Upload threads per store (each multipart upload also sends up to 10 parts at once).
STORAGE_S3_UPLOAD_THREADS = 2
#: At the end of a run, wait this long (seconds) for the queue to drain while the store answers.
STORAGE_S3_CLOSE_TIMEOUT = 600
#: At start-up, abort multipart uploads under the prefix older than this (seconds): a killed run
#: or server leaves them behind, and they are billed until aborted.
STORAGE_S3_ABORT_MULTIPART_AFTER = 900
#: While the store is unreachable, crawls list (and check for) objects in their local spool only,
#: so revisit lookups and end-of-run indexing go on; readers without this (verify) fail instead.
STORAGE_S3_DEGRADED_READS = True

# --- incremental runs, bans, run reports ---------------------------------------------------
#: Conditional requests for feeds, sitemaps and sections; archived articles skipped unless
#: announced newer or due under the site's `refetch:` policy; a killed run's frontier resumed.
#: State lives in STORE/state/seen/SITE.sqlite3. Off: every run fetches everything.
INCREMENTAL_ENABLED = True
#: Stop a site's crawl for this run after this many 429/403 answers in a row (0: never).
BANS_ENABLED = True
BANS_THRESHOLD = 5
BANS_HTTP_CODES = [429, 403]
#: One crawl per site at a time (both `newsarchive crawl` and `scrapy crawl`): a lock file in
#: STORE/state/locks/SITE.lock; a crawl that finds it held does nothing and closes with
#: finish_reason "locked" (exit code 4). A dead holder's lock is taken over with a warning.
LOCK_ENABLED = True
#: JSON report per run at reports/SITE/RUN.json in the store, and a log file per run at
#: STORE/state/logs/SITE/RUN.log (lifecycle and summary at INFO, plus warnings and errors).
REPORT_ENABLED = True
REPORT_LOG_ENABLED = True
#: Folder for Prometheus textfile-collector files (newsarchive_SITE.prom); empty: none.
REPORT_PROMETHEUS_DIR = ""

# --- scale-out (pipelines.scaleout): many processes and machines share one frontier -----------
#: Redis URL (redis://HOST:6379/0) shared by `newsarchive seed` and the workers (scrapy-redis
#: reads the same name). Empty: one process, no Redis. Set: the crawl takes its requests from the
#: site's shared queue (scrapy-redis scheduler and duplicate filter, keys per site and run) and
#: keeps the seen store in Redis.
REDIS_URL = ""
#: "worker": fetch from the shared queue (`crawl --worker`); "seed": push the sites' discovery
#: requests into it and stop (`newsarchive seed`).
SCALEOUT_ROLE = "worker"
#: A worker closes once the queue has been empty, with nothing in flight in any worker, for
#: this many seconds; 0 keeps it up (continuous mode, `crawl --worker --continuous`).
SCALEOUT_IDLE_CLOSE = 30.0
#: Seconds between a worker's heartbeats; one silent for three is dead, and the requests it had
#: taken go back to the queue.
SCALEOUT_HEARTBEAT = 10.0
#: First part of every Redis key, so several archives can share one Redis.
SCALEOUT_KEY_PREFIX = "newsarchive"

# --- extraction -------------------------------------------------------------------------------
EXTRACT_ENABLED = True
#: Extraction worker processes, one pool shared by every site a crawl process runs
#: (extraction.pool): "auto" = the usable cores (at most 8, ~70 MB each); 0 runs extraction
#: in a thread of the crawl process instead, with no time limit (for tests).
EXTRACT_WORKERS = "auto"
#: CPU seconds a worker may spend on one page: past it the worker is replaced and the page,
#: archived, gets a metadata record "not_extracted": "time limit" instead of a text. Ordinary
#: news pages take 0.02-0.1 s; a worker using no CPU this long on a page is hung (replaced, the
#: page retried once).
EXTRACT_TIMEOUT = 10.0
#: How much lower the extraction workers' CPU priority is than the crawl's (`nice` increment,
#: 0-19; 0: the same). Extraction can wait; fetching, archiving and feeding the workers
#: cannot: at equal priority the workers took the crawl process's core whenever it had work,
#: and it fed them late (bench/crawl.py, 3,000 articles, 2 cores, median of 3 rounds: 90 pages/s
#: and 19.6 CPU ms per page at 0, 100 and 18.0 at 10; 19 did no better than 10).
EXTRACT_WORKER_NICE = 10
#: Pages with more start tags than this are not parsed at all ("too many elements"): a DOM
#: this size is no article, and parsing it is what costs. 0: no limit.
EXTRACT_MAX_ELEMENTS = 100_000
EXTRACT_FAVOR_PRECISION = True
EXTRACT_INCLUDE_COMMENTS = False
#: Seconds between saves of a site's repeated-block model (extraction.sitemodel) during a
#: crawl, so a killed crawl keeps what it learnt; the end of the crawl saves it too. One save
#: writes the whole model (up to 20,000 block counts, about 1 MB).
EXTRACT_SITE_MODEL_SAVE_INTERVAL = 60.0

# --- politeness -------------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
#: Replaced per crawl by "newsarchive/VERSION (+CONTACT_URL; news archiving crawler)" unless set.
USER_AGENT = "newsarchive (+https://github.com/newsarchive/newsarchive; news archiving crawler)"
CONCURRENT_REQUESTS = 16
#: Scrapy 2.19 starts this many asyncio tasks for every response's output, whatever it holds
#: (an article gives one item): 10 instead of the default 100 cost 6% less CPU per page with
#: extraction off (bench/crawl.py, 1,000 articles: 7.0 -> 6.6 ms) and no parallelism, since
#: responses are scraped side by side anyway.
CONCURRENT_ITEMS = 10
#: Requests waiting to be fetched are kept on disk, in the store's state (pipelines.scheduler):
#: a sitemap of 20,000 articles would otherwise hold about 40 MB of requests in memory. Set it
#: to "scrapy.core.scheduler.Scheduler" to keep them in memory.
SCHEDULER = "newsarchive.pipelines.scheduler.DiskQueueScheduler"
CONCURRENT_REQUESTS_PER_DOMAIN = 3
DOWNLOAD_DELAY = 0.25
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30
#: Pages over 20 MB are not news articles; 5 MB earns a warning.
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
#: Keep partial bodies (archived with WARC-Truncated) rather than losing the exchange.
DOWNLOAD_FAIL_ON_DATALOSS = False
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: A request given up after its retries is one bad page, not lost data: a WARNING (it counts
#: once among the run's errors, config.errors), as LOG_FORMATTER logs other failed downloads.
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
#: Longest Retry-After (seconds) honoured on 429/503; a longer wait gives the request up.
RETRY_AFTER_MAX = 60.0
#: 4xx/5xx responses reach the spider, which counts them; they are archived either way.
HTTPERROR_ALLOW_ALL = True
COOKIES_ENABLED = False
#: Scrapy's MetaRefreshMiddleware would store the refresh target's page under the article's URL
#: and drop a self-refresh as a duplicate; the spider reads meta refreshes itself instead and
#: follows one to another URL as a new link, judged as any other (NewsSpider.parse_article).
METAREFRESH_ENABLED = False

# --- network policy, listening sockets, secrets ------------------------------------------------
#: Only http(s), and never a connection to a loopback, private (RFC 1918, ULA), link-local,
#: CGNAT, multicast, unspecified or reserved address (IPv4-mapped and 6to4/NAT64/Teredo forms
#: included), judged on the resolved address of every connection, redirects included
#: (pipelines.resolver + pipelines.downloadermiddlewares.netpolicy). Allowed anyway: what a
#: site's configured URLs resolve to at start, its `allow_networks:`, and NETWORK_ALLOW.
NETWORK_POLICY_ENABLED = True
#: Networks (CIDR, e.g. ["10.0.0.0/8"]) every crawl of this process may reach.
NETWORK_ALLOW: list[str] = []
#: The policy resolver: IPv4 and IPv6, every address of a name checked (no DNS_TIMEOUT).
TWISTED_DNS_RESOLVER = "newsarchive.pipelines.resolver.PolicyResolver"
#: http(s) only: Scrapy's file:, data:, s3: and ftp: handlers are off (the middleware refuses
#: those schemes with a reason before they would get here).
DOWNLOAD_HANDLERS = {"file": None, "data": None, "s3": None, "ftp": None}
#: No listening sockets: the telnet console and Scrapy 2.19's remote-control HTTP endpoint
#: (it runs Python sent to it) are off.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

DOWNLOADER_MIDDLEWARES = {
    # First: once the store has refused a write (full disk, read-only), nothing more is sent.
    "newsarchive.pipelines.downloadermiddlewares.storeguard.StoreGuardMiddleware": 50,
    # Between retry (550) and redirect (600): refusals are not retried, and refused requests
    # (redirect targets too) never reach the capture middleware.
    "newsarchive.pipelines.downloadermiddlewares.netpolicy.NetworkPolicyMiddleware": 570,
    # Honour Retry-After on 429/503 instead of Scrapy's fixed backoff.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "newsarchive.pipelines.downloadermiddlewares.retry.RetryAfterMiddleware": 550,
    # Sees each 429/403 before the retry middleware asks again.
    "newsarchive.pipelines.downloadermiddlewares.bans.BanGuardMiddleware": 560,
    # Scrapy's, with a Location it cannot request (javascript:, [::1) handed on unfollowed.
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "newsarchive.pipelines.downloadermiddlewares.redirect.LocationRedirectMiddleware": 600,
    # Below the capture middleware: adds validators before it records the request, and reads
    # the record it wrote when the response comes back.
    "newsarchive.pipelines.downloadermiddlewares.conditional.ConditionalRequestMiddleware": 900,
    # Above HttpCompressionMiddleware (590) so bodies are archived still Content-Encoded,
    # and above the redirect middleware (600) so 3xx responses are archived too.
    "newsarchive.pipelines.downloadermiddlewares.capture.WarcCaptureMiddleware": 950,
}

SPIDER_MIDDLEWARES = {
    # Tells the seen store which article captures the spider made no item of (no text to
    # expect), so only captures a killed run left unextracted are extracted at the next start.
    "newsarchive.pipelines.spidermiddlewares.capturetext.CaptureTextMiddleware": 950,
}

ITEM_PIPELINES = {
    "newsarchive.pipelines.article.ArticlePipeline": 300,
}

# The crawl run (pipelines.extensions.run): built before every other component, it opens the
# store and takes the site lock; components ask it for what they need, and it ends the run in
# one fixed order (archive.run.CrawlRun.finish), so the numbers below order nothing that matters.
ADDONS = {
    "newsarchive.pipelines.extensions.run.RunAddon": 0,
    # With REDIS_URL: the scrapy-redis scheduler and the worker's ledger (pipelines.scaleoutaddon).
    "newsarchive.pipelines.scaleoutaddon.ScaleOutAddon": 10,
}

EXTENSIONS = {
    # First of all, before Scrapy logs "Overridden settings": secrets never reach a log.
    "newsarchive.pipelines.extensions.secrets.SecretRedaction": 0,
    "newsarchive.pipelines.extensions.report.RunReport": 100,
    "newsarchive.pipelines.extensions.seen.SeenState": 150,
    "newsarchive.pipelines.extensions.progress.ProgressReporter": 500,
    "newsarchive.pipelines.extensions.packaging.ArchivePackager": 600,
}
