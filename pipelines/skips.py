"""Site input skipped as invalid: counted by kind, logged once per kind per run."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from newsarchive.config.stats import InvalidKind, StatsKeys

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

#: Log lines quote URLs and reasons up to this many characters (cron mails every line).
MAX_QUOTED = 200


def shorten(text: str, limit: int = MAX_QUOTED) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more]"


class InvalidInput:
    """One per crawl. `skip()` counts `discovery/skipped_invalid/<kind>` and logs the first skip
    of each kind at WARNING with its URL and reason (never a body); the rest are only counted,
    as a broken feed can hold thousands of bad entries."""

    def __init__(self, count: Callable[[str], None]) -> None:
        #: Increments a stats key (the crawler's stats exist only once the crawl starts).
        self.count = count
        self._logged: set[InvalidKind] = set()

    def skip(self, kind: InvalidKind, url: str, reason: str) -> None:
        self.count(f"{StatsKeys.DISCOVERY_SKIPPED_INVALID}/{kind}")
        if kind in self._logged:
            return
        self._logged.add(kind)
        logger.warning(
            "Skipped invalid %s in %s: %s (further ones this run are only counted in %s/%s)",
            kind,
            shorten(url),
            shorten(reason),
            StatsKeys.DISCOVERY_SKIPPED_INVALID,
            kind,
        )
