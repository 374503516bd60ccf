"""Re-extraction over a copy of the demo crawl's store: same text, same WARC links, resumable."""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.archive.layout import META_PREFIX
from newsarchive.archive.local import LocalStore
from newsarchive.archive.reader import decode_content
from newsarchive.demo.server import DemoSite
from newsarchive.extraction.documents import ExtractOptions
from newsarchive.extraction.version import EXTRACTOR_VERSION
from newsarchive.jobs.reextract import FAILED, _older_key, plan, replace_older, run
from tests.conftest import run_cli, write_demo_config

if TYPE_CHECKING:
    from pathlib import Path

    from newsarchive.archive.store import Store
    from tests.conftest import DemoCrawl, S3DemoCrawl

NEW_VERSION = "test-next"


@pytest.fixture
def store_copy(demo_crawl: DemoCrawl, tmp_path: Path) -> Path:
    assert demo_crawl.result.returncode == 0, demo_crawl.result.stderr
    target = tmp_path / "store"
    # The shared crawl stays untouched; `state/` is working state, not archive content.
    shutil.copytree(demo_crawl.store, target, ignore=shutil.ignore_patterns("state"))
    return target


@pytest.fixture
def sites(demo_crawl: DemoCrawl) -> Path:
    # The sites folder the crawl ran with (the demo site's language hint and overrides); read only.
    return demo_crawl.store.parent / "sites"


def _records(store: Path, version: str) -> dict[str, dict[str, Any]]:
    """Metadata of one extractor version, by capture (URL hash and capture time)."""
    found = {}
    for path in sorted(store.glob(f"{META_PREFIX}/*/*/*.{version}.json")):
        found[path.name.split(".", 1)[0]] = json.loads(path.read_text(encoding="utf-8"))
    return found


def _reextract(store: Path, sites: Path, *extra: str) -> tuple[int, str, str]:
    result = run_cli(
        "reextract", "--store", str(store), "--sites-dir", str(sites),
        "--version-tag", NEW_VERSION, *extra,
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def test_reextract_reproduces_crawl_text_with_two_workers(store_copy: Path, sites: Path) -> None:
    crawled = _records(store_copy, EXTRACTOR_VERSION)
    assert len(crawled) >= 3

    code, out, err = _reextract(store_copy, sites, "--workers", "2")

    assert code == 0, out + err
    # Cron mode: one summary line, nothing on stderr.
    assert out.startswith(f"newsarchive reextract: version {NEW_VERSION}: {len(crawled)} written")
    assert out.count("\n") == 1
    assert err == ""
    again = _records(store_copy, NEW_VERSION)
    assert again.keys() == crawled.keys()
    for capture, old in crawled.items():
        new = again[capture]
        old_text = (store_copy / old["text_key"]).read_bytes()
        assert (store_copy / new["text_key"]).read_bytes() == old_text, old["url"]
        assert new["text_sha256"] == old["text_sha256"]
        assert new["warc"] == old["warc"]
        assert new["extractor_version"] == NEW_VERSION
        assert new["source_metadata"].endswith(f".{EXTRACTOR_VERSION}.json")
        assert new["reextracted_at"].endswith("Z")
        # Everything else the crawl recorded comes out the same.
        changed = {"text_key", "extractor_version", "source_metadata", "reextracted_at"}
        assert {k: v for k, v in new.items() if k not in changed} == {
            k: v for k, v in old.items() if k not in changed
        }
    # Older versions are kept.
    assert _records(store_copy, EXTRACTOR_VERSION) == crawled


def test_reextract_is_resumable(store_copy: Path) -> None:
    store = LocalStore(store_copy)
    first = plan(store, NEW_VERSION, lambda _site: ExtractOptions())
    assert first.done == 0
    # A run killed halfway: only half the captures got their new version.
    half = len(first.tasks) // 2
    summary = run(store.uri, first.tasks[:half], version=NEW_VERSION, workers=0)
    assert summary.written == half

    second = plan(store, NEW_VERSION, lambda _site: ExtractOptions())
    assert second.done == half
    assert [t.source_key for t in second.tasks] == [t.source_key for t in first.tasks[half:]]
    run(store.uri, second.tasks, version=NEW_VERSION, workers=0)

    third = plan(store, NEW_VERSION, lambda _site: ExtractOptions())
    assert (third.done, third.tasks) == (len(first.tasks), [])
    # The crawl's own version counts as done too: nothing to do for it.
    assert plan(store, EXTRACTOR_VERSION, lambda _site: ExtractOptions()).tasks == []


def test_reextract_cli_second_run_does_nothing(store_copy: Path, sites: Path) -> None:
    code, out, _ = _reextract(store_copy, sites, "--workers", "0")
    assert code == 0
    code, out, err = _reextract(store_copy, sites, "--workers", "0")
    assert code == 0, out + err
    assert f"version {NEW_VERSION}: 0 written" in out
    assert f"{len(_records(store_copy, NEW_VERSION))} already done" in out


def test_site_and_since_filters(store_copy: Path) -> None:
    store = LocalStore(store_copy)
    everything = plan(store, NEW_VERSION, lambda _site: ExtractOptions())
    assert everything.sites == {"demo"}
    assert plan(store, NEW_VERSION, lambda _: ExtractOptions(), site="other").tasks == []
    assert len(plan(store, NEW_VERSION, lambda _: ExtractOptions(), site="demo").tasks) == len(
        everything.tasks
    )
    days = sorted({t.source_key.split("/")[2] for t in everything.tasks})
    first = date.fromisoformat(days[0])
    later = first.replace(year=first.year + 1)
    assert len(plan(store, NEW_VERSION, lambda _: ExtractOptions(), since=first).tasks) == len(
        everything.tasks
    )
    assert plan(store, NEW_VERSION, lambda _: ExtractOptions(), since=later).tasks == []


def test_site_filter_through_cli(store_copy: Path, sites: Path) -> None:
    # A site the store has nothing of is a typo, not an empty archive: a usage error.
    code, out, err = _reextract(store_copy, sites, "--workers", "0", "--site", "nosuch")
    assert code == 2, out + err
    assert err.strip() == (
        f"newsarchive: no site 'nosuch' in {store_copy.resolve().as_uri()} (sites there: demo)"
    )
    code, out, err = _reextract(store_copy, sites, "--workers", "0", "--since", "2999-01-01")
    assert "0 written" in out
    code, out, err = _reextract(store_copy, sites, "--since", "yesterday")
    assert code == 2
    assert "not an ISO date" in err


def test_corrupt_record_fails_alone(store_copy: Path, sites: Path) -> None:
    crawled = _records(store_copy, EXTRACTOR_VERSION)
    victim = next(iter(crawled.values()))
    warc_path = store_copy / victim["warc"]["key"]
    data = bytearray(warc_path.read_bytes())
    offset = victim["warc"]["offset"]
    # Garble the gzip member of this one response record.
    data[offset + 20 : offset + 60] = b"\xff" * 40
    warc_path.write_bytes(bytes(data))

    code, out, err = _reextract(store_copy, sites, "--workers", "2")

    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith(
        f"newsarchive reextract: version {NEW_VERSION}: {len(crawled) - 1} written"
    )
    assert "1 failed" in lines[0]
    failures = [line for line in lines if line.startswith("  failed: ")]
    assert len(failures) == 1
    assert victim["warc"]["key"] in failures[0]
    assert "unreadable WARC record" in failures[0]
    assert "Traceback" not in err
    assert len(_records(store_copy, NEW_VERSION)) == len(crawled) - 1


def test_record_id_mismatch_is_a_failure(store_copy: Path) -> None:
    store = LocalStore(store_copy)
    work = plan(store, NEW_VERSION, lambda _site: ExtractOptions())
    key = work.tasks[0].source_key
    record = json.loads(store.get_bytes(key))
    record["warc"]["record_id"] = "<urn:uuid:00000000-0000-0000-0000-000000000000>"
    store.put_bytes(key, json.dumps(record).encode(), "application/json")
    summary = run(store.uri, work.tasks, version=NEW_VERSION, workers=0)
    assert [o.source_key for o in summary.failed] == [key]
    assert "the metadata says <urn:uuid:00000000" in summary.failed[0].detail
    assert summary.written == len(work.tasks) - 1
    assert {o.status for o in summary.failed} == {FAILED}


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("identity", bytes),
        (None, bytes),
    ],
)
def test_decode_content(encoding: str | None, encode: Any) -> None:
    body = "<p>Ünïcode body</p>".encode() * 50
    assert decode_content(encode(body), encoding) == body


def test_decode_content_raw_deflate_and_layers() -> None:
    body = b"<html>layers</html>" * 20
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(body) + raw.flush()
    assert decode_content(raw_deflate, "deflate") == body
    assert decode_content(gzip.compress(zlib.compress(body)), "deflate, gzip") == body


def _record_type(store: Path, warc: dict[str, Any]) -> str:
    with (store / warc["key"]).open("rb") as fh:
        fh.seek(warc["offset"])
        return str(next(iter(ArchiveIterator(fh))).rec_type)


def test_revisits_resolve_to_the_original_payload(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with DemoSite() as site:
        sites = write_demo_config(tmp_path / "sites", site.base_url)
        for _ in range(2):
            crawl = run_cli(
                "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store),
                "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
                # Refetch everything, so the unchanged articles come back as revisits.
                "-s", "INCREMENTAL_ENABLED=False",
            )  # fmt: skip
            assert crawl.returncode == 0, crawl.stderr
    crawled = _records(store, EXTRACTOR_VERSION)
    revisits = {k for k, r in crawled.items() if _record_type(store, r["warc"]) == "revisit"}
    if not revisits:
        pytest.skip("the second crawl archived no revisits (it did not refetch the articles)")

    code, out, err = _reextract(store, sites, "--workers", "0")

    assert code == 0, out + err
    again = _records(store, NEW_VERSION)
    assert again.keys() == crawled.keys()
    for capture in revisits:
        old, new = crawled[capture], again[capture]
        assert (store / new["text_key"]).read_bytes() == (store / old["text_key"]).read_bytes()
        assert new["warc"] == old["warc"]


def _other_keys(store: Store) -> dict[str, bytes]:
    """Every object but text and metadata (WARCs, indexes, digests, reports...), with its bytes."""
    return {
        k: store.get_bytes(k)
        for k in store.list("")
        if not k.startswith(("text/", "meta/", "state/"))
    }


def test_replace_older_keeps_only_the_new_versions(store_copy: Path, sites: Path) -> None:
    store = LocalStore(store_copy)
    crawled = _records(store_copy, EXTRACTOR_VERSION)
    texts = {c: (store_copy / r["text_key"]).read_bytes() for c, r in crawled.items()}
    others = _other_keys(store)
    assert any(k.startswith("warcs/") for k in others)
    # A first run without the flag keeps both versions, as a run killed before cleaning does.
    code, out, err = _reextract(store_copy, sites, "--workers", "0")
    assert code == 0, out + err
    assert "removed" not in out

    code, out, err = _reextract(store_copy, sites, "--workers", "0", "--replace-older")

    assert code == 0, out + err
    assert out.startswith(f"newsarchive reextract: version {NEW_VERSION}: 0 written, "
                          f"{len(crawled)} already done")  # fmt: skip
    assert out.rstrip().endswith(f", {2 * len(crawled)} older objects removed"), out
    assert _records(store_copy, EXTRACTOR_VERSION) == {}
    assert not list(store_copy.glob(f"text/*/*/*.{EXTRACTOR_VERSION}.txt"))
    again = _records(store_copy, NEW_VERSION)
    assert again.keys() == crawled.keys()
    for capture, new in again.items():
        assert (store_copy / new["text_key"]).read_bytes() == texts[capture]
    assert _other_keys(store) == others, "WARCs, indexes and digests are never touched"
    verify = run_cli("verify", "--store", str(store_copy))
    assert verify.returncode == 0, verify.stdout + verify.stderr

    code, out, _ = _reextract(store_copy, sites, "--workers", "0", "--replace-older")
    assert code == 0
    assert out.rstrip().endswith(", 0 older objects removed"), out


def test_replace_older_keeps_captures_whose_new_version_does_not_read_back(
    store_copy: Path,
) -> None:
    store = LocalStore(store_copy)
    work = plan(store, NEW_VERSION, lambda _site: ExtractOptions())
    assert run(store.uri, work.tasks, version=NEW_VERSION, workers=0).written == len(work.tasks)
    new = _records(store_copy, NEW_VERSION)
    broken, missing, *_ = sorted(new)
    (store_copy / new[broken]["text_key"]).write_text("not what was extracted\n")
    store.delete(new[missing]["text_key"])
    store.delete(new[missing]["text_key"])  # a missing object is not an error

    cleanup = replace_older(store, NEW_VERSION)

    assert sorted(o.detail.split(" ", 3)[3] for o in cleanup.kept) == [
        "does not match its metadata's text_sha256",
        "is missing",
    ]
    assert cleanup.captures == len(new) - 2
    assert cleanup.removed == 2 * (len(new) - 2)
    assert _records(store_copy, EXTRACTOR_VERSION).keys() == {broken, missing}
    for key in ("warcs/demo/2026-01-01/x.warc.gz", "digests/demo/x.jsonl", "meta/demo/x.json"):
        with pytest.raises(ValueError, match="refusing to delete"):
            _older_key(key, NEW_VERSION)
    with pytest.raises(ValueError, match="refusing to delete"):
        _older_key(
            next(iter(store.list("meta"))).replace(EXTRACTOR_VERSION, NEW_VERSION), NEW_VERSION
        )


def _copy_prefix(crawl: S3DemoCrawl, prefix: str) -> str:
    """A copy of the crawl's objects under another prefix of its bucket (server-side)."""
    client = crawl.server.client()
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=crawl.bucket, Prefix="news/"):
        for obj in page.get("Contents", []):
            client.copy_object(
                Bucket=crawl.bucket,
                Key=f"{prefix}/{obj['Key'].removeprefix('news/')}",
                CopySource={"Bucket": crawl.bucket, "Key": obj["Key"]},
            )
    return f"s3://{crawl.bucket}/{prefix}"


def test_reextract_on_s3_reproduces_text_then_replaces_older(
    s3_demo_crawl: S3DemoCrawl, tmp_path: Path
) -> None:
    uri = _copy_prefix(s3_demo_crawl, "reextract")
    env = s3_demo_crawl.server.env(tmp_path / "state")
    args = ["reextract", "--store", uri, "--sites-dir", str(s3_demo_crawl.sites),
            "--version-tag", NEW_VERSION]  # fmt: skip
    store = s3_demo_crawl.open(tmp_path / "reader", uri)

    def records(version: str) -> dict[str, dict[str, Any]]:
        return {
            key.rsplit("/", 1)[1].split(".", 1)[0]: json.loads(store.get_bytes(key))
            for key in store.list("meta")
            if key.endswith(f".{version}.json")
        }

    crawled = records(EXTRACTOR_VERSION)
    assert len(crawled) >= 3
    others = _other_keys(store)

    result = run_cli(*args, "--workers", "2", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(
        f"newsarchive reextract: version {NEW_VERSION}: {len(crawled)} written"
    )
    spooled = [p for p in (tmp_path / "state").rglob("*") if p.is_file() and "spool" in p.parts]
    assert spooled == [], "what the workers wrote was uploaded"
    again = records(NEW_VERSION)
    assert again.keys() == crawled.keys()
    for capture, old in crawled.items():
        new = again[capture]
        assert store.get_bytes(new["text_key"]) == store.get_bytes(old["text_key"]), old["url"]
        assert new["warc"] == old["warc"]

    result = run_cli(*args, "--workers", "0", "--replace-older", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith(f", {2 * len(crawled)} older objects removed")
    assert records(EXTRACTOR_VERSION) == {}
    assert records(NEW_VERSION) == again
    assert not [k for k in store.list("text") if k.endswith(f".{EXTRACTOR_VERSION}.txt")]
    assert _other_keys(store) == others, "WARCs, indexes and digests are never touched"
    store.close()


def test_reextract_follows_changed_extraction_settings(
    store_copy: Path, sites: Path, tmp_path: Path
) -> None:
    """Editing a site's `extraction:` settings and running reextract redoes the captures made
    with the old settings (same extractor version, in place); `--force` redoes all."""
    crawled = _records(store_copy, EXTRACTOR_VERSION)
    assert crawled
    assert all(r["extraction_settings"] for r in crawled.values())

    def again(sites_dir: Path, *extra: str) -> tuple[int, str]:
        result = run_cli(
            "reextract", "--store", str(store_copy), "--sites-dir", str(sites_dir),
            "--workers", "0", *extra,
        )  # fmt: skip
        assert "Traceback" not in result.stderr
        return result.returncode, result.stdout

    code, out = again(sites)
    assert code == 0
    assert f"0 written, {len(crawled)} already done" in out

    import yaml  # noqa: PLC0415 - only this test edits a site file

    edited = tmp_path / "edited"
    edited.mkdir()
    data = yaml.safe_load((sites / "demo.yaml").read_text(encoding="utf-8"))
    data["extraction"] = {"drop_xpaths": ['//aside[@class="newsletter"]']}
    (edited / "demo.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    code, out = again(edited)
    assert code == 0, out
    assert f"{len(crawled)} written, 0 already done" in out
    assert f"  {len(crawled)} captures extracted again in place: their version was made" in out
    redone = _records(store_copy, EXTRACTOR_VERSION)
    assert redone.keys() == crawled.keys()
    assert {r["extraction_settings"] for r in redone.values()} != {
        r["extraction_settings"] for r in crawled.values()
    }
    assert all(r["reextracted_at"] for r in redone.values())

    code, out = again(edited)
    assert f"0 written, {len(crawled)} already done" in out
    code, out = again(edited, "--force")
    assert f"{len(crawled)} written, 0 already done" in out
    assert "extracted again in place: --force" in out
