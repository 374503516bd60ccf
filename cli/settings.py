"""The settings of a CLI run, built without needing scrapy.cfg in the current folder: Scrapy's
settings object for crawls, and from it the one typed `Options` every command reads."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy.settings import Settings

from newsarchive.cli.args import OverrideError, parse_overrides
from newsarchive.cli.logs import log_level
from newsarchive.config.options import Options

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Mapping


def build_settings(
    store: str | None = None,
    sites_dir: str | None = None,
    overrides: Mapping[str, object] | None = None,
    *,
    interactive: bool | None = None,
    level: str = "WARNING",
    logfile: str | None = None,
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
    settings.set("LOG_LEVEL", level, priority="cmdline")
    if logfile:
        settings.set("LOG_FILE", logfile, priority="cmdline")
    for key, value in (overrides or {}).items():
        if isinstance(value, str):
            check_override(settings, key, value)
        settings.set(key, value, priority="cmdline")
    return settings


def check_override(settings: Settings, name: str, value: str) -> None:
    """A `-s NAME=VALUE` whose value cannot be read as the type of the setting's default fails
    here, as a usage error, before any crawl starts or lock is taken."""
    default = settings.get(name)
    probe = Settings({name: value})
    readers: dict[type, Callable[[str], object]] = {
        bool: probe.getbool,
        int: probe.getfloat,
        float: probe.getfloat,
        list: probe.getlist,
        dict: probe.getdict,
    }
    # An int default still takes a fraction (DOWNLOAD_DELAY=0.5), so ints are read as floats.
    reader = next((r for kind, r in readers.items() if isinstance(default, kind)), None)
    if reader is None:
        return
    try:
        reader(name)
    except (TypeError, ValueError):
        kind = "true/false" if isinstance(default, bool) else type(default).__name__
        raise OverrideError(
            f"-s {name}={value}: not a valid value (expected {kind}, like the default {default!r})"
        ) from None


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
        level=log_level(args),
        logfile=getattr(args, "logfile", None),
    )


def options_from_args(args: argparse.Namespace, *, interactive: bool | None = None) -> Options:
    """The typed settings of a command that runs no crawl."""
    return Options.from_settings(settings_from_args(args, interactive=interactive))
