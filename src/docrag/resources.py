"""What the writer, the searcher and the answerer of one index share: the storage, the configuration, the analyzer
and chunker, the manifest, and the derived indexes and models, each loaded once and kept per store generation.

Thread-safe: loads happen under one lock (a second thread waiting for the BM25 index gets the one the first
loaded). Readers never write: a BM25 index missing for the current generation (a writer has committed but not
yet saved it, or the configuration changed what it indexes) is taken from the newest complete generation on
disk, else built in memory; only ``Indexer`` (under the writer lock) saves derived files.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from docrag import __version__
from docrag.atomic import write_text_atomic
from docrag.chunk import make_splitter
from docrag.config import Config
from docrag.errors import IndexStateError
from docrag.index.bm25 import BM25Index, build_from_texts
from docrag.index.image_embed import FIGURES_DIR, FigureImages
from docrag.index.storage import Storage
from docrag.index.store import Store
from docrag.index.vectors import VectorIndex
from docrag.models.embed import Embedder, make_embedder, vector_model
from docrag.retrieve.glossary import Glossary
from docrag.retrieve.profile import SAMPLE, corpus_profile
from docrag.retrieve.profile import resolve as resolve_glossaries
from docrag.retrieve.routing import DocRouter
from docrag.text.analyzer import Analyzer
from docrag.types import Filter, Progress

log = logging.getLogger(__name__)

DB_NAME = "docrag.sqlite"
MILVUS_LITE_NAME = "milvus.db"  # index.backend = "milvus" without a milvus_uri: Milvus Lite in the index folder
MANIFEST = "manifest.json"
EMBEDDER_KEY = "embedder"  # store meta: the manifest's embedder record, kept with the vectors it describes
_BM25_DIR = re.compile(r"bm25-g(\d+)-(\w+)$")
_FILTER_CACHE = 64  # filters resolved to chunk ids per generation: the kinds routing asks for, a user's filters


class Resources:
    def __init__(self, path: Path, config: Config, readonly: bool = False):
        self.path, self.config, self.readonly = path, config, readonly
        self.analyzer = Analyzer()
        self.store: Storage = make_store(path, config, readonly, self.analyzer)
        # semantic chunking embeds sentences: it gets the index's embedder, loaded on first use
        self.splitter = make_splitter(config.chunk, embedder=self.embedder, embedder_name=config.index.embedder)
        self.figures = FigureImages(path / FIGURES_DIR, self.store, config)
        self._lock = threading.RLock()
        self._local = threading.local()  # per thread: seconds spent loading (reported as timings["load"])
        self._bm25: tuple[str, BM25Index] | None = None  # (directory name or in-memory key, index)
        self._vectors: tuple[tuple, VectorIndex] | None = None
        self._embedder: Embedder | None = None
        self._router: tuple[int, DocRouter] | None = None
        self._glossary: tuple[list[str], Glossary] | None = None
        self._profile: tuple[int, dict[str, float]] | None = None
        self._ids: OrderedDict[tuple[int, Filter], np.ndarray] = OrderedDict()
        self.manifest = self._read_manifest()
        if config.index.backend != "sqlite" and not readonly and not (path / MANIFEST).exists():
            self.write_manifest()  # marks the folder as an index (its data is elsewhere)

    def close(self) -> None:
        self.store.close()

    # --- manifest -------------------------------------------------------------------------------
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

    def write_manifest(self) -> None:
        write_text_atomic(self.path / MANIFEST, json.dumps(self.manifest, ensure_ascii=False, indent=2))

    def record_embedder(self, embedder: Embedder) -> None:
        """Record the model that makes this index's vectors (writer only; before its first vectors commit)."""
        record = {"name": embedder.name, "version": embedder.version, "dim": embedder.dim}
        self.store.set_meta(EMBEDDER_KEY, record)
        self.manifest["embedder"] = record
        self.write_manifest()

    # --- time spent loading, per thread ----------------------------------------------------------
    def loading_seconds(self) -> float:
        return getattr(self._local, "loading", 0.0)

    def _loaded(self, since: float) -> None:
        self._local.loading = self.loading_seconds() + time.perf_counter() - since

    # --- BM25 -----------------------------------------------------------------------------------
    def _bm25_slug(self) -> str:
        headings = self.config.index.bm25_headings
        return f"{zlib.crc32(f'{self.analyzer.version}; headings={headings}'.encode()):08x}"

    def bm25(self) -> BM25Index:
        """The BM25 index of the store's current generation; while a writer has not yet saved it, the newest
        complete one on disk, else one built in memory (never saved by a reader)."""
        gen, slug = self.store.generation, self._bm25_slug()
        key = f"bm25-g{gen}-{slug}"
        with self._lock:
            if self._bm25 is not None and self._bm25[0] == key:
                return self._bm25[1]
            t0 = time.perf_counter()
            for directory in self._bm25_dirs(slug, up_to=gen):
                if self._bm25 is not None and self._bm25[0] == directory.name:
                    return self._bm25[1]  # still the newest complete one
                try:
                    index = BM25Index.load(directory)
                except (OSError, ValueError) as e:  # removed by a writer while being read: an older one, or build
                    log.info("BM25 index %s not loaded: %s", directory, e)
                    continue
                self._bm25 = (directory.name, index)
                self._loaded(t0)
                return index
            return self._build_bm25(key)

    def build_bm25(self, progress: Progress | None = None, save: bool = False) -> BM25Index:
        """Build the current generation's BM25 index; ``save`` (the writer only): publish it on disk and drop the
        older ones. Built outside the lock: meanwhile searches in other threads use the newest saved one."""
        key = f"bm25-g{self.store.generation}-{self._bm25_slug()}"
        if (self.path / key).exists():  # published complete (renamed into place) by an earlier run
            return self.bm25()
        if progress:
            progress("bm25", 0, 1)
        with self._lock:
            built = self._bm25[1] if self._bm25 is not None and self._bm25[0] == key else None
        index = built or self._build_bm25(key)
        if save:
            index.save(self.path / key)
            for old in self.path.glob("bm25-g*"):
                if old.name != key:
                    shutil.rmtree(old, ignore_errors=True)
        if progress:
            progress("bm25", 1, 1)
        return index

    def _build_bm25(self, key: str) -> BM25Index:
        ids, texts = self.store.chunk_texts(self.config.index.bm25_headings)
        index = build_from_texts(ids, texts, self.analyzer)
        with self._lock:
            self._bm25 = (key, index)
        return index

    def _bm25_dirs(self, slug: str, up_to: int) -> list[Path]:
        """Saved BM25 indexes of this analyzer and settings, newest generation first, none newer than ``up_to``."""
        found = []
        for p in self.path.glob(f"bm25-g*-{slug}"):
            m = _BM25_DIR.match(p.name)
            if m and int(m.group(1)) <= up_to:
                found.append((int(m.group(1)), p))
        return [p for _, p in sorted(found, reverse=True)]

    # --- dense ----------------------------------------------------------------------------------
    def embedder(self) -> Embedder:
        """The configured embedder; refuses one other than the model that made the stored vectors (query and
        passage vectors must come from the same model). Only dense search needs it: BM25 search, ``info`` and
        ``remove`` work on an index whatever embedder the configuration names."""
        with self._lock:
            if self._embedder is None:
                cfg = self.config.index
                built = self.manifest.get("embedder") if self.store.last_embedded_id() is not None else None
                if built and vector_model(built["name"]) != vector_model(cfg.embedder):
                    raise IndexStateError(
                        f"{self.path}: index was embedded with {built['name']} ({built['version']}), but the "
                        f"configuration asks for {cfg.embedder!r}; use index.embedder = {built['name']!r} (or "
                        "search with --mode bm25), or build a new index")
                t0 = time.perf_counter()
                embedder = make_embedder(cfg.embedder, self.config)
                if built and built["version"] != embedder.version:
                    raise IndexStateError(
                        f"{self.path}: vectors were made by {built['version']}, but {embedder.version} is installed; "
                        f"install that version or rebuild the index")
                self._loaded(t0)
                self._embedder = embedder
            return self._embedder

    def vectors(self, save_graph: bool = False) -> VectorIndex:
        """The dense vectors, reloaded only when the store changed (checked on every search, cheaply). An HNSW
        graph (above ``index.hnsw_threshold``) is loaded from the index folder, or built; ``save_graph`` (the
        writer only) keeps it there."""
        key = (self.store.generation, self.store.last_embedded_id())
        with self._lock:
            if self._vectors is not None and self._vectors[0] == key and not save_graph:
                return self._vectors[1]
            t0 = time.perf_counter()
            dim = (self.manifest.get("embedder") or {}).get("dim") or 0
            if key[1] is not None and dim:
                ids, mat = self.store.embeddings(dim)
            else:
                ids, mat = np.empty(0, np.int64), np.empty((0, max(dim, 1)), np.float32)
            vectors = VectorIndex(ids, mat, self.config.index.hnsw_threshold, cache_dir=self.path, save=save_graph)
            self._vectors = (key, vectors)
            self._loaded(t0)
            return vectors

    def has_vectors(self) -> bool:
        """Whether the index has dense vectors (without reading them: Milvus may search them itself)."""
        return self.store.last_embedded_id() is not None and bool((self.manifest.get("embedder") or {}).get("dim"))

    def forget_vectors(self) -> None:
        """Drop the loaded vectors and embedder (the writer replaced the vectors with another model's: the same chunk
        ids, so the reload key would not tell)."""
        with self._lock:
            self._vectors, self._embedder = None, None

    def sentence_embedder(self) -> Embedder | None:
        """The extractive answer ranks sentences by dense similarity too, when the index has vectors of the
        configured model (a BM25 search of an index embedded by another model still gets an answer)."""
        if not self.has_vectors():
            return None
        try:
            return self.embedder()
        except IndexStateError:
            return None

    # --- routing, glossary, filters ----------------------------------------------------------------
    def router(self) -> DocRouter:
        gen = self.store.generation
        with self._lock:
            if self._router is None or self._router[0] != gen:
                self._router = (gen, DocRouter(self.store.doc_meta()))
            return self._router[1]

    def profile(self) -> dict[str, float]:
        """What the corpus is (``docrag.retrieve.profile``: per bundled glossary, the share of a sample of the
        chunks speaking its domain's vocabulary), read once per store generation."""
        gen = self.store.generation
        with self._lock:
            if self._profile is None or self._profile[0] != gen:
                ids = self.bm25().chunk_ids
                if len(ids) > SAMPLE:
                    ids = ids[np.linspace(0, len(ids) - 1, SAMPLE).astype(np.int64)]
                hits = self.store.hits([(int(i), 0.0) for i in dict.fromkeys(ids.tolist())])
                self._profile = (gen, corpus_profile(h.text for h in hits))
            return self._profile[1]

    def glossary(self) -> Glossary | None:
        """The query-expansion glossary config ``retrieve.glossaries`` names ("auto": those the corpus profile
        selects), loaded once (per generation with "auto")."""
        names = resolve_glossaries(self.config.retrieve.glossaries, self.profile)
        if not names:
            return None
        with self._lock:
            if self._glossary is None or self._glossary[0] != names:
                self._glossary = (list(names), Glossary.load(names, self.analyzer))
            return self._glossary[1]

    def chunk_ids(self, where: Filter) -> np.ndarray:
        """The chunk ids a filter admits, kept per store generation (the table ids routing asks for on many
        questions are thousands of rows)."""
        key = (self.store.generation, where)
        with self._lock:
            if key in self._ids:
                self._ids.move_to_end(key)
                return self._ids[key]
        ids = self.store.chunk_ids(where)
        with self._lock:
            self._ids[key] = ids
            while len(self._ids) > _FILTER_CACHE:
                self._ids.popitem(last=False)
        return ids


def make_store(path: Path, config: Config, readonly: bool = False, analyzer: Analyzer | None = None) -> Storage:
    """The storage ``index.backend`` names: SQLite (docrag.sqlite in the index folder) or Milvus (``milvus_uri``:
    a local file for Milvus Lite, default milvus.db in the index folder, or a server's http(s) address)."""
    cfg = config.index
    if cfg.backend == "sqlite":
        return Store(path / DB_NAME, readonly=readonly)
    from docrag.index.milvus import MilvusStore

    uri = cfg.milvus_uri or str(path / MILVUS_LITE_NAME)
    if "://" not in uri:
        uri = str(Path(uri).expanduser().resolve())
    name = cfg.milvus_collection or "docrag_" + (re.sub(r"\W", "_", path.resolve().name, flags=re.ASCII) or "index")
    return MilvusStore(uri, name, token=os.environ.get(cfg.milvus_token_env), readonly=readonly,
                       bm25_headings=cfg.bm25_headings, analyzer=analyzer)


def index_exists(path: Path, config: Config) -> bool:
    """Whether an index is at ``path``: its SQLite database, or (Milvus) its folder with a manifest."""
    if config.index.backend == "sqlite":
        return (path / DB_NAME).exists()
    return (path / MANIFEST).exists()


def _model_identity(version: str) -> str:
    """What identifies a model's vectors. Indexes made before 0.1.0 recorded an OpenAI-compatible embedder as
    'MODEL @ URL': the server's address is not the model, and may hold credentials."""
    return version.split(" @ ", 1)[0]
