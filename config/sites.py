"""Per-site YAML configuration: the model, and loading that fails naming the file and the key."""

from __future__ import annotations

import difflib
import re
from datetime import date  # noqa: TC003 - pydantic reads the annotations at run time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from newsarchive.config.network import parse_networks

BUNDLED_SITES_DIR = Path(__file__).resolve().parent / "sites"
#: A site file is a few dozen lines; past these it is not one (and PyYAML recurses once per
#: nesting level, so 50,000 "[" would end in RecursionError).
SITE_FILE_MAX_BYTES = 1024 * 1024
SITE_FILE_MAX_DEPTH = 16


class SiteConfigError(Exception):
    """A site file is missing, unreadable or invalid. The message names the file and key."""


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {value!r}")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
    return value


def _network(value: str) -> str:
    parse_networks([value])
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Network = Annotated[str, AfterValidator(_network)]
Regex = Annotated[str, AfterValidator(_regex)]


class _Strict(BaseModel):
    # A misspelt key is a silent no-op otherwise; fail on it instead.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Section(_Strict):
    url: HttpUrl
    #: How many listing pages to walk through `rel=next` / numbered pagination.
    max_pages: int = Field(default=3, ge=1, le=1000)


class Politeness(_Strict):
    download_delay: float | None = Field(default=None, ge=0, le=600)
    concurrent_requests: int | None = Field(default=None, ge=1, le=4)
    autothrottle_target_concurrency: float | None = Field(default=None, gt=0, le=4)


class ExtractionOverrides(_Strict):
    #: XPath of the article body, when the generic extractor picks the wrong block.
    body_xpath: str | None = None
    #: XPaths of elements to remove before extraction.
    drop_xpaths: list[str] = []
    #: Where this site's headline is: "auto" weighs JSON-LD, og:title, the heading and <title>;
    #: the others take that one source (without the site's name), or "auto" where a page has
    #: none. For a publisher whose pages the generic choice gets wrong.
    title_source: Literal["auto", "jsonld", "og", "h1", "title"] = "auto"
    #: Names this site's titles carry as a prefix or suffix ("BBC News"), beside the names its
    #: pages state (og:site_name, JSON-LD publisher) and its domain's.
    site_names: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default=[], max_length=20
    )


class Refetch(_Strict):
    """Articles published within `within_hours` are fetched again (conditionally) once the last
    fetch is `every_hours` old: news pages change most in their first hours."""

    within_hours: float = Field(gt=0, le=24 * 365)
    every_hours: float = Field(gt=0, le=24 * 365)

    def model_post_init(self, context: Any, /) -> None:
        if self.every_hours > self.within_hours:
            raise ValueError("every_hours must not exceed within_hours")


class SiteConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    #: Home or listing pages whose same-site links are followed to find articles.
    start_urls: list[HttpUrl] = []
    feeds: list[HttpUrl] = []
    sitemaps: list[HttpUrl] = []
    #: Also read the `Sitemap:` lines of each start host's robots.txt.
    robots_sitemaps: bool = True
    sections: list[Section] = []
    #: Regular expressions an article URL must match (any); empty means "decide by page signals".
    allow: list[Regex] = []
    #: Regular expressions of URLs never to request.
    deny: list[Regex] = []
    max_articles: int = Field(default=200, ge=1, le=100_000)
    #: Skip articles whose feed/sitemap date is older than this, before requesting them.
    max_age_days: int | None = Field(default=30, ge=1)
    #: Skip articles whose feed/sitemap date is before this day (UTC); with max_age_days, the
    #: later limit holds.
    since: date | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    contact_url: HttpUrl | None = None
    politeness: Politeness = Politeness()
    extraction: ExtractionOverrides = ExtractionOverrides()
    #: Incremental runs: when to look again at archived articles; none: only when announced newer.
    refetch: Refetch | None = None
    #: Non-public networks this site may reach (CIDR, e.g. [10.0.0.0/8]); config.network
    #: refuses them otherwise, except the addresses the configured URLs resolve to.
    allow_networks: list[Network] = []

    @field_validator("deny", "allow")
    @classmethod
    def _no_empty_patterns(cls, value: list[str]) -> list[str]:
        if any(not pattern for pattern in value):
            raise ValueError("empty pattern would match every URL")
        return value

    def model_post_init(self, context: Any, /) -> None:
        if not (self.start_urls or self.feeds or self.sitemaps or self.sections):
            raise ValueError(
                "no discovery source: give at least one of start_urls, feeds, sitemaps, sections"
            )

    @property
    def hosts(self) -> set[str]:
        """Hosts this site's articles may live on."""
        urls = [*self.start_urls, *self.feeds, *self.sitemaps, *(s.url for s in self.sections)]
        return {urlsplit(url).hostname or "" for url in urls} - {""}


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at `loc` (the location of an unknown key) takes."""
    model: type[BaseModel] = SiteConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        # list[Section], Refetch | None...: the model inside.
        inner = [a for a in (*getattr(annotation, "__args__", ()), annotation)
                 if isinstance(a, type) and issubclass(a, BaseModel)]  # fmt: skip
        if not inner:
            return []
        model = inner[0]
    return list(model.model_fields)


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            close = difflib.get_close_matches(str(error["loc"][-1]), _known_keys(error["loc"]), 1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        problems.append(f"key '{key}': {message}")
    return "; ".join(problems)


def parse_site(data: object, source: str) -> SiteConfig:
    """Validate already-parsed YAML; `source` names the file in error messages."""
    if not isinstance(data, dict):
        raise SiteConfigError(f"{source}: expected a mapping of keys, got {type(data).__name__}")
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise SiteConfigError(f"{source}: {_describe(exc)}") from None


def _depth(data: object) -> int:
    """How deeply lists and mappings nest in loaded YAML (iterative: no recursion to exhaust)."""
    deepest = 0
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def load_yaml(text: str, source: str) -> object:
    """yaml.safe_load (no !!python tags) within SITE_FILE_MAX_BYTES and SITE_FILE_MAX_DEPTH."""
    if len(text) > SITE_FILE_MAX_BYTES:
        raise SiteConfigError(f"{source}: {len(text)} characters, over {SITE_FILE_MAX_BYTES}")
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        # One line: where, and what (the exception's own text spans several).
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SiteConfigError(f"{source}: invalid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SiteConfigError(f"{source}: invalid YAML: {exc}") from None
    except RecursionError:
        raise SiteConfigError(f"{source}: invalid YAML: nested too deeply") from None
    if _depth(data) > SITE_FILE_MAX_DEPTH:
        raise SiteConfigError(f"{source}: nested deeper than {SITE_FILE_MAX_DEPTH} levels")
    return data


def load_site_file(path: Path) -> SiteConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteConfigError(f"{path}: cannot read: {exc}") from None
    data = load_yaml(text, str(path))
    site = parse_site(data, str(path))
    if site.name != path.stem:
        raise SiteConfigError(
            f"{path}: key 'name': {site.name!r} must match the file name {path.stem!r}"
        )
    return site


def sites_dir(configured: str | Path | None) -> Path:
    return Path(configured) if configured else BUNDLED_SITES_DIR


def check_sites(directory: Path) -> tuple[dict[str, SiteConfig], list[SiteConfigError]]:
    """Every site in a folder, validated: the good ones, and an error for each bad file."""
    if not directory.is_dir():
        raise SiteConfigError(f"{directory}: sites folder does not exist")
    sites = {}
    errors = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            site = load_site_file(path)
        except SiteConfigError as exc:
            errors.append(exc)
        else:
            sites[site.name] = site
    return sites, errors


def load_sites(directory: Path) -> dict[str, SiteConfig]:
    """Every site in a folder, validated; a bad file raises (the first, naming how many more)."""
    sites, errors = check_sites(directory)
    if errors:
        more = f" (and {len(errors) - 1} more bad files)" if len(errors) > 1 else ""
        raise SiteConfigError(f"{errors[0]}{more}")
    return sites


def load_site(directory: Path, name: str) -> SiteConfig:
    path = directory / f"{name}.yaml"
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name) or not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise SiteConfigError(f"{path}: no such site {name!r} (known: {known})")
    return load_site_file(path)
