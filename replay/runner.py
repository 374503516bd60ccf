"""Runs inside the pywb venv (see archive.pywb_env), never imported by newsarchive itself.

`index ROOT`: reads [[warc_path, cdxj_path], ...] as JSON on stdin and writes one sorted CDXJ
per WARC with pywb's own indexer, file names relative to ROOT.
`serve HOST PORT [access-log]`: serves ./config.yaml with pywb's front end (no live web:
no `live` collection, no recorder, no proxy), prints {"port": N} once listening, stops on
SIGTERM or SIGINT.
"""
# Started with `python -I`, so this folder is not on sys.path and names like `warc.py` beside
# it cannot shadow anything pywb imports.

from __future__ import annotations

import os

# tldextract (used by pywb's cookie rewriter and surt) fetches the public suffix list from the
# internet on first use unless it is given no URLs; then it uses its bundled snapshot.
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

from gevent import monkey  # type: ignore[import-untyped]  # only in the pywb venv

monkey.patch_all()

import ctypes  # noqa: E402 - gevent must patch the standard library before anything else
import functools  # noqa: E402 - see above
import json  # noqa: E402 - see above
import signal  # noqa: E402 - see above
import sys  # noqa: E402 - see above
from pathlib import Path  # noqa: E402 - see above

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: get SIGTERM when `newsarchive replay` dies, even by SIGKILL, so no pywb lingers."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's own cleanup has to do
        return


def index(root: str) -> int:
    from pywb.indexer.cdxindexer import (  # type: ignore[import-not-found]  # noqa: PLC0415 - pywb venv only
        write_multi_cdx_index,
    )

    for warc_path, cdxj_path in json.load(sys.stdin):
        target = Path(cdxj_path)
        partial = target.with_name(target.name + ".part")
        # Same options as `cdx-indexer -j -s -p -d ROOT`: CDXJ, sorted, POST bodies in the key.
        write_multi_cdx_index(
            str(partial), [warc_path], sort=True, cdxj=True, append_post=True, rel_root=root
        )
        partial.replace(target)
    return 0


def serve(host: str, port: int, *, access_log: bool) -> int:
    import gevent  # noqa: PLC0415 - pywb venv only (its stubs complaint is ignored above)
    from gevent.pywsgi import WSGIServer  # type: ignore[import-untyped]  # noqa: PLC0415
    from pywb.apps.frontendapp import FrontEndApp  # type: ignore[import-not-found]  # noqa: PLC0415
    from pywb.utils import geventserver  # type: ignore[import-not-found]  # noqa: PLC0415

    handler = geventserver.RequestURIWSGIHandler

    if not access_log:
        # pywb's front end also starts an internal index/WARC server with gevent's default
        # access log on stderr; quiet it the same way as the public one.
        geventserver.WSGIServer = functools.partial(WSGIServer, log=None)
    app = FrontEndApp(config_file="./config.yaml")
    server = WSGIServer(
        (host, port),
        app,
        handler_class=handler,
        log=sys.stderr if access_log else None,
    )
    server.init_socket()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, server.stop)
    sys.stdout.write(json.dumps({"port": server.address[1]}) + "\n")
    sys.stdout.flush()
    # The parent reads only that line: anything pywb prints later goes to stderr, so a full,
    # unread pipe can never block the server.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    server.serve_forever()
    return 0


def main(argv: list[str]) -> int:
    _die_with_parent()
    if argv[:1] == ["index"] and len(argv) == 2:
        return index(argv[1])
    if argv[:1] == ["serve"] and len(argv) in (3, 4):
        return serve(argv[1], int(argv[2]), access_log=argv[3:] == ["access-log"])
    sys.stderr.write("usage: runner.py index ROOT | serve HOST PORT [access-log]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
