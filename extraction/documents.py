"""One extraction job (bytes in, text + metadata out), shared by the crawl, extract-file and
re-extraction so all three give the same result for the same bytes. No Scrapy import."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Self

from newsarchive.extraction.decode import decode_html
from newsarchive.extraction.version import EXTRACTOR_VERSION

if TYPE_CHECKING:
    from newsarchive.config.options import Options
    from newsarchive.config.sites import SiteConfig
    from newsarchive.extraction.extractor import Article, ArticleExtractor


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """Everything that changes extraction output; hashable so workers can cache extractors."""

    favor_precision: bool = True
    include_comments: bool = False
    language_hint: str | None = None
    body_xpath: str | None = None
    drop_xpaths: tuple[str, ...] = ()
    title_source: str = "auto"
    site_names: tuple[str, ...] = ()

    @classmethod
    def build(cls, options: Options, site: SiteConfig | None = None) -> Self:
        """The one way options are made: EXTRACT_* settings, then the site's overrides."""
        return cls(
            favor_precision=options.extract_favor_precision,
            include_comments=options.extract_include_comments,
            language_hint=site.language if site else None,
            body_xpath=site.extraction.body_xpath if site else None,
            drop_xpaths=tuple(site.extraction.drop_xpaths) if site else (),
            title_source=site.extraction.title_source if site else "auto",
            site_names=tuple(site.extraction.site_names) if site else (),
        )

    @property
    def settings_hash(self) -> str:
        """A short, stable hash of these options: recorded with each extraction, so
        re-extraction can tell which captures were made with other settings.

        Options at their defaults are left out: an option added later, whose default keeps
        the old behaviour, leaves the hash of every existing setting as it was (otherwise
        `reextract` would redo every capture once).
        """
        defaults = dataclasses.asdict(type(self)())
        changed = {k: v for k, v in dataclasses.asdict(self).items() if v != defaults[k]}
        canonical = json.dumps(changed, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class Extraction:
    text: str
    encoding: str
    extractor_version: str
    metadata: dict[str, Any] = field(default_factory=dict)
    #: `ExtractOptions.settings_hash` of the options used.
    settings_hash: str | None = None
    #: The page's JSON-LD articleBody (not stored): site-level learning keeps its blocks.
    article_body: str | None = None

    @property
    def text_sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=32)
def _extractor(options: ExtractOptions) -> ArticleExtractor:
    # Building trafilatura's options is not free; each worker does it once per option set.
    # Imported here: the crawl process builds options but extracts nothing, and trafilatura
    # with numpy is about 21 MB of its memory.
    from newsarchive.extraction.extractor import ArticleExtractor  # noqa: PLC0415

    return ArticleExtractor(
        favor_precision=options.favor_precision,
        include_comments=options.include_comments,
        language_hint=options.language_hint,
        body_xpath=options.body_xpath,
        drop_xpaths=options.drop_xpaths,
        title_source=options.title_source,
        site_names=options.site_names,
    )


def extract_document(
    body: bytes, content_type: str | None, url: str | None, options: ExtractOptions
) -> Extraction | None:
    """Decode (BOM, HTTP charset, meta, detection) then extract; None when no article text."""
    html, encoding = decode_html(body, content_type)
    article = _extractor(options).extract(html, url)
    if article is None or not article.text.strip():
        return None
    return from_article(article, encoding, options.settings_hash)


def from_article(article: Article, encoding: str, settings_hash: str | None = None) -> Extraction:
    """The record of one extracted `article` (its text apart, its JSON-LD body not stored)."""
    metadata = article.to_dict()
    metadata.pop("text", None)
    metadata.pop("jsonld_body", None)
    return Extraction(
        text=article.text,
        encoding=encoding,
        extractor_version=article.extractor_version or EXTRACTOR_VERSION,
        metadata=metadata,
        settings_hash=settings_hash,
        article_body=article.jsonld_body,
    )
