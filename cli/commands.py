"""Handlers of the `newsarchive` subcommands; each is thin over the packages below it."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from newsarchive.archive.files import probe_writable
from newsarchive.archive.layout import META_PREFIX, TEXT_PREFIX, WARC_PREFIX
from newsarchive.archive.run import open_options_store
from newsarchive.cli.args import UsageError, command_name, scope_from_args
from newsarchive.cli.crawl import CrawlOutcome, run_crawls, summary_line, summary_table
from newsarchive.cli.main import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from newsarchive.cli.seed import worker_problem, worker_settings
from newsarchive.cli.settings import options_from_args, settings_from_args
from newsarchive.cli.upload import cmd_upload
from newsarchive.config.exitcodes import combine
from newsarchive.config.options import Options
from newsarchive.config.sites import (
    BUNDLED_SITES_DIR,
    SiteConfig,
    SiteConfigError,
    check_sites,
    load_site,
    load_sites,
    parse_site,
)
from newsarchive.extraction.documents import ExtractOptions, extract_document
from newsarchive.pipelines.extensions.progress import human_bytes
from newsarchive.spiders.news import adhoc_site

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

DEMO_CONFIG = BUNDLED_SITES_DIR.parent / "demo.yaml"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _report(outcomes: list[CrawlOutcome], interactive: bool) -> int:
    if interactive:
        _out(summary_table(outcomes))
    else:
        # Cron mails whatever a job prints: one line, and only warnings above it.
        _out(summary_line(outcomes))
    return combine(o.exit_code for o in outcomes)


def select_sites(
    args: argparse.Namespace, directory: Path, scope: dict[str, Any] | None = None
) -> list[SiteConfig]:
    """The sites `--url` (with its `scope`), `--all` or `--site NAME...` name."""
    if getattr(args, "url", None):
        return [adhoc_site(args.url, **(scope or {}))]
    if args.all:
        sites = list(load_sites(directory).values())
        if not sites:
            raise SiteConfigError(f"{directory}: no *.yaml site files")
        return sites
    return [load_site(directory, name) for name in args.site]


def cmd_crawl(args: argparse.Namespace) -> int:
    scope = scope_from_args(args)
    if args.url and "://" not in args.url:
        raise UsageError(
            f"--url {args.url!r}: not an absolute http(s) URL (did you mean 'http://{args.url}'?)"
        )
    settings = settings_from_args(args, worker_settings(args))
    options = Options.from_settings(settings)
    sites = select_sites(args, options.sites_dir, scope)
    if args.worker and (problem := worker_problem(args, sites, options)):
        sys.stderr.write(f"newsarchive: {problem}\n")
        return EXIT_CONFIG
    # Fail early on a bad store URI, refused credentials, or a store that takes no writes.
    store = open_options_store(options)
    try:
        probe_writable(store.state_dir)
    finally:
        store.close()
    outcomes = run_crawls(sites, settings)
    return _report(outcomes, options.progress)


def demo_site_config(base_url: str) -> SiteConfig:
    text = DEMO_CONFIG.read_text(encoding="utf-8").replace("{base}", base_url.rstrip("/"))
    return parse_site(yaml.safe_load(text), str(DEMO_CONFIG))


def cmd_demo(args: argparse.Namespace) -> int:
    from newsarchive.demo.server import DemoSite  # noqa: PLC0415 - only this command serves the demo

    settings = settings_from_args(args, {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0})
    options = Options.from_settings(settings)
    demo = DemoSite(port=args.port)
    try:
        demo.start()
    except OSError as exc:
        raise UsageError(
            f"demo: cannot serve on 127.0.0.1:{args.port} ({exc.strerror or exc}); "
            "--port 0 picks a free port (a new port archives the site anew)"
        ) from None
    with demo as site:
        _out(f"Demo news site served at {site.base_url}; crawling it into {options.store} ...")
        outcomes = run_crawls([demo_site_config(site.base_url)], settings)
    code = _report(outcomes, interactive=True)
    store = open_options_store(options)
    warcs = list(store.list(f"{WARC_PREFIX}/demo"))
    texts = list(store.list(f"{TEXT_PREFIX}/demo"))
    metas = list(store.list(f"{META_PREFIX}/demo"))
    _out("")
    _out(f"Store: {store.uri}")
    _out(f"  WARC files ({len(warcs)}):")
    for key in warcs:
        size = len(store.get_bytes(key))
        _out(f"    {key}  {human_bytes(size)}")
    _out(f"  article texts: {len(texts)} under {TEXT_PREFIX}/demo/")
    _out(f"  metadata records: {len(metas)} under {META_PREFIX}/demo/")
    _out("")
    store_arg = "" if args.store is None else f" --store {shlex.quote(args.store)}"
    hints = [
        ("demo", "run again: only what changed is fetched"),
        (f"replay{store_arg}", "browse the captures with pywb"),
        (f"verify{store_arg}", "check every WARC, digest and index"),
        (f"export{store_arg} --format jsonl -o demo.jsonl", "take the articles out"),
        ("sites", "list the site configs"),
        ("crawl --site NAME", "crawl a configured site"),
        ("extract-file page.html", "tune extraction on a saved page"),
    ]
    command = command_name()
    width = max(len(command) + 1 + len(h) for h, _ in hints)
    _out("Next:")
    for hint, why in hints:
        _out(f"  {f'{command} {hint}':<{width}}  # {why}")
    return code


def cmd_extract_file(args: argparse.Namespace) -> int:
    settings = options_from_args(args, interactive=False)
    site = load_site(settings.sites_dir, args.site) if args.site else None
    options = ExtractOptions.build(settings, site)
    failed = 0
    for raw in args.paths:
        path = Path(raw)
        try:
            body = path.read_bytes()
        except OSError as exc:
            sys.stderr.write(f"newsarchive: cannot read {path}: {exc}\n")
            failed += 1
            continue
        result = extract_document(body, args.content_type, args.url, options)
        if args.jsonl:
            record = {
                "path": str(path),
                "text": result.text if result else None,
                "metadata": (
                    {**result.metadata, "encoding": result.encoding,
                     "extractor_version": result.extractor_version,
                     "text_sha256": result.text_sha256}
                    if result else None
                ),
            }  # fmt: skip
            _out(json.dumps(record, ensure_ascii=False))
        elif result is None:
            sys.stderr.write(f"newsarchive: no article text in {path}\n")
        else:
            if len(args.paths) > 1:
                _out(f"==> {path} <==")
            _out(result.text)
        if result is None:
            failed += 1
    return EXIT_FAILED if failed else EXIT_OK


def cmd_sites(args: argparse.Namespace) -> int:
    directory = options_from_args(args, interactive=False).sites_dir
    sites, errors = check_sites(directory)
    for site in sites.values():
        sources = []
        for label, values in (
            ("feeds", site.feeds),
            ("sitemaps", site.sitemaps),
            ("sections", site.sections),
            ("start_urls", site.start_urls),
        ):
            if values:
                sources.append(f"{len(values)} {label}")
        _out(f"{site.name:<24} ok  {', '.join(sources)}; max {site.max_articles} articles")
    for error in errors:
        sys.stderr.write(f"newsarchive: configuration error: {error}\n")
    bad = f", {len(errors)} invalid" if errors else ""
    _out(f"{len(sites)} site(s) valid{bad} in {directory}")
    return EXIT_CONFIG if errors else EXIT_OK


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "crawl": cmd_crawl,
    "demo": cmd_demo,
    "extract-file": cmd_extract_file,
    "sites": cmd_sites,
    "upload": cmd_upload,
}
