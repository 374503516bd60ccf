"""Scrapy settings for CLI runs, built without needing scrapy.cfg in the current folder."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Mapping


def build_settings(
    store: str | None = None,
    sites_dir: str | None = None,
    overrides: Mapping[str, object] | None = None,
    *,
    interactive: bool | None = None,
    verbose: bool = False,
) -> Settings:
    settings = Settings()
    settings.setmodule("newsarchive.config.settings", priority="project")
    if store:
        settings.set("NEWSARCHIVE_STORE", store, priority="cmdline")
    if sites_dir:
        settings.set("NEWSARCHIVE_SITES_DIR", sites_dir, priority="cmdline")
    if interactive is None:
        interactive = sys.stderr.isatty()
    settings.set("NEWSARCHIVE_PROGRESS", interactive, priority="cmdline")
    # Cron runs must stay quiet unless something is wrong; -v brings Scrapy's INFO log back.
    settings.set("LOG_LEVEL", "INFO" if verbose else "WARNING", priority="cmdline")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`-s NAME=VALUE` pairs, as `scrapy crawl -s` takes them."""
    result = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"-s expects NAME=VALUE, got {pair!r}")
        result[name] = value
    return result
