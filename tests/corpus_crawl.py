"""One crawl of the hostile corpus, in a process of its own: `python -m tests.corpus_crawl OUT
SITE.json`. Writes OUT/result.json: the crawl's stats and every log record at INFO and above,
each saying whether the console would print a traceback for it."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Final

from scrapy.crawler import CrawlerProcess

from newsarchive.cli.logs import download_failure
from newsarchive.cli.settings import build_settings
from newsarchive.config.sites import parse_site
from newsarchive.spiders.news import NewsSpider

#: The corpus's limits: small, so its bombs and chains stay cheap to build and serve.
SETTINGS: Final = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_TIMEOUT": 10,
    "DOWNLOAD_MAXSIZE": 2 * 1024 * 1024,
    "EXTRACT_WORKERS": 0,
    "RETRY_TIMES": 1,
    "BANS_ENABLED": False,
    "SITEMAP_MAX_DEPTH": 3,
    "SITEMAP_MAX_CHILDREN": 3,
    "SITEMAP_MAX_DECOMPRESSED_BYTES": 1024 * 1024,
    "LOG_LEVEL": "INFO",
}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(
            {
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                # As the console prints it: a failed download is one line, no traceback.
                "traceback": bool(record.exc_info and record.exc_info[0])
                and download_failure(record) is None,
            }
        )


def main(out: Path, site_file: Path) -> None:
    site = parse_site(json.loads(site_file.read_text(encoding="utf-8")), str(site_file))
    settings = build_settings(str(out / "store"), None, SETTINGS, interactive=False, level="INFO")
    process = CrawlerProcess(settings)
    records = _Records()
    logging.getLogger().addHandler(records)
    crawler = process.create_crawler(NewsSpider)
    process.crawl(crawler, site_config=site)
    process.start()
    assert crawler.stats is not None
    stats = {key: value if isinstance(value, int | str) else str(value)
             for key, value in crawler.stats.get_stats().items()}  # fmt: skip
    result = {"stats": stats, "log": records.records}
    (out / "result.json").write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
