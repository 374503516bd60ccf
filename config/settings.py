"""Scrapy settings for newsarchive: every project default in one place, documented beside it."""

from __future__ import annotations

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# --- newsarchive -----------------------------------------------------------------------------
#: Where the archive lives: a folder path, file:///path or s3://bucket/prefix.
NEWSARCHIVE_STORE = "./archive-data"
#: Folder of per-site YAML files; empty means the bundled config/sites.
NEWSARCHIVE_SITES_DIR = ""
#: Contact URL placed in the user agent when the site config names none.
NEWSARCHIVE_CONTACT_URL = "https://github.com/newsarchive/newsarchive"
NEWSARCHIVE_VERSION = "0.1.0"
#: Live progress line on stderr; the CLI turns it on when stderr is a terminal.
NEWSARCHIVE_PROGRESS = False
NEWSARCHIVE_PROGRESS_INTERVAL = 1.0

# --- archive (WARC capture) -------------------------------------------------------------------
ARCHIVE_ENABLED = True
#: First part of WARC file names: PREFIX-TIMESTAMP-SERIAL-HOST.warc.gz
ARCHIVE_WARC_PREFIX = "NEWSARCHIVE"
#: Roll to a new WARC file once the current one reaches this many bytes (1 GB, as Heritrix).
ARCHIVE_WARC_MAX_SIZE = 1_000_000_000

# --- extraction -------------------------------------------------------------------------------
EXTRACT_ENABLED = True
#: Worker processes for extraction; 0 runs it in a thread of the crawl process.
EXTRACT_WORKERS = 1
EXTRACT_FAVOR_PRECISION = True
EXTRACT_INCLUDE_COMMENTS = False

# --- politeness -------------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
USER_AGENT = "newsarchive/0.1 (+https://github.com/newsarchive/newsarchive; news archiving crawler)"
CONCURRENT_REQUESTS = 16
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
#: 4xx/5xx responses reach the spider, which counts them; they are archived either way.
HTTPERROR_ALLOW_ALL = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

DOWNLOADER_MIDDLEWARES = {
    # Honour Retry-After on 429/503 instead of Scrapy's fixed backoff.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "pipelines.retry.RetryAfterMiddleware": 550,
    # Above HttpCompressionMiddleware (590) so bodies are archived still Content-Encoded,
    # and above the redirect middleware (600) so 3xx responses are archived too.
    "pipelines.capture.WarcCaptureMiddleware": 950,
}

ITEM_PIPELINES = {
    "pipelines.article.ArticlePipeline": 300,
}

EXTENSIONS = {
    "pipelines.storage.ArchiveStorage": 100,
    "pipelines.progress.ProgressReporter": 500,
}
