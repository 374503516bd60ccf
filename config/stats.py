"""Every Scrapy stats key the project writes, in one place so tests and reports agree."""

from __future__ import annotations


class StatsKeys:
    ARCHIVE_RECORDS = "archive/records_written"
    ARCHIVE_RESPONSES = "archive/responses_written"
    ARCHIVE_REVISITS = "archive/revisits_written"
    ARCHIVE_BYTES = "archive/bytes_written"
    ARCHIVE_FILES = "archive/files_closed"
    ARCHIVE_SKIPPED_CACHED = "archive/skipped_cached"
    ARCHIVE_ERRORS = "archive/write_failed"

    DISCOVERY_FEEDS = "discovery/feeds"
    DISCOVERY_SITEMAPS = "discovery/sitemaps"
    DISCOVERY_SECTIONS = "discovery/sections"
    DISCOVERY_ARTICLES = "discovery/articles"
    DISCOVERY_SKIPPED_AGE = "discovery/skipped_age"
    DISCOVERY_SKIPPED_DUPLICATE = "discovery/skipped_duplicate"
    DISCOVERY_SKIPPED_LIMIT = "discovery/skipped_limit"
    DISCOVERY_NOT_ARTICLE = "discovery/not_article"

    EXTRACT_OK = "extract/articles"
    EXTRACT_EMPTY = "extract/empty_text"
    EXTRACT_FAILED = "extract/failed"

    STORAGE_OBJECTS = "storage/objects_written"
    STORAGE_FAILED = "storage/write_failed"
