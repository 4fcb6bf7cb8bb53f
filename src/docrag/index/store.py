"""Document, chunk and embedding store in one SQLite file (WAL).

Each thread has its own connection (SQLite serialises writers across connections and processes, and a
reader sees the last committed state); the writer lock of ``docrag.indexer`` keeps one writer per index.

Every change to a document (its row, its chunks, their embeddings) happens inside one
transaction (ingestion puts several documents in one, see ``docrag.ingest.BATCH_FILES``), so an
ingest killed at any point leaves each document either fully old or fully new. ``generation``
is bumped in the same transaction; derived files (the BM25 index) record the generation they
were built from and are rebuilt when it differs.
"""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from docrag.errors import IndexStateError
from docrag.types import Chunk, Document, Filter, Hit

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    file_type TEXT NOT NULL,
    title TEXT NOT NULL,
    n_chars INTEGER NOT NULL,
    n_pages INTEGER,
    chunk_sig TEXT NOT NULL,
    added_at REAL NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    page_start INTEGER,
    page_end INTEGER,
    section TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'text',
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
-- tables/figures for questions about amounts or charts: without it each such query reads every chunk's text
CREATE INDEX IF NOT EXISTS chunks_kind ON chunks(kind);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_doc_ordinal ON chunks(doc_id, ordinal);
-- the document graph's typed edges between a document's chunks (by ordinal); see docrag.index.graph
CREATE TABLE IF NOT EXISTS edges(
    doc_id INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    src INTEGER NOT NULL,
    dst INTEGER NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS edges_src ON edges(doc_id, src);
CREATE TABLE IF NOT EXISTS embeddings(
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vec BLOB NOT NULL
);
-- figure chunks' image vectors (index.image_embedder): another model, so another space and dimension
CREATE TABLE IF NOT EXISTS image_embeddings(
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vec BLOB NOT NULL
);
"""
VECTOR_TABLES = ("embeddings", "image_embeddings")


@dataclass
class DocRecord:
    id: int
    path: str
    sha256: str
    size: int
    mtime_ns: int
    file_type: str
    title: str
    n_chars: int
    n_pages: int | None
    chunk_sig: str


def _json(value) -> str:
    # most chunks have no extra data and no section: skip the encoder for those (thousands per ingest)
    if not value:
        return "[]" if isinstance(value, (list, tuple)) else "{}"
    return json.dumps(value, ensure_ascii=False)


class Store:
    """The SQLite implementation of ``docrag.index.storage.Storage``."""

    def __init__(self, path: Path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        try:
            if readonly:
                self._check_columns()
            else:
                self._add_missing_columns()
                self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            if "readonly" in str(e):  # a read-only file or file system: readers open it with readonly=True
                raise IndexStateError(f"{self.path}: cannot write here (read-only); searching it works, changing it "
                                      "needs write permission") from None
            reason = disk_failure(e, self.path.parent)
            if reason:
                raise IndexStateError(f"{self.path}: cannot open for writing: {reason}") from None
            raise IndexStateError(f"{self.path}: not a usable docrag database ({e})") from None

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection: one connection shared by threads would let a thread's statements run inside
        another thread's open transaction."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            return _connect_readonly(self.path)
        # a writer in another thread or process holds the database for at most one batch of documents: wait for it
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def _add_missing_columns(self) -> None:
        """Indexes made before a column existed get it with its default (their data stays valid)."""
        for table, column, decl in (("chunks", "kind", "TEXT NOT NULL DEFAULT 'text'"),
                                    ("chunks", "extra", "TEXT NOT NULL DEFAULT '{}'"),
                                    ("docs", "meta", "TEXT NOT NULL DEFAULT '{}'")):
            have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            if have and column not in have:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def _check_columns(self) -> None:
        """A read-only store cannot add the columns newer code reads: say so instead of failing mid-query."""
        have = {r[1] for r in self.db.execute("PRAGMA table_info(chunks)")}
        if not have:
            raise IndexStateError(f"{self.path}: no docrag tables in this database")
        if not {"kind", "extra"} <= have:
            raise IndexStateError(f"{self.path}: made by an older docrag; open it once for writing "
                                  "(`docrag ingest`) to upgrade it")

    def close(self):
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    def recover(self) -> None:
        """Nothing to do: a killed writer's transaction rolled back."""

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A transaction; nested inside another (see ``batch``) it joins the outer one."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # --- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, json.dumps(value)))

    @property
    def generation(self) -> int:
        return self.get_meta("generation", 0)

    def _bump(self) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    # --- documents ------------------------------------------------------------------------
    def docs(self) -> dict[str, DocRecord]:
        rows = self.db.execute(
            "SELECT id, path, sha256, size, mtime_ns, file_type, title, n_chars, n_pages, chunk_sig FROM docs")
        return {r[1]: DocRecord(*r) for r in rows}

    def put_document(self, doc: Document, chunks: list[Chunk], sha256: str, size: int, mtime_ns: int,
                     chunk_sig: str, edges: Iterable[tuple[int, int, str]] = ()) -> None:
        """Insert or replace a document, its chunks and its graph edges (chunk ordinals) atomically
        (old embeddings go with them)."""
        with self.transaction() as db:
            db.execute("DELETE FROM docs WHERE path=?", (doc.path,))
            cur = db.execute(
                "INSERT INTO docs(path, sha256, size, mtime_ns, file_type, title, n_chars, n_pages, chunk_sig,"
                " added_at, meta) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (doc.path, sha256, size, mtime_ns, doc.file_type, doc.title, doc.n_chars,
                 doc.metadata.get("n_pages"), chunk_sig, time.time(), _json(doc.metadata)))
            doc_id = cur.lastrowid
            db.executemany(
                "INSERT INTO chunks(doc_id, ordinal, text, char_start, char_end, page_start, page_end, section,"
                " kind, extra) VALUES(?,?,?,?,?,?,?,?,?,?)",
                [(doc_id, c.ordinal, c.text, c.char_start, c.char_end, c.page_start, c.page_end,
                  _json(list(c.section)), c.kind, _json(c.extra)) for c in chunks])
            db.executemany("INSERT INTO edges(doc_id, src, dst, kind) VALUES(?,?,?,?)",
                           [(doc_id, a, b, kind) for a, b, kind in edges])
            self._bump()

    def touch_document(self, path: str, mtime_ns: int) -> None:
        self.db.execute("UPDATE docs SET mtime_ns=? WHERE path=?", (mtime_ns, path))

    def remove_documents(self, paths: Iterable[str]) -> int:
        paths = list(paths)
        if not paths:
            return 0
        with self.transaction() as db:
            n = db.executemany("DELETE FROM docs WHERE path=?", [(p,) for p in paths]).rowcount
            self._bump()
        return n

    # --- chunks ---------------------------------------------------------------------------
    def chunk_texts(self, headings: int = 0) -> tuple[np.ndarray, list[str]]:
        """All searchable chunk ids (ascending) and texts, for building the BM25 index; with ``headings``,
        each text under that many innermost headings of its section (those it does not already start with)."""
        rows = self.db.execute("SELECT id, text, section FROM chunks WHERE kind != 'parent' ORDER BY id").fetchall()
        texts = [r[1] for r in rows]
        if headings:
            texts = ["\n".join([h for h in json.loads(section)[-headings:] if not text.startswith(h)] + [text])
                     for _, text, section in rows]
        return np.array([r[0] for r in rows], dtype=np.int64), texts

    def hits(self, ids_scores: list[tuple[int, float]]) -> list[Hit]:
        """Materialise hits for chunk ids, keeping the given order."""
        if not ids_scores:
            return []
        ids = [i for i, _ in ids_scores]
        rows = {}
        for batch in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            part = ids[batch:batch + 900]
            q = ("SELECT c.id, c.text, d.path, c.page_start, c.page_end, c.section, c.ordinal, c.char_start,"
                 " c.char_end, c.kind, c.extra FROM chunks c JOIN docs d ON d.id = c.doc_id WHERE c.id IN (%s)"
                 % ",".join("?" * len(part)))
            rows.update({r[0]: r for r in self.db.execute(q, part)})
        out = []
        for cid, score in ids_scores:
            r = rows.get(cid)
            if r is None:
                continue
            pages = list(range(r[3], (r[4] or r[3]) + 1)) if r[3] is not None else []
            out.append(Hit(chunk_id=cid, text=r[1], doc_path=r[2], score=float(score), page=r[3], pages=pages,
                           section=tuple(json.loads(r[5])), ordinal=r[6], char_start=r[7], char_end=r[8],
                           kind=r[9], extra=json.loads(r[10])))
        return out

    def chunk_ids(self, where: Filter) -> np.ndarray:
        """Ids (ascending) of the chunks a filter admits."""
        conditions, args = [], []
        for glob in where.path_globs:
            conditions.append("d.path GLOB ?")
            args.append(glob)
        for column, values in (("d.file_type", where.file_types), ("d.path", where.doc_paths),
                               ("c.kind", where.kinds)):
            if values:
                conditions.append(f"{column} IN (%s)" % ",".join("?" * len(values)))
                args.extend(values)
        q = "SELECT c.id FROM chunks c JOIN docs d ON d.id = c.doc_id"
        if conditions:
            q += " WHERE " + " AND ".join(conditions)
        return np.array([r[0] for r in self.db.execute(q + " ORDER BY c.id", args)], dtype=np.int64)

    def chunk_ids_by_ordinal(self, pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Chunk ids for (document path, ordinal) pairs that exist."""
        out = {}
        for path, ordinal in pairs:
            row = self.db.execute("SELECT c.id FROM chunks c JOIN docs d ON d.id = c.doc_id"
                                  " WHERE d.path=? AND c.ordinal=?", (path, ordinal)).fetchone()
            if row:
                out[(path, ordinal)] = row[0]
        return out

    def edges_from(self, chunk_ids: Iterable[int], kinds: Iterable[str] | None = None) -> list[tuple[int, int, str]]:
        """Graph edges leaving these chunks, as (source chunk id, target chunk id, kind)."""
        ids = list(chunk_ids)
        if not ids:
            return []
        q = ("SELECT s.id, t.id, e.kind FROM chunks s JOIN edges e ON e.doc_id = s.doc_id AND e.src = s.ordinal"
             " JOIN chunks t ON t.doc_id = e.doc_id AND t.ordinal = e.dst WHERE s.id IN (%s)"
             % ",".join("?" * len(ids)))
        args: list = list(ids)
        kinds = list(kinds or [])
        if kinds:
            q += " AND e.kind IN (%s)" % ",".join("?" * len(kinds))
            args += kinds
        return [tuple(r) for r in self.db.execute(q, args)]

    def doc_meta(self) -> dict[str, dict]:
        """Each document's metadata (title, company, year, ...) by path."""
        return {p: {"title": t, **json.loads(m)} for p, t, m in self.db.execute("SELECT path, title, meta FROM docs")}

    # --- embeddings -----------------------------------------------------------------------
    def chunks_missing_embeddings(self, limit: int, after_id: int = 0) -> list[tuple[int, str]]:
        """The next ``limit`` chunks without a vector, by id (``after_id`` lets a loop resume its scan)."""
        return self.db.execute(
            "SELECT c.id, c.text FROM chunks c LEFT JOIN embeddings e ON e.chunk_id = c.id"
            " WHERE e.chunk_id IS NULL AND c.kind != 'parent' AND c.id > ? ORDER BY c.id LIMIT ?",
            (after_id, limit)).fetchall()

    def figures_missing_image_vectors(self) -> list[tuple[int, str | None]]:
        """Figure chunks without an image vector, by id, with their image sha (figures are few: all at once)."""
        return self.db.execute(
            "SELECT c.id, json_extract(c.extra, '$.image_sha') FROM chunks c"
            " LEFT JOIN image_embeddings e ON e.chunk_id = c.id"
            " WHERE e.chunk_id IS NULL AND c.kind = 'figure' ORDER BY c.id").fetchall()

    def figure_image_shas(self) -> set[str]:
        """The image shas figure chunks name (which figure images the index still needs)."""
        rows = self.db.execute("SELECT DISTINCT json_extract(extra, '$.image_sha') FROM chunks WHERE kind = 'figure'")
        return {r[0] for r in rows if r[0]}

    def put_embeddings(self, ids: list[int], vectors: np.ndarray, table: str = "embeddings") -> None:
        """One checkpoint: a batch of vectors (stored as float16) commits as a unit. Vectors of
        chunks deleted meanwhile are skipped. ``table``: one of ``VECTOR_TABLES``."""
        vecs = vectors.astype(np.float16)
        with self.transaction() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO {_vector_table(table)}(chunk_id, vec) SELECT ?, ? WHERE EXISTS"
                " (SELECT 1 FROM chunks WHERE id=?)",
                [(i, v.tobytes(), i) for i, v in zip(ids, vecs)])

    def last_embedded_id(self, table: str = "embeddings") -> int | None:
        """Within one generation vectors are only added, in ascending chunk id (see
        ``chunks_missing_embeddings``), so this identifies the embedded set; an index lookup,
        unlike COUNT(*), which scans the vectors (3 ms at 14k chunks)."""
        return self.db.execute(f"SELECT MAX(chunk_id) FROM {_vector_table(table)}").fetchone()[0]

    def embeddings(self, dim: int, table: str = "embeddings") -> tuple[np.ndarray, np.ndarray]:
        rows = self.db.execute(f"SELECT chunk_id, vec FROM {_vector_table(table)} ORDER BY chunk_id").fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        stored = {len(r[1]) // 2 for r in rows}  # float16
        if stored - {dim}:
            raise IndexStateError(f"{self.path}: stored vectors have {'/'.join(map(str, sorted(stored)))} dimensions, "
                                  f"but the index records {dim}: manifest.json does not match this database")
        mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16).reshape(len(rows), dim)
        return ids, mat.astype(np.float32)

    def clear_embeddings(self, table: str = "embeddings") -> None:
        self.db.execute(f"DELETE FROM {_vector_table(table)}")

    def counts(self) -> dict[str, int]:
        one = lambda q: self.db.execute(q).fetchone()[0]  # noqa: E731
        return {
            "documents": one("SELECT COUNT(*) FROM docs"),
            "chunks": one("SELECT COUNT(*) FROM chunks WHERE kind != 'parent'"),
            "chars": one("SELECT COALESCE(SUM(n_chars), 0) FROM docs"),
            "pages": one("SELECT COALESCE(SUM(n_pages), 0) FROM docs"),
            "embedded": one("SELECT COUNT(*) FROM embeddings"),
            "image_vectors": one("SELECT COUNT(*) FROM image_embeddings"),
        }


# a write that failed because of the disk, not the code: errno, or SQLite's own words
_DISK_ERRNOS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                errno.EROFS: "read-only file system", errno.EFBIG: "file too large", errno.EIO: "I/O error",
                errno.EACCES: "permission denied", errno.EPERM: "permission denied"}
_SQLITE_DISK = ("disk is full", "readonly database", "disk i/o error", "unable to open database file")


def disk_failure(e: Exception, where: Path) -> str | None:
    """A one-line reason when ``e`` is a write the disk refused, else None. SQLite says "disk I/O error" when it
    cannot create its log on a full disk: the free space tells."""
    if isinstance(e, OSError):
        return _DISK_ERRNOS.get(e.errno or 0)
    text = str(e).lower()
    if not any(words in text for words in _SQLITE_DISK):
        return None
    try:
        full = shutil.disk_usage(where).free < 2**20
    except OSError:
        full = False
    return "no space left on device" if full else str(e)


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that never writes the database. On a read-only file system SQLite cannot create the WAL's
    shared-memory file a plain read-only open needs; ``immutable`` reads the file as it is (nothing can write
    there anyway)."""
    if not path.is_file():
        raise IndexStateError(f"{path}: no such database")
    uri = "file:" + urllib.parse.quote(str(path.resolve()))

    def connect(mode: str) -> sqlite3.Connection:
        db = sqlite3.connect(f"{uri}?{mode}", uri=True, isolation_level=None, check_same_thread=False)
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opening is lazy: fail here, not mid-query
        return db

    try:
        return connect("mode=ro")
    except sqlite3.OperationalError:
        return connect("immutable=1")


def _vector_table(table: str) -> str:
    if table not in VECTOR_TABLES:  # the name goes into SQL text
        raise ValueError(f"no vector table {table!r}; one of {VECTOR_TABLES}")
    return table
