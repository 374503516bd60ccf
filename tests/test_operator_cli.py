"""Operator experience as a user and as cron meet it: the real command in a child process, off
the happy path. Each test is a failure once seen; it checks the exit code, the exact line
printed and that no traceback reaches the user."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from newsarchive.cli.main import EXIT_BROKEN_PIPE
from tests.conftest import REPO, run_cli, run_reports

if TYPE_CHECKING:
    from pathlib import Path

    from newsarchive.demo.server import DemoSite
    from tests.conftest import DemoCrawl


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def test_unreachable_host_is_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    result = run_cli("crawl", "--url", f"http://127.0.0.1:{port}/", "--store", str(tmp_path))
    _no_traceback(result)
    assert result.returncode == 1
    # robots.txt and the page, each tried 3 times: two failed requests, counted once each.
    assert result.stdout == (
        "newsarchive crawl: 127-0-0-1: FAILED (no page fetched), 0 pages, 0 articles, 2 errors\n"
    )
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(
        f"WARNING: 127.0.0.1:{port}: cannot download (DownloadConnectionRefusedError: Connection "
        "was refused by other side: 111: Connection refused.); further failures of this host "
        "are in the summary"
    )
    report = json.loads(next(tmp_path.glob("reports/*/*.json")).read_text(encoding="utf-8"))
    assert report["errors"] == {"DownloadConnectionRefusedError": 2}


def test_url_without_scheme_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("crawl", "--url", "127.0.0.1:8765", "--store", str(tmp_path / "s"))
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr == (
        "newsarchive: --url '127.0.0.1:8765': not an absolute http(s) URL "
        "(did you mean 'http://127.0.0.1:8765'?)\n"
    )
    assert not (tmp_path / "s").exists()


def test_bad_setting_value_exits_2_before_any_lock(tmp_path: Path) -> None:
    store = tmp_path / "s"
    result = run_cli("crawl", "--url", "http://127.0.0.1:1/", "--store", str(store),
                     "-s", "DOWNLOAD_DELAY=abc")  # fmt: skip
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr == (
        "newsarchive: -s DOWNLOAD_DELAY=abc: not a valid value (expected float, like the "
        "default 0.25)\n"
    )
    assert not store.exists()  # no lock, no state: nothing was started


@pytest.mark.parametrize(
    ("uri", "hint"), [("s3:/bucket", "s3://bucket"), ("s3//bucket", "s3://bucket"),
                      ("file:relative", "relative")],
)  # fmt: skip
def test_mistyped_store_uri_creates_nothing(uri: str, hint: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsarchive.cli.main", "verify", "--store", uri],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr == (
        f"newsarchive: not a store URI: {uri!r} (a folder path, file:///path or s3://bucket; "
        f"did you mean {hint!r}?)\n"
    )
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [["verify"], ["reextract", "--workers", "0"], ["replay", "--port", "0"], ["export"],
     ["upload"]],
)  # fmt: skip
def test_commands_that_read_never_create_a_store(command: list[str], tmp_path: Path) -> None:
    store = tmp_path / "missing"
    result = run_cli(*command, "--store", str(store))
    _no_traceback(result)
    assert result.returncode == 2
    assert f"no store at {store} (the folder does not exist)" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not store.exists()


@pytest.mark.parametrize("command", ["verify", "export", "reextract"])
def test_unknown_site_exits_2(command: str, demo_crawl: DemoCrawl) -> None:
    result = run_cli(command, "--store", str(demo_crawl.store), "--site", "dmeo")
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr == (
        f"newsarchive: no site 'dmeo' in {demo_crawl.store.resolve().as_uri()} "
        "(sites there: demo); did you mean 'demo'?\n"
    )


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    page = REPO / "demo" / "site" / "world" / "ferry-crews-end-strike.html"
    process = subprocess.Popen(
        [sys.executable, "-m", "newsarchive.cli.main", "extract-file", *[str(page)] * 200],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # `| head -1`
    with process.stderr:
        stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == EXIT_BROKEN_PIPE
    assert stderr == ""


def test_sites_lists_every_bad_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nfeeds: [http://x/]\nmax_artcles: 3\n")
    (tmp_path / "b.yaml").write_text("name: b\nfeeds: [http://x/]\nlanguge: en\n")
    (tmp_path / "c.yaml").write_text("name: c\nfeeds: [http://x/]\n")
    result = run_cli("sites", "--sites-dir", str(tmp_path))
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"newsarchive: configuration error: {tmp_path / 'a.yaml'}: key 'max_artcles': unknown "
        "key (did you mean 'max_articles'?)",
        f"newsarchive: configuration error: {tmp_path / 'b.yaml'}: key 'languge': unknown key "
        "(did you mean 'language'?)",
    ]
    assert result.stdout.splitlines()[-1] == f"1 site(s) valid, 2 invalid in {tmp_path}"


def test_version_and_logging_options_after_the_subcommand(tmp_path: Path) -> None:
    version = run_cli("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("newsarchive ")
    log = tmp_path / "run.log"
    result = run_cli("sites", "-v", "--logfile", str(log))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    bad = run_cli("sites", "--logfile", str(tmp_path / "no" / "such" / "x.log"))
    assert bad.returncode == 2
    assert bad.stderr == (
        f"newsarchive: --logfile {tmp_path / 'no' / 'such' / 'x.log'}: No such file or directory\n"
    )


def test_upload_on_a_local_store_has_nothing_to_do(tmp_path: Path) -> None:
    result = run_cli("upload", "--store", str(tmp_path))
    assert result.returncode == 0
    assert result.stdout == f"newsarchive upload: {tmp_path} is a local store; nothing to upload\n"


def test_verify_names_file_offset_and_cause(demo_crawl: DemoCrawl, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(demo_crawl.store, store, ignore=shutil.ignore_patterns("state"))
    warc = sorted(store.glob("warcs/demo/*/*.warc.gz"))[0]
    data = bytearray(warc.read_bytes())
    # Garble the middle of the file: a record there no longer inflates.
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0x55 for b in data[middle : middle + 64])
    warc.write_bytes(bytes(data))
    result = run_cli("verify", "--store", str(store))
    _no_traceback(result)
    assert result.returncode == 1
    key = warc.relative_to(store).as_posix()
    problems = [line for line in result.stdout.splitlines() if line.startswith(f"{key}: ")]
    assert problems
    unreadable = [p for p in problems if ": unreadable after the record at offset " in p]
    assert len(unreadable) == 1, problems
    assert "records read): " in unreadable[0]
    assert all(c.isprintable() for c in unreadable[0])


def test_export_of_the_demo_store(demo_crawl: DemoCrawl, tmp_path: Path) -> None:
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet", reason="the test extra has it")
    store = demo_crawl.store
    texts = {
        json.loads(p.read_text(encoding="utf-8"))["url"]: (
            store / json.loads(p.read_text(encoding="utf-8"))["text_key"]
        ).read_text(encoding="utf-8")
        for p in store.glob("meta/demo/*/*.json")
    }
    assert len(texts) == 7
    parquet = tmp_path / "demo.parquet"
    result = run_cli("export", "--store", str(store), "--site", "demo", "-o", str(parquet))
    _no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"newsarchive export: 7 articles (parquet) to {parquet}\n"
    table = pyarrow_parquet.read_table(parquet)
    assert table.num_rows == 7
    assert table.column_names[:4] == ["site", "url", "canonical_url", "title"]
    rows = table.to_pylist()
    # The stored text files end with a newline the export does not repeat.
    assert {r["url"]: r["text"] + "\n" for r in rows} == texts
    for r in rows:
        assert r["warc_file"].startswith("warcs/demo/")
        assert r["warc_record_id"].startswith("<urn:uuid:")
        assert r["captured_at"].tzinfo is not None
    jsonl = run_cli("export", "--store", str(store), "--format", "jsonl")
    assert jsonl.returncode == 0
    assert jsonl.stderr == "newsarchive export: 7 articles (jsonl) to stdout\n"
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [line["url"] for line in lines] == [r["url"] for r in rows]
    for reader in ("duckdb", "pandas"):
        try:
            module = __import__(reader)
        except ImportError:
            continue  # optional readers: checked when installed
        if reader == "duckdb":
            # The path is this test's own temporary file.
            # The path is this test's own temporary file.
            count = module.sql(f"select count(*) from '{parquet}'").fetchone()[0]  # noqa: S608  # noqa: S608
        else:
            count = len(module.read_parquet(parquet))
        assert count == 7


def test_get_fetches_archives_and_prints_the_record(demo_site: DemoSite, tmp_path: Path) -> None:
    store = tmp_path / "store"
    url = demo_site.url("/world/ferry-crews-end-strike.html")
    missing = demo_site.url("/world/missing-story.html")
    result = run_cli("get", url, missing, "--store", str(store),
                     "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0")  # fmt: skip
    _no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"newsarchive get: {missing}: no article archived"
    (line,) = result.stdout.splitlines()
    row = json.loads(line)
    assert row["url"] == url
    assert row["title"].startswith("Ferry crews")
    assert row["text"]
    assert list(store.glob("warcs/*/*/*.warc.gz"))


def test_adhoc_crawl_scope_flags_and_skips(demo_site: DemoSite, tmp_path: Path) -> None:
    demo_site.clear_log()
    result = run_cli(
        "crawl", "--url", demo_site.url("/"), "--store", str(tmp_path / "store"),
        "--max-articles", "2", "--max-age-days", "0", "--contact", "https://ops.example/",
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0",
    )  # fmt: skip
    _no_traceback(result)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("newsarchive crawl: 127-0-0-1: ok, ")
    assert ", skipped " in line
    assert ": limit " in line
    assert "(--max-articles, site key max_articles)" in line
    report = json.loads(
        next((tmp_path / "store").glob("reports/*/*.json")).read_text(encoding="utf-8")
    )
    assert report["requested"]["articles"] == 2
    assert report["skipped"]["age"] == 0  # --max-age-days 0: no age window
    agents = {r.headers.get("user-agent", "") for r in demo_site.requests}
    assert all("+https://ops.example/;" in agent for agent in agents), agents


def test_second_demo_is_incremental(tmp_path: Path) -> None:
    port = str(_closed_port())
    first = run_cli("demo", "--port", port, "--store", str(tmp_path / "store"))
    assert first.returncode == 0, first.stderr
    second = run_cli("demo", "--port", port, "--store", str(tmp_path / "store"))
    assert second.returncode == 0, second.stderr
    rows = {line.split()[0]: line.split() for line in second.stdout.splitlines() if line}
    assert rows["demo"][1] == "ok"
    assert rows["demo"][3] == "0"  # no new article text: nothing changed
    reports = run_reports(tmp_path / "store", "demo")
    assert len(reports) == 2
    last = reports[-1]
    assert last["new"] == 0
    assert last["requested"]["conditional"] > 0
    assert "--store " in second.stdout  # the hints carry the store as given
