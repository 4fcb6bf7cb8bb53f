"""Rank fusion of several retrievers' ranked lists (chunk id, score), best first."""

from __future__ import annotations

import numpy as np

Ranked = list[tuple[int, float]]


def reciprocal_rank_fusion(lists: list[Ranked], k: int = 60, weights: list[float] | None = None) -> Ranked:
    """score(d) = sum_i w_i / (k + rank_i(d)), ranks 1-based (Cormack et al., 2009)."""
    weights = weights or [1.0] * len(lists)
    fused: dict[int, float] = {}
    for ranked, w in zip(lists, weights):
        for rank, (cid, _) in enumerate(ranked, start=1):
            fused[cid] = fused.get(cid, 0.0) + w / (k + rank)
    return sorted(fused.items(), key=lambda x: -x[1])


def peak(ranked: Ranked, depth: int = 10) -> float:
    """How far a list's best score stands above the rest of its top ``depth``, in their standard deviations: a list
    whose first hit stands out is surer of it. Scale-free, so BM25 scores and cosines compare."""
    scores = np.array([s for _, s in ranked[:depth]], dtype=np.float64)
    if len(scores) < 3:
        return 0.0
    rest = scores[1:]
    return float(max(scores[0] - rest.mean(), 0.0) / (rest.std() + 1e-9))


def peak_weighted_rrf(lists: list[Ranked], k: int = 60, weights: list[float] | None = None) -> Ranked:
    """RRF with each list's weight scaled by its share of the lists' peaks (``peak``), so the list surer of its top
    hit counts more for this query (a list without a peak, flat or too short, then counts for nothing); when no list
    has a peak the given weights stand. Written here because no fusion library weighs lists per query by their own
    score shape."""
    weights = weights or [1.0] * len(lists)
    peaks = [peak(r) for r in lists]
    total = sum(peaks)
    if total > 0:
        weights = [w * len(lists) * p / total for w, p in zip(weights, peaks)]
    return reciprocal_rank_fusion(lists, k, weights)


def weighted_fusion(lists: list[Ranked], weights: list[float]) -> Ranked:
    """score(d) = sum_i w_i * minmax_i(score_i(d)); a list that misses d contributes 0."""
    fused: dict[int, float] = {}
    for ranked, w in zip(lists, weights):
        if not ranked:
            continue
        scores = [s for _, s in ranked]
        lo, hi = min(scores), max(scores)
        span = hi - lo
        for cid, s in ranked:
            norm = (s - lo) / span if span > 0 else 1.0
            fused[cid] = fused.get(cid, 0.0) + w * norm
    return sorted(fused.items(), key=lambda x: -x[1])
