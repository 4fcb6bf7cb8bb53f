"""Retrievers, picked by name: ``search(query, k, allowed) -> [(chunk_id, score)]``, best first.

``allowed`` is an optional array of chunk ids a metadata filter admits.
"""

from __future__ import annotations

import numpy as np

from docrag.index.bm25 import BM25Index
from docrag.index.dense import Embedder, VectorIndex, top_k
from docrag.index.tokenize import Analyzer
from docrag.retrieve.fusion import Ranked, reciprocal_rank_fusion, weighted_fusion
from docrag.retrieve.glossary import Glossary


class BM25Retriever:
    """BM25 over the analyzed query; with a glossary, the terms it brings score too, ``glossary_weight``
    times as much as the query's own."""

    name = "bm25"

    def __init__(self, index: BM25Index, analyzer: Analyzer, glossary: Glossary | None = None,
                 glossary_weight: float = 1.0):
        self.index, self.analyzer = index, analyzer
        self.glossary, self.glossary_weight = glossary, glossary_weight

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> Ranked:
        tokens = self.analyzer.tokenize(query)
        scores = self.index.scores(tokens)
        brought = self.glossary.expand(tokens) if self.glossary else []
        if brought and self.glossary_weight:
            scores = scores + self.glossary_weight * self.index.scores(brought)
        if allowed is not None:
            scores = np.where(np.isin(self.index.chunk_ids, allowed), scores, 0.0)
        top = top_k(scores, k)
        top = top[scores[top] > 0]
        return [(int(self.index.chunk_ids[i]), float(scores[i])) for i in top]


class DenseRetriever:
    name = "dense"

    def __init__(self, index: VectorIndex, embedder: Embedder):
        self.index, self.embedder = index, embedder
        self._last: tuple[str, np.ndarray] | None = None  # routed searches ask the same query several times

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> Ranked:
        if len(self.index) == 0:
            return []
        if self._last is None or self._last[0] != query:
            self._last = (query, self.embedder.embed_query(query))
        mask = None if allowed is None else np.isin(self.index.chunk_ids, allowed)
        ids, sims = self.index.search(self._last[1], k, mask)
        return [(int(i), float(s)) for i, s in zip(ids, sims)]


class HybridRetriever:
    """Runs BM25 and dense retrieval, ``candidates`` hits each, and fuses them (RRF or weighted)."""

    name = "hybrid"

    def __init__(self, bm25: BM25Retriever, dense: DenseRetriever | None, fusion: str = "rrf", rrf_k: int = 60,
                 weights: tuple[float, float] = (0.5, 0.5), candidates: int = 100):
        self.bm25, self.dense = bm25, dense
        self.fusion, self.rrf_k, self.weights, self.candidates = fusion, rrf_k, weights, candidates

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> Ranked:
        n = max(k, self.candidates)
        lists = [self.bm25.search(query, n, allowed)]
        if self.dense is not None:
            lists.append(self.dense.search(query, n, allowed))
        weights = list(self.weights[: len(lists)])
        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion(lists, self.rrf_k, weights)
        else:
            fused = weighted_fusion(lists, weights)
        return fused[:k]
