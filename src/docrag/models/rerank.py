"""Rerankers, picked by ``rerank.model``: ``cross-encoder:PATH_OR_ID`` (a local sentence-transformers CrossEncoder;
the ``[llm]`` extra) or ``http:MODEL`` (a ``/rerank`` endpoint at ``rerank.base_url``: Text Embeddings Inference,
vLLM, Jina); ``none`` reranks nothing. ``docrag.retrieve.rerank`` merges their scores with the fusion's."""

from __future__ import annotations

from docrag.config import Config
from docrag.errors import ConfigError
from docrag.models.options import api_key
from docrag.models.registry import build, register


class Reranker:
    name: str = ""

    def score(self, query: str, texts: list[str]) -> list[float]:
        """Relevance of each text to the query; higher is better, any scale."""
        raise NotImplementedError


@register("reranker", "none")
def _none(target: str, config: Config) -> None:
    return None


@register("reranker", "cross-encoder", "PATH_OR_ID")
def _cross_encoder(target: str, config: Config) -> Reranker:
    from docrag.models.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(target, options=config.models)


@register("reranker", "http", "MODEL")
def _http(target: str, config: Config) -> Reranker:
    base_url = config.rerank.base_url
    if not base_url:
        raise ConfigError(f"rerank.model = 'http:{target}' needs rerank.base_url (e.g. http://localhost:8080)")
    from docrag.models.http_rerank import HTTPReranker

    return HTTPReranker(target, base_url=base_url, api_key=api_key(config))


def make_reranker(spec: str, config: Config) -> Reranker | None:
    """The reranker ``spec`` (``rerank.model``'s forms; "" is none too) names, built with ``config``; None for none."""
    return build("reranker", spec or "none", config)
