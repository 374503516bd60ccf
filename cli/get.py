"""`newsarchive get URL...`: fetch, archive and extract single pages; print their rows."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from newsarchive.cli.args import add_settings, add_store

if TYPE_CHECKING:
    import argparse

HELP = "fetch, archive and extract single article URLs into the store; print each as JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("urls", nargs="+", metavar="URL", help="article URLs (http or https)")
    add_store(parser)
    parser.add_argument("--contact", metavar="URL", help="contact URL for the user agent")
    add_settings(parser)


def run(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit  # noqa: PLC0415 - keeps --help fast

    from newsarchive.archive.run import open_options_store  # noqa: PLC0415
    from newsarchive.cli.args import UsageError  # noqa: PLC0415
    from newsarchive.cli.crawl import run_crawls  # noqa: PLC0415
    from newsarchive.cli.main import EXIT_FAILED, EXIT_OK  # noqa: PLC0415
    from newsarchive.cli.settings import settings_from_args  # noqa: PLC0415
    from newsarchive.config.exitcodes import combine  # noqa: PLC0415
    from newsarchive.config.options import Options  # noqa: PLC0415
    from newsarchive.jobs.export import article_row  # noqa: PLC0415
    from newsarchive.spiders.news import adhoc_site  # noqa: PLC0415
    from newsarchive.spiders.single import SingleUrlSpider  # noqa: PLC0415
    from newsarchive.spiders.urls import canonicalize  # noqa: PLC0415

    by_host: dict[str, list[str]] = {}
    for url in args.urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"get: not an absolute http(s) URL: {url!r}")
        by_host.setdefault(parts.netloc, []).append(url)
    extra = {"contact_url": args.contact} if args.contact else {}
    # One site per host, named as `crawl --url` names it; nothing discovered, no age limit.
    sites = [
        adhoc_site(urls[0], start_urls=urls, robots_sitemaps=False, max_age_days=None, **extra)
        for urls in by_host.values()
    ]
    settings = settings_from_args(args, interactive=False)
    options = Options.from_settings(settings)
    open_options_store(options).close()  # a bad store fails here, before any fetch
    outcomes = run_crawls(sites, settings, SingleUrlSpider)
    code = combine(o.exit_code for o in outcomes)
    store = open_options_store(options, reader=True)
    try:
        for site, urls in zip(sites, by_host.values(), strict=True):
            for url in urls:
                item = article_row(store, site.name, canonicalize(url) or url)
                if item is None:
                    sys.stderr.write(f"newsarchive get: {url}: no article archived\n")
                    code = code or EXIT_FAILED
                else:
                    sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
    finally:
        store.close()
    return code or EXIT_OK
