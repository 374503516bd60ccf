"""The settings of a CLI run, built without needing scrapy.cfg in the current folder: Scrapy's
settings object for crawls, and from it the one typed `Options` every command reads."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy.settings import Settings

from newsarchive.cli.args import parse_overrides
from newsarchive.config.options import Options

if TYPE_CHECKING:
    import argparse
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


def settings_from_args(
    args: argparse.Namespace,
    defaults: Mapping[str, object] | None = None,
    *,
    interactive: bool | None = None,
) -> Settings:
    """A command's settings: the project's, then `defaults`, then --store, --sites-dir and -s.

    Raises OverrideError for a malformed -s."""
    overrides = {**(defaults or {}), **parse_overrides(getattr(args, "set", []))}
    return build_settings(
        getattr(args, "store", None),
        getattr(args, "sites_dir", None),
        overrides,
        interactive=interactive,
        verbose=getattr(args, "verbose", False),
    )


def options_from_args(args: argparse.Namespace, *, interactive: bool | None = None) -> Options:
    """The typed settings of a command that runs no crawl."""
    return Options.from_settings(settings_from_args(args, interactive=interactive))
