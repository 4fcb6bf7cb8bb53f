"""Reranking of the fused candidates by a reranker (``docrag.models.rerank``), which scores (query, passage) pairs.
``rerank()`` applies the candidate and time budgets and merges the scores.

Merge rule: over the candidates that were scored, the reranker score and the fusion score are each
min-max scaled to [0, 1] and combined as ``weight * rerank + (1 - weight) * fusion``; candidates left
unscored by the time budget keep their fusion order after all scored ones.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from docrag.models.rerank import Reranker
from docrag.types import Hit


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min() if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


def rerank(reranker: Reranker, query: str, hits: list[Hit], k: int, *, batch_size: int = 16,
           time_budget: float | None = None, weight: float = 0.8) -> list[Hit]:
    """Score ``hits`` (best fusion first) in batches until done or ``time_budget`` seconds pass, merge
    with the fusion score (module docstring) and return the top k. Each hit keeps its fusion score in
    ``scores['fusion']`` and, if scored, the raw reranker score in ``scores['rerank']``."""
    if not hits:
        return []
    t0 = time.perf_counter()
    raw: list[float] = []
    for start in range(0, len(hits), batch_size):
        if start and time_budget is not None and time.perf_counter() - t0 > time_budget:
            break
        raw += list(reranker.score(query, [h.text for h in hits[start:start + batch_size]]))
    scored, rest = hits[: len(raw)], hits[len(raw):]
    merged = weight * _minmax(np.asarray(raw, float)) + (1 - weight) * _minmax(np.array([h.score for h in scored]))
    order = np.argsort(-merged, kind="stable")
    out = [replace(scored[i], score=float(merged[i]), scores={**scored[i].scores, "fusion": scored[i].score,
                                                               "rerank": float(raw[i])}) for i in order]
    # unscored hits rank after every scored one; score 0 keeps ``score`` consistent with that order
    out += [replace(h, score=0.0, scores={**h.scores, "fusion": h.score}) for h in rest]
    return out[:k]
