"""Two real crawls of the unchanged demo site into one store: revisits, CDXJ, WACZ and verify."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.cdxj import parse_cdxj
from newsarchive.archive.local import LocalStore
from newsarchive.archive.wacz import validate_wacz
from newsarchive.archive.warc import REVISIT_PROFILE
from newsarchive.config.stats import StatsKeys
from newsarchive.demo.server import DEMO_ARTICLES, DemoSite
from tests.conftest import run_cli, write_demo_config

if TYPE_CHECKING:
    from pathlib import Path


@dataclass
class TwoCrawls:
    store: Path
    first: list[Path]  # WARCs of each run
    second: list[Path]
    stderr: list[str]


def _crawl(store: Path, sites: Path) -> str:
    result = run_cli(
        "-v", "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store),
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
        # Every page fetched again in full: what incremental runs (issue 6) avoid on purpose.
        "-s", "INCREMENTAL_ENABLED=False",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


@pytest.fixture(scope="module")
def two_crawls(tmp_path_factory: pytest.TempPathFactory) -> TwoCrawls:
    root = tmp_path_factory.mktemp("two-crawls")
    store = root / "store"
    # One server for both runs: the pages embed its address, so the port must not change.
    with DemoSite() as site:
        sites = write_demo_config(root / "sites", site.base_url)
        first_log = _crawl(store, sites)
        first = sorted(store.glob("warcs/demo/*/*.warc.gz"))
        second_log = _crawl(store, sites)
    second = sorted(set(store.glob("warcs/demo/*/*.warc.gz")) - set(first))
    return TwoCrawls(store, first, second, [first_log, second_log])


def _captures(paths: list[Path]) -> list[Any]:
    out = []
    for path in paths:
        with path.open("rb") as fh:
            records = ArchiveIterator(fh)
            for record in records:
                if record.rec_type in ("response", "revisit"):
                    payload = record.content_stream().read()
                    out.append((path, records.get_record_offset(), record, payload))
    return out


def test_second_crawl_writes_revisits_not_payloads(two_crawls: TwoCrawls) -> None:
    assert two_crawls.first
    assert two_crawls.second
    originals = {
        (
            r.rec_headers.get_header("WARC-Target-URI"),
            r.rec_headers.get_header("WARC-Payload-Digest"),
        )
        for _p, _o, r, _b in _captures(two_crawls.first)
        if r.rec_type == "response"
    }
    second = _captures(two_crawls.second)
    revisits = [r for _p, _o, r, _b in second if r.rec_type == "revisit"]
    assert len(revisits) >= len(DEMO_ARTICLES)
    for _path, _offset, record, payload in second:
        key = (
            record.rec_headers.get_header("WARC-Target-URI"),
            record.rec_headers.get_header("WARC-Payload-Digest"),
        )
        if record.rec_type == "response":
            assert key not in originals, f"{key[0]} archived twice with the same payload"
            continue
        headers = record.rec_headers
        assert headers.get_header("WARC-Profile") == REVISIT_PROFILE
        assert headers.get_header("WARC-Truncated") == "length"
        assert payload == b""  # HTTP head only
        assert record.http_headers.get_statuscode()
    assert f"'{StatsKeys.ARCHIVE_REVISITS}': {len(revisits)}" in two_crawls.stderr[1]


def test_each_revisit_resolves_to_an_original_in_the_store(two_crawls: TwoCrawls) -> None:
    every = _captures(sorted(two_crawls.store.glob("warcs/demo/*/*.warc.gz")))
    by_id = {r.rec_headers.get_header("WARC-Record-ID"): (p, o, r, b) for p, o, r, b in every}
    resolved = 0
    for _path, _offset, record, _payload in every:
        if record.rec_type != "revisit":
            continue
        headers = record.rec_headers
        path, _offset, original, _payload = by_id[headers.get_header("WARC-Refers-To")]
        assert original.rec_type == "response"
        assert path in two_crawls.first
        oh = original.rec_headers
        assert oh.get_header("WARC-Target-URI") == headers.get_header("WARC-Refers-To-Target-URI")
        assert oh.get_header("WARC-Target-URI") == headers.get_header("WARC-Target-URI")
        assert oh.get_header("WARC-Date") == headers.get_header("WARC-Refers-To-Date")
        assert oh.get_header("WARC-Payload-Digest") == headers.get_header("WARC-Payload-Digest")
        resolved += 1
    assert resolved
    # The durable copy of the digest index lives in the store, one object per WARC (empty for
    # a WARC of revisits only: published all the same, so a missing one shows a step undone).
    digests = {p.name: p.stat().st_size for p in two_crawls.store.glob("digests/demo/*.jsonl")}
    assert digests.keys() == {p.name + ".jsonl" for p in [*two_crawls.first, *two_crawls.second]}
    assert all(digests[p.name + ".jsonl"] for p in two_crawls.first)
    assert not any(digests[p.name + ".jsonl"] for p in two_crawls.second)


def test_article_metadata_of_second_run_points_at_revisits(two_crawls: TwoCrawls) -> None:
    second_keys = {p.relative_to(two_crawls.store).as_posix() for p in two_crawls.second}
    pointed = []
    for meta in two_crawls.store.glob("meta/demo/*/*.json"):
        warc = json.loads(meta.read_text(encoding="utf-8"))["warc"]
        if warc["key"] in second_keys:
            with (two_crawls.store / warc["key"]).open("rb") as fh:
                fh.seek(int(warc["offset"]))
                record = next(iter(ArchiveIterator(fh)))
            assert record.rec_headers.get_header("WARC-Record-ID") == warc["record_id"]
            pointed.append(record.rec_type)
    assert pointed
    assert set(pointed) == {"revisit"}


def test_cdxj_indexes_captures_not_requests(two_crawls: TwoCrawls) -> None:
    for path in two_crawls.first + two_crawls.second:
        index = two_crawls.store / "indexes" / "demo" / f"{path.name}.cdxj"
        lines = parse_cdxj(index.read_bytes())
        offsets = {o for _p, o, _r, _b in _captures([path])}
        assert {int(f["offset"]) for _k, _t, f in lines} == offsets
        assert {f["filename"] for _k, _t, f in lines} == {path.name}
        mimes = [f["mime"] for _k, _t, f in lines]
        if path in two_crawls.second:
            assert set(mimes) == {"warc/revisit"}


def test_wacz_per_run_validates(two_crawls: TwoCrawls, tmp_path: Path) -> None:
    runs = sorted(two_crawls.store.glob("wacz/demo/*.wacz"))
    # The second run archived nothing new (revisits only), so it wrote no package.
    assert len(runs) == 1
    whole = tmp_path / "all.wacz"
    result = run_cli("package", "--store", str(two_crawls.store), "-o", str(whole))
    assert result.returncode == 0, result.stdout + result.stderr
    packages = [*runs, whole]
    titles = {a.title for a in DEMO_ARTICLES}
    for package in packages:
        assert "Validation succeeded" in validate_wacz(package)
        with zipfile.ZipFile(package) as wacz:
            names = wacz.namelist()
            assert {"datapackage.json", "datapackage-digest.json", "pages/pages.jsonl"} <= set(
                names
            )
            datapackage = wacz.read("datapackage.json")
            assert json.loads(datapackage)["wacz_version"] == "1.1.1"
            digest = json.loads(wacz.read("datapackage-digest.json"))
            assert digest["hash"] == "sha256:" + hashlib.sha256(datapackage).hexdigest()
            warcs = [i for i in wacz.infolist() if i.filename.startswith("archive/")]
            assert warcs
            assert {i.compress_type for i in warcs} == {zipfile.ZIP_STORED}
            pages = [json.loads(x) for x in wacz.read("pages/pages.jsonl").splitlines()]
            assert pages[0]["format"] == "json-pages-1.0"
            assert {p["title"] for p in pages[1:]} == titles
    # A run's package holds its own WARCs only; `newsarchive package` holds every run's.
    with zipfile.ZipFile(runs[0]) as wacz:
        names = {n.rsplit("/", 1)[-1] for n in wacz.namelist()}
    assert {p.name for p in two_crawls.first} <= names
    assert not {p.name for p in two_crawls.second} & names
    with zipfile.ZipFile(whole) as wacz:
        names = {n.rsplit("/", 1)[-1] for n in wacz.namelist()}
    assert {p.name for p in two_crawls.first + two_crawls.second} <= names


def test_verify_passes_on_two_runs(two_crawls: TwoCrawls) -> None:
    result = run_cli("verify", "--store", str(two_crawls.store))
    assert result.returncode == 0, result.stdout + result.stderr
    for path in two_crawls.first + two_crawls.second:
        assert path.name in result.stdout
    assert "0 failed" in result.stdout


@pytest.fixture
def broken_store(two_crawls: TwoCrawls, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(two_crawls.store, copy, ignore=shutil.ignore_patterns("state"))
    return copy


def _first_warc(store: Path) -> Path:
    return sorted(store.glob("warcs/demo/*/*.warc.gz"))[0]


def _verify_fails_naming(store: Path, name: str, *extra: str) -> str:
    result = run_cli("verify", "--store", str(store), "--site", "demo", *extra)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert any(name in line for line in failed), result.stdout
    return result.stdout


def test_verify_fails_on_a_corrupted_warc(broken_store: Path) -> None:
    warc = _first_warc(broken_store)
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    warc.write_bytes(bytes(data))
    _verify_fails_naming(broken_store, warc.name)


def test_verify_fails_on_a_changed_payload(broken_store: Path) -> None:
    # Re-compressed with one byte changed: the gzip is sound, only the digests can tell.
    import gzip  # noqa: PLC0415 - only this test rewrites members

    warc = _first_warc(broken_store)
    data, members = warc.read_bytes(), []
    while data:
        member = zlib.decompressobj(zlib.MAX_WBITS | 16)
        raw = member.decompress(data) + member.flush()
        data = member.unused_data
        if b"<title>" in raw and not any(b"<TITLE>" in m for m in members):
            raw = raw.replace(b"<title>", b"<TITLE>", 1)
        members.append(raw)
    warc.write_bytes(b"".join(gzip.compress(m) for m in members))
    output = _verify_fails_naming(broken_store, warc.name)
    assert "digest" in output


def test_verify_fails_on_a_missing_index(broken_store: Path) -> None:
    warc = _first_warc(broken_store)
    index = broken_store / "indexes" / "demo" / f"{warc.name}.cdxj"
    index.unlink()
    output = _verify_fails_naming(broken_store, warc.name, "--no-backfill")
    assert "no CDXJ index" in output
    # By default verify writes what is missing, and says so.
    result = run_cli("verify", "--store", str(broken_store), "--site", "demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{warc.name}: had no CDXJ index, indexed now" in result.stdout
    assert index.is_file()


def test_verify_fails_on_a_dangling_revisit(broken_store: Path, two_crawls: TwoCrawls) -> None:
    # The originals' WARC is gone: every revisit of the second run dangles.
    for path in two_crawls.first:
        (broken_store / path.relative_to(two_crawls.store)).unlink()
    second = broken_store / two_crawls.second[0].relative_to(two_crawls.store)
    output = _verify_fails_naming(broken_store, second.name)
    assert "not in store" in output


def test_verify_works_through_the_store_interface(two_crawls: TwoCrawls) -> None:
    from newsarchive.jobs.verify import verify_store  # noqa: PLC0415

    report = verify_store(LocalStore(two_crawls.store), "demo")
    assert report.ok, report.table()
    assert sum(f.revisits for f in report.files) >= len(DEMO_ARTICLES)
