"""The writer of an index: add and remove documents, embed them, and keep the derived indexes (BM25 files, an
HNSW graph) in step with the store. Only the writer writes, under a lock that holds across the threads of this
process (they take turns) and across processes (a second writing process is refused at once)."""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable

from docrag.errors import IndexStateError
from docrag.index.store import disk_failure
from docrag.ingest import (
    FileResult,
    IngestReport,
    collect_files,
    deleted_documents,
    documents_under,
    ingest_files,
)
from docrag.resources import EMBEDDER_KEY, Resources
from docrag.types import Progress

LOCK_FILE = "lock"


class Indexer:
    def __init__(self, resources: Resources):
        self.resources = resources
        self.path = resources.path
        self._mutex = threading.RLock()  # threads of this process take turns; the owner may re-enter
        self._depth = 0  # how deep the owning thread is inside writing()

    @contextmanager
    def writing(self):
        """Exclusive write access. A full or read-only disk ends the write with one line; every document committed
        before stays."""
        if self.resources.readonly:
            raise IndexStateError(f"{self.path}: opened read-only")
        with self._mutex:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                with open(self.path / LOCK_FILE, "w") as fh:
                    try:
                        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        raise IndexStateError(f"{self.path}: another docrag process is writing this index") from None
                    self._depth = 1
                    try:
                        self._remove_leftovers()
                        yield
                    finally:
                        self._depth = 0
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
        for tmp in self.path.glob("hnsw-*.tmp-*"):
            tmp.unlink(missing_ok=True)

    def add(self, paths: Iterable[str | Path], prune: bool = False, dense: bool | None = None,
            progress: Progress | None = None, workers: int | None = None,
            on_file: Callable[[FileResult], None] | None = None) -> IngestReport:
        """``workers``: processes that parse and chunk (default ``index.workers``; 0 there: one per core when
        enough PDFs or Word files need parsing)."""
        paths = list(paths)
        res = self.resources
        report = IngestReport()
        with self.writing():
            t0 = time.perf_counter()
            files, problems = collect_files(paths, res.config.index.extensions)
            cfg = res.config.index
            report.results = ingest_files(res.store, res.splitter, files, res.config, progress,
                                          res.figures.directory, workers or cfg.workers or None, on_file)
            report.results += problems
            if on_file:
                for problem in problems:
                    on_file(problem)
            if prune:
                folders = [p for p in paths if Path(p).expanduser().is_dir()]
                gone = deleted_documents(res.store, folders)
                res.store.remove_documents(gone)
                report.results += [FileResult(p, "removed") for p in gone]
            res.figures.prune()
            t1 = time.perf_counter()
            res.write_manifest()
            res.build_bm25(progress, save=True)
            report.seconds.update(parse=t1 - t0, bm25=time.perf_counter() - t1)
            if cfg.dense if dense is None else dense:
                t2 = time.perf_counter()
                report.embedded = self.embed_pending(progress)
                report.embedded_images = res.figures.embed_pending(progress)
                report.seconds["dense"] = time.perf_counter() - t2
        counts = res.store.counts()
        report.pending_embeddings = counts["chunks"] - counts["embedded"]
        return report

    def embed_pending(self, progress: Progress | None = None) -> int:
        """Embed chunks that have no vector yet, in checkpointed batches (resumable). Returns how many."""
        res = self.resources
        with self.writing():
            counts = res.store.counts()
            todo = counts["chunks"] - counts["embedded"]
            if todo == 0:
                return 0
            embedder = res.embedder()
            if res.store.get_meta(EMBEDDER_KEY) is None:  # a new index, or one made before the store kept it
                res.record_embedder(embedder)
            done = last_id = 0
            batch = res.config.index.embed_batch
            while True:
                rows = res.store.chunks_missing_embeddings(batch, after_id=last_id)
                if not rows:
                    break
                last_id = rows[-1][0]
                res.store.put_embeddings([r[0] for r in rows], embedder.embed_passages([r[1] for r in rows]))
                done += len(rows)
                if progress:
                    progress("embed", done, todo)
            self._save_graph()
            return done

    def _save_graph(self) -> None:
        """An index large enough for HNSW search keeps its graph beside the vectors (readers only load it)."""
        res = self.resources
        if res.store.counts()["embedded"] > res.config.index.hnsw_threshold:
            res.vectors(save_graph=True)

    def remove(self, paths: Iterable[str | Path]) -> list[str]:
        """Remove the documents of these files, or of every file under these folders."""
        res = self.resources
        with self.writing():
            gone = documents_under(res.store, paths)
            res.store.remove_documents(gone)
            res.figures.prune()
            res.build_bm25(save=True)
        return gone

    def rebuild(self, progress: Progress | None = None) -> None:
        """Save the derived indexes of the current generation (after a configuration change, or when a reader
        reported building them in memory)."""
        with self.writing():
            self.resources.build_bm25(progress, save=True)
            self._save_graph()
