"""Vector search over the L2-normalised vectors of an embedder (``docrag.models.embed``): exact (brute-force inner
product with BLAS) up to ``hnsw_threshold`` vectors and HNSW beyond it.
"""

from __future__ import annotations

import logging
import os
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class VectorIndex:
    """Chunk ids and their normalised vectors; exact search, or HNSW above a size threshold."""

    def __init__(self, chunk_ids: np.ndarray, vectors: np.ndarray, hnsw_threshold: int = 50_000,
                 cache_dir: Path | None = None, save: bool = False):
        """Above ``hnsw_threshold`` vectors an HNSW graph is loaded from ``cache_dir`` or built; ``save`` (an index's
        writer only: readers never write) keeps a graph built here in ``cache_dir``."""
        self.chunk_ids = chunk_ids
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._hnsw = None
        if len(chunk_ids) > hnsw_threshold:
            cache = None
            if cache_dir is not None:  # keyed by the exact id set, so a stale graph is never loaded
                cache = Path(cache_dir) / f"hnsw-{len(chunk_ids)}-{zlib.crc32(chunk_ids.tobytes()):08x}.bin"
            self._hnsw = _hnsw_index(self.vectors, cache, save)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of every vector to the query (aligned with ``chunk_ids``)."""
        # One BLAS thread: a matrix-vector product is memory-bound anyway, and OpenBLAS threads that
        # spin after it starve the embedder's OpenMP threads on the next query (measured on 2 cores:
        # query embedding 100 ms instead of 11 ms).
        with _blas_controller().limit(limits=1, user_api="blas"):
            return self.vectors @ query.astype(np.float32)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (chunk ids, similarities). ``allowed``: boolean mask over ``chunk_ids``."""
        n = len(self.chunk_ids)
        if n == 0 or k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if self._hnsw is not None and allowed is None:
            labels, dist = self._hnsw.knn_query(query.astype(np.float32), k=min(k, n))
            return self.chunk_ids[labels[0]], 1.0 - dist[0]
        sims = self.scores(query)
        if allowed is not None:
            sims = np.where(allowed, sims, -np.inf)
        top = top_k(sims, k)
        top = top[np.isfinite(sims[top])]
        return self.chunk_ids[top], sims[top]


@lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first (argpartition, then sort only those)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def _hnsw_index(vectors: np.ndarray, cache: Path | None, save: bool):
    try:
        import hnswlib
    except ImportError:
        log.warning("%d vectors: install docrag[ann] (hnswlib) for faster search; using exact search",
                    len(vectors))
        return None
    index = hnswlib.Index(space="ip", dim=vectors.shape[1])
    if cache is not None and cache.exists():
        index.load_index(str(cache), max_elements=len(vectors))
    else:
        index.init_index(max_elements=len(vectors), ef_construction=200, M=32)
        index.add_items(vectors, np.arange(len(vectors)))
        if cache is not None and save:
            for old in cache.parent.glob("hnsw-*.bin"):
                old.unlink()
            tmp = cache.with_suffix(f".tmp-{os.getpid()}")
            index.save_index(str(tmp))
            os.replace(tmp, cache)
    index.set_ef(128)
    return index
