"""Arguments every command shares (`--store`, `-s NAME=VALUE`); no Scrapy import, so `--help`
stays fast."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from datetime import date
from pathlib import Path


class UsageError(ValueError):
    """A command line that cannot be run as given (exit code 2); the message says why."""


class OverrideError(UsageError):
    """A `-s` argument that is not NAME=VALUE, or whose value does not fit the setting."""


def add_store(parser: argparse.ArgumentParser, help_text: str = "") -> None:
    parser.add_argument(
        "--store",
        metavar="URI",
        help="archive location: folder, file:// or s3://bucket/prefix (default ./archive-data)"
        + help_text,
    )


def add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a setting (config/settings.py names them)")  # fmt: skip


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`-s NAME=VALUE` pairs, as `scrapy crawl -s` takes them."""
    result = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise OverrideError(f"-s expects NAME=VALUE, got {pair!r}")
        result[name] = value
    return result


def iso_day(value: str) -> date:
    """An argparse type: a YYYY-MM-DD date."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {value!r}") from None


def add_scope(parser: argparse.ArgumentParser) -> None:
    """What an ad hoc crawl (`crawl --url`) takes: the site keys it would have in a YAML file."""
    group = parser.add_argument_group("ad hoc crawl scope (--url only)")
    group.add_argument(
        "--max-articles",
        type=int,
        metavar="N",
        help="request at most N articles (site key max_articles; default 200)",
    )
    group.add_argument(
        "--max-age-days",
        type=int,
        metavar="DAYS",
        help="skip articles announced more than DAYS days ago; 0: no age limit "
        "(site key max_age_days; default 30)",
    )
    group.add_argument(
        "--since",
        type=iso_day,
        metavar="DATE",
        help="skip articles announced before DATE, YYYY-MM-DD (site key since)",
    )
    group.add_argument(
        "--depth",
        type=int,
        metavar="N",
        help="walk N listing pages from the URL through its pagination (default 1)",
    )
    group.add_argument(
        "--include",
        action="append",
        metavar="REGEX",
        help="an article URL must match one of these (site key allow; repeatable)",
    )
    group.add_argument(
        "--exclude",
        action="append",
        metavar="REGEX",
        help="never request URLs matching this (site key deny; repeatable)",
    )
    group.add_argument(
        "--contact", metavar="URL", help="contact URL for the user agent (site key contact_url)"
    )


#: add_scope's options, by the site key each sets.
SCOPE_KEYS = {"max_articles": "max_articles", "max_age_days": "max_age_days", "since": "since",
              "include": "allow", "exclude": "deny", "contact": "contact_url"}  # fmt: skip


def scope_from_args(args: argparse.Namespace) -> dict[str, object]:
    """The site keys the scope options give; UsageError when given without --url."""
    scope = {key: getattr(args, name) for name, key in SCOPE_KEYS.items()
             if getattr(args, name, None) is not None}  # fmt: skip
    depth = getattr(args, "depth", None)
    if not getattr(args, "url", None):
        if scope or depth is not None:
            raise UsageError("--max-articles, --max-age-days, --since, --depth, --include, "
                             "--exclude and --contact go with --url; a configured site sets "
                             "them in its YAML file")  # fmt: skip
        return scope
    if scope.get("max_age_days") == 0:
        scope["max_age_days"] = None
    if depth is not None:
        # The start URL becomes a section: its pagination is walked `depth` pages deep.
        scope["sections"] = [{"url": args.url, "max_pages": depth}]
        scope["start_urls"] = []
    return scope


def command_name() -> str:
    """The `newsarchive` command as the user can run it from here: the bare name when it is on
    PATH, else the path they ran (`.venv/bin/newsarchive`), else `python -m ...`."""
    argv0 = sys.argv[0]
    if Path(argv0).name == "newsarchive":
        found = shutil.which("newsarchive")
        if found and Path(found).resolve() == Path(argv0).resolve():
            return "newsarchive"
        return shlex.quote(os.path.relpath(argv0) if Path(argv0).is_absolute() else argv0)
    python = os.path.relpath(sys.executable)
    if len(python) > len(sys.executable):
        python = sys.executable
    return f"{shlex.quote(python)} -m newsarchive.cli.main"
