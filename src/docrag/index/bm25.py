"""BM25 over chunk texts with bm25s (Lucene variant: k1=1.5, b=0.75), mapped to chunk ids.

The index is derived data: it is rebuilt from the store after every change (bm25s indexes ~4M
Chinese characters in seconds) and saved to a directory named after the store generation it
reflects, written under a temporary name and renamed into place, so a reader never sees a
half-written index.
"""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

from docrag.atomic import write_dir_atomic
from docrag.text.analyzer import Analyzer


class BM25Index:
    def __init__(self, retriever: bm25s.BM25 | None, chunk_ids: np.ndarray):
        self.retriever = retriever
        self.chunk_ids = chunk_ids
        self.vocab = retriever.vocab_dict if retriever is not None else {}

    @classmethod
    def build(cls, chunk_ids: np.ndarray, tokens: list[list[str]], k1: float = 1.5, b: float = 0.75) -> "BM25Index":
        if len(chunk_ids) == 0:
            return cls(None, chunk_ids)
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        retriever.index(tokens, show_progress=False)
        return cls(retriever, chunk_ids)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk (aligned with ``chunk_ids``); unknown terms score nothing."""
        known = [t for t in query_tokens if t in self.vocab]
        if self.retriever is None or not known:
            return np.zeros(len(self.chunk_ids), dtype=np.float32)
        return self.retriever.get_scores(known)

    # --- persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        def write(tmp: Path) -> None:
            np.save(tmp / "chunk_ids.npy", self.chunk_ids)
            if self.retriever is not None:
                self.retriever.save(str(tmp), show_progress=False)

        write_dir_atomic(Path(directory), write)

    @classmethod
    def load(cls, directory: Path) -> "BM25Index":
        directory = Path(directory)
        chunk_ids = np.load(directory / "chunk_ids.npy")
        if len(chunk_ids) == 0:
            return cls(None, chunk_ids)
        retriever = bm25s.BM25.load(str(directory), mmap=False, show_progress=False)
        return cls(retriever, chunk_ids)


def build_from_texts(chunk_ids: np.ndarray, texts: list[str], analyzer: Analyzer) -> BM25Index:
    return BM25Index.build(chunk_ids, [analyzer.tokenize(t) for t in texts])
