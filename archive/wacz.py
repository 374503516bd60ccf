"""WACZ 1.1.1 packages, written as a stream: WARCs are copied into the ZIP in chunks, the index
is the merge of the stored per-WARC CDXJ indexes, and nothing the size of a WARC is in memory."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, BinaryIO, Final

from newsarchive.archive.cdxj import open_warc
from newsarchive.archive.files import atomic_file
from newsarchive.archive.layout import parse_warc_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

WACZ_CONTENT_TYPE: Final = "application/wacz"
WACZ_VERSION: Final = "1.1.1"
#: `python -m wacz` ignores main()'s return value, so a failed validate would exit 0.
_WACZ_MAIN: Final = "import sys; from wacz.main import main; sys.exit(main(sys.argv[1:]))"
_TIMEOUT: Final = 3600
_CHUNK: Final = 1 << 20
#: CDXJ lines per gzip block of indexes/index.cdx.gz (py-wacz's and cdxj-indexer's default):
#: ReplayWeb.page fetches one block per lookup, so this bounds each range request.
_LINES_PER_BLOCK: Final = 300


class WaczError(Exception):
    """A package could not be built, or `wacz validate` rejected one."""


@dataclass(frozen=True, slots=True)
class Page:
    """One entry of pages/pages.jsonl: an article, by the WARC-Date of its capture.

    `text` (the extracted text) feeds ReplayWeb.page's full-text search.
    """

    url: str
    date: str
    title: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class WarcSource:
    """A WARC to put in a package: its file name in `archive/`, and how to open it."""

    name: str
    size: int
    open: Callable[[], BinaryIO]


def store_warcs(store: Store, keys: Iterable[str]) -> list[WarcSource]:
    """Stored WARCs as package members, sized from the store's listing."""
    wanted = list(dict.fromkeys(keys))
    sizes: dict[str, int] = {}
    for prefix in {key.rsplit("/", 2)[0] for key in wanted}:
        sizes |= {info.key: info.size for info in store.list_info(prefix)}

    def source(key: str) -> WarcSource:
        if key not in sizes:
            raise WaczError(f"{key} is not in {store.uri}")
        return WarcSource(parse_warc_key(key)[2], sizes[key], lambda: open_warc(store, key))

    return [source(key) for key in wanted]


def pages_jsonl(pages: Iterable[Page], title: str) -> Iterator[bytes]:
    """pages/pages.jsonl, one line at a time."""
    header = {"format": "json-pages-1.0", "id": "pages", "title": title, "hasText": True}
    yield (json.dumps(header, ensure_ascii=False) + "\n").encode("utf-8")
    for n, page in enumerate(pages):
        # `ts` makes replay tools match each page to its own capture, not any of the URL.
        line: dict[str, str] = {"id": f"p{n}", "url": page.url, "ts": page.date}
        line["title"] = page.title
        if page.text:
            line["text"] = page.text
        yield (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(slots=True)
class _Resource:
    path: str
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)
    size: int = 0

    def entry(self) -> dict[str, object]:
        return {
            "name": self.path.rsplit("/", 1)[-1].lower(),
            "path": self.path,
            "hash": "sha256:" + self.sha256.hexdigest(),
            "bytes": self.size,
        }


class _HashingWriter:
    """A ZIP member being written, hashed and counted as it goes (for datapackage.json)."""

    def __init__(self, out: IO[bytes], resource: _Resource) -> None:
        self.out = out
        self.resource = resource

    def write(self, data: bytes) -> int:
        self.resource.sha256.update(data)
        self.resource.size += len(data)
        self.out.write(data)
        return len(data)


def _member(name: str, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6])
    # WACZ 1.1.1: WARCs and the compressed index are stored, so readers can seek into them.
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    return info


def write_wacz(
    output: BinaryIO,
    warcs: Iterable[WarcSource],
    index_lines: Iterable[str],
    pages: Iterable[Page],
    *,
    title: str,
) -> int:
    """Write a WACZ into the seekable `output`; returns how many WARCs it holds.

    `index_lines` are sorted CDXJ lines whose `filename` is a WARC's `name`.
    """
    resources: list[_Resource] = []
    count = 0

    def member(name: str, compress: bool) -> tuple[zipfile.ZipInfo, _Resource]:
        resource = _Resource(name)
        resources.append(resource)
        return _member(name, compress), resource

    with zipfile.ZipFile(output, "w", allowZip64=True) as package:
        for warc in warcs:
            info, resource = member(f"archive/{warc.name}", compress=False)
            # A known size lets zipfile add ZIP64 fields only to members that need them:
            # ReplayWeb.page misreads members that carry them needlessly.
            info.file_size = warc.size
            with warc.open() as src, package.open(info, "w") as raw:
                shutil.copyfileobj(src, _HashingWriter(raw, resource), _CHUNK)
            count += 1
        idx = io.StringIO()
        info, resource = member("indexes/index.cdx.gz", compress=False)
        # Imported here: cdxj-indexer loads pyamf and pkg_resources, which the crawl process
        # otherwise does not need (see archive.cdxj).
        from cdxj_indexer.main import CompressedWriter  # noqa: PLC0415

        with package.open(info, "w") as raw:
            writer = CompressedWriter(
                idx,
                _HashingWriter(raw, resource),
                num_lines=_LINES_PER_BLOCK,
                data_out_name="index.cdx.gz",
                digest_records=True,
            )
            for line in index_lines:
                writer.write(line if line.endswith("\n") else line + "\n")
            if writer.block:
                writer.flush()
        info, resource = member("indexes/index.idx", compress=True)
        with package.open(info, "w") as raw:
            _HashingWriter(raw, resource).write(idx.getvalue().encode("utf-8"))
        info, resource = member("pages/pages.jsonl", compress=True)
        with package.open(info, "w") as raw:
            sink = _HashingWriter(raw, resource)
            for line_bytes in pages_jsonl(pages, title):
                sink.write(line_bytes)
        datapackage = json.dumps(
            {
                "profile": "data-package",
                "resources": [r.entry() for r in resources],
                "title": title,
                "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "wacz_version": WACZ_VERSION,
                "software": "newsarchive",
            },
            indent=2,
        ).encode("utf-8")
        package.writestr(_member("datapackage.json", compress=True), datapackage)
        digest = {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(datapackage).hexdigest(),
        }
        package.writestr(_member("datapackage-digest.json", compress=True), json.dumps(digest))
    return count


def write_wacz_file(
    path: Path,
    warcs: Iterable[WarcSource],
    index_lines: Iterable[str],
    pages: Iterable[Page],
    *,
    title: str,
) -> int:
    """`write_wacz` into `path`, which appears only once complete."""
    with atomic_file(path, fsync=True) as out:
        return write_wacz(out, warcs, index_lines, pages, title=title)


def validate_wacz(path: Path) -> str:
    """Run py-wacz's `wacz validate`; raises WaczError when the package is invalid."""
    result = subprocess.run(
        [sys.executable, "-c", _WACZ_MAIN, "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    out = result.stdout + result.stderr
    if result.returncode != 0 or "Validation succeeded" not in out:
        raise WaczError(f"wacz validate failed ({result.returncode}): {out}")
    return out


def package_keys(
    store: Store,
    key: str,
    warc_keys: list[str],
    index_lines: Iterable[str],
    pages: Iterable[Page],
    *,
    title: str,
    metadata: dict[str, str],
) -> int:
    """Build a package of stored WARCs and commit it to the store at `key`; returns how many
    WARCs it holds."""
    target = store.staging_path(key)
    count = write_wacz_file(target, store_warcs(store, warc_keys), index_lines, pages, title=title)
    store.commit_file(key, target, WACZ_CONTENT_TYPE, metadata)
    logger.info("Packaged %d WARCs into %s", count, key)
    return count
