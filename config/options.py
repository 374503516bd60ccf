"""The one typed settings object: every newsarchive setting read once from the Scrapy settings.

Defaults live in `config.settings` only; this module reads them with typed getters, so a crawl
and every CLI command see the same values (built by `Options.from_settings`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self

from newsarchive.config.sites import SiteConfig, load_site, sites_dir

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.settings import BaseSettings

#: The site of a crawl: a site name (resolved from NEWSARCHIVE_SITES_DIR) or a SiteConfig.
SITE_SETTING: Final = "NEWSARCHIVE_SITE"
#: The most extraction workers "auto" starts: each holds ~70 MB, and the crawl needs a core.
AUTO_MAX_WORKERS: Final = 8
#: Setting name prefixes handed to the store (Scrapy's AWS_* names and the S3 store's own).
_STORAGE_PREFIXES: Final = ("AWS_", "STORAGE_S3_")


def resolve_site(settings: BaseSettings) -> SiteConfig | None:
    """NEWSARCHIVE_SITE as a validated site config; None when no site is set."""
    value = settings.get(SITE_SETTING)
    if isinstance(value, SiteConfig):
        return value
    if not value:
        return None
    return load_site(sites_dir(settings.get("NEWSARCHIVE_SITES_DIR")), str(value))


def extract_workers(value: object) -> int:
    """EXTRACT_WORKERS as a number of processes: "auto" is the usable cores (at most
    AUTO_MAX_WORKERS); 0 means a thread."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, AUTO_MAX_WORKERS))
    try:
        # Unset (settings without the project's defaults) reads as 0, as Scrapy's getint does.
        workers = int(str(value)) if value is not None else 0
    except ValueError:
        workers = -1
    if workers < 0:
        raise ValueError(f'EXTRACT_WORKERS must be "auto" or a number >= 0, not {value!r}')
    return workers


@dataclass(frozen=True, slots=True)
class Options:
    """newsarchive's settings, typed (see config/settings.py for what each means)."""

    store: str
    sites_dir: Path
    site: SiteConfig | None
    contact_url: str
    progress: bool
    progress_interval: float
    archive: bool
    warc_prefix: str
    warc_max_size: int
    revisits: str
    cdxj: bool
    wacz: bool
    incremental: bool
    lock: bool
    report: bool
    report_log: bool
    report_prometheus_dir: Path | None
    extract: bool
    #: Resolved: "auto" is the core count (extraction.pool.auto_workers); 0 is a thread.
    extract_workers: int
    extract_timeout: float
    extract_max_elements: int
    extract_favor_precision: bool
    extract_include_comments: bool
    retry_after_max: float
    redis_url: str
    scaleout_role: str
    scaleout_idle_close: float
    scaleout_heartbeat: float
    scaleout_prefix: str
    #: AWS_* and STORAGE_S3_* settings that have a value, for the store backend.
    storage: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        prometheus = settings.get("REPORT_PROMETHEUS_DIR")
        return cls(
            store=settings.get("NEWSARCHIVE_STORE") or "",
            sites_dir=sites_dir(settings.get("NEWSARCHIVE_SITES_DIR")),
            site=resolve_site(settings),
            contact_url=settings.get("NEWSARCHIVE_CONTACT_URL"),
            progress=settings.getbool("NEWSARCHIVE_PROGRESS"),
            progress_interval=settings.getfloat("NEWSARCHIVE_PROGRESS_INTERVAL"),
            archive=settings.getbool("ARCHIVE_ENABLED"),
            warc_prefix=settings.get("ARCHIVE_WARC_PREFIX"),
            warc_max_size=settings.getint("ARCHIVE_WARC_MAX_SIZE"),
            revisits=settings.get("ARCHIVE_REVISITS"),
            cdxj=settings.getbool("ARCHIVE_CDXJ_ENABLED"),
            wacz=settings.getbool("ARCHIVE_WACZ_ENABLED"),
            incremental=settings.getbool("INCREMENTAL_ENABLED"),
            lock=settings.getbool("LOCK_ENABLED"),
            report=settings.getbool("REPORT_ENABLED"),
            report_log=settings.getbool("REPORT_LOG_ENABLED"),
            report_prometheus_dir=Path(prometheus) if prometheus else None,
            extract=settings.getbool("EXTRACT_ENABLED"),
            extract_workers=extract_workers(settings.get("EXTRACT_WORKERS")),
            extract_timeout=settings.getfloat("EXTRACT_TIMEOUT"),
            extract_max_elements=settings.getint("EXTRACT_MAX_ELEMENTS"),
            extract_favor_precision=settings.getbool("EXTRACT_FAVOR_PRECISION"),
            extract_include_comments=settings.getbool("EXTRACT_INCLUDE_COMMENTS"),
            retry_after_max=settings.getfloat("RETRY_AFTER_MAX"),
            redis_url=settings.get("REDIS_URL") or "",
            scaleout_role=settings.get("SCALEOUT_ROLE"),
            scaleout_idle_close=settings.getfloat("SCALEOUT_IDLE_CLOSE"),
            scaleout_heartbeat=settings.getfloat("SCALEOUT_HEARTBEAT"),
            scaleout_prefix=settings.get("SCALEOUT_KEY_PREFIX"),
            storage={
                name: settings.get(name)
                for name in settings
                if name.startswith(_STORAGE_PREFIXES) and settings.get(name) is not None
            },
        )
