"""Reranking through a ``/rerank`` endpoint.

Two request shapes exist. Jina, Cohere and vLLM take ``{"model", "query", "documents", "top_n"}`` and
answer ``{"results": [{"index", "relevance_score"}]}``; Text Embeddings Inference (TEI) takes
``{"query", "texts"}`` and answers a list ``[{"index", "score"}]``. The first shape is sent first; a
400 or 422 (TEI rejects it) is answered by trying TEI's shape once, and the shape that worked is kept.
"""

from __future__ import annotations

from typing import Any

from docrag.http import HTTPError, JSONClient
from docrag.models.rerank import Reranker


class HTTPReranker(Reranker):
    def __init__(self, model: str, *, base_url: str, api_key: str | None = None, timeout: float = 30.0,
                 max_retries: int = 2):
        self.model = model
        self.name = f"http:{model}"
        self._client = JSONClient(base_url, api_key, timeout=timeout, max_retries=max_retries, what="reranker")
        self._tei: bool | None = None  # which request shape the server takes; None until one has worked

    def score(self, query: str, texts: list[str]) -> list[float]:
        """Scores in the order of ``texts``."""
        if not texts:
            return []
        if self._tei is None:
            try:
                scores = self._score_jina(query, texts)
            except HTTPError as exc:
                if exc.status not in (400, 422):
                    raise
                scores = self._score_tei(query, texts)
                self._tei = True
            else:
                self._tei = False
            return scores
        return self._score_tei(query, texts) if self._tei else self._score_jina(query, texts)

    def _score_jina(self, query: str, texts: list[str]) -> list[float]:
        body = self._client.post("/rerank", {"model": self.model, "query": query, "documents": texts,
                                             "top_n": len(texts)})
        results = body.get("results") if isinstance(body, dict) else None
        return self._in_order(results, "relevance_score", len(texts), body)

    def _score_tei(self, query: str, texts: list[str]) -> list[float]:
        body = self._client.post("/rerank", {"query": query, "texts": texts})
        return self._in_order(body, "score", len(texts), body)

    def _in_order(self, results: Any, key: str, n: int, body: Any) -> list[float]:
        scores: list[float | None] = [None] * n
        for item in results if isinstance(results, list) else []:
            index = item.get("index") if isinstance(item, dict) else None
            if isinstance(index, int) and 0 <= index < n and isinstance(item.get(key), (int, float)):
                scores[index] = float(item[key])
        found = [s for s in scores if s is not None]
        if len(found) < n:
            raise self._client.unexpected("/rerank", f"expected a {key!r} for each of the {n} texts", body)
        return found
