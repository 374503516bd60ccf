"""The one typed settings object (config.options) and the CLI commands that build it."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, get_args

import pytest

from newsarchive.cli.main import EXIT_CONFIG, build_parser, main
from newsarchive.cli.settings import build_settings, options_from_args
from newsarchive.config import settings as defaults
from newsarchive.config.options import (
    AUTO_MAX_WORKERS,
    Options,
    SettingError,
    extract_workers,
    resolve_site,
)
from newsarchive.config.sites import (
    BUNDLED_SITES_DIR,
    ExtractionOverrides,
    SiteConfig,
    SiteConfigError,
    parse_site,
)
from newsarchive.extraction.documents import ExtractOptions
from newsarchive.extraction.metadata import TITLE_SOURCES

if TYPE_CHECKING:
    from pathlib import Path

#: Every subcommand and the arguments it needs besides -s.
COMMANDS = {
    "crawl": ["--all"],
    "demo": [],
    "extract-file": ["page.html"],
    "upload": [],
    "sites": [],
    "verify": [],
    "replay": [],
    "reextract": [],
}


def test_defaults_come_from_config_settings(tmp_path: Path) -> None:
    options = Options.from_settings(build_settings(str(tmp_path), interactive=False))
    assert options.store == str(tmp_path)
    assert options.sites_dir == BUNDLED_SITES_DIR
    assert options.site is None
    assert options.retry_after_max == defaults.RETRY_AFTER_MAX
    assert options.warc_max_size == defaults.ARCHIVE_WARC_MAX_SIZE
    assert options.revisits == defaults.ARCHIVE_REVISITS
    assert options.extract_workers == extract_workers(defaults.EXTRACT_WORKERS) >= 1
    assert options.extract_timeout == defaults.EXTRACT_TIMEOUT
    assert options.extract_worker_nice == defaults.EXTRACT_WORKER_NICE > 0
    assert options.report_prometheus_dir is None
    assert options.storage["STORAGE_S3_DEGRADED_READS"] is defaults.STORAGE_S3_DEGRADED_READS


def test_overrides_are_typed(tmp_path: Path) -> None:
    overrides = {
        "EXTRACT_FAVOR_PRECISION": "False",
        "ARCHIVE_WARC_MAX_SIZE": "1000",
        "RETRY_AFTER_MAX": "5",
        "REPORT_PROMETHEUS_DIR": str(tmp_path),
        "STORAGE_S3_UPLOAD_THREADS": "4",
    }
    options = Options.from_settings(build_settings(None, None, overrides, interactive=False))
    assert options.extract_favor_precision is False
    assert options.warc_max_size == 1000
    assert options.retry_after_max == 5.0
    assert options.report_prometheus_dir == tmp_path
    assert options.storage["STORAGE_S3_UPLOAD_THREADS"] == "4"


def test_extract_workers_auto_or_a_count() -> None:
    assert 1 <= extract_workers("auto") <= AUTO_MAX_WORKERS
    assert extract_workers(" AUTO ") == extract_workers("auto")
    assert extract_workers("0") == 0
    assert extract_workers(3) == 3
    for bad in ("-1", "many", ""):
        with pytest.raises(ValueError, match="EXTRACT_WORKERS"):
            extract_workers(bad)


def test_extract_worker_nice_is_a_nice_increment() -> None:
    def nice(value: str) -> int:
        settings = build_settings(None, None, {"EXTRACT_WORKER_NICE": value}, interactive=False)
        return Options.from_settings(settings).extract_worker_nice

    assert nice("0") == 0
    assert nice("19") == 19
    for bad in ("-1", "20"):
        with pytest.raises(SettingError, match="EXTRACT_WORKER_NICE must be a number from 0 to 19"):
            nice(bad)
    # Settings not given with -s (a settings module, say) get Scrapy's own conversion error,
    # with the setting's name added.
    settings = build_settings(None, None, {}, interactive=False)
    settings.set("EXTRACT_WORKER_NICE", "low")
    with pytest.raises(SettingError, match="EXTRACT_WORKER_NICE='low': invalid literal"):
        Options.from_settings(settings)


def test_site_setting_takes_a_name_or_a_config() -> None:
    named = build_settings(None, None, {"NEWSARCHIVE_SITE": "bbc-news"}, interactive=False)
    site = resolve_site(named)
    assert site is not None
    assert site.name == "bbc-news"
    config = SiteConfig(name="adhoc", start_urls=["https://example.org/"])  # type: ignore[list-item]
    given = build_settings(None, None, {"NEWSARCHIVE_SITE": config}, interactive=False)
    assert resolve_site(given) == config


def test_extraction_options_from_settings_and_site() -> None:
    settings = build_settings(None, None, {"EXTRACT_INCLUDE_COMMENTS": True}, interactive=False)
    options = Options.from_settings(settings)
    assert ExtractOptions.build(options) == ExtractOptions(include_comments=True)
    site = SiteConfig.model_validate(
        {
            "name": "x",
            "start_urls": ["https://example.org/"],
            "language": "de",
            "extraction": {"body_xpath": "//main", "drop_xpaths": ["//aside"]},
        }
    )
    built = ExtractOptions.build(options, site)
    assert (built.language_hint, built.body_xpath, built.drop_xpaths) == (
        "de",
        "//main",
        ("//aside",),
    )
    assert built.include_comments is True
    # a site file without title options extracts as the defaults do (same settings hash)
    assert (built.title_source, built.site_names) == ("auto", ())


def test_title_options_from_the_site_file() -> None:
    options = Options.from_settings(build_settings(None, None, {}, interactive=False))
    site = parse_site(
        {
            "name": "daily-planet",
            "feeds": ["https://example.org/feed"],
            "extraction": {"title_source": "og", "site_names": ["The Daily Planet"]},
        },
        "daily-planet.yaml",
    )
    built = ExtractOptions.build(options, site)
    assert built.title_source == "og"
    assert built.site_names == ("The Daily Planet",)
    assert built.settings_hash != ExtractOptions.build(options).settings_hash


def test_an_option_added_at_its_default_keeps_the_settings_hash() -> None:
    @dataclasses.dataclass(frozen=True)
    class Later(ExtractOptions):
        new_option: bool = False

    site = ExtractOptions(language_hint="de", drop_xpaths=("//aside",))
    same = Later(language_hint="de", drop_xpaths=("//aside",))
    assert same.settings_hash == site.settings_hash
    assert Later(language_hint="de", new_option=True).settings_hash != site.settings_hash
    assert ExtractOptions(language_hint="fr").settings_hash != site.settings_hash


def test_site_files_and_the_extractor_know_the_same_title_sources() -> None:
    field = ExtractionOverrides.model_fields["title_source"]
    assert get_args(field.annotation) == TITLE_SOURCES


@pytest.mark.parametrize(
    ("extraction", "key"),
    [
        ({"title_source": "headline"}, "extraction.title_source"),
        ({"site_names": [""]}, "extraction.site_names.0"),
        ({"site_names": "The Daily Planet"}, "extraction.site_names"),
    ],
)
def test_bad_title_options_name_the_key(extraction: dict[str, object], key: str) -> None:
    data = {"name": "x", "feeds": ["https://example.org/feed"], "extraction": extraction}
    with pytest.raises(SiteConfigError, match=re.escape(key)):
        parse_site(data, "x.yaml")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_settings(command: str, tmp_path: Path) -> None:
    args = build_parser().parse_args(
        [command, *COMMANDS[command], "-s", "EXTRACT_INCLUDE_COMMENTS=True"]
    )
    assert args.set == ["EXTRACT_INCLUDE_COMMENTS=True"]
    assert options_from_args(args, interactive=False).extract_include_comments is True


@pytest.mark.parametrize("command", ["verify", "upload", "extract-file", "sites"])
def test_a_malformed_setting_is_a_configuration_error(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, *COMMANDS[command], "-s", "NOVALUE"]) == EXIT_CONFIG
    assert "-s expects NAME=VALUE" in capsys.readouterr().err


def test_extract_file_honours_extract_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ExtractOptions] = []

    def fake(
        body: bytes, content_type: str | None, url: str | None, options: ExtractOptions
    ) -> None:
        seen.append(options)

    monkeypatch.setattr("newsarchive.cli.commands.extract_document", fake)
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>", encoding="utf-8")
    main(["extract-file", str(page), "-s", "EXTRACT_FAVOR_PRECISION=False"])
    assert seen == [ExtractOptions(favor_precision=False)]
