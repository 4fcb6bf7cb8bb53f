"""The storage seam: what docrag needs from the place its documents, chunks, graph edges and vectors live.

``docrag.index.store.Store`` (SQLite) and ``docrag.index.milvus.MilvusStore`` (documents and their hashes as
rows of a collection, chunks with scalar fields and JSON fields, the dense vectors, filters as boolean
expressions) implement it; ``docrag.resources.make_store`` picks one by ``index.backend``. Everything above
storage (ingestion, the searcher, the graph expander, the figure images) is typed against this protocol, never
against a backend.

Conventions every backend keeps:
- chunk ids are integers, unique within an index and never reused while the chunk exists;
- ``generation`` grows with every committed change to documents or chunks (derived indexes are keyed by it);
- within one generation vectors are only added (``last_embedded_id`` then identifies the embedded set);
- a ``Filter`` is data: each backend translates it into its own query language;
- ``transaction()`` makes the writes inside it one atomic unit; a backend without multi-row transactions must
  make ``put_document`` atomic per document (Milvus: upsert under the document's key, then delete the rest).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Iterable, Protocol

import numpy as np

from docrag.types import Chunk, Document, Filter, Hit


class Storage(Protocol):
    readonly: bool

    # --- meta and generations -------------------------------------------------------------------
    @property
    def generation(self) -> int: ...

    def get_meta(self, key: str, default: Any = None) -> Any: ...

    def set_meta(self, key: str, value: Any) -> None: ...

    def transaction(self) -> AbstractContextManager[Any]: ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...

    def recover(self) -> None:
        """Undo what a writer killed mid-write left behind (called by the next writer, under the writer lock).
        SQLite: nothing (its transactions roll back); Milvus: rows of versions no document owns."""
        ...

    # --- documents ------------------------------------------------------------------------------
    def docs(self) -> dict[str, Any]:
        """Indexed documents by path: records with sha256, size, mtime_ns, chunk_sig (for incremental ingest)."""
        ...

    def doc_meta(self) -> dict[str, dict]: ...

    def put_document(self, doc: Document, chunks: list[Chunk], sha256: str, size: int, mtime_ns: int,
                     chunk_sig: str, edges: Iterable[tuple[int, int, str]] = ()) -> None: ...

    def touch_document(self, path: str, mtime_ns: int) -> None: ...

    def remove_documents(self, paths: Iterable[str]) -> int: ...

    # --- chunks and the document graph ------------------------------------------------------------
    def chunk_texts(self, headings: int = 0) -> tuple[np.ndarray, list[str]]: ...

    def chunk_ids(self, where: Filter) -> np.ndarray: ...

    def hits(self, ids_scores: list[tuple[int, float]]) -> list[Hit]: ...

    def chunk_ids_by_ordinal(self, pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]: ...

    def edges_from(self, chunk_ids: Iterable[int], kinds: Iterable[str] | None = None
                   ) -> list[tuple[int, int, str]]: ...

    # --- vectors (table: "embeddings" for text, "image_embeddings" for figure images) ----------------
    def chunks_missing_embeddings(self, limit: int, after_id: int = 0) -> list[tuple[int, str]]: ...

    def put_embeddings(self, ids: list[int], vectors: np.ndarray, table: str = "embeddings") -> None: ...

    def last_embedded_id(self, table: str = "embeddings") -> int | None: ...

    def embeddings(self, dim: int, table: str = "embeddings") -> tuple[np.ndarray, np.ndarray]: ...

    def clear_embeddings(self, table: str = "embeddings") -> None: ...

    def figures_missing_image_vectors(self) -> list[tuple[int, str | None]]: ...

    def figure_image_shas(self) -> set[str]: ...


class SearchingStorage(Storage, Protocol):
    """A backend that also runs searches itself (``docrag.index.milvus.MilvusStore``), the filter translated into its
    own expression; each returns the top-k (chunk id, score), best first, of chunks of live document versions."""

    def dense_search(self, vector: np.ndarray, k: int, where: Filter | None = None, table: str = "embeddings"
                     ) -> list[tuple[int, float]]: ...

    def bm25_sparse_search(self, weights: dict[str, float], k: int, where: Filter | None = None
                           ) -> list[tuple[int, float]]: ...

    def bm25_search(self, terms: list[str], k: int, where: Filter | None = None) -> list[tuple[int, float]]: ...
