"""Index stage: document/chunk store (SQLite), BM25 (bm25s over the analyzer's terms) and vector search."""

from docrag.index.bm25 import BM25Index
from docrag.index.store import Store
from docrag.index.vectors import VectorIndex

__all__ = ["BM25Index", "Store", "VectorIndex"]
