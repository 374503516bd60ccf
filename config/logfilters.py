"""Log records of third-party code about one bad input, lowered from ERROR to WARNING.

STYLE: ERROR means data could be lost. Scrapy's robots.txt middleware logs a robots.txt it could
not fetch at ERROR, and trafilatura a page it cannot parse (empty, binary) at ERROR, with no
setting to change either: for the crawl each is one bad page, recovered from.
"""

from __future__ import annotations

import logging


class AsWarning(logging.Filter):
    """Lowers a logger's ERROR records to WARNING before any handler (or the log counter of
    Scrapy's stats) sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def demote_errors(*names: str) -> None:
    """Put `AsWarning` on each named logger, once (a filter only sees its own logger's records,
    not its children's, so name each one that logs)."""
    for name in names:
        found = logging.getLogger(name)
        if not any(isinstance(f, AsWarning) for f in found.filters):
            found.addFilter(AsWarning())
