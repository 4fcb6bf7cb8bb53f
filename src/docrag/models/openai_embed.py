"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint (vLLM, TEI, Ollama, llama.cpp, OpenAI).

Texts are sent as they are: a model that wants instruction prefixes (e5's "query: ", ...) must get
them from the server's configuration. Vectors come back float32 and L2-normalised.
"""

from __future__ import annotations

import numpy as np

from docrag.http import JSONClient
from docrag.models.embed import Embedder


class OpenAIEmbedder(Embedder):
    def __init__(self, model: str, *, base_url: str, api_key: str | None = None, batch_size: int = 64):
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url
        self.batch_size = batch_size
        self._client = JSONClient(base_url, api_key, what="embedding server")
        self._dim: int | None = None

    @property
    def dim(self) -> int:  # type: ignore[override]  # only read: Embedder's attribute, as a property
        """Learned from the first answer; asking before any embedding embeds a probe string."""
        if self._dim is None:
            return len(self.embed_query("dim"))  # which records it
        return self._dim

    @property
    def version(self) -> str:
        # the model, not the server: an index stays valid when the server moves, and a URL may hold credentials
        return self.model

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dim), np.float32)
        return np.concatenate([self._embed(texts[i:i + self.batch_size])
                               for i in range(0, len(texts), self.batch_size)])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        body = self._client.post("/embeddings", {"model": self.model, "input": texts})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or sorted(item.get("index") for item in data) != list(range(len(texts))):
            raise self._client.unexpected("/embeddings", f"expected {len(texts)} embeddings indexed 0..n-1", body)
        vectors = np.array([item["embedding"] for item in sorted(data, key=lambda item: item["index"])],
                           dtype=np.float32)
        if self._dim is None:
            self._dim = vectors.shape[1]
        elif vectors.shape[1] != self._dim:
            raise self._client.unexpected("/embeddings", f"dimension {vectors.shape[1]}, before {self._dim}", body)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, np.finfo(np.float32).tiny)
