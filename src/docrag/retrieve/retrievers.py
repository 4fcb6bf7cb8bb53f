"""Retrievers, picked by name: ``search(query, k, where) -> [(chunk_id, score)]``, best first.

``where`` is an optional ``Filter`` (data); the in-memory retrievers here ask the storage which chunk ids it
admits (``ids_for``), a backend that searches itself (Milvus) translates it into its own expression.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from docrag.index.bm25 import BM25Index
from docrag.index.vectors import VectorIndex, top_k
from docrag.models.embed import Embedder
from docrag.retrieve.fusion import Ranked, peak_weighted_rrf, reciprocal_rank_fusion, weighted_fusion
from docrag.retrieve.glossary import Glossary
from docrag.text.analyzer import Analyzer
from docrag.types import Filter

IdsFor = Callable[[Filter], np.ndarray]  # the chunk ids a filter admits (ascending)


class BM25Retriever:
    """BM25 over the analyzed query; with a glossary, the terms it brings score too, ``glossary_weight``
    times as much as the query's own."""

    name = "bm25"

    def __init__(self, index: BM25Index, analyzer: Analyzer, glossary: Glossary | None = None,
                 glossary_weight: float = 1.0, *, ids_for: IdsFor | None = None):
        self.index, self.analyzer, self.ids_for = index, analyzer, ids_for
        self.glossary, self.glossary_weight = glossary, glossary_weight

    def search(self, query: str, k: int, where: Filter | None = None) -> Ranked:
        tokens = self.analyzer.tokenize(query)
        scores = self.index.scores(tokens)
        brought = self.glossary.expand(tokens) if self.glossary else []
        if brought and self.glossary_weight:
            scores = scores + self.glossary_weight * self.index.scores(brought)
        if where:
            scores = np.where(np.isin(self.index.chunk_ids, _admitted(self.ids_for, where)), scores, 0.0)
        top = top_k(scores, k)
        top = top[scores[top] > 0]
        return [(int(self.index.chunk_ids[i]), float(scores[i])) for i in top]


class StoreBM25Retriever(BM25Retriever):
    """BM25 scored by a storage that searches itself (Milvus): ``search_terms(term -> weight, k, where)``; the
    glossary's terms weigh ``glossary_weight`` each, as in ``BM25Retriever``."""

    def __init__(self, search_terms: Callable[[dict[str, float], int, Filter | None], Ranked], analyzer: Analyzer,
                 glossary: Glossary | None = None, glossary_weight: float = 1.0):
        self.search_terms, self.analyzer = search_terms, analyzer
        self.glossary, self.glossary_weight = glossary, glossary_weight

    def search(self, query: str, k: int, where: Filter | None = None) -> Ranked:
        weights: dict[str, float] = {}
        tokens = self.analyzer.tokenize(query)
        for t in tokens:
            weights[t] = weights.get(t, 0.0) + 1.0
        for t in self.glossary.expand(tokens) if self.glossary and self.glossary_weight else ():
            weights[t] = weights.get(t, 0.0) + self.glossary_weight
        return self.search_terms(weights, k, where)


class DenseRetriever:
    name = "dense"

    def __init__(self, index: VectorIndex, embedder: Embedder, *, ids_for: IdsFor | None = None):
        self.index, self.embedder, self.ids_for = index, embedder, ids_for
        self._last: tuple[str, np.ndarray] | None = None  # routed searches ask the same query several times

    def _query_vector(self, query: str) -> np.ndarray:
        last = self._last
        if last is None or last[0] != query:
            last = self._last = (query, self.embedder.embed_query(query))
        return last[1]

    def search(self, query: str, k: int, where: Filter | None = None) -> Ranked:
        if len(self.index) == 0:
            return []
        mask = np.isin(self.index.chunk_ids, _admitted(self.ids_for, where)) if where else None
        ids, sims = self.index.search(self._query_vector(query), k, mask)
        return [(int(i), float(s)) for i, s in zip(ids, sims)]


class StoreDenseRetriever(DenseRetriever):
    """Dense retrieval by a storage that searches its vectors itself (Milvus): ``search_vector(vector, k, where)``,
    the filter translated by the storage; nothing is loaded into this process but the embedder."""

    def __init__(self, search_vector: Callable[[np.ndarray, int, Filter | None], Ranked], embedder: Embedder):
        self.search_vector, self.embedder = search_vector, embedder
        self._last = None

    def search(self, query: str, k: int, where: Filter | None = None) -> Ranked:
        return self.search_vector(self._query_vector(query), k, where)


class HybridRetriever:
    """Runs BM25 and dense retrieval, ``candidates`` hits each, and fuses them (RRF, RRF weighted by each list's
    peak, or min-max weighted scores)."""

    name = "hybrid"

    def __init__(self, bm25: BM25Retriever, dense: DenseRetriever | None, fusion: str = "rrf", rrf_k: int = 60,
                 weights: tuple[float, float] = (0.5, 0.5), candidates: int = 100):
        self.bm25, self.dense = bm25, dense
        self.fusion, self.rrf_k, self.weights, self.candidates = fusion, rrf_k, weights, candidates

    def search(self, query: str, k: int, where: Filter | None = None) -> Ranked:
        n = max(k, self.candidates)
        lists = [self.bm25.search(query, n, where)]
        if self.dense is not None:
            lists.append(self.dense.search(query, n, where))
        weights = list(self.weights[: len(lists)])
        if self.fusion == "rrf":
            fused = reciprocal_rank_fusion(lists, self.rrf_k, weights)
        elif self.fusion == "rrf-peak":
            fused = peak_weighted_rrf(lists, self.rrf_k, weights)
        else:
            fused = weighted_fusion(lists, weights)
        return fused[:k]


def _admitted(ids_for: IdsFor | None, where: Filter) -> np.ndarray:
    if ids_for is None:
        raise ValueError("a filtered search needs the storage's ids_for")
    return ids_for(where)
