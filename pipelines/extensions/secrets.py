"""Secrets never printed: redact every log record of a crawl process from its start."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Self

from scrapy.settings import overridden_settings

from newsarchive.config.redact import install_log_redaction, remember_settings

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class SecretRedaction:
    """Remembers the secret-named settings given to the crawl (AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN, *PASSWORD*...) and the environment's, and installs the log record
    redaction (config.redact), before Scrapy logs its "Overridden settings" (extensions are
    built just before). Always on: nothing to configure."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        remember_settings(dict(overridden_settings(crawler.settings)))
        remember_settings(os.environ)
        install_log_redaction()
        return cls()
