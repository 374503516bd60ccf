"""Article-body metric of the extraction dev set (4-token shingle overlap, per-page averages)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

# The dev set's README defines tokens as the Unicode regex \w+ (str patterns are Unicode).
_TOKEN_RE = re.compile(r"\w+")
SHINGLE_SIZE = 4


def tokenize(text: str | None) -> list[str]:
    return _TOKEN_RE.findall(text or "")


def shingles(tokens: list[str], n: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    """Multiset of n-token shingles; 1..n-1 tokens give one shorter shingle, none give none."""
    if not tokens:
        return Counter()
    if len(tokens) < n:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


@dataclass(frozen=True, slots=True)
class PageScore:
    tp: float
    fp: float
    fn: float
    exact: bool


def score_page(expected: str | None, predicted: str | None) -> PageScore:
    """tp/fp/fn of one page, normalised by their sum so every page weighs the same."""
    exp_tokens, pred_tokens = tokenize(expected), tokenize(predicted)
    exp, pred = shingles(exp_tokens), shingles(pred_tokens)
    tp = sum((exp & pred).values())
    fp = sum((pred - exp).values())
    fn = sum((exp - pred).values())
    total = tp + fp + fn
    if total:
        return PageScore(tp / total, fp / total, fn / total, exp_tokens == pred_tokens)
    return PageScore(0.0, 0.0, 0.0, exp_tokens == pred_tokens)


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    f1: float
    accuracy: float
    pages: int


def page_precision_recall(page: PageScore) -> tuple[float | None, float | None]:
    """Per-page precision and recall; None where undefined (nothing predicted/expected)."""
    if page.tp == page.fp == page.fn == 0:
        # Both texts empty: the README counts that as a perfect page.
        return 1.0, 1.0
    precision = page.tp / (page.tp + page.fp) if page.tp + page.fp > 0 else None
    recall = page.tp / (page.tp + page.fn) if page.tp + page.fn > 0 else None
    return precision, recall


def aggregate(pages: Iterable[PageScore]) -> Scores:
    page_list = list(pages)
    precisions: list[float] = []
    recalls: list[float] = []
    for page in page_list:
        p, r = page_precision_recall(page)
        if p is not None:
            precisions.append(p)
        if r is not None:
            recalls.append(r)
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(p.exact for p in page_list) / len(page_list) if page_list else 0.0
    return Scores(precision, recall, f1, accuracy, len(page_list))


def evaluate(expected: dict[str, str], predicted: dict[str, str | None]) -> Scores:
    """Score predictions against expectations, keyed by page id (missing predictions are empty)."""
    return aggregate(score_page(expected[key], predicted.get(key)) for key in expected)
