"""Secrets are never printed: the redaction helper, and the four ways a run used to leak one
(a secret setting with -v, credential query parameters and user-info in store URIs, an
endpoint URL with user:password), each run through the real command."""

from __future__ import annotations

import gzip
import logging
import zipfile
from typing import TYPE_CHECKING

import pytest

from newsarchive.archive.store import StoreError, open_store
from newsarchive.config import redact as redaction
from newsarchive.config.redact import MASK, redact, remember, uri_secrets
from tests.conftest import run_cli, write_demo_config

if TYPE_CHECKING:
    from pathlib import Path

    from newsarchive.demo.server import DemoSite
    from tests.s3server import SeaweedS3


# --- the helper ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/p", "wJalrXUtnFEMI"),
        ("s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/p", "AKIDEXAMPLE"),
        ("bad URI 's3://b/p?aws_secret_access_key=wJalrXUtnFEMI&x=1'", "wJalrXUtnFEMI"),
        ("{'AWS_SECRET_ACCESS_KEY': 'wJalrXUtnFEMI', 'LOG_LEVEL': 'INFO'}", "wJalrXUtnFEMI"),
        ("Uploaded 3 objects to s3://b/p at http://admin:hunter22@127.0.0.1:8333", "hunter22"),
        ("AWS_SESSION_TOKEN=FQoGZXIvYXdzEJr next", "FQoGZXIvYXdzEJr"),
        ("password: 'hunter22'", "hunter22"),
    ],
)
def test_redact_hides_secrets(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert MASK in out


def test_redact_keeps_ordinary_text() -> None:
    text = "Crawled 5 pages from http://127.0.0.1:8000/world/?page=2 (token bucket empty)"
    assert redact(text) == text


def test_remembered_secrets_are_masked_anywhere() -> None:
    remember(["Remembered-Value-7781"])
    assert redact("failed: Remembered-Value-7781 rejected") == f"failed: {MASK} rejected"


def test_uri_secrets_names_what_not_the_values() -> None:
    assert uri_secrets("s3://K:S@b/p?aws_secret_access_key=X&region=eu") == [
        "user-info",
        "aws_secret_access_key",
    ]
    assert uri_secrets("s3://bucket/prefix") == []
    assert uri_secrets("/data/archive") == []


@pytest.mark.parametrize(
    "uri", ["s3://AKIDKEY:VerySecret123@bucket/p", "s3://b/p?aws_secret_access_key=VerySecret123"]
)
def test_open_store_refuses_credentials_in_uris(uri: str) -> None:
    with pytest.raises(StoreError, match="carries credentials") as info:
        open_store(uri)
    assert "VerySecret123" not in str(info.value)


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redaction.install_log_redaction()
    logger = logging.getLogger("newsarchive.tests.secrets")
    with caplog.at_level(logging.INFO):
        logger.info("store %s", "s3://KEY:Secret-In-Arg-99@bucket/p")
        try:
            raise ValueError("endpoint http://u:Secret-In-Exc-99@h/")
        except ValueError:
            logger.exception("failed")
    assert "Secret-In-Arg-99" not in caplog.text
    assert "Secret-In-Exc-99" not in caplog.text


# --- the four ways, through the real command ---------------------------------------------


def printed_anywhere(secret: str, store: Path, *outputs: str) -> list[str]:
    """Where `secret` shows: the outputs, or any file of the store (run logs, reports, WARCs
    with their warcinfo records, WACZ members, metadata), decompressed."""
    found = [f"output {i}" for i, text in enumerate(outputs) if secret in text]
    needle = secret.encode()
    for path in store.rglob("*") if store.exists() else []:
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        if path.suffix == ".wacz":
            with zipfile.ZipFile(path) as wacz:
                for name in wacz.namelist():
                    member = wacz.read(name)
                    if name.endswith(".gz"):
                        member = gzip.decompress(member)
                    if needle in member:
                        found.append(f"{path}:{name}")
        if needle in data:
            found.append(str(path))
    return found


@pytest.mark.slow
def test_secret_setting_with_verbose_is_not_printed(tmp_path: Path, demo_site: DemoSite) -> None:
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"  # noqa: S105 - a fake secret to look for
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    store = tmp_path / "store"
    result = run_cli(
        "-v", "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", str(store),
        "-s", f"AWS_SECRET_ACCESS_KEY={secret}", "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "DOWNLOAD_DELAY=0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # The settings dump is there, with the secret masked.
    assert "'AWS_SECRET_ACCESS_KEY': '***'" in result.stderr
    assert list(store.glob("state/logs/demo/*.log")), "no run log to check"
    assert list(store.glob("reports/demo/*.json")), "no report to check"
    assert printed_anywhere(secret, store, result.stdout, result.stderr) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "uri",
    [
        "s3://newsbucket/p?aws_secret_access_key=wJalrXUtnFEMI-Query-Secret",
        "s3://AKIDEXAMPLE:wJalrXUtnFEMI-Query-Secret@newsbucket/p",
    ],
)
def test_store_uri_with_credentials_is_refused_unprinted(
    tmp_path: Path, demo_site: DemoSite, uri: str
) -> None:
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    for command in (
        ["crawl", "--site", "demo", "--sites-dir", str(sites), "--store", uri],
        ["upload", "--store", uri],
    ):
        result = run_cli("-v", *command)
        assert result.returncode == 2, result.stderr[-2000:]
        assert "carries credentials" in result.stderr
        assert printed_anywhere("wJalrXUtnFEMI", tmp_path, result.stdout, result.stderr) == []
        assert "AKIDEXAMPLE" not in result.stderr


@pytest.mark.slow
def test_endpoint_password_is_not_printed(
    tmp_path: Path, demo_site: DemoSite, s3_server: SeaweedS3
) -> None:
    password = "Endpoint-Pw-4471"  # noqa: S105 - a fake secret to look for
    bucket = s3_server.new_bucket()
    sites = write_demo_config(tmp_path / "sites", demo_site.base_url)
    endpoint = s3_server.endpoint.replace("http://", f"http://archiver:{password}@")
    env = s3_server.env(tmp_path / "state")
    result = run_cli(
        "-v", "crawl", "--site", "demo", "--sites-dir", str(sites), "--store", f"s3://{bucket}/n",
        "-s", f"AWS_ENDPOINT_URL={endpoint}", "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "DOWNLOAD_DELAY=0", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Uploaded" in result.stderr
    assert printed_anywhere(password, tmp_path, result.stdout, result.stderr) == []
    # What went up to the bucket: reports, run logs, WARCs.
    client = s3_server.client()
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        if item["Key"].endswith(".gz"):
            body = gzip.decompress(body)
        assert password.encode() not in body, item["Key"]
