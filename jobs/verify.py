"""Check a store's archive end to end: WARCs readable and digest-true, pairs, revisits, indexes.

Works through the Store interface only (`list`, `open_read`, `get_bytes`), so it checks an S3
store as it checks a local folder.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from warcio.exceptions import ArchiveLoadFailed

from newsarchive.archive.backfill import (
    backfill,
    missing_packages,
    package_warcs,
    site_warcs,
    stored_sites,
)
from newsarchive.archive.cdxj import parse_cdxj
from newsarchive.archive.digests import DigestIndex
from newsarchive.archive.layout import (
    META_PREFIX,
    WARC_PREFIX,
    WARC_SUFFIXES,
    parse_warc_key,
    site_prefix,
    warc_index_key,
)
from newsarchive.archive.lock import LockHeld, site_lock
from newsarchive.archive.metadata import MetadataError, read_metadata
from newsarchive.archive.reader import CAPTURE_TYPES, iter_records

if TYPE_CHECKING:
    from newsarchive.archive.store import Store


@dataclass(frozen=True, slots=True)
class _Record:
    key: str
    offset: int
    rec_type: str
    target_uri: str
    payload_digest: str


def one_line(exc: BaseException, limit: int = 160) -> str:
    """An error as one printable line: its class, and its message with any bytes of a broken
    record (warcio quotes them) shown escaped and cut short."""
    text = " ".join(str(exc).split())
    text = "".join(c if c.isprintable() and ord(c) < 0x7F else f"\\x{ord(c):02x}" for c in text)
    if len(text) > limit:
        text = text[:limit] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(slots=True)
class FileReport:
    """What verify found in one WARC (or, for `key` "metadata", in the metadata records)."""

    key: str
    records: int = 0
    responses: int = 0
    revisits: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class VerifyReport:
    files: list[FileReport] = field(default_factory=list)
    #: What was missing and has been made now ("KEY: what"): WARCs a killed run left with no
    #: CDXJ index, no digests object or in no package.
    backfilled: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    def table(self) -> str:
        rows = [("file", "records", "responses", "revisits", "result")]
        for f in self.files:
            rows.append(
                (
                    f.key,
                    str(f.records),
                    str(f.responses),
                    str(f.revisits),
                    "ok" if f.ok else f"FAILED ({len(f.problems)})",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        for f in self.files:
            lines += [f"{f.key}: {problem}" for problem in f.problems]
        lines += self.backfilled
        bad = sum(not f.ok for f in self.files)
        lines.append(f"{len(self.files)} checked, {bad} failed")
        return "\n".join(lines)


class _Scan:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.records: dict[str, _Record] = {}
        #: (report, revisit record id, WARC-Refers-To, Refers-To-Target-URI)
        self.revisits: list[tuple[FileReport, str, str, str]] = []

    def warc(self, key: str) -> FileReport:
        report = FileReport(key)
        captures: dict[str, int] = {}  # record id -> offset
        requests: dict[str, str] = {}  # request id -> WARC-Concurrent-To
        offset = 0
        try:
            with self.store.open_read(key) as stream:
                for ref, record in iter_records(stream, key, check_digests=True):
                    offset = ref.offset
                    self._record(report, key, ref.offset, record, captures, requests)
        except (ArchiveLoadFailed, zlib.error, EOFError, ValueError, OSError) as exc:
            where = f"after the record at offset {offset}" if report.records else "at the start"
            report.problems.append(
                f"unreadable {where} ({report.records} records read): {one_line(exc)}"
            )
        paired = set(requests.values())
        for request_id, target in requests.items():
            if target not in captures:
                report.problems.append(f"request {request_id} is concurrent to no capture")
        for record_id in captures:
            if record_id not in paired:
                report.problems.append(f"capture {record_id} has no request record")
        self._check_index(report, key, set(captures.values()))
        return report

    def _record(
        self,
        report: FileReport,
        key: str,
        offset: int,
        record: object,
        captures: dict[str, int],
        requests: dict[str, str],
    ) -> None:
        report.records += 1
        headers = record.rec_headers  # type: ignore[attr-defined]
        rec_type = record.rec_type  # type: ignore[attr-defined]
        record_id = headers.get_header("WARC-Record-ID") or ""
        checker = record.digest_checker  # type: ignore[attr-defined]
        if checker.passed is False:
            report.problems.append(f"{rec_type} at {offset}: {'; '.join(checker.problems)}")
        if record_id in self.records:
            report.problems.append(f"duplicate record id {record_id} at {offset}")
        self.records[record_id] = _Record(
            key,
            offset,
            rec_type,
            headers.get_header("WARC-Target-URI") or "",
            headers.get_header("WARC-Payload-Digest") or "",
        )
        if rec_type in CAPTURE_TYPES:
            captures[record_id] = offset
            if rec_type == "response":
                report.responses += 1
            else:
                report.revisits += 1
                self.revisits.append(
                    (
                        report,
                        record_id,
                        headers.get_header("WARC-Refers-To") or "",
                        headers.get_header("WARC-Refers-To-Target-URI") or "",
                    )
                )
        elif rec_type == "request":
            requests[record_id] = headers.get_header("WARC-Concurrent-To") or ""

    def _check_index(self, report: FileReport, key: str, offsets: set[int]) -> None:
        _site, _day, filename = parse_warc_key(key)
        try:
            lines = parse_cdxj(self.store.get_bytes(warc_index_key(key)))
        except KeyError:
            report.problems.append(f"no CDXJ index at {warc_index_key(key)}")
            return
        except (ValueError, UnicodeDecodeError) as exc:
            report.problems.append(f"unreadable CDXJ index: {exc}")
            return
        indexed = {int(f["offset"]) for _, _, f in lines if f.get("filename") == filename}
        missing = sorted(offsets - indexed)
        if missing:
            report.problems.append(f"{len(missing)} captures not in the CDXJ index: {missing[:5]}")
        extra = sorted(indexed - offsets)
        if extra:
            report.problems.append(f"CDXJ lines point at no capture: {extra[:5]}")

    def resolve_revisits(self) -> None:
        for report, record_id, refers_to, refers_uri in self.revisits:
            revisit = self.records[record_id]
            original = self.records.get(refers_to)
            if original is None:
                report.problems.append(f"revisit {record_id}: original {refers_to} not in store")
            elif original.rec_type != "response":
                report.problems.append(f"revisit {record_id}: {refers_to} is a {original.rec_type}")
            elif original.payload_digest != revisit.payload_digest:
                report.problems.append(
                    f"revisit {record_id}: digest {revisit.payload_digest} != original's "
                    f"{original.payload_digest}"
                )
            elif refers_uri and original.target_uri != refers_uri:
                report.problems.append(f"revisit {record_id}: original is {original.target_uri}")

    def metadata(self, prefix: str) -> FileReport:
        report = FileReport(f"{prefix}/ (metadata records)")
        for key in self.store.list(prefix):
            if not key.endswith(".json"):
                continue
            report.records += 1
            try:
                warc = read_metadata(self.store, key).warc
            except (KeyError, MetadataError) as exc:
                report.problems.append(f"{key}: no WARC pointer ({exc!r})")
                continue
            if warc is None:
                report.problems.append(f"{key}: no WARC pointer")
                continue
            record = self.records.get(str(warc.record_id))
            if record is None:
                report.problems.append(f"{key}: record {warc.record_id} not in any WARC")
            elif (record.key, record.offset) != (warc.key, warc.offset):
                report.problems.append(
                    f"{key}: points at {warc.key}@{warc.offset}, the record is at "
                    f"{record.key}@{record.offset}"
                )
            elif record.rec_type not in CAPTURE_TYPES:
                report.problems.append(f"{key}: points at a {record.rec_type} record")
        return report


def verify_store(
    store: Store, site: str | None = None, *, repair: bool = True, packages: bool = True
) -> VerifyReport:
    """Read every WARC (of `site`, or all) to the end and check it; see the module docstring.

    Revisits may refer to originals of any site, so every WARC of the store is read either way.
    With `repair`, first give every closed WARC what a killed run may have left undone (its
    CDXJ index, its digests object and, with `packages`, a place in a package), reported in
    the table; a site whose crawl is running is left to that crawl. Without it, a WARC in no
    index or package is a failure.
    """
    report = VerifyReport()
    unpackaged: dict[str, str] = {}
    for name in [site] if site else stored_sites(store):
        if repair:
            report.backfilled += _repair(store, name, packages=packages)
        elif packages:
            for key in missing_packages(store, name, site_warcs(store, name)):
                unpackaged[key] = "in no package"
    scan = _Scan(store)
    wanted = site_prefix(WARC_PREFIX, site) + "/"
    for key in store.list(WARC_PREFIX):
        if not key.endswith(WARC_SUFFIXES):
            continue
        file_report = scan.warc(key)
        if key in unpackaged:
            captures = file_report.responses + file_report.revisits
            file_report.problems.append(f"{captures} captures {unpackaged[key]}")
        if key.startswith(wanted):
            report.files.append(file_report)
    scan.resolve_revisits()
    report.files.append(scan.metadata(site_prefix(META_PREFIX, site)))
    return report


def _repair(store: Store, site: str, *, packages: bool) -> list[str]:
    """Backfill one site under its crawl lock; lines for the report."""
    try:
        lock = site_lock(store.state_dir, site).acquire()
    except LockHeld:
        return [f"{site}: a crawl is running; its WARCs were not backfilled"]
    digests = DigestIndex(store, site)
    try:
        found = backfill(store, site, digests=digests, packages=packages)
        lines = [f"{key}: had no CDXJ index, indexed now" for key in found.unindexed]
        lines += [f"{key}: had no digests object, published now" for key in found.undigested]
        if found.unpackaged:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            package = package_warcs(
                store, site, f"{stamp}-verify", found.unpackaged, datetime.now(UTC).date()
            )
            lines += [
                f"{key}: was in no package, packaged in {package}" for key in found.unpackaged
            ]
        lines += [f"backfill failed: {failure}" for failure in found.failed]
        return lines
    finally:
        digests.close()
        lock.release()
