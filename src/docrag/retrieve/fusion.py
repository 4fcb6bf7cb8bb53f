"""Rank fusion of several retrievers' ranked lists (chunk id, score), best first."""

from __future__ import annotations

Ranked = list[tuple[int, float]]


def reciprocal_rank_fusion(lists: list[Ranked], k: int = 60, weights: list[float] | None = None) -> Ranked:
    """score(d) = sum_i w_i / (k + rank_i(d)), ranks 1-based (Cormack et al., 2009)."""
    weights = weights or [1.0] * len(lists)
    fused: dict[int, float] = {}
    for ranked, w in zip(lists, weights):
        for rank, (cid, _) in enumerate(ranked, start=1):
            fused[cid] = fused.get(cid, 0.0) + w / (k + rank)
    return sorted(fused.items(), key=lambda x: -x[1])


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
