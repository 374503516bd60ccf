"""Article-body quality and CPU cost of our extractor beside single extractors, same run.

Both development sets (extraction-dev, extraction-dev2) are split by publisher or site into a
tuning half and a held-out half with a stable hash (`half_of`): every page of one site falls in
the same half, so a score on the held-out half measures pages whose layouts tuning never saw.
Rules and thresholds are tuned on the tuning halves only.

Every extractor does the same job on the same decoded page: body text and title. The single
extractors are trafilatura (defaults; favor_precision without comments) and readability-lxml.

Usage: python bench/extraction.py [--shared DIR] [--sets dev,dev2] [--step N] [--show-pages]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import re
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # run as a script from anywhere: the repo root holds the packages
    sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from lxml import etree  # noqa: E402
from trafilatura.core import bare_extraction  # noqa: E402

from bench.metrics import (  # noqa: E402
    PageScore,
    Scores,
    aggregate,
    page_precision_recall,
    score_page,
)
from newsarchive.extraction.decode import decode_html  # noqa: E402
from newsarchive.extraction.documents import from_article  # noqa: E402
from newsarchive.extraction.extractor import (  # noqa: E402
    EXTRACTOR_VERSION,
    Article,
    ArticleExtractor,
    load_language_model,
)
from newsarchive.extraction.members import summary_text  # noqa: E402
from newsarchive.extraction.sitemodel import SiteModel  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

logger = logging.getLogger(__name__)

#: The repo is cloned beside shared/, which holds the dev sets (never shipped with the code).
SHARED_DATA = ROOT.parent / "shared" / "data"
#: Short name -> folder under SHARED_DATA.
DATASETS = {"dev": "extraction-dev", "dev2": "extraction-dev2"}
TUNING = "tuning"
HELD_OUT = "held-out"
HALVES = (TUNING, HELD_OUT)
ALL = "all"

# Decoded as the dev sets' READMEs say their scorer reads the pages.
_CONTENT_TYPE = "text/html; charset=utf-8"
_TITLE_TOKEN_RE = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    url: str | None
    body: bytes
    expected: str
    title: str | None = None
    #: The publisher (extraction-dev) or host (extraction-dev2) the split is made on.
    site: str = ""
    half: str = TUNING


@dataclass(frozen=True, slots=True)
class Output:
    text: str | None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class PageResult:
    score: PageScore
    #: None when the page has no expected title.
    title_ok: bool | None
    cpu_seconds: float


@dataclass(frozen=True, slots=True)
class GroupScore:
    scores: Scores
    title_accuracy: float
    cpu_ms_per_page: float


def site_of(page_id: str, entry: dict[str, Any]) -> str:
    """The split key: the publisher when named, else the URL's host, else the page itself."""
    publisher = entry.get("publisher")
    if isinstance(publisher, str) and publisher:
        return publisher
    url = entry.get("url")
    host = urlsplit(url).hostname if isinstance(url, str) else None
    if host:
        return host.removeprefix("www.")
    # Dragnet pages without a URL: their host is unknown, so each page stands alone.
    return page_id


def half_of(site: str) -> str:
    """Stable across runs, machines and Python versions (no hash randomisation)."""
    return TUNING if hashlib.sha256(site.encode("utf-8")).digest()[0] % 2 == 0 else HELD_OUT


def load_dataset(data_dir: Path) -> list[Page]:
    """A dev set's pages (raw bytes, as fetched) with their expected bodies, titles and halves."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, entry in sorted(truth.items()):
        raw = gzip.decompress((data_dir / "html" / f"{page_id}.html.gz").read_bytes())
        site = site_of(page_id, entry)
        pages.append(
            Page(
                page_id,
                entry.get("url"),
                raw,
                entry["articleBody"],
                entry.get("title"),
                site,
                half_of(site),
            )
        )
    return pages


def normalise_title(title: str | None) -> str:
    return " ".join(_TITLE_TOKEN_RE.findall(unicodedata.normalize("NFKC", title or "").casefold()))


def decoded(page: Page) -> str:
    html, _encoding = decode_html(page.body, _CONTENT_TYPE)
    return html


def ours(
    extractor: ArticleExtractor, kept: dict[str, Article | None] | None = None
) -> Callable[[Page], Output]:
    """Our extractor, page by page; each page's `Article` goes into `kept` when given."""

    def extract(page: Page) -> Output:
        article = extractor.extract(decoded(page), page.url)
        if kept is not None:
            kept[page.id] = article
        return Output(article.text, article.title) if article else Output(None)

    return extract


def with_site_models(
    pages: Iterable[Page],
    articles: dict[str, Article | None],
    page_by_page: dict[str, PageResult],
) -> dict[str, PageResult]:
    """Our output after each site's repeated-block model, as `reextract` gives it.

    `reextract` builds a site's model from every archived article of the site, then extracts
    each again with it; here the model is built from the set's pages of the same site. A site
    with fewer than `sitemodel.MIN_PAGES` pages changes nothing (the crawl's cold start). CPU is
    the page's own extraction plus its share of its site's model.
    """
    by_site: dict[str, list[Page]] = {}
    for page in pages:
        by_site.setdefault(page.site, []).append(page)
    results: dict[str, PageResult] = {}
    for site, members in by_site.items():
        start = time.process_time()
        model = SiteModel(site)
        found = {p.id: articles.get(p.id) for p in members}
        extractions = {
            key: None if article is None else from_article(article, "utf-8")
            for key, article in found.items()
        }
        for extraction in extractions.values():
            if extraction is not None:
                model.observe(extraction.text.split("\n"), extraction.metadata.get("page_title"))
        cleaned = {
            key: None if extraction is None else model.apply(extraction, learn=False)
            for key, extraction in extractions.items()
        }
        share = (time.process_time() - start) / len(members)
        for page in members:
            result = cleaned[page.id]
            title = None if result is None else result.metadata.get("title")
            results[page.id] = PageResult(
                score_page(page.expected, None if result is None else result.text),
                _title_ok(page, title),
                page_by_page[page.id].cpu_seconds + share,
            )
    return results


def _title_ok(page: Page, title: str | None) -> bool | None:
    return None if page.title is None else normalise_title(title) == normalise_title(page.title)


def trafilatura_run(**options: Any) -> Callable[[Page], Output]:
    """trafilatura with these options, text and metadata (its title), as its users call it."""

    def extract(page: Page) -> Output:
        document: Any = bare_extraction(decoded(page), url=page.url, with_metadata=True, **options)
        if document is None:
            return Output(None)
        return Output(document.text, document.title)

    return extract


def readability_run(page: Page) -> Output:
    """readability-lxml alone (the package, not the port the extractor consults)."""
    from readability import Document  # noqa: PLC0415  # a baseline only: imported when run

    html = decoded(page)
    try:
        document = Document(html)
        title = document.short_title()
    except (ValueError, TypeError):
        return Output(None)
    try:
        summary = document.summary(html_partial=True)
    except (ValueError, TypeError, etree.LxmlError):
        # readability raises its own Unparseable (a ValueError) on empty or broken pages
        return Output("", title)
    return Output(summary_text(summary), title)


def run(pages: Iterable[Page], extract: Callable[[Page], Output]) -> dict[str, PageResult]:
    results: dict[str, PageResult] = {}
    for page in pages:
        start = time.process_time()
        output = extract(page)
        cpu = time.process_time() - start
        results[page.id] = PageResult(
            score_page(page.expected, output.text), _title_ok(page, output.title), cpu
        )
    return results


def group_score(results: Iterable[PageResult]) -> GroupScore:
    items = list(results)
    titled = [r.title_ok for r in items if r.title_ok is not None]
    return GroupScore(
        aggregate(r.score for r in items),
        sum(titled) / len(titled) if titled else 0.0,
        1000 * sum(r.cpu_seconds for r in items) / len(items) if items else 0.0,
    )


def groups(pages: list[Page]) -> dict[str, list[str]]:
    """Page ids of the whole set and of each half."""
    ids = {ALL: [p.id for p in pages]}
    for half in HALVES:
        ids[half] = [p.id for p in pages if p.half == half]
    return ids


def _warm(extractor: ArticleExtractor) -> ArticleExtractor:
    # A crawl worker loads the language model once, on its first page that declares no
    # language: a one-off per process, not billed here to that page.
    load_language_model()
    return extractor


MINE = f"newsarchive {EXTRACTOR_VERSION}"
#: Ours after each site's model, built from all the set's pages of that site (as `reextract`),
#: is the row of ours with this suffix.
SITE_MODELS = " + site models"
MINE_SITE_MODELS = f"{MINE}{SITE_MODELS}"


def extractors(
    kept: dict[str, Article | None] | None = None,
) -> dict[str, Callable[[Page], Output]]:
    """Name -> extractor; ours last. The single extractors are the baselines of the targets."""
    return {
        f"trafilatura {trafilatura.__version__} defaults": trafilatura_run(),
        f"trafilatura {trafilatura.__version__} favor_precision": trafilatura_run(
            favor_precision=True, include_comments=False
        ),
        "readability-lxml": readability_run,
        MINE: ours(_warm(ArticleExtractor()), kept),
    }


def format_table(name: str, pages: list[Page], table: dict[str, dict[str, GroupScore]]) -> str:
    sizes = {group: len(ids) for group, ids in groups(pages).items()}
    sites = len({p.site for p in pages})
    head = f"{name}: {len(pages)} pages, {sites} sites; " + ", ".join(
        f"{group} {count}" for group, count in sizes.items()
    )
    header = f"{'extractor':<40} {'half':<8} {'P':>6} {'R':>6} {'F1':>6} {'title':>6} {'CPU ms':>7}"
    lines = [head, header, "-" * len(header)]
    for group in (ALL, *HALVES):
        for extractor, scores in table.items():
            g = scores[group]
            lines.append(
                f"{extractor:<40} {group:<8} {g.scores.precision:>6.3f} {g.scores.recall:>6.3f} "
                f"{g.scores.f1:>6.3f} {g.title_accuracy:>6.3f} {g.cpu_ms_per_page:>7.1f}"
            )
    return "\n".join(lines)


def targets(
    tables: dict[str, dict[str, dict[str, GroupScore]]], mine: str, reference: str
) -> list[str]:
    """The issue's targets, each with its figures and whether it is met."""
    lines = []
    for name, table in tables.items():
        for half in HALVES:
            singles = {k: v[half].scores.f1 for k, v in table.items() if not k.startswith(mine)}
            best = max(singles, key=lambda k: singles[k])
            f1 = table[mine][half].scores.f1
            ok = f1 >= singles[best] + 0.01
            lines.append(
                f"{name} {half}: F1 {f1:.3f} vs best single {singles[best]:.3f} ({best}) + 0.01: "
                f"{'met' if ok else 'NOT met'}"
            )
    for name, floor in (("dev", 0.965), ("dev2", 0.955)):
        if name in tables:
            f1 = tables[name][mine][ALL].scores.f1
            lines.append(
                f"{name} all: F1 {f1:.3f} >= {floor}: {'met' if f1 >= floor else 'NOT met'}"
            )
    if "dev" in tables:
        acc = tables["dev"][mine][ALL].title_accuracy
        lines.append(f"dev title accuracy {acc:.3f} >= 0.95: {'met' if acc >= 0.95 else 'NOT met'}")
    models = f"{mine}{SITE_MODELS}"
    for name, table in tables.items():
        if models in table:
            lines.append(
                f"{name} with site models (reextract over each site's pages): F1 "
                + ", ".join(f"{g} {table[models][g].scores.f1:.3f}" for g in (ALL, *HALVES))
            )
    cpu = sum(t[mine][ALL].cpu_ms_per_page * t[mine][ALL].scores.pages for t in tables.values())
    ref = sum(
        t[reference][ALL].cpu_ms_per_page * t[mine][ALL].scores.pages for t in tables.values()
    )
    ratio = cpu / ref if ref else 0.0
    lines.append(
        f"CPU ratio (ours / {reference}, all pages): {ratio:.2f}x <= 1.3: "
        f"{'met' if ratio <= 1.3 else 'NOT met'}"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED_DATA, help="folder of the dev sets")
    parser.add_argument("--sets", default="dev,dev2", help="dev sets to run: dev, dev2 or both")
    parser.add_argument("--step", type=int, default=1, help="every Nth page (a quick subset)")
    parser.add_argument("--show-pages", action="store_true", help="per-page scores, worst first")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown set(s) {unknown}: choose from {sorted(DATASETS)}")
    datasets = {n: args.shared / DATASETS[n] for n in names}
    missing = [str(d) for d in datasets.values() if not (d / "ground-truth.json").is_file()]
    if missing:
        sys.stderr.write(f"error: dev set(s) not found (no ground-truth.json): {missing}\n")
        return 2
    # trafilatura and readability log every discarded page; it is noise in a benchmark.
    logging.basicConfig(level=logging.CRITICAL)
    articles: dict[str, Article | None] = {}
    runs = extractors(articles)
    mine = MINE
    reference = next(name for name in runs if name.endswith("favor_precision"))
    out: list[str] = []
    tables: dict[str, dict[str, dict[str, GroupScore]]] = {}
    for name, data_dir in datasets.items():
        pages = load_dataset(data_dir)[:: max(1, args.step)]
        # Warm-up so one-off imports and caches are not billed to the first extractor measured.
        for extract in runs.values():
            for page in pages[:3]:
                extract(page)
        # Interleaved by page, so load from other processes on the machine falls evenly.
        results: dict[str, dict[str, PageResult]] = {k: {} for k in runs}
        for page in pages:
            for key, extract in runs.items():
                results[key].update(run([page], extract))
        results[MINE_SITE_MODELS] = with_site_models(pages, articles, results[mine])
        ids = groups(pages)
        tables[name] = {
            key: {g: group_score(res[i] for i in members) for g, members in ids.items()}
            for key, res in results.items()
        }
        out.append(format_table(f"{name} ({data_dir.name})", pages, tables[name]))
        if args.show_pages:
            out.append(_worst_pages(pages, results[mine], results[reference]))
    out.append("\n".join(targets(tables, mine, reference)))
    sys.stdout.write("\n\n".join(out) + "\n")
    return 0


def _worst_pages(
    pages: list[Page], mine: dict[str, PageResult], reference: dict[str, PageResult]
) -> str:
    rows = []
    for page in pages:
        p, r = page_precision_recall(mine[page.id].score)
        bp, br = page_precision_recall(reference[page.id].score)
        rows.append((min(p or 0, r or 0), page, p, r, bp, br, mine[page.id].title_ok))
    out = ["page  half  ours P/R  favor_precision P/R  title"]
    for _, page, p, r, bp, br, title_ok in sorted(rows, key=lambda row: row[0]):
        out.append(
            f"{page.id:<45} {page.half:<8} {p or 0:.2f}/{r or 0:.2f}  {bp or 0:.2f}/{br or 0:.2f}"
            f"  {'' if title_ok is None else title_ok}"
        )
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
