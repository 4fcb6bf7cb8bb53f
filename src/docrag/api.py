"""The Python API: an Index on disk that documents are added to and questions asked of.

    import docrag
    idx = docrag.Index.open("path/to/index", create=True)
    idx.add(["a.pdf", "notes/"])
    hits = idx.search("问题", k=5)
    ans = idx.ask("问题")

An index is one directory: ``docrag.sqlite`` (documents, chunks, embeddings), ``manifest.json``
(what built it), ``bm25-g<generation>/`` (derived, saved by the writer) and, with ``parse.figure_images``
or ``index.image_embedder``, ``figures/`` (figure crops as PNGs).

``Index`` is a facade: ``Indexer`` writes (add, remove, embed), ``Searcher`` searches, ``Answerer`` answers, over
the ``Resources`` they share. One ``Index`` may be used from several threads at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from docrag.config import MODES, Config, Decoding
from docrag.errors import IndexStateError
from docrag.generate.answerer import Answerer
from docrag.index.image_embed import META_KEY as IMAGE_EMBEDDER_KEY
from docrag.indexer import Indexer
from docrag.ingest import FileResult, IngestReport
from docrag.migrate import INCOMPLETE
from docrag.models.llm import LLM, OnToken
from docrag.models.rerank import Reranker
from docrag.parse import FILE_TYPES
from docrag.resources import Resources, index_exists
from docrag.retrieve.followup import standalone_question
from docrag.retrieve.searcher import Searcher
from docrag.types import Answer, Filter, Hit, Progress

__all__ = ["FILE_TYPES", "MODES", "Index"]


class Index:
    def __init__(self, path: Path, config: Config, readonly: bool = False):
        self.path, self.config, self.readonly = path, config, readonly
        self.resources = Resources(path, config, readonly)
        self.store = self.resources.store
        self.figures = self.resources.figures
        self.indexer = Indexer(self.resources)
        self.searcher = Searcher(self.resources)
        self.answerer = Answerer(config, self.resources.analyzer, self.resources.sentence_embedder)

    @classmethod
    def open(cls, path: str | Path, create: bool = False, config: str | Path | Config | None = None,
             readonly: bool = False, **overrides) -> "Index":
        """Open the index at ``path`` (``create=True`` makes it if missing; ``readonly=True`` writes nothing, so a
        read-only copy can be searched).

        Configuration: defaults, then ``config`` (a Config, or a TOML file; else ./docrag.toml),
        then keyword overrides such as ``dense=False`` or ``chunk__size=300``.
        """
        path = Path(path).expanduser()
        cfg = config.updated(**overrides) if isinstance(config, Config) else Config.load(config, **overrides)
        if not index_exists(path, cfg):
            if not create or readonly:
                raise IndexStateError(
                    f"{path}: no docrag index here (create one with `docrag ingest ... --index {path}`)")
            if path.exists() and not path.is_dir():
                raise IndexStateError(f"{path}: exists and is not a directory")
            path.mkdir(parents=True, exist_ok=True)
        if (path / INCOMPLETE).exists():
            raise IndexStateError(f"{path}: an unfinished `docrag migrate` into this folder (killed, or running); "
                                  "run it again to finish")
        return cls(path, cfg, readonly)

    def close(self) -> None:
        self.resources.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def manifest(self) -> dict:
        return self.resources.manifest

    # --- writing ----------------------------------------------------------------------------
    def add(self, paths: str | Path | Iterable[str | Path], prune: bool = False, dense: bool | None = None,
            progress: Progress | None = None, workers: int | None = None,
            on_file: Callable[[FileResult], None] | None = None, ray: str | None = None) -> IngestReport:
        """Add files and folders (recursively). Unchanged files are skipped; with ``prune``,
        indexed files under the given folders that no longer exist are removed; ``workers`` processes parse
        (default: config ``index.workers``, one per core); ``ray``: parse, chunk and embed on a Ray cluster
        instead, ``auto`` or ``ray://host:10001`` (default: config ``index.ray``; needs the ray extra); ``on_file``
        hears each file's result once it is committed (or failed), before the BM25 index and the vectors are brought
        up to date. Returns a report:
        added / updated / unchanged / failed (with reasons) / skipped / removed."""
        return self.indexer.add([paths] if isinstance(paths, (str, Path)) else paths, prune, dense, progress,
                                workers, on_file, ray)

    def embed_pending(self, progress: Progress | None = None) -> int:
        """Embed chunks that have no vector yet, in checkpointed batches (resumable). Returns how many."""
        return self.indexer.embed_pending(progress)

    def remove(self, paths: str | Path | Iterable[str | Path]) -> list[str]:
        """Remove the documents of these files, or of every file under these folders."""
        return self.indexer.remove([paths] if isinstance(paths, (str, Path)) else paths)

    # --- reading ----------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, mode: str | None = None, path_glob: str | None = None,
               file_types: list[str] | None = None, rerank: str | Reranker | None = None,
               documents: list[str] | None = None) -> list[Hit]:
        """Top-k chunks for a query; identical passages (e.g. from copied files) appear once.

        ``path_glob`` filters by document path (``*/reports/*.pdf``), ``file_types`` by type (pdf, md, ...),
        ``documents`` to these document paths; ``rerank`` names a reranker (default: config ``rerank.model``;
        ``"none"`` turns it off).
        """
        return self.searcher.search(query, k, mode, Filter.of(path_glob, file_types, documents), rerank)[0]

    def ask(self, question: str, k: int | None = None, mode: str | None = None, *, llm: str | LLM | None = None,
            decoding: Decoding | dict | None = None, prefix_cache: bool | None = None,
            rerank: str | Reranker | None = None,
            on_token: OnToken | None = None, path_glob: str | None = None,
            file_types: list[str] | None = None, documents: list[str] | None = None) -> Answer:
        """Answer a question from the indexed documents, with numbered citations.

        ``llm``: ``extractive`` (no model), ``openai:MODEL`` or ``transformers:PATH`` (default: config
        ``generate.llm``); ``decoding``: e.g. ``{"strategy": "beam", "num_beams": 4}``; ``on_token`` receives
        the answer as it is generated. ``answer.timings`` has load, retrieve, rerank and generate seconds.
        """
        hits, timings = self.searcher.search(question, k or self.config.answer.top_chunks, mode,
                                             Filter.of(path_glob, file_types, documents), rerank)
        answer = self.answer(question, hits, llm=llm, decoding=decoding, prefix_cache=prefix_cache, on_token=on_token)
        answer.timings = {**timings, **answer.timings}
        return answer

    def answer(self, question: str, hits: list[Hit], *, llm: str | LLM | None = None,
               decoding: Decoding | dict | None = None, prefix_cache: bool | None = None,
               on_token: OnToken | None = None) -> Answer:
        """Answer from given hits (e.g. to reuse one search for both retrieval and answer scoring)."""
        return self.answerer.answer(question, hits, llm=llm, decoding=decoding, prefix_cache=prefix_cache,
                                    on_token=on_token)

    def standalone(self, question: str, history: list[str], llm: str | LLM | None = None) -> str:
        """A follow-up question rewritten to stand alone, given the earlier user questions (oldest first): by the
        LLM (``llm`` as in ``ask``; default config ``generate.llm``) or, extractive, by carrying the previous
        question's company and year into it. A question that stands alone comes back unchanged."""
        model = llm if isinstance(llm, LLM) else self.answerer.llm(llm)
        return standalone_question(question, history, self.resources.router(), self.resources.analyzer, model)

    def info(self) -> dict:
        counts = self.store.counts()
        return {
            "path": str(self.path),
            **counts,
            "embedded_share": counts["embedded"] / counts["chunks"] if counts["chunks"] else 0.0,
            "generation": self.store.generation,
            "manifest": self.manifest,
            "image_embedder": self.store.get_meta(IMAGE_EMBEDDER_KEY),  # what made the image vectors, if any
            "bytes_on_disk": _bytes_under(self.path),
        }


def _bytes_under(directory: Path) -> int:
    total = 0
    for p in directory.rglob("*"):
        try:
            total += p.stat().st_size if p.is_file() else 0
        except FileNotFoundError:  # a writer replaced a derived file meanwhile
            pass
    return total

