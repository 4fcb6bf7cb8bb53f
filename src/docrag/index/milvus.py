"""Documents, chunks, graph edges, vectors and meta in Milvus (Milvus Lite: a local file; or a Milvus server), so
that several machines can share one index. The ``Storage`` protocol's Milvus implementation; needs the
``[milvus]`` extra (pymilvus, Apache-2.0).

Collections, named ``{name}_...``:

- ``chunks``: one row per chunk: id (primary key), document path and *version*, ordinal, kind, file type, text,
  pages and character span, section and extra (JSON), the graph edges leaving it (JSON: ``[[dst ordinal, kind]]``),
  and ``terms``: the chunk's BM25 text analysed by docrag's analyzer (rjieba + English stemming), each term
  written as a hex code so that Milvus's ``standard`` tokenizer keeps it whole; Milvus's BM25 function turns it
  into the ``sparse`` field, so Milvus can score BM25 itself (server-side IDF; ``bm25_search``); and ``bm25_tf``,
  docrag's own BM25 weights of the same terms (each term's saturated, length-normalised frequency, as bm25s's
  Lucene variant) as a sparse vector, scored by inner product with a query vector that carries the IDF
  (``bm25_sparse_search``), and ``n_terms`` (its length in terms);
- ``terms``: per term (32 bits of its hash) the number of chunks holding it, kept with every write, so that IDF
  comes from the whole collection on any machine (the chunk count and total length are in ``meta``);
- ``docs``: one row per document (path is the primary key): its live version and its record (hashes, size, mtime,
  chunk signature, title, metadata) for incremental ingest;
- ``meta``: key/value (the generation, the embedder record, the id counter, writes in progress);
- ``vectors`` / ``image_vectors``: chunk id, document path and version, kind and file type (so that filters apply
  in a vector search), and the dense vector (float16 values, as SQLite keeps them), made when the first vectors
  arrive (their dimension is known then); ``dense_search`` searches them in Milvus.

Milvus has no multi-row transactions, so a document is replaced in an order that leaves it old or new whatever
moment the writer dies: its new chunks are written under a new version, then its ``docs`` row flips to that version
(one row: atomic), then the generation is bumped and the old version's rows deleted. Readers only see chunks of
a document's live version. The paths being written are recorded in meta first; ``recover`` (the next writer, under
the writer lock) deletes what a killed writer left behind. One writer per index, as with SQLite: chunk ids come
from a counter in meta.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Iterator

import numpy as np

from docrag.errors import IndexStateError
from docrag.index.store import VECTOR_TABLES, DocRecord
from docrag.text.analyzer import Analyzer
from docrag.types import Chunk, Document, Filter, Hit

MAX_VARCHAR = 65535  # bytes: Milvus's longest VARCHAR
PATH_LENGTH = 4096
BATCH = 1000  # rows per insert/query by ids (gRPC messages stay small)
WINDOW = 4096  # ids per range query while looking for chunks without vectors
DOCS_PER_QUERY = 100  # documents whose chunks one query looks up by ordinal
_VECTOR_COLLECTIONS = {"embeddings": "vectors", "image_embeddings": "image_vectors"}
_BASE_COLLECTIONS = ("chunks", "docs", "meta", "terms")
K1, B = 1.5, 0.75  # docrag's BM25 (bm25s, Lucene variant)
NO_TERM = 0  # the sparse dimension of a chunk without BM25 terms (Milvus refuses empty sparse vectors)
STATS = "bm25_stats"  # meta: {"chunks": BM25-indexed chunks, "terms": their total length in terms}


@lru_cache(maxsize=1 << 20)  # a term recurs in many chunks; hashing was 10% of a write
def term_code(term: str) -> str:
    """A term as one token for Milvus's ``standard`` tokenizer (which would split "nasdaq-list" or "3.5", and
    each Chinese character): 64 bits of its hash in hex."""
    return "t" + hashlib.blake2b(term.encode("utf-8"), digest_size=8).hexdigest()


@lru_cache(maxsize=1 << 20)  # a term recurs in many chunks; hashing was 10% of a write
def term_dim(term: str) -> int:
    """A term's dimension in the ``bm25_tf`` sparse vectors: 32 bits of its hash (never ``NO_TERM``)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "big") % (2**32 - 2) + 1


def bm25_weights(terms: list[str], avg_length: float) -> dict[int, float]:
    """A chunk's BM25 weights (bm25s, Lucene variant: tf / (tf + k1 (1 - b + b |d| / avgdl))), by term dimension;
    the IDF goes on the query vector."""
    tf: dict[int, int] = {}
    for t in terms:
        d = term_dim(t)
        tf[d] = tf.get(d, 0) + 1
    norm = K1 * (1 - B + B * len(terms) / avg_length) if avg_length else K1
    return {d: n / (n + norm) for d, n in tf.items()} or {NO_TERM: 1.0}


def idf(df: int, n: int) -> float:
    """bm25s's Lucene IDF."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _lit(value: str) -> str:
    """A string literal of Milvus's expression language (which knows no \\u escapes: characters go as they are)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _in(field: str, values: Iterable) -> str:
    return f"{field} in [{', '.join(_lit(v) if isinstance(v, str) else str(int(v)) for v in values)}]"


def _path_key(path: str) -> int:
    """A document's primary key in the docs collection: 63 bits of its path's hash."""
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8"), digest_size=8).digest(), "big") >> 1


def _fit(text: str, limit: int = MAX_VARCHAR) -> str:
    """Text cut to at most ``limit`` UTF-8 bytes."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


@dataclass
class TermStats:
    """BM25 statistics of a set of chunks: how many, their total length in terms, and per term dimension how many
    of them hold it. Added and subtracted as chunks come and go."""

    chunks: int
    terms: int
    df: dict[int, int]

    @classmethod
    def of(cls, analysed: Iterable[list[str]]) -> "TermStats":
        """Of chunks given as their analysed terms."""
        n = total = 0
        df: dict[int, int] = {}
        for terms in analysed:
            n, total = n + 1, total + len(terms)
            for d in {term_dim(t) for t in terms}:
                df[d] = df.get(d, 0) + 1
        return cls(n, total, df)

    @classmethod
    def of_rows(cls, rows: list[dict]) -> "TermStats":
        """Of chunk rows read back (their ``bm25_tf`` and ``n_terms``)."""
        df: dict[int, int] = {}
        for r in rows:
            for d in r["bm25_tf"]:
                if int(d) != NO_TERM:
                    df[int(d)] = df.get(int(d), 0) + 1
        return cls(len(rows), sum(r["n_terms"] for r in rows), df)

    def __add__(self, other: "TermStats") -> "TermStats":
        df = dict(self.df)
        for d, n in other.df.items():
            df[d] = df.get(d, 0) + n
        return TermStats(self.chunks + other.chunks, self.terms + other.terms, df)

    def __neg__(self) -> "TermStats":
        return TermStats(-self.chunks, -self.terms, {d: -n for d, n in self.df.items()})

    def average_length(self) -> float:
        return self.terms / self.chunks if self.chunks else 0.0


@dataclass
class ChunkSets:
    """The live chunk ids (sorted) of each document, file type and kind: what a ``Filter`` selects on, so that a
    filter's chunk ids come from numpy rather than a Milvus query each (a query costs Milvus Lite ~100 ms+)."""

    by_doc: dict[str, np.ndarray]
    by_file_type: dict[str, np.ndarray]
    by_kind: dict[str, np.ndarray]

    @classmethod
    def of_rows(cls, rows: list[dict]) -> "ChunkSets":
        """Of chunk rows (their id, document path, file type and kind)."""
        groups: tuple[dict[str, list[int]], ...] = ({}, {}, {})
        for r in rows:
            for group, value in zip(groups, (r["doc_path"], r["file_type"], r["kind"])):
                group.setdefault(value, []).append(int(r["id"]))
        by_doc, by_file_type, by_kind = ({v: np.sort(np.array(ids, dtype=np.int64)) for v, ids in g.items()}
                                         for g in groups)
        return cls(by_doc, by_file_type, by_kind)

    def select(self, paths: list[str] | None, file_types: tuple[str, ...], kinds: tuple[str, ...]) -> np.ndarray:
        """The sorted ids of chunks in one of ``paths`` (None: any document), of one of the file types and of one
        of the kinds (empty: any)."""
        sets = [_union(self.by_doc, self.by_doc if paths is None else paths)]
        sets += [_union(group, values) for group, values in ((self.by_file_type, file_types), (self.by_kind, kinds))
                 if values]
        out = sets[0]
        for other in sets[1:]:
            out = np.intersect1d(out, other, assume_unique=True)
        return out


def _union(group: dict[str, np.ndarray], values: Iterable[str]) -> np.ndarray:
    """The ids under any of ``values`` (each chunk is under one value of a group: a concatenation, sorted)."""
    parts = [group[v] for v in values if v in group]
    return np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)


class MilvusStore:
    """``docrag.index.storage.Storage`` on Milvus (see the module's docstring)."""

    def __init__(self, uri: str, name: str, token: str | None = None, readonly: bool = False,
                 bm25_headings: int = 0, analyzer: Analyzer | None = None):
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise IndexStateError("index.backend = 'milvus' needs pymilvus: pip install 'docrag[milvus]'") from None
        self.uri, self.name, self.readonly = uri, name, readonly
        self.path = uri  # for messages
        self.bm25_headings = bm25_headings
        self.analyzer = analyzer or Analyzer()
        try:
            self.client = MilvusClient(uri=uri, token=token or "")
        except Exception as e:  # noqa: BLE001 - pymilvus raises several kinds for an unreachable server
            raise IndexStateError(f"{uri}: cannot connect to Milvus ({e})") from None
        self._local = threading.local()  # per thread: the documents of an open transaction
        self._lock = threading.Lock()
        self._live: tuple[int, dict[str, int], TermStats] | None = None  # generation, path -> live version, stats
        self._sets: tuple[int, ChunkSets] | None = None  # generation, the live chunks' ids by what filters select
        self._collections = {key: f"{name}_{key}" for key in _BASE_COLLECTIONS}
        self._collections.update({table: f"{name}_{c}" for table, c in _VECTOR_COLLECTIONS.items()})
        missing = [k for k in _BASE_COLLECTIONS if not self.client.has_collection(self._collections[k])]
        if missing and "chunks" not in missing:
            raise IndexStateError(f"{uri}: the collections {name}_* were made by an older docrag (no "
                                  f"{', '.join(missing)}): ingest into a new index (another milvus_collection)")
        if missing and readonly:
            raise IndexStateError(f"{uri}: no docrag collections {name}_* in this Milvus")
        for key in missing:
            self._create(key)
        for key in (*_BASE_COLLECTIONS, *VECTOR_TABLES):
            if key not in missing and self.client.has_collection(self._collections[key]):
                self.client.load_collection(self._collections[key])

    # --- collections ---------------------------------------------------------------------------------
    def _create(self, key: str, dim: int = 0) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        schema = c.create_schema(auto_id=False)
        index = c.prepare_index_params()
        if key == "chunks":
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("doc_path", DataType.VARCHAR, max_length=PATH_LENGTH)
            schema.add_field("version", DataType.INT64)
            schema.add_field("ordinal", DataType.INT64)
            schema.add_field("kind", DataType.VARCHAR, max_length=64)
            schema.add_field("file_type", DataType.VARCHAR, max_length=64)
            schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
            schema.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True,
                             analyzer_params={"tokenizer": "standard"})
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_field("bm25_tf", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_field("n_terms", DataType.INT64)
            for f in ("char_start", "char_end", "page_start", "page_end"):  # pages: -1 for none
                schema.add_field(f, DataType.INT64)
            for f in ("section", "extra", "edges"):
                schema.add_field(f, DataType.JSON)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["terms"], output_field_names=["sparse"]))
            # docrag's BM25 (bm25s, Lucene variant): k1 = 1.5, b = 0.75
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params={"bm25_k1": K1, "bm25_b": B})
            index.add_index("bm25_tf", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        elif key in VECTOR_TABLES:
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("doc_path", DataType.VARCHAR, max_length=PATH_LENGTH)
            schema.add_field("version", DataType.INT64)
            schema.add_field("kind", DataType.VARCHAR, max_length=64)
            schema.add_field("file_type", DataType.VARCHAR, max_length=64)
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
            index.add_index("vec", index_type="FLAT", metric_type="IP")
        else:
            if key == "docs":  # keyed by a hash of the path: pymilvus's query iterator pages on the primary key
                schema.add_field("key", DataType.INT64, is_primary=True)  # without quoting a string one
                schema.add_field("path", DataType.VARCHAR, max_length=PATH_LENGTH)
                schema.add_field("version", DataType.INT64)
                schema.add_field("record", DataType.JSON)
            elif key == "terms":  # a term's dimension -> the number of chunks holding it
                schema.add_field("key", DataType.INT64, is_primary=True)
                schema.add_field("df", DataType.INT64)
            else:
                schema.add_field("key", DataType.VARCHAR, max_length=256, is_primary=True)
                schema.add_field("value", DataType.VARCHAR, max_length=MAX_VARCHAR)
            schema.add_field("_v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
            index.add_index("_v", index_type="FLAT", metric_type="L2")
        c.create_collection(self._collections[key], schema=schema, index_params=index, consistency_level="Strong")

    def _query(self, key: str, expr: str, fields: list[str]) -> list[dict]:
        """All rows matching ``expr`` (an iterator: a plain query stops at Milvus's result window)."""
        it = self.client.query_iterator(self._collections[key], batch_size=4000, filter=expr, output_fields=fields)
        rows: list[dict] = []
        try:
            while True:
                batch = it.next()
                if not batch:
                    return rows
                rows.extend(batch)
        finally:
            it.close()

    def _by_ids(self, key: str, ids: list[int], fields: list[str], extra: str = "", field: str = "id") -> list[dict]:
        out: list[dict] = []
        for i in range(0, len(ids), BATCH):
            part = ids[i:i + BATCH]
            expr = _in(field, part) + (f" and {extra}" if extra else "")
            out.extend(self.client.query(self._collections[key], filter=expr, output_fields=fields,
                                         limit=len(part)))
        return out

    def _has(self, key: str) -> bool:
        return self.client.has_collection(self._collections[key])

    def _count(self, key: str, expr: str = "") -> int:
        if not self._has(key):
            return 0
        rows = self.client.query(self._collections[key], filter=expr, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def close(self) -> None:
        self.client.close()

    # --- meta and generations --------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self.client.query(self._collections["meta"], filter=f"key == {_lit(key)}", output_fields=["value"])
        return json.loads(rows[0]["value"]) if rows else default

    def set_meta(self, key: str, value: Any) -> None:
        self.client.upsert(self._collections["meta"], [{"key": key, "value": json.dumps(value), "_v": [0.0, 0.0]}])

    @property
    def generation(self) -> int:
        return self.get_meta("generation", 0)

    def _bump(self) -> None:
        self.set_meta("generation", self.generation + 1)

    def _allocate(self, n: int, counter: str = "next_id") -> int:
        """The first of ``n`` new chunk ids (from 1, in the order written, as SQLite's) or document versions
        (``counter="next_version"``); one writer per index."""
        first = self.get_meta(counter, 1)
        self.set_meta(counter, first + n)
        return first

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The documents put inside it are written together when it ends (each document still flips from old to new
        on its own: Milvus has no multi-row transactions); an exception drops them, as a rollback."""
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.pending = []
        self._local.depth = depth + 1
        try:
            yield None
        except BaseException:
            if depth == 0:
                self._local.pending = []
            raise
        finally:
            self._local.depth = depth
        if depth == 0:
            pending, self._local.pending = self._local.pending, []
            self._write(pending)

    def counts(self) -> dict[str, int]:
        records = [r["record"] for r in self._query("docs", "", ["record"])]
        return {
            "documents": len(records),
            "chunks": self._count("chunks", 'kind != "parent"'),
            "chars": sum(r.get("n_chars") or 0 for r in records),
            "pages": sum(r.get("n_pages") or 0 for r in records),
            "embedded": self._count("embeddings"),
            "image_vectors": self._count("image_embeddings"),
        }

    # --- documents ------------------------------------------------------------------------------------
    def _live_versions(self) -> dict[str, int]:
        """Each document's live version, kept per generation."""
        return self._snapshot()[1]

    def _snapshot(self) -> tuple[int, dict[str, int], "TermStats"]:
        """The generation, each document's live version and the BM25 statistics (without document frequencies),
        read once per generation: a search then costs one round trip for the generation."""
        gen = self.generation
        with self._lock:
            if self._live is not None and self._live[0] == gen:
                return self._live
        live = {r["path"]: int(r["version"]) for r in self._query("docs", "", ["path", "version"])}
        stats = self._term_stats()
        with self._lock:
            self._live = (gen, live, stats)
        return gen, live, stats

    def _chunk_sets(self) -> tuple[dict[str, int], ChunkSets]:
        """The live versions and the live chunks' ids by document, file type and kind, read in one pass once per
        generation (another process's write bumps it)."""
        gen, live, _ = self._snapshot()
        with self._lock:
            if self._sets is not None and self._sets[0] == gen:
                return live, self._sets[1]
        rows = self._query("chunks", "id >= 0", ["id", "doc_path", "version", "file_type", "kind"])
        sets = ChunkSets.of_rows([r for r in rows if self._is_live(r, live)])
        with self._lock:
            self._sets = (gen, sets)
        return live, sets

    def _is_live(self, row: dict, live: dict[str, int]) -> bool:
        return live.get(row["doc_path"]) == row["version"]

    def docs(self) -> dict[str, DocRecord]:
        out = {}
        for r in self._query("docs", "", ["path", "version", "record"]):
            rec = r["record"]
            out[r["path"]] = DocRecord(int(r["version"]), r["path"], rec["sha256"], rec["size"], rec["mtime_ns"],
                                       rec["file_type"], rec["title"], rec["n_chars"], rec["n_pages"],
                                       rec["chunk_sig"])
        return out

    def doc_meta(self) -> dict[str, dict]:
        return {r["path"]: {"title": r["record"]["title"], **r["record"].get("meta", {})}
                for r in self._query("docs", "", ["path", "record"])}

    def put_document(self, doc: Document, chunks: list[Chunk], sha256: str, size: int, mtime_ns: int,
                     chunk_sig: str, edges: Iterable[tuple[int, int, str]] = ()) -> None:
        record = {"sha256": sha256, "size": size, "mtime_ns": mtime_ns, "file_type": doc.file_type,
                  "title": doc.title, "n_chars": doc.n_chars, "n_pages": doc.metadata.get("n_pages"),
                  "chunk_sig": chunk_sig, "added_at": time.time(), "meta": doc.metadata}
        item = (doc.path, record, chunks, list(edges))
        if getattr(self._local, "depth", 0):
            self._local.pending.append(item)
        else:
            self._write([item])

    def _bm25_terms(self, chunk: Chunk) -> list[str]:
        """The terms BM25 indexes for a chunk (none for a parent chunk: only its children are searched)."""
        if chunk.kind == "parent":
            return []
        text = chunk.text
        if self.bm25_headings:  # as Store.chunk_texts(headings)
            text = "\n".join([h for h in chunk.section[-self.bm25_headings:] if not text.startswith(h)] + [text])
        return self.analyzer.tokenize(text)

    def _write(self, items: list[tuple[str, dict, list[Chunk], list[tuple[int, int, str]]]]) -> None:
        """Documents old -> new: new chunks under new versions, the docs rows flip, generation, old rows deleted."""
        if not items:
            return
        items = list({path: (path, rec, ch, ed) for path, rec, ch, ed in items}.values())  # the last put wins
        next_id = self._allocate(sum(len(chunks) for _, _, chunks, _ in items))
        version = self._allocate(len(items), "next_version") - 1
        paths = [path for path, *_ in items]
        self._set_writing(paths)  # what recover() cleans after a killed writer
        analysed = [[(c, self._bm25_terms(c)) for c in chunks] for _, _, chunks, _ in items]
        added = TermStats.of(terms for doc in analysed for c, terms in doc if c.kind != "parent")
        stats = self._term_stats() + added
        rows, docs = [], []
        for (path, record, _, edges), doc_chunks in zip(items, analysed):
            version += 1
            leaving: dict[int, list] = {}
            for a, b, kind in edges:
                leaving.setdefault(a, []).append([b, kind])
            for c, terms in doc_chunks:
                rows.append({
                    "id": next_id, "doc_path": path, "version": version, "ordinal": c.ordinal, "kind": c.kind,
                    "file_type": record["file_type"], "text": _fit(c.text),
                    "terms": _fit(" ".join(map(term_code, terms))), "n_terms": len(terms),
                    "bm25_tf": bm25_weights(terms, stats.average_length()),
                    "char_start": c.char_start, "char_end": c.char_end,
                    "page_start": -1 if c.page_start is None else c.page_start,
                    "page_end": -1 if c.page_end is None else c.page_end,
                    "section": list(c.section), "extra": c.extra or {}, "edges": leaving.get(c.ordinal, [])})
                next_id += 1
            docs.append({"key": _path_key(path), "path": path, "version": version, "record": record,
                         "_v": [0.0, 0.0]})
        for i in range(0, len(rows), BATCH):
            self.client.insert(self._collections["chunks"], rows[i:i + BATCH])
        for i in range(0, len(docs), BATCH):
            self.client.upsert(self._collections["docs"], docs[i:i + BATCH])  # the flip
        self._add_term_stats(added + -self._stale_term_stats(paths))  # before the generation readers key them by
        self._bump()
        self._delete_stale(paths)
        self._set_writing([])
        self._seal()

    def _stale(self, paths: list[str]) -> list[str]:
        """Expressions for the rows of these documents other than their live version's (all of them for a removed
        document)."""
        live = {r["path"]: int(r["version"]) for r in self._by_docs(paths)}
        exprs = []
        for i in range(0, len(paths), BATCH):
            part = paths[i:i + BATCH]
            versions = [live[p] for p in part if p in live]
            exprs.append(_in("doc_path", part) + (f" and version not in [{', '.join(map(str, versions))}]"
                                                  if versions else ""))
        return exprs

    def _delete_stale(self, paths: list[str]) -> None:
        exprs = self._stale(paths)
        for key in ("chunks", *VECTOR_TABLES):
            if self._has(key):
                for expr in exprs:
                    self.client.delete(self._collections[key], filter=expr)

    def _stale_term_stats(self, paths: list[str]) -> "TermStats":
        """The BM25 statistics of the chunks ``_delete_stale`` will delete."""
        fields = ["bm25_tf", "n_terms"]
        return TermStats.of_rows([r for expr in self._stale(paths)
                                  for r in self._query("chunks", f'{expr} and kind != "parent"', fields)])

    # --- BM25 statistics (for docrag's weights in ``bm25_tf``) ----------------------------------------
    def _term_stats(self) -> "TermStats":
        stats = self.get_meta(STATS) or {}
        return TermStats(stats.get("chunks", 0), stats.get("terms", 0), {})

    def _add_term_stats(self, delta: "TermStats") -> None:
        """Chunk count, total length and document frequencies changed by ``delta`` (one writer per index)."""
        if not (delta.chunks or delta.df):
            return
        keys = sorted(k for k, n in delta.df.items() if n)
        have = {r["key"]: r["df"] for r in self._by_ids("terms", keys, ["key", "df"], field="key")}
        rows = [{"key": k, "df": have.get(k, 0) + delta.df[k], "_v": [0.0, 0.0]} for k in keys]
        for i in range(0, len(rows), BATCH * 10):
            self.client.upsert(self._collections["terms"], rows[i:i + BATCH * 10])
        total = self._term_stats() + delta
        self.set_meta(STATS, {"chunks": total.chunks, "terms": total.terms})

    def _recount_term_stats(self) -> None:
        """The BM25 statistics counted again from the live chunks (after a killed writer)."""
        live = self._live_versions()
        rows = [r for r in self._query("chunks", 'kind != "parent"', ["doc_path", "version", "bm25_tf", "n_terms"])
                if self._is_live(r, live)]
        self.client.delete(self._collections["terms"], filter="key >= 0")
        self.set_meta(STATS, None)
        self._add_term_stats(TermStats.of_rows(rows))

    def _set_writing(self, paths: list[str]) -> None:
        """Record the documents being written (for ``recover``), in parts that fit a meta value."""
        parts: list[list[str]] = [[]]
        size = 0
        for p in paths:
            size += len(p.encode("utf-8")) + 8
            if size > MAX_VARCHAR // 2:
                parts.append([])
                size = len(p.encode("utf-8")) + 8
            parts[-1].append(p)
        before = self.get_meta("writing", 0)
        for i, part in enumerate(parts if paths else []):
            self.set_meta(f"writing:{i}", part)
        self.set_meta("writing", len(parts) if paths else 0)
        for i in range(len(parts) if paths else 0, before if isinstance(before, int) else 0):
            self.client.delete(self._collections["meta"], filter=f"key == {_lit(f'writing:{i}')}")

    def _writing(self) -> list[str]:
        n = self.get_meta("writing", 0)
        return [p for i in range(n if isinstance(n, int) else 0) for p in self.get_meta(f"writing:{i}", [])]

    def _seal(self) -> None:
        """Flush the chunks written: Milvus Lite scores BM25 over unsealed rows ~30x slower (170 ms instead of 6 ms a
        search on 467 chunks); 0.15 s a commit batch (of up to 256 files or 2 s: ``docrag.ingest.BATCH_FILES``)."""
        self.client.flush(self._collections["chunks"])

    def _by_docs(self, paths: list[str]) -> list[dict]:
        out: list[dict] = []
        for i in range(0, len(paths), BATCH):
            part = paths[i:i + BATCH]
            out += self.client.query(self._collections["docs"], filter=_in("path", part),
                                     output_fields=["path", "version", "record"], limit=len(part))
        return out

    def touch_document(self, path: str, mtime_ns: int) -> None:
        for row in self._by_docs([path]):
            row["record"]["mtime_ns"] = mtime_ns
            self.client.upsert(self._collections["docs"], [{**row, "key": _path_key(path), "_v": [0.0, 0.0]}])

    def remove_documents(self, paths: Iterable[str]) -> int:
        paths = list(dict.fromkeys(paths))
        if not paths:
            return 0
        n = len(self._by_docs(paths))
        self._set_writing(paths)
        for i in range(0, len(paths), BATCH):
            self.client.delete(self._collections["docs"], filter=_in("path", paths[i:i + BATCH]))
        self._add_term_stats(-self._stale_term_stats(paths))
        self._bump()
        self._delete_stale(paths)
        self._set_writing([])
        self._seal()
        for table in VECTOR_TABLES:
            if self._count(table) == 0:
                self.set_meta(f"last_embedded:{table}", None)
        return n

    def recover(self) -> None:
        """After a writer was killed: delete the rows it left that no document's live version owns (call under the
        writer lock). A document is old or new already; the generation is bumped in case the flip happened."""
        paths = self._writing()
        if paths:
            self._delete_stale(paths)
            self._recount_term_stats()
            self._bump()
            self._set_writing([])

    # --- chunks and the document graph ------------------------------------------------------------------
    def chunk_texts(self, headings: int = 0) -> tuple[np.ndarray, list[str]]:
        live = self._live_versions()
        rows = [r for r in self._query("chunks", 'kind != "parent"', ["id", "doc_path", "version", "text", "section"])
                if self._is_live(r, live)]
        rows.sort(key=lambda r: r["id"])
        texts = [r["text"] for r in rows]
        if headings:
            texts = ["\n".join([h for h in r["section"][-headings:] if not r["text"].startswith(h)] + [r["text"]])
                     for r in rows]
        return np.array([r["id"] for r in rows], dtype=np.int64), texts

    def filter_expr(self, where: Filter | None, live: dict[str, int] | None = None) -> str | None:
        """A filter as a Milvus boolean expression over the chunk fields; None when it admits nothing. Path globs
        are matched here against the documents (``live``: their live versions), the rest are fields of the chunk
        rows."""
        conditions = ['kind != "parent"']
        if where:
            paths = self._filter_paths(where, live)
            if paths is not None:
                if not paths:
                    return None
                conditions.append(_in("doc_path", paths))
            for field, values in (("file_type", where.file_types), ("kind", where.kinds)):
                if values:
                    values = tuple(v for v in values if v.isprintable())  # Filter's "\0" (nothing) among them
                    if not values:
                        return None
                    conditions.append(_in(field, values))
        return " and ".join(conditions)

    def _filter_paths(self, where: Filter, live: dict[str, int] | None = None) -> list[str] | None:
        """The live documents a filter's paths and globs admit (Python's fnmatchcase, as SQLite's GLOB:
        case-sensitive, ``*`` crosses ``/``); None when it names no path."""
        if not (where.path_globs or where.doc_paths):
            return None
        from fnmatch import fnmatchcase

        live = self._live_versions() if live is None else live
        paths = [p for p in where.doc_paths if p in live] if where.doc_paths else list(live)
        return [p for p in paths if all(fnmatchcase(p, g) for g in where.path_globs)]

    def chunk_ids(self, where: Filter) -> np.ndarray:
        live, sets = self._chunk_sets()  # as SQLite's chunk_ids: parent chunks too unless kinds are asked for
        return sets.select(self._filter_paths(where, live), where.file_types, where.kinds)

    def hits(self, ids_scores: list[tuple[int, float]]) -> list[Hit]:
        if not ids_scores:
            return []
        live = self._live_versions()
        fields = ["id", "text", "doc_path", "version", "page_start", "page_end", "section", "ordinal", "char_start",
                  "char_end", "kind", "extra"]
        rows = {r["id"]: r for r in self._by_ids("chunks", list(dict.fromkeys(i for i, _ in ids_scores)), fields)
                if self._is_live(r, live)}
        out = []
        for cid, score in ids_scores:
            r = rows.get(cid)
            if r is None:
                continue
            page = None if r["page_start"] < 0 else r["page_start"]
            end = None if r["page_end"] < 0 else r["page_end"]
            pages = list(range(page, (end or page) + 1)) if page is not None else []
            out.append(Hit(chunk_id=cid, text=r["text"], doc_path=r["doc_path"], score=float(score), page=page,
                           pages=pages, section=tuple(r["section"]), ordinal=r["ordinal"], char_start=r["char_start"],
                           char_end=r["char_end"], kind=r["kind"], extra=r["extra"]))
        return out

    def _ordinals(self, wanted: dict[tuple[str, int], set[int]]) -> dict[tuple[str, int, int], int]:
        """Chunk ids of document versions' ordinals, ``(path, version) -> ordinals`` in, ``(path, version, ordinal)
        -> id`` out: one query per DOCS_PER_QUERY documents, not one per document (5,788 documents' edges took 6
        minutes so on Milvus Lite)."""
        keys = list(wanted)
        out = {}
        for i in range(0, len(keys), DOCS_PER_QUERY):
            part = keys[i:i + DOCS_PER_QUERY]
            ords = sorted(set().union(*(wanted[k] for k in part)))
            expr = f"{_in('doc_path', [p for p, _ in part])} and {_in('version', [v for _, v in part])} and " \
                   f"{_in('ordinal', ords)}"
            for r in self._query("chunks", expr, ["id", "doc_path", "version", "ordinal"]):
                if r["ordinal"] in wanted.get((r["doc_path"], r["version"]), ()):
                    out[(r["doc_path"], r["version"], r["ordinal"])] = r["id"]
        return out

    def chunk_ids_by_ordinal(self, pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        live = self._live_versions()
        wanted: dict[tuple[str, int], set[int]] = {}
        for path, ordinal in pairs:
            if path in live:
                wanted.setdefault((path, live[path]), set()).add(ordinal)
        return {(path, ordinal): cid for (path, _, ordinal), cid in self._ordinals(wanted).items()}

    def edges_from(self, chunk_ids: Iterable[int], kinds: Iterable[str] | None = None
                   ) -> list[tuple[int, int, str]]:
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return []
        wanted = set(kinds or [])
        live = self._live_versions()
        sources = [r for r in self._by_ids("chunks", ids, ["id", "doc_path", "version", "edges"])
                   if self._is_live(r, live)]
        found = []
        targets: dict[tuple[str, int], set[int]] = {}
        for r in sources:
            for dst, kind in r["edges"]:
                if not wanted or kind in wanted:
                    found.append((r, dst, kind))
                    targets.setdefault((r["doc_path"], r["version"]), set()).add(dst)
        ordinals = self._ordinals(targets)
        out = []
        for r, dst, kind in found:
            target = ordinals.get((r["doc_path"], r["version"], dst))
            if target is not None:
                out.append((int(r["id"]), int(target), kind))
        return out

    # --- searches run by Milvus ----------------------------------------------------------------------------
    def _search(self, key: str, field: str, query: Any, metric: str, k: int, where: Filter | None,
                live: dict[str, int] | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, score) of a Milvus search on one field, ``where`` as a boolean expression; rows of
        versions no document owns (a write under way; ``live``: the live versions) are left out."""
        live = self._live_versions() if live is None else live
        expr = self.filter_expr(where, live)
        if expr is None or k <= 0 or (key in VECTOR_TABLES and not self._has(key)):  # made with the first vectors
            return []
        res = self.client.search(self._collections[key], data=[query], anns_field=field, limit=k, filter=expr,
                                 search_params={"metric_type": metric}, output_fields=["doc_path", "version"])
        return [(int(hit["id"]), abs(float(hit["distance"])) if metric == "BM25" else float(hit["distance"]))
                for hit in res[0] if self._is_live(hit["entity"], live)]  # Milvus Lite reports BM25 negated

    def bm25_search(self, terms: list[str], k: int, where: Filter | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, BM25 score) for analysed query terms, scored by Milvus's BM25 function over the
        ``terms`` field (IDF and average length are Milvus's: per segment in Milvus Lite, see docs/scale.md)."""
        if not terms:
            return []
        return self._search("chunks", "sparse", " ".join(map(term_code, terms)), "BM25", k, where)

    def bm25_sparse_search(self, weights: dict[str, float], k: int, where: Filter | None = None
                           ) -> list[tuple[int, float]]:
        """Top-k (chunk id, BM25 score) for analysed query terms (term -> how often it counts), scored as bm25s
        does: the inner product of the chunks' ``bm25_tf`` weights with the query's IDF, computed from the
        document frequencies kept in the ``terms`` collection."""
        dims: dict[int, float] = {}
        for term, w in weights.items():
            d = term_dim(term)
            dims[d] = dims.get(d, 0.0) + w
        if not dims:
            return []
        _, live, stats = self._snapshot()
        df = {r["key"]: r["df"] for r in self._by_ids("terms", list(dims), ["key", "df"], field="key")}
        # N at least df: a writer may have added chunks since this generation's statistics were read
        query = {d: w * idf(df[d], max(stats.chunks, df[d])) for d, w in dims.items() if df.get(d, 0) > 0 and w}
        if not query:
            return []
        return [(i, s) for i, s in self._search("chunks", "bm25_tf", query, "IP", k, where, live) if s > 0]

    def dense_search(self, vector: np.ndarray, k: int, where: Filter | None = None, table: str = "embeddings"
                     ) -> list[tuple[int, float]]:
        """Top-k (chunk id, cosine similarity) of a normalised query vector, searched by Milvus (exact: a FLAT
        index on inner product)."""
        return self._search(self._vector_key(table), "vec", vector.astype(np.float32).tolist(), "IP", k, where)

    # --- vectors --------------------------------------------------------------------------------------
    def _vector_key(self, table: str) -> str:
        if table not in VECTOR_TABLES:
            raise ValueError(f"no vector table {table!r}; one of {VECTOR_TABLES}")
        return table

    def chunks_missing_embeddings(self, limit: int, after_id: int = 0) -> list[tuple[int, str]]:
        live = self._live_versions()
        end = self.get_meta("next_id", 1)
        found: list[tuple[int, str]] = []
        lo = after_id
        while lo < end and len(found) < limit:
            window = f"id > {lo} and id <= {lo + WINDOW}"
            rows = self.client.query(self._collections["chunks"], filter=f'{window} and kind != "parent"',
                                     output_fields=["id", "text", "doc_path", "version"], limit=WINDOW)
            done: set[int] = set()
            if rows and self._has("embeddings"):
                done = {r["id"] for r in self.client.query(self._collections["embeddings"], filter=window,
                                                           output_fields=["id"], limit=WINDOW)}
            found += sorted((r["id"], r["text"]) for r in rows if r["id"] not in done and self._is_live(r, live))
            lo += WINDOW
        return found[:limit]

    def put_embeddings(self, ids: list[int], vectors: np.ndarray, table: str = "embeddings") -> None:
        key = self._vector_key(table)
        if not ids:
            return
        if not self._has(key):
            self._create(key, dim=int(vectors.shape[1]))
        live = self._live_versions()
        fields = ["doc_path", "version", "kind", "file_type"]  # kind and file type: filters in dense_search
        chunks = {r["id"]: r for r in self._by_ids("chunks", list(ids), ["id", *fields]) if self._is_live(r, live)}
        vecs = vectors.astype(np.float16).astype(np.float32)  # the values SQLite keeps
        rows = [{"id": int(i), "vec": v.tolist(), **{f: chunks[i][f] for f in fields}}
                for i, v in zip(ids, vecs) if i in chunks]
        if rows:
            self.client.upsert(self._collections[key], rows)
            last = self.get_meta(f"last_embedded:{key}")
            self.set_meta(f"last_embedded:{key}", max(last or 0, max(r["id"] for r in rows)))

    def last_embedded_id(self, table: str = "embeddings") -> int | None:
        """Kept in meta (Milvus has no MAX): the largest id given a vector; None once no vector is left."""
        return self.get_meta(f"last_embedded:{self._vector_key(table)}")

    def embeddings(self, dim: int, table: str = "embeddings") -> tuple[np.ndarray, np.ndarray]:
        key = self._vector_key(table)
        if not self._has(key):
            return np.empty(0, np.int64), np.empty((0, dim), np.float32)
        stored = self.client.describe_collection(self._collections[key])
        have = next(int(f["params"]["dim"]) for f in stored["fields"] if f["name"] == "vec")
        if have != dim:
            raise IndexStateError(f"{self.uri}: stored vectors have {have} dimensions, but the index records {dim}: "
                                  "manifest.json does not match this Milvus collection")
        live = self._live_versions()
        rows = sorted((r for r in self._query(key, "", ["id", "doc_path", "version", "vec"])
                       if self._is_live(r, live)), key=lambda r: r["id"])
        ids = np.array([r["id"] for r in rows], dtype=np.int64)
        mat = np.array([r["vec"] for r in rows], dtype=np.float32).reshape(len(rows), dim)
        return ids, mat

    def clear_embeddings(self, table: str = "embeddings") -> None:
        key = self._vector_key(table)
        if self._has(key):
            self.client.drop_collection(self._collections[key])
        self.set_meta(f"last_embedded:{key}", None)

    def _figures(self) -> list[dict]:
        live = self._live_versions()
        return [r for r in self._query("chunks", 'kind == "figure"', ["id", "doc_path", "version", "extra"])
                if self._is_live(r, live)]

    def figures_missing_image_vectors(self) -> list[tuple[int, str | None]]:
        figures = self._figures()
        done = set()
        if figures and self._has("image_embeddings"):
            done = {r["id"] for r in self._by_ids("image_embeddings", [r["id"] for r in figures], ["id"])}
        return sorted((r["id"], r["extra"].get("image_sha")) for r in figures if r["id"] not in done)

    def figure_image_shas(self) -> set[str]:
        return {r["extra"]["image_sha"] for r in self._figures() if r["extra"].get("image_sha")}
