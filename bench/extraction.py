"""Article-body quality and CPU cost of our extractor against plain trafilatura, same run.

Usage: python bench/extraction.py [--data DIR] [--show-pages]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # run as a script from anywhere: the repo root holds the packages
    sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from bench.metrics import PageScore, Scores, aggregate, page_precision_recall, score_page  # noqa: E402
from newsarchive.extraction import EXTRACTOR_VERSION, ArticleExtractor, decode_html  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "extraction-dev"


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    url: str | None
    body: bytes
    expected: str


@dataclass(frozen=True, slots=True)
class RunResult:
    name: str
    scores: Scores
    cpu_ms_per_page: float
    pages: dict[str, PageScore]


def load_dataset(data_dir: Path) -> list[Page]:
    """The dev set's pages (raw bytes, as fetched) with their expected bodies."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, entry in sorted(truth.items()):
        raw = gzip.decompress((data_dir / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append(Page(page_id, entry.get("url"), raw, entry["articleBody"]))
    return pages


def run(name: str, pages: list[Page], extract: Callable[[Page], str | None]) -> RunResult:
    scores: dict[str, PageScore] = {}
    cpu = 0.0
    for page in pages:
        start = time.process_time()
        predicted = extract(page)
        cpu += time.process_time() - start
        scores[page.id] = score_page(page.expected, predicted)
    return RunResult(name, aggregate(scores.values()), 1000 * cpu / len(pages), scores)


def ours(extractor: ArticleExtractor) -> Callable[[Page], str | None]:
    def extract(page: Page) -> str | None:
        html, _encoding = decode_html(page.body, "text/html; charset=utf-8")
        article = extractor.extract(html, page.url)
        return article.text if article else None

    return extract


def plain_trafilatura(page: Page) -> str | None:
    # The baseline gets the same decoded str: only extraction is compared.
    html, _encoding = decode_html(page.body, "text/html; charset=utf-8")
    return trafilatura.extract(html)


def format_table(results: list[RunResult]) -> str:
    header = (
        f"{'extractor':<28} {'precision':>9} {'recall':>7} {'F1':>6} {'accuracy':>8} "
        f"{'CPU ms/page':>11}"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        s = result.scores
        lines.append(
            f"{result.name:<28} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} "
            f"{s.accuracy:>8.3f} {result.cpu_ms_per_page:>11.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="extraction-dev folder")
    parser.add_argument("--show-pages", action="store_true", help="per-page scores, worst first")
    args = parser.parse_args(argv)
    data_dir: Path = args.data
    if not (data_dir / "ground-truth.json").is_file():
        sys.stderr.write(
            f"error: dev set not found: {data_dir} has no ground-truth.json "
            "(pass --data DIR pointing at extraction-dev)\n"
        )
        return 2
    # trafilatura logs every discarded page at WARNING; it is noise in a benchmark.
    logging.basicConfig(level=logging.ERROR)
    pages = load_dataset(data_dir)
    extractor = ArticleExtractor()
    # Warm-up so one-off imports and caches are not billed to the first extractor measured.
    for page in pages[:3]:
        ours(extractor)(page)
        plain_trafilatura(page)
    baseline = run("trafilatura 2.3.1 defaults", pages, plain_trafilatura)
    mine = run(f"newsarchive {EXTRACTOR_VERSION}", pages, ours(extractor))
    out = [f"{len(pages)} pages from {data_dir}", format_table([baseline, mine])]
    out.append(
        f"CPU ratio (ours / defaults): {mine.cpu_ms_per_page / baseline.cpu_ms_per_page:.2f}x"
    )
    if args.show_pages:
        rows = []
        for page_id, page_score in mine.pages.items():
            p, r = page_precision_recall(page_score)
            bp, br = page_precision_recall(baseline.pages[page_id])
            rows.append((min(p or 0, r or 0), page_id, p, r, bp, br))
        out.append("page  ours P/R  defaults P/R")
        for _, page_id, p, r, bp, br in sorted(rows):
            out.append(f"{page_id:<45} {p or 0:.2f}/{r or 0:.2f}  {bp or 0:.2f}/{br or 0:.2f}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
