"""The Python API: an Index on disk that documents are added to and questions asked of.

    import docrag
    idx = docrag.Index.open("path/to/index", create=True)
    idx.add(["a.pdf", "notes/"])
    hits = idx.search("问题", k=5)
    ans = idx.ask("问题")

An index is one directory: ``docrag.sqlite`` (documents, chunks, embeddings), ``manifest.json``
(what built it), ``bm25-g<generation>/`` (derived, rebuilt when stale) and, with ``parse.figure_images``
or ``index.image_embedder``, ``figures/`` (figure crops as PNGs).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

import numpy as np

from docrag import __version__
from docrag.atomic import write_text_atomic
from docrag.chunk import make_splitter
from docrag.config import Config
from docrag.errors import ConfigError, IndexStateError, QueryError
from docrag.generate import ExtractiveAnswerer
from docrag.generate.base import LLM, Decoding, OnToken, make_llm
from docrag.generate.llm import LLMAnswerer
from docrag.index.bm25 import BM25Index, build_from_texts
from docrag.index.dense import Embedder, VectorIndex, make_embedder
from docrag.index.image_embed import FIGURES_DIR, FigureImages
from docrag.index.image_embed import META_KEY as IMAGE_EMBEDDER_KEY
from docrag.index.store import Store, disk_failure
from docrag.index.tokenize import Analyzer
from docrag.ingest import (
    FileResult,
    IngestReport,
    Limits,
    Progress,
    collect_files,
    deleted_documents,
    documents_under,
    ingest_files,
)
from docrag.parse import PARSERS
from docrag.parse.normalize import normalize
from docrag.retrieve import BM25Retriever, DenseRetriever, HybridRetriever
from docrag.retrieve.collapse import one_hit_per_table
from docrag.retrieve.fusion import reciprocal_rank_fusion
from docrag.retrieve.glossary import Glossary
from docrag.retrieve.graph import GraphExpander
from docrag.retrieve.image import ImageFusion, ImageRetriever
from docrag.retrieve.rerank import Reranker, make_reranker, rerank
from docrag.retrieve.routing import DocRouter, wanted_kinds
from docrag.types import Answer, Hit

log = logging.getLogger(__name__)

DB_NAME = "docrag.sqlite"
MANIFEST = "manifest.json"
EMBEDDER_KEY = "embedder"  # store meta: the manifest's embedder record, kept with the vectors it describes
MODES = ("bm25", "dense", "hybrid", "graph")  # graph: hybrid, then each hit expanded along the document graph
FILE_TYPES = tuple(sorted({parser.file_type for parser in PARSERS.values()}))


class Index:
    def __init__(self, path: Path, config: Config, readonly: bool = False):
        self.path = path
        self.config = config
        self.readonly = readonly  # a reader: writes nothing, not even derived files
        self.store = Store(path / DB_NAME, readonly=readonly)
        self.analyzer = Analyzer()
        # semantic chunking embeds sentences: it gets the index's embedder, loaded on first use
        self.splitter = make_splitter(config.chunk, embedder=self.embedder, embedder_name=config.index.embedder)
        self._bm25: BM25Index | None = None
        self._bm25_key: str | None = None
        self._lock_depth = 0  # the writer lock is re-entrant within this Index
        self._vectors: VectorIndex | None = None
        self._vectors_key = None
        self._embedder: Embedder | None = None
        self._llms: dict[tuple[str, bool], LLM] = {}  # kept open so the local backend's prefix cache lives on
        self._rerankers: dict[str, Reranker | None] = {}
        self._router: tuple[int, DocRouter] | None = None  # (generation, router)
        self._kind_ids: dict[tuple[str, ...], tuple[int, np.ndarray]] = {}  # kinds -> (generation, chunk ids)
        self._glossary: tuple[list[str], Glossary] | None = None  # (names, glossary)
        self.figures = FigureImages(path / FIGURES_DIR, self.store, config)
        self._loading = 0.0  # seconds spent loading models and derived indexes, reported as timings["load"]
        self.manifest = self._read_manifest()

    # --- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, create: bool = False, config: str | Path | Config | None = None,
             readonly: bool = False, **overrides) -> "Index":
        """Open the index at ``path`` (``create=True`` makes it if missing; ``readonly=True`` writes nothing, so a
        read-only copy can be searched).

        Configuration: defaults, then ``config`` (a Config, or a TOML file; else ./docrag.toml),
        then keyword overrides such as ``dense=False`` or ``chunk__size=300``.
        """
        path = Path(path).expanduser()
        if isinstance(config, Config):
            cfg = Config.load(None, **{**_flatten(config), **overrides})
        else:
            cfg = Config.load(config, **overrides)
        if not (path / DB_NAME).exists():
            if not create or readonly:
                raise IndexStateError(
                    f"{path}: no docrag index here (create one with `docrag ingest ... --index {path}`)")
            if path.exists() and not path.is_dir():
                raise IndexStateError(f"{path}: exists and is not a directory")
            path.mkdir(parents=True, exist_ok=True)
        return cls(path, cfg, readonly)

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read_manifest(self) -> dict:
        """manifest.json, with what this code would build (chunker, analyzer). The embedder record is also in
        the store, committed with the vectors: a damaged manifest is rewritten from it by the next writer."""
        mpath = self.path / MANIFEST
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8")) if mpath.exists() else {}
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            log.warning("%s is damaged (%s): using what the database records", mpath, e)
            manifest = {}
        if not manifest:
            manifest = {"format": 1, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "embedder": None}
        recorded = self.store.get_meta(EMBEDDER_KEY)
        if recorded:
            manifest["embedder"] = recorded
        elif manifest.get("embedder") is None and self.store.last_embedded_id() is not None:
            raise IndexStateError(f"{mpath}: missing or damaged, and this index has vectors but was made before the "
                                  "database kept a copy of it: restore manifest.json, or build a new index")
        if manifest.get("embedder"):  # written back by the next writer
            manifest["embedder"]["version"] = _model_identity(manifest["embedder"]["version"])
        manifest.update({"docrag": __version__, "chunker": self.splitter.signature(),
                         "analyzer": {"name": self.analyzer.name, "version": self.analyzer.version}})
        return manifest

    def _write_manifest(self) -> None:
        write_text_atomic(self.path / MANIFEST, json.dumps(self.manifest, ensure_ascii=False, indent=2))

    @contextmanager
    def _writing(self):
        """Exclusive writer lock: a second ingest into the same index fails at once, clearly. A full or read-only
        disk ends the write with one line; every document committed before stays."""
        if self.readonly:
            raise IndexStateError(f"{self.path}: opened read-only")
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        try:
            with open(self.path / "lock", "w") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise IndexStateError(f"{self.path}: another docrag process is writing this index") from None
                self._lock_depth = 1
                try:
                    self._remove_leftovers()
                    yield
                finally:
                    self._lock_depth = 0
                    fcntl.flock(fh, fcntl.LOCK_UN)
        except (OSError, sqlite3.OperationalError) as e:
            reason = disk_failure(e, self.path)
            if reason is None:
                raise
            raise IndexStateError(f"{self.path}: cannot write the index: {reason}; documents committed before "
                                  "are kept, run the command again when it can write") from None

    def _remove_leftovers(self) -> None:
        """Temporary files of writers killed mid-write (only a writer makes them, and this one holds the lock)."""
        for tmp in self.path.glob(".*.tmp-*"):
            tmp.unlink(missing_ok=True)
        for tmp in self.path.glob("bm25-g*.tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)

    # --- writing ----------------------------------------------------------------------------
    def add(self, paths: str | Path | Iterable[str | Path], prune: bool = False, dense: bool | None = None,
            progress: Progress | None = None) -> IngestReport:
        """Add files and folders (recursively). Unchanged files are skipped; with ``prune``,
        indexed files under the given folders that no longer exist are removed. Returns a report:
        added / updated / unchanged / failed (with reasons) / removed."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        paths = list(paths)
        report = IngestReport()
        with self._writing():
            t0 = time.perf_counter()
            files, problems = collect_files(paths, self.config.index.extensions)
            cfg = self.config.index
            limits = Limits(int(cfg.max_file_mb * 2**20), cfg.max_file_chars, cfg.max_file_chunks)
            report.results = ingest_files(self.store, self.splitter, files, limits, progress,
                                          self.config.parse, self.figures.directory) + problems
            if prune:
                folders = [p for p in paths if Path(p).expanduser().is_dir()]
                gone = deleted_documents(self.store, folders)
                self.store.remove_documents(gone)
                report.results += [FileResult(p, "removed") for p in gone]
            self.figures.prune()
            t1 = time.perf_counter()
            self._write_manifest()
            self.bm25(progress)
            report.seconds.update(parse=t1 - t0, bm25=time.perf_counter() - t1)
            if self.config.index.dense if dense is None else dense:
                t2 = time.perf_counter()
                report.embedded = self.embed_pending(progress)
                report.embedded_images = self.figures.embed_pending(progress)
                report.seconds["dense"] = time.perf_counter() - t2
        counts = self.store.counts()
        report.pending_embeddings = counts["chunks"] - counts["embedded"]
        return report

    def embed_pending(self, progress: Progress | None = None) -> int:
        """Embed chunks that have no vector yet, in checkpointed batches (resumable). Returns how many."""
        with self._writing():
            return self._embed_batches(progress)

    def _embed_batches(self, progress: Progress | None) -> int:
        counts = self.store.counts()
        todo = counts["chunks"] - counts["embedded"]
        if todo == 0:
            return 0
        embedder = self.embedder()
        if self.manifest.get("embedder") is None or self.store.get_meta(EMBEDDER_KEY) is None:
            record = {"name": embedder.name, "version": embedder.version, "dim": embedder.dim}
            self.store.set_meta(EMBEDDER_KEY, record)
            self.manifest["embedder"] = record
            self._write_manifest()
        done = last_id = 0
        batch = self.config.index.embed_batch
        while True:
            rows = self.store.chunks_missing_embeddings(batch, after_id=last_id)
            if not rows:
                break
            last_id = rows[-1][0]
            self.store.put_embeddings([r[0] for r in rows], embedder.embed_passages([r[1] for r in rows]))
            done += len(rows)
            if progress:
                progress("embed", done, todo)
        self._vectors = None
        return done

    def remove(self, paths: str | Path | Iterable[str | Path]) -> list[str]:
        """Remove the documents of these files, or of every file under these folders."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        with self._writing():
            gone = documents_under(self.store, paths)
            self.store.remove_documents(gone)
            self.figures.prune()
            self.bm25()
        return gone

    # --- derived indexes --------------------------------------------------------------------
    def bm25(self, progress: Progress | None = None) -> BM25Index:
        """The BM25 index for the store's current generation, loaded or (re)built; a writer saves what it built,
        a read-only index keeps it in memory."""
        gen = self.store.generation
        headings = self.config.index.bm25_headings
        key = f"bm25-g{gen}-{_slug(f'{self.analyzer.version}; headings={headings}')}"
        if self._bm25 is not None and self._bm25_key == key:
            return self._bm25
        directory = self.path / key
        t0 = time.perf_counter()
        if directory.exists():
            self._bm25 = BM25Index.load(directory)
            self._loading += time.perf_counter() - t0
        else:
            if progress:
                progress("bm25", 0, 1)
            ids, texts = self.store.chunk_texts(headings)
            self._bm25 = build_from_texts(ids, texts, self.analyzer)
            if not self.readonly:
                self._save_bm25(directory)
            if progress:
                progress("bm25", 1, 1)
        self._bm25_key = key
        return self._bm25

    def _save_bm25(self, directory: Path) -> None:
        try:
            with self._writing():
                self._bm25.save(directory)
                for old in self.path.glob("bm25-g*"):
                    if old.name != directory.name:
                        shutil.rmtree(old, ignore_errors=True)
        except IndexStateError as e:  # another process is writing (it saves its own build), or the disk is full
            log.info("BM25 index kept in memory only: %s", e)

    def embedder(self) -> Embedder:
        """The configured embedder; refuses one other than the model that made the stored vectors (query and
        passage vectors must come from the same model). Only dense search needs it: BM25 search, ``info`` and
        ``remove`` work on an index whatever embedder the configuration names."""
        if self._embedder is None:
            cfg = self.config.index
            built = self.manifest.get("embedder") if self.store.last_embedded_id() is not None else None
            if built and built["name"] != cfg.embedder:
                raise IndexStateError(
                    f"{self.path}: index was embedded with {built['name']} ({built['version']}), but the "
                    f"configuration asks for {cfg.embedder!r}; use index.embedder = {built['name']!r} (or search "
                    "with --mode bm25), or build a new index")
            t0 = time.perf_counter()
            try:
                embedder = make_embedder(cfg.embedder, base_url=cfg.embedder_base_url,
                                         api_key=os.environ.get(self.config.generate.api_key_env),
                                         query_instruction=cfg.query_instruction)
            except ValueError as e:
                raise ConfigError(str(e)) from None
            if built and built["version"] != embedder.version:
                raise IndexStateError(
                    f"{self.path}: vectors were made by {built['version']}, but {embedder.version} is installed; "
                    f"install that version or rebuild the index")
            self._loading += time.perf_counter() - t0
            self._embedder = embedder
        return self._embedder

    def vectors(self) -> VectorIndex:
        """The dense vectors, reloaded only when the store changed (checked on every search, cheaply)."""
        key = (self.store.generation, self.store.last_embedded_id())
        if self._vectors is None or self._vectors_key != key:
            t0 = time.perf_counter()
            dim = (self.manifest.get("embedder") or {}).get("dim") or 0
            if key[1] is not None and dim:
                ids, mat = self.store.embeddings(dim)
            else:
                ids, mat = np.empty(0, np.int64), np.empty((0, max(dim, 1)), np.float32)
            self._vectors = VectorIndex(ids, mat, self.config.index.hnsw_threshold,
                                        cache_dir=None if self.readonly else self.path)
            self._vectors_key = key
            self._loading += time.perf_counter() - t0
        return self._vectors

    # --- reading ----------------------------------------------------------------------------
    def retriever(self, mode: str | None = None):
        mode = mode or self.config.retrieve.mode
        if mode not in MODES:
            raise ConfigError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        bm25 = BM25Retriever(self.bm25(), self.analyzer, self.glossary(), self.config.retrieve.glossary_weight)
        if mode == "bm25":
            return bm25
        vectors = self.vectors()
        if mode == "dense":
            if len(vectors) == 0:
                raise IndexStateError(f"{self.path}: no dense vectors yet (run `docrag ingest` without --no-dense)")
            return self._with_images(DenseRetriever(vectors, self.embedder()))
        r = self.config.retrieve
        dense = DenseRetriever(vectors, self.embedder()) if len(vectors) else None
        return self._with_images(
            HybridRetriever(bm25, dense, r.fusion, r.rrf_k, (r.bm25_weight, r.dense_weight), r.candidates))

    def _with_images(self, retriever):
        """With figure image vectors (index.image_embedder), the figure-image search fused in."""
        vectors = self.figures.vectors()
        if vectors is None:
            return retriever
        r = self.config.retrieve
        images = ImageRetriever(vectors, self.figures.embedder())
        return ImageFusion(retriever, images, r.rrf_k, r.image_weight, r.candidates, r.image_min_similarity)

    def search(self, query: str, k: int = 5, mode: str | None = None, path_glob: str | None = None,
               file_types: list[str] | None = None, rerank: str | Reranker | None = None) -> list[Hit]:
        """Top-k chunks for a query; identical passages (e.g. from copied files) appear once.

        ``path_glob`` filters by document path (``*/reports/*.pdf``), ``file_types`` by type (pdf, md, ...);
        ``rerank`` names a reranker (default: config ``rerank.model``; ``"none"`` turns it off).
        """
        return self._search(query, k, mode, path_glob, file_types, rerank)[0]

    def _search(self, query, k, mode, path_glob, file_types, rerank_spec) -> tuple[list[Hit], dict[str, float]]:
        t0 = time.perf_counter()
        q = normalize(query or "").strip()
        if not q:
            raise QueryError("empty query")
        if k <= 0:
            raise QueryError(f"k must be positive, got {k}")
        unknown = {t.lower().lstrip(".") for t in file_types or []} - set(FILE_TYPES)
        if unknown:
            raise QueryError(f"unknown file type(s) {', '.join(sorted(unknown))}; known: {', '.join(FILE_TYPES)}")
        loading = self._loading
        reranker = self.reranker(rerank_spec)
        rc = self.config.rerank
        pool = max(k, rc.candidates) if reranker else k
        allowed = None
        if path_glob or file_types:
            allowed = self.store.chunk_ids_where(path_glob, file_types)
        retriever, n = self.retriever(mode), 2 * pool
        while True:  # chunks that merge into one hit (a table's, a parent's, duplicates) can leave fewer than pool
            ranked = self._routed_search(retriever, q, n, allowed)
            hits = self._distinct(ranked)
            if len(hits) >= pool or len(ranked) < n:
                break
            n *= 4
        # loading models and indexes on first use is not searching: a CLI call pays it every time
        load = self._loading - loading
        timings = {"retrieve": time.perf_counter() - t0 - load, **({"load": load} if load else {})}
        if reranker is None:
            hits = hits[:k]
        else:
            t1 = time.perf_counter()
            budget = rc.time_budget_ms / 1000 if rc.time_budget_ms else None
            hits = rerank(reranker, q, hits[:pool], k, batch_size=rc.batch_size, time_budget=budget, weight=rc.weight)
            timings["rerank"] = time.perf_counter() - t1
        if (mode or self.config.retrieve.mode) == "graph":
            # the final top k (reranked or not) bring their tables, figures and neighbours, measured like chunks
            t2 = time.perf_counter()
            expander = GraphExpander(self.store, self.config.retrieve.graph_token_budget,
                                     count_tokens=self.splitter.length)
            hits = expander.expand(hits)
            timings["graph"] = time.perf_counter() - t2
        return hits, timings

    def _distinct(self, ranked: list[tuple[int, float]]) -> list[Hit]:
        """Hits for ranked chunk ids: children as their parents, a table's chunks as one hit, repeats dropped."""
        hits, seen = [], set()
        for hit in one_hit_per_table(self._with_parents(self.store.hits(ranked))):
            # a figure is also its picture: pictures without text share their placeholder text
            key = re.sub(r"\s+", "", hit.text) + hit.extra.get("image_sha", "")
            if key not in seen:
                seen.add(key)
                hits.append(hit)
        return hits

    def _with_parents(self, hits: list[Hit]) -> list[Hit]:
        """parent_child chunking: a matched child is returned as its parent (section or whole table),
        scored by its best child; the parent records which children matched."""
        wanted = {(h.doc_path, h.extra["parent"]) for h in hits if "parent" in h.extra}
        if not wanted:
            return hits
        parent_ids = self.store.chunk_ids_by_ordinal(wanted)
        parents = {h.chunk_id: h for h in self.store.hits([(i, 0.0) for i in parent_ids.values()])}
        out, placed = [], {}
        for h in hits:
            pid = parent_ids.get((h.doc_path, h.extra.get("parent")))
            if pid is None:
                out.append(h)
            elif pid in placed:
                placed[pid].extra["matched"].append(h.chunk_id)
            else:
                parent = parents[pid]
                parent.score, parent.scores = h.score, h.scores
                parent.extra = {**parent.extra, "matched": [h.chunk_id]}
                placed[pid] = parent
                out.append(parent)
        return out

    def glossary(self) -> Glossary | None:
        """The query-expansion glossary config ``retrieve.glossaries`` names, loaded once."""
        names = self.config.retrieve.glossaries
        if not names:
            return None
        if self._glossary is None or self._glossary[0] != names:
            self._glossary = (list(names), Glossary.load(names, self.analyzer))
        return self._glossary[1]

    def router(self) -> DocRouter:
        gen = self.store.generation
        if self._router is None or self._router[0] != gen:
            self._router = (gen, DocRouter(self.store.doc_meta()))
        return self._router[1]

    def _routed_search(self, retriever, query: str, n: int, allowed: np.ndarray | None):
        """Search, and also search the documents the question names and the kind of content it asks for
        (tables for amounts, figures for charts), fusing the lists by RRF (config retrieve.route*)."""
        r = self.config.retrieve
        # every list is searched as deep as retrieve.candidates whatever n is: a passage ranked low in
        # two lists can outrank one ranked high in one, so cutting the lists at n made the top n depend on n
        depth = max(n, r.candidates)
        scope = allowed
        lists, weights = [], []
        routed = self.router().route(query) if r.route != "off" else []
        if routed:
            scope = self.store.chunk_ids_of_documents(routed)
            if allowed is not None:
                scope = np.intersect1d(scope, allowed)
            lists.append(retriever.search(query, depth, scope))
            weights.append(r.route_weight)
        if r.route != "filter" or not routed:
            lists.append(retriever.search(query, depth, allowed))
            weights.append(1.0)
        kinds = wanted_kinds(query) if r.route_kinds else []
        if kinds:
            of_kind = self._chunk_ids_of_kinds(tuple(kinds))
            of_kind = of_kind if scope is None else np.intersect1d(of_kind, scope, assume_unique=True)
            if len(of_kind):
                lists.append(retriever.search(query, depth, of_kind))
                weights.append(r.kind_weight)
        if len(lists) == 1:
            return lists[0][:n]
        return reciprocal_rank_fusion(lists, r.rrf_k, weights)[:n]

    def _chunk_ids_of_kinds(self, kinds: tuple[str, ...]) -> np.ndarray:
        """Chunk ids of those kinds, kept per store generation: thousands of ids, asked for by many questions."""
        gen = self.store.generation
        if kinds not in self._kind_ids or self._kind_ids[kinds][0] != gen:
            self._kind_ids[kinds] = (gen, self.store.chunk_ids_of_kinds(kinds))
        return self._kind_ids[kinds][1]

    def reranker(self, spec: str | Reranker | None = None) -> Reranker | None:
        """The reranker a spec (default: config ``rerank.model``) names, loaded once."""
        if isinstance(spec, Reranker):
            return spec
        spec = self.config.rerank.model if spec is None else spec
        if spec not in self._rerankers:
            self._rerankers[spec] = make_reranker(spec, base_url=self.config.rerank.base_url,
                                                  api_key=os.environ.get(self.config.generate.api_key_env))
        return self._rerankers[spec]

    def llm(self, spec: str | None = None, prefix_cache: bool | None = None) -> LLM:
        """The LLM backend a spec (default: config ``generate.llm``) names, loaded once per index."""
        g = self.config.generate
        spec = spec or g.llm
        prefix_cache = g.prefix_cache if prefix_cache is None else prefix_cache
        key = (spec, prefix_cache)
        if key not in self._llms:
            self._llms[key] = make_llm(spec, base_url=g.base_url, api_key=os.environ.get(g.api_key_env),
                                       timeout=g.timeout, max_retries=g.max_retries, context_window=g.context_window,
                                       tokenizer=g.tokenizer, prefix_cache=prefix_cache)
        return self._llms[key]

    def decoding(self, overrides: Decoding | dict | None = None) -> Decoding:
        """Decoding settings from config ``generate``, updated by ``overrides``."""
        if isinstance(overrides, Decoding):
            return overrides
        g = self.config.generate
        base = {f: getattr(g, f) for f in ("strategy", "max_new_tokens", "num_beams", "length_penalty", "temperature",
                                           "top_p", "top_k", "seed")}
        base["stop"] = tuple(g.stop)
        unknown = set(overrides or {}) - set(base)
        if unknown:
            raise ConfigError(f"unknown decoding option(s): {', '.join(sorted(unknown))}")
        return Decoding(**{**base, **(overrides or {})})

    def ask(self, question: str, k: int | None = None, mode: str | None = None, *, llm: str | LLM | None = None,
            decoding: Decoding | dict | None = None, prefix_cache: bool | None = None,
            rerank: str | Reranker | None = None,
            on_token: OnToken | None = None, path_glob: str | None = None,
            file_types: list[str] | None = None) -> Answer:
        """Answer a question from the indexed documents, with numbered citations.

        ``llm``: ``extractive`` (no model), ``openai:MODEL`` or ``transformers:PATH`` (default: config
        ``generate.llm``); ``decoding``: e.g. ``{"strategy": "beam", "num_beams": 4}``; ``on_token`` receives
        the answer as it is generated. ``answer.timings`` has retrieve, rerank and generate seconds.
        """
        hits, timings = self._search(question, k or self.config.answer.top_chunks, mode, path_glob, file_types, rerank)
        answer = self.answer(question, hits, llm=llm, decoding=decoding, prefix_cache=prefix_cache, on_token=on_token)
        answer.timings = {**timings, **answer.timings}
        return answer

    def answer(self, question: str, hits: list[Hit], *, llm: str | LLM | None = None,
               decoding: Decoding | dict | None = None, prefix_cache: bool | None = None,
               on_token: OnToken | None = None) -> Answer:
        """Answer from given hits (e.g. to reuse one search for both retrieval and answer scoring)."""
        t0 = time.perf_counter()
        spec = self.config.generate.llm if llm is None else llm
        if spec == "extractive":
            embedder = self._sentence_embedder()
            a = self.config.answer
            answer = ExtractiveAnswerer(self.analyzer, embedder, a.max_sentences, a.max_chars).answer(question, hits)
            if on_token and answer.text:
                on_token(answer.text)
        else:
            cached = len(self._llms)
            model = spec if isinstance(spec, LLM) else self.llm(spec, prefix_cache)
            loaded = time.perf_counter()  # loading a model (first use) is not generating
            g = self.config.generate
            answerer = LLMAnswerer(model, self.analyzer, self.decoding(decoding), g.language, g.template)
            answer = answerer.answer(question, hits, on_token)
            if len(self._llms) > cached:
                answer.timings["load_model"] = loaded - t0
            t0 = loaded
        answer.timings = {**answer.timings, "generate": time.perf_counter() - t0}
        return answer

    def _sentence_embedder(self) -> Embedder | None:
        """The extractive answer ranks sentences by dense similarity too, when the index has vectors of the
        configured model (a BM25 search of an index embedded by another model still gets an answer)."""
        if not len(self.vectors()):
            return None
        try:
            return self.embedder()
        except IndexStateError:
            return None

    def info(self) -> dict:
        counts = self.store.counts()
        files = [p for p in self.path.rglob("*") if p.is_file()]
        return {
            "path": str(self.path),
            **counts,
            "embedded_share": counts["embedded"] / counts["chunks"] if counts["chunks"] else 0.0,
            "generation": self.store.generation,
            "manifest": self.manifest,
            "image_embedder": self.store.get_meta(IMAGE_EMBEDDER_KEY),  # what made the image vectors, if any
            "bytes_on_disk": sum(p.stat().st_size for p in files),
        }


def _model_identity(version: str) -> str:
    """What identifies a model's vectors. Indexes made before 0.1.0 recorded an OpenAI-compatible embedder as
    'MODEL @ URL': the server's address is not the model, and may hold credentials."""
    return version.split(" @ ", 1)[0]


def _slug(text: str) -> str:
    import zlib

    return f"{zlib.crc32(text.encode()):08x}"


def _flatten(cfg: Config) -> dict:
    return {f"{s}__{k}": v for s, section in cfg.model_dump().items() for k, v in section.items()}
