"""Re-extraction: run the current extractor over archived response records, in worker processes.

The work list is the store's metadata objects (`meta/SITE/DAY/URLHASH-TIME.VERSION.json`): one
capture per URL hash and capture time, whatever versions it already has. Each worker opens the
store itself, reads the source metadata and the response it links to through `archive.reader`
(revisits resolved, Content-Encoding undone as the crawl's HttpCompressionMiddleware did), runs
the same `extract_document` the crawl runs, and writes text + metadata with `store_extraction`.
Only object keys cross process boundaries. No Scrapy import.

Older versions stay unless `replace_older` is run after `run`: it deletes the other versions'
text and metadata of each capture whose new version reads back intact, and nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

from newsarchive.archive.layout import (
    META_PREFIX,
    TEXT_PREFIX,
    key_site,
    parse_meta_key,
    parse_text_key,
    parse_versioned_key,
    safe_segment,
    site_prefix,
)
from newsarchive.archive.metadata import MetadataError, read_metadata
from newsarchive.archive.reader import ArchiveReader, ArchiveReadError, capture_from_record
from newsarchive.archive.store import StoreError, open_store
from newsarchive.extraction.documents import ExtractOptions, extract_document
from newsarchive.extraction.records import store_extraction
from newsarchive.extraction.sitemodel import (
    SiteModel,
    build_site_model,
    load_site_model,
    save_site_model,
)
from newsarchive.extraction.version import EXTRACTOR_VERSION
from newsarchive.extraction.workers import die_with_parent
from newsarchive.jobs.upload import drain

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from newsarchive.archive.store import Store

logger = logging.getLogger(__name__)

#: Tasks per chunk handed to a worker: large enough that pickling and scheduling cost nothing
#: beside extraction (~20 ms a page), small enough that 2 workers finish close together.
_MAX_CHUNK: Final = 32
_CHUNKS_PER_WORKER: Final = 8

OK: Final = "written"
EMPTY: Final = "empty"
FAILED: Final = "failed"


class ReextractError(Exception):
    """One capture could not be re-extracted (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class Task:
    """One capture: the metadata object to start from, and the extraction options of its site."""

    source_key: str
    options: ExtractOptions


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one capture's re-extraction: its status (OK, EMPTY or FAILED) and
    detail, keyed by the metadata object it started from."""

    source_key: str
    status: str
    #: Metadata key written (status OK), or the reason (EMPTY, FAILED).
    detail: str


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What a worker process sends back for one chunk of tasks: each task's outcome, the CPU
    seconds it spent on them, and its process ID (the summary counts the workers used)."""

    outcomes: list[Outcome]
    cpu_seconds: float
    pid: int


@dataclass(slots=True)
class ReextractPlan:
    """Captures to re-extract, and how many already have the target version."""

    tasks: list[Task]
    done: int
    sites: set[str]
    #: Of the tasks, captures whose target version was made with other settings (or --force).
    stale: int = 0


@dataclass(slots=True)
class Summary:
    """A re-extraction run, for the command's report: the extractor version written, what was
    planned, already done, written, empty or failed, and what it cost."""

    version: str
    planned: int = 0
    already_done: int = 0
    written: int = 0
    empty: list[Outcome] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    #: CPU time spent in extraction workers (or in this process with workers=0).
    cpu_seconds: float = 0.0
    worker_pids: set[int] = field(default_factory=set)
    #: Objects written but still only in the local spool of an S3 store (store unreachable).
    spooled: int = 0
    #: Older text and metadata objects deleted by `replace_older`; None when not asked.
    removed: int | None = None

    @property
    def processed(self) -> int:
        return self.written + len(self.empty) + len(self.failed)

    def line(self) -> str:
        rate = self.processed / self.wall_seconds if self.wall_seconds > 0 else 0.0
        return (
            f"newsarchive reextract: version {self.version}: {self.written} written, "
            f"{self.already_done} already done, {len(self.empty)} without text, "
            f"{len(self.failed)} failed ({self.processed} in {self.wall_seconds:.1f} s, "
            f"{rate:.1f} pages/s)"
            + (f", {self.spooled} objects left in the spool" if self.spooled else "")
            + (f", {self.removed} older objects removed" if self.removed is not None else "")
        )


def plan(
    store: Store,
    version: str,
    options_for: Callable[[str], ExtractOptions],
    *,
    site: str | None = None,
    since: date | None = None,
    force: bool = False,
) -> ReextractPlan:
    """Group the store's metadata objects by capture; keep the captures lacking `version`, and
    those whose `version` was made with other extraction settings than the current ones (it is
    made again, in place); with `force`, every capture.

    `since` compares with the capture's UTC day (the day folder of its keys).
    """
    safe_segment(version)
    captures: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for key in store.list(site_prefix(META_PREFIX, site)):
        parts = parse_meta_key(key)
        if parts is None:
            continue
        if since is not None and parts.day < since.isoformat():
            continue
        captures.setdefault(parts.capture, []).append((parts.version, key))
    tasks: list[Task] = []
    done = stale = 0
    sites: set[str] = set()
    options: dict[str, ExtractOptions] = {}
    for (site_name, _day, _stem), versions in sorted(captures.items()):
        if site_name not in options:
            options[site_name] = options_for(site_name)
        current = [k for v, k in versions if v == version]
        if (
            current
            and not force
            and _settings_of(store, current[0]) == (options[site_name].settings_hash)
        ):
            done += 1
            continue
        if current:
            stale += 1
        sites.add(site_name)
        # Every version links to the same WARC record; another version's key is the source
        # when there is one (the target version's own is about to be replaced).
        others = [k for v, k in versions if v != version] or current
        tasks.append(Task(source_key=min(others), options=options[site_name]))
    return ReextractPlan(tasks=tasks, done=done, sites=sites, stale=stale)


def _settings_of(store: Store, key: str) -> str | None:
    """The extraction settings hash a metadata record was made with (None: unknown)."""
    try:
        return read_metadata(store, key).extraction_settings
    except (KeyError, MetadataError):
        return None


def _reextract_one(
    reader: ArchiveReader, task: Task, version: str, reextracted_at: str
) -> tuple[str, str]:
    try:
        source = read_metadata(reader.store, task.source_key)
    except KeyError:
        raise ReextractError("metadata object vanished") from None
    except MetadataError as exc:
        raise ReextractError(f"unreadable metadata: {exc}") from exc
    ref = source.warc_ref
    if ref is None:
        raise ReextractError("metadata has no WARC key and offset")
    response = reader.response(ref, source.site or "")
    capture = capture_from_record(source, response)
    result = extract_document(
        capture.body, response.header("Content-Type"), source.url, task.options
    )
    if result is None:
        return EMPTY, "no article text"
    # The site's model has seen the whole archive: the first captures of a site, extracted
    # before the crawl had learnt its boilerplate, come out as clean as the later ones.
    result = _site_model(reader.store, source.site or "").apply(result, learn=False)
    result = dataclasses.replace(result, extractor_version=version)
    record = store_extraction(
        reader.store,
        capture,
        result,
        extra={"reextracted_at": reextracted_at, "source_metadata": task.source_key},
    )
    return OK, record.key


def _run_tasks(
    reader: ArchiveReader, tasks: list[Task], version: str, reextracted_at: str
) -> ChunkResult:
    started = time.process_time()
    outcomes = []
    try:
        for task in tasks:
            try:
                status, detail = _reextract_one(reader, task, version, reextracted_at)
            except (ReextractError, ArchiveReadError) as exc:
                status, detail = FAILED, str(exc)
            except Exception as exc:  # any extractor or store bug must cost one capture only
                logger.warning("Re-extraction of %s failed", task.source_key, exc_info=True)
                status, detail = FAILED, repr(exc)
            outcomes.append(Outcome(task.source_key, status, detail))
    finally:
        reader.close()
    return ChunkResult(outcomes, time.process_time() - started, os.getpid())


#: Site models read once per process: (state folder, site) -> model.
_SITE_MODELS: dict[tuple[str, str], SiteModel] = {}


def _site_model(store: Store, site: str) -> SiteModel:
    key = (str(store.state_dir), site)
    if key not in _SITE_MODELS:
        _SITE_MODELS[key] = load_site_model(store.state_dir, site) or SiteModel(site)
    return _SITE_MODELS[key]


def prepare_site_models(store: Store, sites: Iterable[str]) -> None:
    """Build from the archive the model of each site that has none in the store's state."""
    for site in sorted(set(sites)):
        if load_site_model(store.state_dir, site) is None:
            model = build_site_model(store, site)
            save_site_model(store.state_dir, model)
            logger.info("Built the site model of %s from %d articles", site, model.pages)


#: One reader per worker process and store, so its digest index is read once per process.
_WORKER_READERS: dict[str, ArchiveReader] = {}


def run_chunk(
    store_uri: str,
    store_options: Mapping[str, Any],
    tasks: list[Task],
    version: str,
    reextracted_at: str,
) -> ChunkResult:
    """Worker entry point: re-extract a chunk of captures; one failure costs one capture."""
    reader = _WORKER_READERS.get(store_uri)
    if reader is None:
        reader = _WORKER_READERS[store_uri] = ArchiveReader(open_store(store_uri, **store_options))
    return _run_tasks(reader, tasks, version, reextracted_at)


def _chunks(tasks: list[Task], workers: int) -> Iterator[list[Task]]:
    size = max(1, min(_MAX_CHUNK, -(-len(tasks) // max(1, workers * _CHUNKS_PER_WORKER))))
    for start in range(0, len(tasks), size):
        yield tasks[start : start + size]


def run(
    store_uri: str,
    tasks: Iterable[Task],
    *,
    version: str = EXTRACTOR_VERSION,
    workers: int = 0,
    store_options: Mapping[str, Any] | None = None,
    already_done: int = 0,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Re-extract `tasks` (from `plan`) with `workers` processes (0: in this process)."""
    safe_segment(version)
    options = dict(store_options or {})
    # Tasks sorted by WARC position would need the metadata read first; key order keeps one
    # capture day (and so mostly one WARC) together, which is what the stream reuse needs.
    todo = sorted(tasks, key=lambda t: t.source_key)
    summary = Summary(version=version, planned=len(todo), already_done=already_done)
    if todo:
        model_store = open_store(store_uri, **options)
        try:
            prepare_site_models(model_store, (key_site(t.source_key) for t in todo))
        finally:
            model_store.close()
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    started = time.perf_counter()

    def collect(result: ChunkResult) -> None:
        summary.cpu_seconds += result.cpu_seconds
        if result.pid:
            summary.worker_pids.add(result.pid)
        for outcome in result.outcomes:
            if outcome.status == OK:
                summary.written += 1
            elif outcome.status == EMPTY:
                summary.empty.append(outcome)
            else:
                summary.failed.append(outcome)
        summary.wall_seconds = time.perf_counter() - started
        if progress is not None:
            progress(summary)

    if workers <= 0:
        reader = ArchiveReader(open_store(store_uri, **options))
        try:
            for chunk in _chunks(todo, 1):
                collect(_run_tasks(reader, chunk, version, stamp))
        finally:
            reader.store.close()
        report = reader.store.upload_report()
    else:
        # spawn: the same context the crawl's extraction pool uses; no inherited state.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            # Workers must not outlive a killed reextract (cron waits on their pipes).
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            chunks: dict[Future[ChunkResult], list[Task]] = {
                pool.submit(run_chunk, store_uri, options, chunk, version, stamp): chunk
                for chunk in _chunks(todo, workers)
            }
            pending = set(chunks)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    try:
                        result = future.result()
                    except Exception as exc:  # a worker died (BrokenProcessPool, pickling...)
                        logger.error("Re-extraction worker failed", exc_info=True)
                        result = ChunkResult(
                            [Outcome(t.source_key, FAILED, repr(exc)) for t in chunks[future]],
                            0.0,
                            0,
                        )
                    collect(result)
        # Workers exit without closing their stores: an S3 store's upload threads die with
        # them and leave objects in the spool, which this process uploads now.
        report = drain(store_uri, options)
    summary.spooled = report.pending if report is not None else 0
    summary.wall_seconds = time.perf_counter() - started
    if summary.failed:
        # The older versions are still there, so nothing is lost; the caller lists them.
        logger.warning("Re-extraction failed for %d of %d captures", len(summary.failed), len(todo))
    return summary


@dataclass(slots=True)
class Cleanup:
    """What `replace_older` did: objects deleted, captures cleaned, captures left alone."""

    removed: int = 0
    captures: int = 0
    #: Captures whose new version did not read back intact: their older versions stay.
    kept: list[Outcome] = field(default_factory=list)


def _check_version(store: Store, key: str, ident: tuple[str, str, str], version: str) -> None:
    """The metadata at `key` and the text it names read back, and the text matches its hash."""
    try:
        record = read_metadata(store, key)
    except KeyError as exc:
        raise ReextractError(f"new metadata lacks {exc}") from None
    except MetadataError as exc:
        raise ReextractError(f"new metadata unreadable: {exc}") from exc
    text_key, expected = record.text_key, record.text_sha256
    if text_key is None or expected is None:
        missing = "'text_key'" if text_key is None else "'text_sha256'"
        raise ReextractError(f"new metadata lacks {missing}")
    parts = parse_text_key(text_key)
    if parts is None or (parts.capture, parts.version) != (ident, version):
        raise ReextractError(f"new metadata names text {text_key!r}, not this capture's")
    try:
        data = store.get_bytes(text_key)
    except KeyError:
        raise ReextractError(f"new text {text_key} is missing") from None
    # store_extraction ends the text with one newline, which the hash does not cover.
    if hashlib.sha256(data.removesuffix(b"\n")).hexdigest() != expected:
        raise ReextractError(f"new text {text_key} does not match its metadata's text_sha256")


def _older_key(key: str, version: str) -> str:
    """`key` if it is a text or metadata object of a version other than `version`.

    The one gate every deletion passes: WARCs, indexes, digests and reports never do.
    """
    parts = parse_versioned_key(key)
    if parts is None or parts.version == version:
        raise ValueError(f"refusing to delete {key!r}: not an older text or metadata version")
    return key


def replace_older(
    store: Store,
    version: str,
    *,
    site: str | None = None,
    since: date | None = None,
) -> Cleanup:
    """Delete other versions' text and metadata of every capture that has `version`.

    Run after `run`, once the new objects are in the store (for S3: uploaded, not spooled).
    A capture's older objects go only when its `version` metadata and text read back and the
    text matches its recorded hash; metadata goes before text, so no record is left pointing
    at a deleted text. Resumable: a capture cleaned already has nothing left to delete.
    """
    safe_segment(version)
    captures: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for prefix, parse in ((META_PREFIX, parse_meta_key), (TEXT_PREFIX, parse_text_key)):
        for key in store.list(site_prefix(prefix, site)):
            parts = parse(key)
            if parts is None or (since is not None and parts.day < since.isoformat()):
                continue
            versions = captures.setdefault(parts.capture, {})
            versions.setdefault(parts.version, []).append(key)
    cleanup = Cleanup()
    for ident, versions in sorted(captures.items()):
        new_meta = [k for k in versions.get(version, []) if k.startswith(META_PREFIX + "/")]
        older = [k for v, keys in versions.items() if v != version for k in keys]
        if not new_meta or not older:
            continue
        try:
            _check_version(store, new_meta[0], ident, version)
        except (ReextractError, StoreError) as exc:
            cleanup.kept.append(Outcome(new_meta[0], FAILED, str(exc)))
            continue
        # Metadata first: a run stopped halfway leaves older text without a record, never a
        # record without its text; the next run deletes what is left.
        for key in sorted(older, key=lambda k: not k.startswith(META_PREFIX + "/")):
            store.delete(_older_key(key, version))
            cleanup.removed += 1
        cleanup.captures += 1
    if cleanup.kept:
        logger.warning(
            "Kept older versions of %d captures: their version %s did not read back intact",
            len(cleanup.kept),
            version,
        )
    logger.info(
        "Removed %d older text and metadata objects of %d captures",
        cleanup.removed,
        cleanup.captures,
    )
    return cleanup
