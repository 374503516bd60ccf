"""`newsarchive seed`: start (or continue) a scaled-out run: push the sites' discovery requests
into the shared Redis queue that `newsarchive crawl --worker` processes take work from; with
--status, what to monitor; with --report, the run's report from its workers' reports."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from newsarchive.cli.args import add_settings, add_store

if TYPE_CHECKING:
    import argparse

    from newsarchive.config.options import Options
    from newsarchive.config.sites import SiteConfig

HELP = "push sites' discovery requests into the shared Redis queue for `crawl --worker`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--site", action="append", metavar="NAME", help="site config name (repeatable)"
    )
    target.add_argument("--all", action="store_true", help="every site in the sites folder")
    parser.add_argument("--redis", metavar="URL", help="the Redis workers share (REDIS_URL)")
    parser.add_argument("--sites-dir", metavar="DIR", help="folder of site YAML files")
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--status",
        action="store_true",
        help="show the current run's queue, in-flight requests and workers instead",
    )
    action.add_argument(
        "--report",
        action="store_true",
        help="add up the workers' reports of the current run (or --run) into reports/SITE/RUN.json",
    )
    parser.add_argument("--run", metavar="ID", help="with --report: this run, not the current one")
    add_settings(parser)
    add_store(parser)


def worker_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Settings of `crawl --worker` from its options (-s still overrides them)."""
    if not getattr(args, "worker", False):
        return {}
    settings: dict[str, Any] = {"SCALEOUT_ROLE": "worker"}
    if args.redis:
        settings["REDIS_URL"] = args.redis
    if args.idle_close is not None:
        settings["SCALEOUT_IDLE_CLOSE"] = args.idle_close
    if args.continuous:
        settings["SCALEOUT_IDLE_CLOSE"] = 0
    return settings


def worker_problem(args: argparse.Namespace, sites: list[SiteConfig], options: Options) -> str:
    """Why `crawl --worker` cannot start ("" when it can)."""
    from newsarchive.archive.frontier import SharedFrontier, connect  # noqa: PLC0415 - fast --help

    if args.url:
        return "--worker crawls configured sites (--site/--all), not --url"
    if not options.redis_url:
        return "--worker needs --redis URL (or -s REDIS_URL=...)"
    client = connect(options.redis_url)
    missing = [
        site.name
        for site in sites
        if SharedFrontier(client, site.name, options.scaleout_prefix).current_run() is None
    ]
    client.close()
    if missing:
        return f"no run seeded for {', '.join(missing)}: run `newsarchive seed` first"
    return ""


def _status(sites: list[SiteConfig], options: Options) -> None:
    from newsarchive.archive.frontier import SharedFrontier, connect  # noqa: PLC0415

    client = connect(options.redis_url)
    for site in sites:
        frontier = SharedFrontier(client, site.name, options.scaleout_prefix)
        run_id = frontier.current_run()
        if run_id is None:
            sys.stdout.write(f"{site.name}: no run seeded\n")
            continue
        status = frontier.join(run_id).status()
        sys.stdout.write(
            f"{site.name}: run {status.run_id}: {status.queued} queued, "
            f"{sum(status.in_flight.values())} in flight, {len(status.alive)} workers alive\n"
        )
        for worker in sorted(set(status.in_flight) | set(status.responses)):
            state = "alive" if worker in status.alive else "gone"
            sys.stdout.write(
                f"  {worker}: {state}, {status.in_flight.get(worker, 0)} in flight, "
                f"{status.responses.get(worker, 0)} responses\n"
            )
    client.close()


def _report(args: argparse.Namespace, sites: list[SiteConfig], options: Options) -> int:
    from newsarchive.archive.frontier import SharedFrontier, connect  # noqa: PLC0415
    from newsarchive.archive.run import open_options_store  # noqa: PLC0415
    from newsarchive.cli.main import EXIT_FAILED, EXIT_OK  # noqa: PLC0415
    from newsarchive.jobs.runreports import write_run_report  # noqa: PLC0415

    store = open_options_store(options)
    client = connect(options.redis_url) if not args.run else None
    code = EXIT_OK
    try:
        for site in sites:
            run_id = args.run
            if client is not None:
                run_id = SharedFrontier(client, site.name, options.scaleout_prefix).current_run()
            if run_id is None:
                sys.stderr.write(f"newsarchive: {site.name}: no run seeded\n")
                code = EXIT_FAILED
                continue
            try:
                report = write_run_report(store, site.name, run_id)
            except ValueError as exc:
                sys.stderr.write(f"newsarchive: {site.name}: run {run_id}: {exc}\n")
                code = EXIT_FAILED
                continue
            sys.stdout.write(
                f"{site.name}: run {run_id}: {len(report['workers'])} reports, "
                f"{report['fetched']['responses']} responses, {report['texts']} texts\n"
            )
    finally:
        store.close()
        if client is not None:
            client.close()
    return code


def run(args: argparse.Namespace) -> int:
    from newsarchive.archive.frontier import SharedFrontier, connect  # noqa: PLC0415
    from newsarchive.cli.commands import select_sites  # noqa: PLC0415
    from newsarchive.cli.crawl import run_crawls, summary_line  # noqa: PLC0415
    from newsarchive.cli.main import EXIT_CONFIG  # noqa: PLC0415
    from newsarchive.cli.settings import settings_from_args  # noqa: PLC0415
    from newsarchive.config.exitcodes import combine  # noqa: PLC0415
    from newsarchive.config.options import Options  # noqa: PLC0415

    defaults: dict[str, Any] = {"SCALEOUT_ROLE": "seed"}
    if args.redis:
        defaults["REDIS_URL"] = args.redis
    settings = settings_from_args(args, defaults, interactive=False)
    options = Options.from_settings(settings)
    if not options.redis_url:
        sys.stderr.write("newsarchive: seed needs --redis URL (or -s REDIS_URL=...)\n")
        return EXIT_CONFIG
    sites = select_sites(args, options.sites_dir)
    if args.status:
        _status(sites, options)
        return 0
    if args.report:
        return _report(args, sites, options)
    outcomes = run_crawls(sites, settings)
    client = connect(options.redis_url)
    for site in sites:
        frontier = SharedFrontier(client, site.name, options.scaleout_prefix)
        run_id = frontier.current_run()
        queued = frontier.join(run_id).queued() if run_id else 0
        sys.stdout.write(f"{site.name}: run {run_id}: {queued} requests queued\n")
    client.close()
    sys.stdout.write(summary_line(outcomes).replace("crawl:", "seed:", 1) + "\n")
    return combine(o.exit_code for o in outcomes)
