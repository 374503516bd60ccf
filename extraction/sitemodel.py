"""Site-level boilerplate: text blocks and title affixes that repeat across a site's articles.

One page alone cannot tell an inline label ("Whats the Story"), a "topics you may like" box or
a newsletter pitch from article text; a crawler that has seen many of the site's articles can.
`SiteModel` counts, per site, on how many articles each normalised text line appeared, and
`SiteModel.apply` removes the lines that repeat on a large share of them, except any line the
page's own JSON-LD `articleBody` contains. Below `MIN_PAGES` articles (a new site) it removes
nothing, so a cold start behaves like a page-by-page extractor. No Scrapy import.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Self

from newsarchive.archive.files import write_atomic
from newsarchive.archive.layout import META_PREFIX, parse_meta_key, safe_segment
from newsarchive.archive.metadata import MetadataError, read_metadata
from newsarchive.extraction.rules import is_teaser_line
from newsarchive.extraction.rules import normalise as _norm

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from newsarchive.archive.store import Store
    from newsarchive.extraction.documents import Extraction

logger = logging.getLogger(__name__)

#: Articles of a site seen before any block counts as boilerplate (the cold start).
MIN_PAGES: Final = 5
#: A block on at least this share of the site's articles is boilerplate. Labels, related boxes,
#: share lines and pitches sit on most pages; no paragraph of reporting recurs on a third.
MIN_SHARE: Final = 0.3
#: Title prefixes/suffixes seen on this many of the site's pages are the site's, not headline.
MIN_AFFIX_PAGES: Final = 3
#: Lines of teaser links under a repeated heading go with it, up to this many.
MAX_TEASER_RUN: Final = 12
#: Bound on the blocks kept per site: past it, blocks seen once are forgotten first.
MAX_BLOCKS: Final = 20_000
#: The same bound on title affixes: each headline is one seen once, and the model is kept
#: between runs (unbounded, 1,000,000 archived articles would hold about 200 MB of headlines).
MAX_AFFIXES: Final = 20_000
#: Separators between a headline and a site or section name (as in metadata.clean_title).
_TITLE_SEPARATOR_RE = re.compile(r"\s+[|\-\u2013\u2014:·•»«\u203a/]{1,2}\s+|\uff5c")
REASON_REPEATED = "repeated"
REASON_UNDER_REPEATED = "teaser list under a repeated block"


def block_hash(text: str) -> str:
    """Hash of a block's normalised words (case, punctuation and spacing do not count)."""
    return _normalised_hash(_norm(text))


def _normalised_hash(norm: str) -> str:
    # The model runs in the crawl process for every article: each line is normalised once
    # per article (profiled: normalising four times was most of the model's cost).
    return hashlib.sha1(norm.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def title_affixes(title: str | None) -> set[str]:
    """The normalised parts of a page title that may be the site's: the first, the last two.

    ("Headline - Politik - SZ.de": a section name before the site's.)
    """
    if not title:
        return set()
    parts = [p for p in _TITLE_SEPARATOR_RE.split(title) if _norm(p)]
    if len(parts) < 2:
        return set()
    return {_norm(parts[0]), *(_norm(p) for p in parts[1:][-2:])}


@dataclass(frozen=True, slots=True)
class RemovedBlock:
    text: str
    reason: str
    #: On how many of `pages` of the site's articles the block appeared.
    seen_on: int
    pages: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(slots=True)
class SiteModel:
    """Counts of one site's blocks and title affixes over the articles observed so far."""

    site: str
    pages: int = 0
    blocks: dict[str, int] = field(default_factory=dict)
    affixes: dict[str, int] = field(default_factory=dict)

    @property
    def warm(self) -> bool:
        return self.pages >= MIN_PAGES

    def observe(self, lines: Iterable[str], title: str | None = None) -> None:
        """Count one article: each distinct block once, and its title's affixes."""
        self._observe([_norm(line) for line in lines], title)

    def _observe(self, norms: Iterable[str], title: str | None) -> None:
        self.pages += 1
        for key in {_normalised_hash(norm) for norm in norms if norm}:
            self.blocks[key] = self.blocks.get(key, 0) + 1
        for affix in title_affixes(title):
            self.affixes[affix] = self.affixes.get(affix, 0) + 1
        if len(self.blocks) > MAX_BLOCKS:
            self.blocks = {k: v for k, v in self.blocks.items() if v > 1}
        if len(self.affixes) > MAX_AFFIXES:
            self.affixes = {k: v for k, v in self.affixes.items() if v > 1}

    def seen_on(self, line: str) -> int:
        return self.blocks.get(block_hash(line), 0)

    def is_repeated(self, line: str) -> bool:
        return self._repeated(self.seen_on(line))

    def _repeated(self, seen: int) -> bool:
        return self.warm and seen >= MIN_AFFIX_PAGES and seen >= MIN_SHARE * self.pages

    def clean_title(self, title: str | None) -> str | None:
        """Strip from `title` the prefixes and suffixes seen on 3+ of the site's page titles."""
        if not title:
            return title
        parts = _TITLE_SEPARATOR_RE.split(title)
        seps = _TITLE_SEPARATOR_RE.findall(title)
        # the headline itself can recur (a live page's title): one part always stays
        while len(parts) > 1 and self._known_affix(parts[-1]):
            parts.pop()
            seps.pop()
        while len(parts) > 1 and self._known_affix(parts[0]):
            parts.pop(0)
            seps.pop(0)
        rebuilt = parts[0] + "".join(sep + part for sep, part in zip(seps, parts[1:], strict=True))
        # Nothing went: the title as it is, unless it has outer spaces and the site has a known
        # affix (then trimmed, as always). Every headline adds an affix and the model is kept
        # between runs, so looking up only the title's own parts keeps a page's cost flat as
        # it grows (a set of every known affix per page: 0.23 ms at 20,000 affixes, and rising).
        if rebuilt == title and (title.strip() == title or not self._any_known_affix()):
            return title
        return rebuilt.strip() or title

    def _known_affix(self, part: str) -> bool:
        return self.affixes.get(_norm(part), 0) >= MIN_AFFIX_PAGES

    def _any_known_affix(self) -> bool:
        return any(n >= MIN_AFFIX_PAGES for n in self.affixes.values())

    def remove(
        self, lines: list[str], protected: str | None = None
    ) -> tuple[list[str], list[RemovedBlock]]:
        """Lines without the site's repeated blocks; what was removed and why.

        `protected` is the page's JSON-LD articleBody: a block it contains is article text.
        """
        return self._remove(lines, [_norm(line) for line in lines], protected)

    def _remove(
        self, lines: list[str], norms: list[str], protected: str | None
    ) -> tuple[list[str], list[RemovedBlock]]:
        if not self.warm:
            return lines, []
        guard = _norm(protected or "")
        kept: list[str] = []
        removed: list[RemovedBlock] = []
        run = 0
        for index, (line, norm) in enumerate(zip(lines, norms, strict=True)):
            if guard and norm and norm in guard:
                run = 0
                kept.append(line)
                continue
            seen = self.blocks.get(_normalised_hash(norm), 0) if norm else 0
            if norm and self._repeated(seen):
                removed.append(RemovedBlock(line, REASON_REPEATED, seen, self.pages))
                # a repeated heading takes the teaser links under it ("topics you may like")
                following = lines[index + 1 : index + 1 + MAX_TEASER_RUN]
                teasers = 0
                for item in following:
                    if not is_teaser_line(item) or (guard and _norm(item) in guard):
                        break
                    teasers += 1
                run = teasers if teasers >= 2 else 0
                continue
            if run > 0:
                run -= 1
                removed.append(RemovedBlock(line, REASON_UNDER_REPEATED, seen, self.pages))
                continue
            kept.append(line)
        return kept, removed

    def apply(self, result: Extraction, *, learn: bool = True) -> Extraction:
        """`result` with the site's repeated blocks removed (after counting it when `learn`).

        The metadata gains `removed_blocks` (text, reason, counts) when any block went.
        """
        lines = result.text.split("\n")
        norms = [_norm(line) for line in lines]
        if learn:
            self._observe(norms, result.metadata.get("page_title"))
        kept, removed = self._remove(lines, norms, result.article_body)
        metadata = dict(result.metadata)
        title = self.clean_title(metadata.get("title"))
        if title != metadata.get("title"):
            metadata["title"] = title
        if removed:
            metadata["removed_blocks"] = [block.to_dict() for block in removed]
        if not kept:
            # everything repeats: a page of chrome only; keep the page-level text
            return dataclasses.replace(result, metadata=metadata)
        return dataclasses.replace(result, text="\n".join(kept), metadata=metadata)

    def to_json(self) -> str:
        return json.dumps(
            {
                "site": self.site,
                "pages": self.pages,
                "blocks": self.blocks,
                "affixes": self.affixes,
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Self:
        data = json.loads(raw)
        return cls(
            site=str(data["site"]),
            pages=int(data.get("pages", 0)),
            blocks={str(k): int(v) for k, v in data.get("blocks", {}).items()},
            affixes={str(k): int(v) for k, v in data.get("affixes", {}).items()},
        )


def model_path(state_dir: Path, site: str) -> Path:
    """Where a site's model lives: the store's local working state, beside the seen store."""
    return state_dir / "site-models" / f"{safe_segment(site)}.json"


def load_site_model(state_dir: Path, site: str) -> SiteModel | None:
    path = model_path(state_dir, site)
    try:
        return SiteModel.from_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        # a damaged model costs the learnt counts, never the crawl: start again cold
        logger.warning("Unreadable site model %s: starting it again", path, exc_info=True)
        return None


def save_site_model(state_dir: Path, model: SiteModel) -> None:
    write_site_model(state_dir, model.site, model.to_json())


def write_site_model(state_dir: Path, site: str, text: str) -> None:
    """Write a site's model (its `to_json`): a crash leaves the old model or the new one, and
    two writers (a periodic save still running at close) never share a temporary file."""
    # Not fsynced: the model is rebuilt from the archive (`reextract`) if it is ever lost.
    write_atomic(model_path(state_dir, site), text.encode("utf-8"), fsync=False)


def build_site_model(store: Store, site: str) -> SiteModel:
    """A site's model from the archive: each capture's stored text plus the blocks removed.

    One metadata version per capture, so re-extracted captures count once.
    """
    model = SiteModel(site)
    first: dict[tuple[str, str, str], str] = {}
    for key in store.list(f"{META_PREFIX}/{safe_segment(site)}"):
        parts = parse_meta_key(key)
        if parts is not None:
            first.setdefault(parts.capture, key)
    for key in sorted(first.values()):
        try:
            record = read_metadata(store, key)
            if not record.text_key:
                continue
            text = store.get_bytes(record.text_key).decode("utf-8")
        except (KeyError, MetadataError, UnicodeDecodeError):
            logger.debug("capture %s left out of the site model", key, exc_info=True)
            continue
        removed = getattr(record, "removed_blocks", None) or []
        lines = [*text.splitlines(), *(str(b.get("text", "")) for b in removed)]
        model.observe(lines, getattr(record, "page_title", None))
    return model
