"""`newsarchive replay`: browse the store's archive in pywb, with a page listing the articles."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from newsarchive.cli.args import add_settings, add_store
from newsarchive.cli.main import EXIT_CONFIG, EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    import argparse
    from types import FrameType

HELP = "browse the archive in pywb, with a page listing the captured articles"
DEFAULT_PORT = 8080
#: pywb's own `autoindex` default interval.
DEFAULT_REFRESH = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store(
        parser,
        "; an S3 store's WARCs are mirrored into its state folder, only new ones on later runs",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default {DEFAULT_PORT})",
    )  # fmt: skip
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--pywb-env", metavar="DIR", type=Path,
        help="virtual environment for pywb, created on first use (default $NEWSARCHIVE_PYWB_ENV, "
        "else ~/.cache/newsarchive/pywb-VERSION-pyXY)",
    )  # fmt: skip
    parser.add_argument(
        "--refresh", metavar="SECONDS", type=float, default=DEFAULT_REFRESH,
        help="look for new WARCs and articles this often while serving; 0 never "
        f"(default {DEFAULT_REFRESH:g})",
    )  # fmt: skip
    add_settings(parser)


def _stop(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from newsarchive.archive.run import open_options_store  # noqa: PLC0415 - see above
    from newsarchive.archive.store import StoreError  # noqa: PLC0415 - see above
    from newsarchive.cli.settings import options_from_args  # noqa: PLC0415 - see above
    from newsarchive.replay.app import ReplayError, ReplayServer, prepare  # noqa: PLC0415 - see above
    from newsarchive.replay.env import PYWB_VERSION, PywbEnv, PywbEnvError, default_env_dir  # noqa: PLC0415 - keeps --help fast

    err = sys.stderr.write
    options = options_from_args(args)
    try:
        store = open_options_store(options, reader=True)
    except StoreError as exc:
        err(f"newsarchive replay: {exc}\n")
        return EXIT_CONFIG
    env = PywbEnv(args.pywb_env or default_env_dir())
    try:
        if not env.is_ready():
            err(f"newsarchive replay: installing pywb {PYWB_VERSION} into {env.path} "
                "(first use only, needs PyPI) ...\n")  # fmt: skip
            env.ensure()
        site = prepare(store, env)
    except (PywbEnvError, ReplayError, StoreError) as exc:
        err(f"newsarchive replay: {exc}\n")
        return EXIT_FAILED if isinstance(exc, PywbEnvError) else EXIT_CONFIG
    finally:
        store.close()

    def _prepare_again() -> None:
        again = open_options_store(options, reader=True)
        try:
            prepare(again, env, site.workdir)
        finally:
            again.close()

    server = ReplayServer(env, site.workdir, args.host, args.port, access_log=args.verbose)
    # SIGTERM (service managers, `kill`) stops pywb the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.start()
        sys.stdout.write(
            f"newsarchive replay: {len(site.captures)} articles in {site.warcs} WARC files "
            f"of {store.uri}\n"
            f"  article list: {server.url}/\n"
            f"  replay:       {server.url}/archive/<timestamp>/<url>\n"
            "  Ctrl-C to stop\n"
        )
        sys.stdout.flush()
        code = server.wait_refreshing(_prepare_again, args.refresh)
    except ReplayError as exc:
        err(f"newsarchive replay: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        server.stop()
        sys.stdout.write("newsarchive replay: stopped\n")
        return EXIT_OK
    finally:
        server.stop()
    err(f"newsarchive replay: pywb exited with code {code}\n")
    return EXIT_FAILED
