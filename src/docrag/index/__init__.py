"""Index stage: document/chunk store (SQLite), BM25 (bm25s over the analyzer's terms) and dense vectors."""

from docrag.index.bm25 import BM25Index
from docrag.index.dense import Embedder, VectorIndex, make_embedder
from docrag.index.store import Store

__all__ = ["BM25Index", "Embedder", "Store", "VectorIndex", "make_embedder"]
