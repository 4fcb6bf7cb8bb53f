"""Index stage: document/chunk store (SQLite), BM25 (bm25s + rjieba) and dense vectors."""

from docrag.index.bm25 import BM25Index
from docrag.index.dense import Embedder, VectorIndex, make_embedder
from docrag.index.store import Store
from docrag.index.tokenize import Analyzer

__all__ = ["Analyzer", "BM25Index", "Embedder", "Store", "VectorIndex", "make_embedder"]
