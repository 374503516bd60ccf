"""Arguments every command shares (`--store`, `-s NAME=VALUE`); no Scrapy import, so `--help`
stays fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


class OverrideError(ValueError):
    """A `-s` argument that is not NAME=VALUE."""


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
