"""The one typed settings object: every newsarchive setting read once from the Scrapy settings.

Defaults live in `config.settings` only; this module reads them with typed getters, so a crawl
and every CLI command see the same values (built by `Options.from_settings`).
"""

from __future__ import annotations

import os
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Self

from newsarchive.config.sites import SiteConfig, load_site, sites_dir

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scrapy.settings import BaseSettings

#: The site of a crawl: a site name (resolved from NEWSARCHIVE_SITES_DIR) or a SiteConfig.
SITE_SETTING: Final = "NEWSARCHIVE_SITE"
#: The most extraction workers "auto" starts: each holds ~70 MB, and the crawl needs a core.
AUTO_MAX_WORKERS: Final = 8
#: The largest `nice` increment Linux takes (lowest priority).
MAX_NICE: Final = 19
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


def worker_nice(value: object) -> int:
    """EXTRACT_WORKER_NICE as a `nice` increment (0-19)."""
    if not isinstance(value, int) or not 0 <= value <= MAX_NICE:
        raise ValueError(
            f"EXTRACT_WORKER_NICE must be a number from 0 to {MAX_NICE}, not {value!r}"
        )
    return value


class SettingError(ValueError):
    """A setting whose value cannot be used (the message names the setting)."""


#: Getter names of Scrapy's BaseSettings, by how a setting reads.
_Getter = Literal["get", "getbool", "getint", "getfloat"]


def _or_empty(value: object) -> object:
    """An unset (None) setting as ""."""
    return value or ""


def _optional_path(value: object) -> Path | None:
    return Path(str(value)) if value else None


def _kept(value: object) -> object:
    return value


def _setting(
    name: str, getter: _Getter = "get", convert: Callable[[Any], object] = _kept
) -> dict[str, Any]:
    """A field's metadata: read from the Scrapy setting `name` with `getter`, then `convert`."""
    return {"setting": name, "getter": getter, "convert": convert}


@dataclass(frozen=True, slots=True)
class Options:
    """newsarchive's settings, typed (see config/settings.py for what each means). Each field
    names the setting it is read from; `site` and `storage` are built from several."""

    store: str = field(metadata=_setting("NEWSARCHIVE_STORE", convert=_or_empty))
    sites_dir: Path = field(metadata=_setting("NEWSARCHIVE_SITES_DIR", convert=sites_dir))
    site: SiteConfig | None
    contact_url: str = field(metadata=_setting("NEWSARCHIVE_CONTACT_URL"))
    progress: bool = field(metadata=_setting("NEWSARCHIVE_PROGRESS", "getbool"))
    progress_interval: float = field(metadata=_setting("NEWSARCHIVE_PROGRESS_INTERVAL", "getfloat"))
    archive: bool = field(metadata=_setting("ARCHIVE_ENABLED", "getbool"))
    warc_prefix: str = field(metadata=_setting("ARCHIVE_WARC_PREFIX"))
    warc_max_size: int = field(metadata=_setting("ARCHIVE_WARC_MAX_SIZE", "getint"))
    revisits: str = field(metadata=_setting("ARCHIVE_REVISITS"))
    cdxj: bool = field(metadata=_setting("ARCHIVE_CDXJ_ENABLED", "getbool"))
    wacz: bool = field(metadata=_setting("ARCHIVE_WACZ_ENABLED", "getbool"))
    incremental: bool = field(metadata=_setting("INCREMENTAL_ENABLED", "getbool"))
    lock: bool = field(metadata=_setting("LOCK_ENABLED", "getbool"))
    report: bool = field(metadata=_setting("REPORT_ENABLED", "getbool"))
    report_log: bool = field(metadata=_setting("REPORT_LOG_ENABLED", "getbool"))
    report_prometheus_dir: Path | None = field(
        metadata=_setting("REPORT_PROMETHEUS_DIR", convert=_optional_path)
    )
    extract: bool = field(metadata=_setting("EXTRACT_ENABLED", "getbool"))
    #: Resolved: "auto" is the core count (extraction.pool.auto_workers); 0 is a thread.
    extract_workers: int = field(metadata=_setting("EXTRACT_WORKERS", convert=extract_workers))
    extract_timeout: float = field(metadata=_setting("EXTRACT_TIMEOUT", "getfloat"))
    extract_worker_nice: int = field(
        metadata=_setting("EXTRACT_WORKER_NICE", "getint", worker_nice)
    )
    extract_max_elements: int = field(metadata=_setting("EXTRACT_MAX_ELEMENTS", "getint"))
    extract_favor_precision: bool = field(metadata=_setting("EXTRACT_FAVOR_PRECISION", "getbool"))
    extract_include_comments: bool = field(metadata=_setting("EXTRACT_INCLUDE_COMMENTS", "getbool"))
    extract_site_model_save_interval: float = field(
        metadata=_setting("EXTRACT_SITE_MODEL_SAVE_INTERVAL", "getfloat")
    )
    retry_after_max: float = field(metadata=_setting("RETRY_AFTER_MAX", "getfloat"))
    redis_url: str = field(metadata=_setting("REDIS_URL", convert=_or_empty))
    scaleout_role: str = field(metadata=_setting("SCALEOUT_ROLE"))
    scaleout_idle_close: float = field(metadata=_setting("SCALEOUT_IDLE_CLOSE", "getfloat"))
    scaleout_heartbeat: float = field(metadata=_setting("SCALEOUT_HEARTBEAT", "getfloat"))
    scaleout_prefix: str = field(metadata=_setting("SCALEOUT_KEY_PREFIX"))
    #: AWS_* and STORAGE_S3_* settings that have a value, for the store backend.
    storage: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        site = resolve_site(settings)  # first: a bad site file is the error to report
        read = {f.name: _read(settings, f) for f in fields(cls) if "setting" in f.metadata}
        return cls(
            site=site,
            storage={
                name: settings.get(name)
                for name in settings
                if name.startswith(_STORAGE_PREFIXES) and settings.get(name) is not None
            },
            **read,
        )


def _read(settings: BaseSettings, spec: Field[Any]) -> Any:
    """One field's value from its setting; SettingError naming the setting when it is bad."""
    name = spec.metadata["setting"]
    try:
        return spec.metadata["convert"](getattr(settings, spec.metadata["getter"])(name))
    except (ValueError, TypeError) as exc:
        # Scrapy's getters say "invalid literal for int()" without the setting's name.
        message = str(exc) if name in str(exc) else f"{name}={settings.get(name)!r}: {exc}"
        raise SettingError(message) from exc
