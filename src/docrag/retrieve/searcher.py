"""The search pipeline of an index: route → retrieve → fuse → collapse → rerank → expand.

Each step is a component of its own in ``docrag.retrieve`` (``RoutedRetriever``, the retrievers and their fusion,
``distinct_hits``, ``rerank``, ``GraphExpander``); the searcher builds them from the configuration and the shared
``Resources`` and runs them in order. Safe to call from several threads at once.
"""

from __future__ import annotations

import threading
import time
from typing import cast

from docrag.config import MODES
from docrag.errors import ConfigError, IndexStateError, QueryError
from docrag.index.storage import SearchingStorage
from docrag.models.rerank import Reranker, make_reranker
from docrag.parse import FILE_TYPES
from docrag.parse.normalize import normalize
from docrag.resources import Resources
from docrag.retrieve.collapse import distinct_hits
from docrag.retrieve.graph import GraphExpander
from docrag.retrieve.image import ImageFusion, ImageRetriever
from docrag.retrieve.rerank import rerank
from docrag.retrieve.retrievers import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    StoreBM25Retriever,
    StoreDenseRetriever,
)
from docrag.retrieve.routing import RoutedRetriever
from docrag.types import Filter, Hit


class Searcher:
    def __init__(self, resources: Resources):
        self.resources = resources
        self.config = resources.config
        self._rerankers: dict[str, Reranker | None] = {}
        self._lock = threading.Lock()

    def retriever(self, mode: str | None = None):
        """The retriever a search mode names, over the current generation's indexes."""
        mode = mode or self.config.retrieve.mode
        if mode not in MODES:
            raise ConfigError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        res, r = self.resources, self.config.retrieve
        bm25 = self._bm25()
        if mode == "bm25":
            return bm25
        if mode == "dense":
            if not res.has_vectors():
                raise IndexStateError(f"{res.path}: no dense vectors yet (run `docrag ingest` without --no-dense)")
            return self._with_images(self._dense())
        dense = self._dense() if res.has_vectors() else None
        return self._with_images(
            HybridRetriever(bm25, dense, r.fusion, r.rrf_k, (r.bm25_weight, r.dense_weight), r.candidates))

    def _bm25(self) -> BM25Retriever:
        """BM25 by bm25s in this process, or by Milvus (``index.milvus_bm25``)."""
        res, r, scorer = self.resources, self.config.retrieve, self.config.index.milvus_bm25
        if self.config.index.backend != "milvus" or scorer == "docrag":
            return BM25Retriever(res.bm25(), res.analyzer, res.glossary(), r.glossary_weight, ids_for=res.chunk_ids)
        store = cast(SearchingStorage, res.store)
        if scorer == "sparse":
            return StoreBM25Retriever(store.bm25_sparse_search, res.analyzer, res.glossary(), r.glossary_weight)
        # Milvus's BM25 function takes text: each term as often as it counts (a glossary's terms once)
        return StoreBM25Retriever(
            lambda weights, k, where: store.bm25_search(
                [t for t, w in weights.items() for _ in range(max(1, round(w)))], k, where),
            res.analyzer, res.glossary(), r.glossary_weight)

    def _dense(self) -> DenseRetriever:
        """Dense retrieval over the vectors loaded into this process, or searched by Milvus (``index.milvus_dense``)."""
        res = self.resources
        if self.config.index.backend == "milvus" and self.config.index.milvus_dense == "milvus":
            return StoreDenseRetriever(cast(SearchingStorage, res.store).dense_search, res.embedder())
        return DenseRetriever(res.vectors(), res.embedder(), ids_for=res.chunk_ids)

    def _with_images(self, retriever):
        """With figure image vectors (index.image_embedder), the figure-image search fused in."""
        figures = self.resources.figures
        vectors = figures.vectors()
        if vectors is None:
            return retriever
        r = self.config.retrieve
        images = ImageRetriever(vectors, figures.embedder(), ids_for=self.resources.chunk_ids)
        return ImageFusion(retriever, images, r.rrf_k, r.image_weight, r.candidates, r.image_min_similarity)

    def reranker(self, spec: str | Reranker | None = None) -> Reranker | None:
        """The reranker a spec (default: config ``rerank.model``) names, loaded once."""
        if isinstance(spec, Reranker):
            return spec
        spec = self.config.rerank.model if spec is None else spec
        with self._lock:
            if spec not in self._rerankers:
                self._rerankers[spec] = make_reranker(spec, self.config)
            return self._rerankers[spec]

    def search(self, query: str, k: int = 5, mode: str | None = None, where: Filter | None = None,
               rerank_spec: str | Reranker | None = None) -> tuple[list[Hit], dict[str, float]]:
        """Top-k hits for a query and the seconds each stage took (``load``: indexes and models read on first
        use, which a long-lived process pays once)."""
        t0 = time.perf_counter()
        q = normalize(query or "").strip()
        if not q:
            raise QueryError("empty query")
        if k <= 0:
            raise QueryError(f"k must be positive, got {k}")
        unknown = set(where.file_types if where else ()) - set(FILE_TYPES)
        if unknown:
            raise QueryError(f"unknown file type(s) {', '.join(sorted(unknown))}; known: {', '.join(FILE_TYPES)}")
        res = self.resources
        loading = res.loading_seconds()
        reranker = self.reranker(rerank_spec)
        rc = self.config.rerank
        pool = max(k, rc.candidates) if reranker else k
        r = self.config.retrieve
        mode = mode or r.mode
        tables_by_bm25 = r.table_search == "bm25" and mode in ("hybrid", "graph")
        retriever = RoutedRetriever(self.retriever(mode), res.router(), r, res.chunk_ids,
                                    table_retriever=self._bm25() if tables_by_bm25 else None)
        n = 2 * pool
        while True:  # chunks that merge into one hit (a table's, a parent's, duplicates) can leave fewer than pool
            ranked = retriever.search(q, n, where or None)
            hits = distinct_hits(res.store, ranked)
            if len(hits) >= pool or len(ranked) < n:
                break
            n *= 4
        load = res.loading_seconds() - loading
        timings = {"retrieve": time.perf_counter() - t0 - load, **({"load": load} if load else {})}
        if reranker is None:
            hits = hits[:k]
        else:
            t1 = time.perf_counter()
            budget = rc.time_budget_ms / 1000 if rc.time_budget_ms else None
            hits = rerank(reranker, q, hits[:pool], k, batch_size=rc.batch_size, time_budget=budget, weight=rc.weight)
            timings["rerank"] = time.perf_counter() - t1
        if mode == "graph":
            # the final top k (reranked or not) bring their tables, figures and neighbours, measured like chunks
            t2 = time.perf_counter()
            expander = GraphExpander(res.store, r.graph_token_budget,
                                     count_tokens=res.splitter.length)
            hits = expander.expand(hits)
            timings["graph"] = time.perf_counter() - t2
        return hits, timings
