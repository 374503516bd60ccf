"""Replay a store with pywb: index its WARCs, write pywb's config and article list, run it.

Everything pywb reads lives in a working folder (by default `replay/` in the store's state dir):
`config.yaml` (one collection over the store's WARCs, no live web), `indexes/` (one CDXJ per WARC,
made by pywb's own indexer and kept until the WARC changes), `templates/index.html` (pywb's
home page, replaced by the list of captured articles, with links into replay) and, for a remote
(S3) store, `warcs/`: a local mirror of its WARCs, refreshed incrementally.
"""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Self, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml

from newsarchive.archive.cdxj import cdxj_index
from newsarchive.archive.collection import (
    PYWB,
    mark_not_modified,
    not_modified_offsets,
    resolve_index_files,
)
from newsarchive.archive.files import atomic_file, write_atomic
from newsarchive.archive.layout import META_PREFIX, WARC_PREFIX, WARC_SUFFIXES, key_site
from newsarchive.archive.local import LocalStore
from newsarchive.archive.metadata import MetadataError, read_metadata
from newsarchive.archive.resource import Resource
from newsarchive.archive.store import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from newsarchive.archive.store import ObjectInfo, Store
    from newsarchive.replay.env import PywbEnv

logger = logging.getLogger(__name__)

#: The pywb child process: the script it runs, and the seconds it may take to start and stop.
_RUNNER: Final = Path(__file__).with_name("runner.py")
_START_TIMEOUT: Final = 60.0
_STOP_TIMEOUT: Final = 10.0
#: Collection name: replay URLs are /archive/<14-digit timestamp>/<original URL>.
COLLECTION: Final = "archive"
REPLAY_DIR: Final = "replay"
#: Mirror of a remote store's WARCs in the working folder, and what each file was mirrored from.
MIRROR_DIR: Final = "warcs"
_MIRROR_STATE: Final = "mirror.json"
_MIRROR_SAVE_EVERY: Final = 16


class ReplayError(Exception):
    """The store cannot be replayed (unreadable, nothing archived, pywb failed to start)."""


@dataclass(frozen=True, slots=True)
class ReplayArticle:
    """One captured article on the home page, as its metadata record in `meta/` describes it."""

    site: str
    url: str
    title: str
    captured: datetime  # UTC, the capture's fetch time (WARC-Date)
    published: str | None = None

    @property
    def timestamp(self) -> str:
        """The 14-digit form replay URLs use."""
        return self.captured.strftime("%Y%m%d%H%M%S")

    def replay_path(self, collection: str = COLLECTION) -> str:
        return f"/{collection}/{self.timestamp}/{self.url}"


def list_captures(store: Store) -> list[ReplayArticle]:
    """Every captured article in the store, by site then newest capture first.

    A capture re-extracted has one metadata record per extractor version; the newest
    extraction (latest `reextracted_at`, the crawl's own record having none) describes it.
    """
    found: dict[tuple[str, str, datetime], tuple[str, ReplayArticle]] = {}
    for key in store.list(META_PREFIX):
        if not key.endswith(".json"):
            continue
        try:
            record = read_metadata(store, key)
            capture = ReplayArticle(
                site=record.site or key_site(key),
                url=record.url,
                title=record.title or record.url,
                captured=record.captured,
                published=record.published,
            )
        except (MetadataError, KeyError, ValueError) as exc:
            logger.warning("Skipping unreadable metadata record %s: %s", key, exc)
            continue
        extracted = record.reextracted_at or ""
        ident = (capture.site, capture.url, capture.captured)
        if ident not in found or found[ident][0] < extracted:
            found[ident] = (extracted, capture)
    captures = [capture for _, capture in found.values()]
    captures.sort(key=lambda c: (c.site, -c.captured.timestamp(), c.url))
    return captures


def _esc(value: str) -> str:
    # Braces too: the page is a Jinja template for pywb, and no title may close its raw block.
    return html.escape(value, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def display_url(url: str) -> str:
    """A URL as a reader types it: percent-escapes decoded, an IDN host in Unicode. For
    display only (links keep the URL as archived); undecodable parts stay as they were."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    else:
        host = ".".join(_unicode_label(label) for label in host.split("."))
    netloc = host + (f":{parts.port}" if parts.port is not None else "")
    path = unquote(parts.path) if _decodes(parts.path) else parts.path
    query = unquote(parts.query) if _decodes(parts.query) else parts.query
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def _unicode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label


def _decodes(value: str) -> bool:
    try:
        unquote(value, errors="strict")
    except UnicodeDecodeError:
        # Escapes of another charset: shown escaped rather than as replacement characters.
        return False
    return True


def article_list_html(captures: list[ReplayArticle], collection: str = COLLECTION) -> str:
    """The home page: captured articles grouped by site, each linking to its replay."""
    sections = []
    for site in sorted({c.site for c in captures}):
        rows = [
            "<tr>"
            f'<td><a href="{_esc(c.replay_path(collection))}">{_esc(c.title)}</a>'
            f'<div class="url">{_esc(display_url(c.url))}</div></td>'
            f"<td>{_esc(c.published or '')}</td>"
            f'<td class="date">{c.captured.strftime("%Y-%m-%d %H:%M:%S")}</td>'
            f'<td><a href="{_esc(f"/{collection}/*/{c.url}")}">all</a></td>'
            "</tr>"
            for c in captures
            if c.site == site
        ]
        sections.append(
            f"<h2>{_esc(site)}</h2>\n<table>\n<tr><th>Article</th><th>Published</th>"
            "<th>Captured (UTC)</th><th>Captures</th></tr>\n" + "\n".join(rows) + "\n</table>"
        )
    body = "\n".join(sections) or "<p>No articles captured yet.</p>"
    return (
        '{% raw %}<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>newsarchive: {len(captures)} captured articles</title>\n"
        # Long URLs and titles wrap anywhere, so the list fits the window (1280 px and less).
        "<style>body{font-family:sans-serif;margin:2em;overflow-wrap:anywhere}"
        "table{border-collapse:collapse;width:100%}"
        "td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
        ".url{color:#666;font-size:.8em}.date{white-space:nowrap}</style>\n</head><body>\n"
        f"<h1>newsarchive: {len(captures)} captured articles</h1>\n"
        f'<p>Replay runs on pywb; search any URL at <a href="/{collection}/">/{collection}/</a>.'
        "</p>\n" + body + "\n</body></html>\n{% endraw %}"
    )


def _write_text(path: Path, text: str) -> None:
    """Write beside the target and rename, so pywb never reads half a file."""
    write_atomic(path, text.encode("utf-8"), fsync=False)


@dataclass(frozen=True, slots=True)
class ReplaySite:
    """A prepared working folder for pywb: what `prepare` built."""

    workdir: Path
    warcs: int
    indexed: int  # WARCs (re)indexed this time; the others reused their CDXJ
    captures: list[ReplayArticle]


def prepare(
    store: Store, env: PywbEnv, workdir: Path | None = None, collection: str = COLLECTION
) -> ReplaySite:
    """Index new WARCs and write pywb's config and article list for `store` into `workdir`.

    Raises ReplayError when there is nothing to replay; StoreError when the store cannot be read.
    """
    workdir = (workdir or store.state_dir / REPLAY_DIR).resolve()
    index_dir = workdir / "indexes"
    index_dir.mkdir(parents=True, exist_ok=True)
    objects = [i for i in store.list_info(WARC_PREFIX) if i.key.endswith(WARC_SUFFIXES)]
    if not objects:
        raise ReplayError(f"nothing to replay: no WARC files under {WARC_PREFIX}/ in {store.uri}")
    if isinstance(store, LocalStore):
        root = store.root
    else:
        # A remote store is mirrored, not read by pywb over S3. pywb 2.10's S3 loader would need
        # boto3 in the pywb venv and sees only the standard AWS chain (not our AWS_* settings,
        # addressing style or CA bundle); on any error it retries anonymously, hiding the real
        # one; it cannot see objects still in our upload spool; pywb's indexer reads local files
        # anyway; and every replayed page would be ranged GETs against the store. A mirror costs
        # disk once, is refreshed by size and ETag, and replays with the store offline.
        root = workdir / MIRROR_DIR
        _mirror(store, objects, root)
    root = root.resolve()

    wanted: dict[str, Path] = {}
    stale: list[tuple[str, str]] = []
    for info in objects:
        warc = root.joinpath(*info.key.split("/"))
        cdxj = index_dir / (info.key.replace("/", "~") + ".cdxj")
        wanted[cdxj.name] = cdxj
        # Closed WARCs never change; a newer file under the same name gets indexed again.
        if not cdxj.exists() or cdxj.stat().st_mtime < warc.stat().st_mtime:
            stale.append((str(warc), str(cdxj)))
    for old in index_dir.iterdir():
        if old.name not in wanted:
            old.unlink()
    if stale:
        logger.info("Indexing %d of %d WARC files for replay", len(stale), len(objects))
        _run_indexer(env, root, stale)
        for warc_path, cdxj_path in stale:
            with Path(warc_path).open("rb") as stream:
                ours = cdxj_index(stream, Path(warc_path).name).decode("utf-8").splitlines()
            mark_not_modified(Path(cdxj_path), not_modified_offsets(ours))
        # pywb would replay each 304 as an empty 304: point those lines at their originals.
        resolve_index_files(sorted(p for p in wanted.values() if p.exists()), PYWB)

    config = {
        "collections": {
            collection: {
                "index_paths": str(index_dir) + os.sep,
                "archive_paths": str(root) + os.sep,
            }
        },
        # Unframed: the replayed page is the top document, with pywb's small banner only.
        "framed_replay": False,
        "enable_memento": True,
    }
    _write_text(workdir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    captures = list_captures(store)
    _write_text(workdir / "templates" / "index.html", article_list_html(captures, collection))
    return ReplaySite(workdir=workdir, warcs=len(objects), indexed=len(stale), captures=captures)


def _mirror(store: Store, objects: list[ObjectInfo], root: Path) -> None:
    """Bring `root` in line with the store's WARCs: fetch new or changed ones (by size and
    change tag), drop those the store no longer has."""
    state_path = root / _MIRROR_STATE
    try:
        mirrored: dict[str, list[object]] = json.loads(state_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        mirrored = {}
    current: dict[str, list[object]] = {}
    fetched = 0
    for info in objects:
        target = root.joinpath(*info.key.split("/"))
        stamp: list[object] = [info.size, info.tag]
        if (
            mirrored.get(info.key) == stamp
            and target.is_file()
            and target.stat().st_size == info.size
        ):
            current[info.key] = stamp
            continue
        with atomic_file(target, fsync=False) as out, store.open_read(info.key) as source:
            shutil.copyfileobj(source, out, 1 << 20)
        current[info.key] = stamp
        fetched += 1
        if fetched % _MIRROR_SAVE_EVERY == 0:
            # Saved as it goes, so an interrupted first mirror of a large store resumes.
            _write_text(state_path, json.dumps({**mirrored, **current}))
    gone = [key for key in mirrored if key not in current]
    for key in gone:
        root.joinpath(*key.split("/")).unlink(missing_ok=True)
    _write_text(state_path, json.dumps(current))
    if fetched or gone:
        logger.info(
            "Mirrored %d of %d WARC files of %s for replay (%d removed)",
            fetched,
            len(objects),
            store.uri,
            len(gone),
        )


def _run_indexer(env: PywbEnv, root: Path, pairs: list[tuple[str, str]]) -> None:
    result = subprocess.run(
        [str(env.python), "-I", str(_RUNNER), "index", str(root)],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise ReplayError(f"pywb's indexer failed:\n{tail}")


# eq=False: compared and hashed by identity, as a running server is.
@dataclass(eq=False)
class ReplayServer(Resource):
    """pywb serving a prepared working folder, as a child process bound to `host`."""

    env: PywbEnv
    workdir: Path
    host: str = "127.0.0.1"
    #: The port to listen on (0: any free one); `port` is the one pywb took, once started.
    requested_port: int = 0
    access_log: bool = field(default=False, kw_only=True)
    port: int | None = field(default=None, init=False)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        if self.port is None:
            raise ReplayError("replay server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, log: IO[bytes] | None = None) -> Self:
        """Start pywb and wait until it listens; its log goes to `log` (default: stderr)."""
        command = [str(self.env.python), "-I", str(_RUNNER), "serve", self.host]
        command += [str(self.requested_port), *(["access-log"] if self.access_log else [])]
        process = subprocess.Popen(
            command,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log if log is not None else sys.stderr,
            # Its own session: a terminal's Ctrl-C reaches us only, and we stop pywb in order.
            start_new_session=True,
        )
        self.process = process
        line = _read_line(process, _START_TIMEOUT)
        try:
            self.port = int(json.loads(line)["port"])
        except (ValueError, KeyError, TypeError):
            self.stop()
            raise ReplayError(
                f"pywb did not start (exit code {process.poll()}); see its log above"
            ) from None
        logger.info("pywb serving %s at %s", self.workdir, self.url)
        return self

    def wait(self) -> int:
        """Block until pywb exits (a signal handler may interrupt this by raising)."""
        if self.process is None:
            return 0
        return self.process.wait()

    def wait_refreshing(self, refresh: Callable[[], object], every: float) -> int:
        """Block until pywb exits, calling `refresh` (`prepare` again) every `every` seconds, so
        WARCs closed after the start replay without a restart; `every` <= 0 never refreshes.

        pywb re-reads the index folder when its modification time changes, and the article
        list template when the file does, so the running server needs no signal. pywb's own
        `autoindex` would index new WARCs too, but only inside its `collections/` layout and
        without the 304 resolution `prepare` applies.
        """
        if every <= 0:
            return self.wait()
        while self.process is not None:
            try:
                return self.process.wait(every)
            except subprocess.TimeoutExpired:
                pass
            try:
                refresh()
            except (ReplayError, StoreError, OSError):
                # The store may be briefly unreachable; what is indexed keeps replaying.
                logger.warning("Replay index not refreshed", exc_info=True)
        return 0

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.warning("pywb did not stop within %s s; killing it", _STOP_TIMEOUT)
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _enter(self) -> Self:
        return self if self.process is not None else self.start()

    def _exit(self) -> None:
        self.stop()


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """First stdout line of the child, or "" if it exits or stays silent past `timeout`."""
    import selectors  # noqa: PLC0415 - only needed while pywb starts

    stdout = cast("IO[bytes]", process.stdout)
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return stdout.readline().decode("utf-8", "replace").strip()
