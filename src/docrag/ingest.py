"""Incremental ingestion as plan → process → commit: find files and skip unchanged ones, parse and chunk the rest
(``process``: a pure function of the file and the configuration, so it runs in worker processes and, later, on Ray),
and commit the results in batched transactions.

A file is unchanged when its size and mtime match the stored record (no read at all), or when
its content hash matches (then only the mtime is updated). A file that fails to parse is
reported with its reason and leaves whatever was indexed for it before untouched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import multiprocessing
import os
import signal
import stat
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from docrag.chunk import Splitter, make_splitter
from docrag.config import Config
from docrag.errors import ParseError
from docrag.index.graph import build_edges
from docrag.index.image_embed import save_figure_images
from docrag.index.storage import Storage
from docrag.models.embed import Embedder, make_embedder
from docrag.models.vision import VisionModel, make_vlm
from docrag.parse import parse, supported
from docrag.parse.base import parser_signature
from docrag.types import Chunk, Document, Progress


@dataclass
class FileResult:
    path: str
    status: str  # added | updated | unchanged | failed | skipped (not a document: a FIFO, a looping link) | removed
    reason: str = ""
    chunks: int = 0
    embedded: int = 0  # chunks committed with their vectors (made on Ray: ``index.ray``)


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    embedded: int = 0  # chunks embedded by this run
    embedded_images: int = 0  # figure images embedded by this run (index.image_embedder)
    pending_embeddings: int = 0  # chunks still without a vector (dense off or interrupted)
    seconds: dict[str, float] = field(default_factory=dict)

    def _with(self, status: str) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def added(self) -> list[FileResult]:
        return self._with("added")

    @property
    def updated(self) -> list[FileResult]:
        return self._with("updated")

    @property
    def unchanged(self) -> list[FileResult]:
        return self._with("unchanged")

    @property
    def failed(self) -> list[FileResult]:
        return self._with("failed")

    @property
    def skipped(self) -> list[FileResult]:
        return self._with("skipped")

    @property
    def removed(self) -> list[FileResult]:
        return self._with("removed")

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.updated)} updated", f"{len(self.unchanged)} unchanged",
                 f"{len(self.failed)} failed"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        text = ", ".join(parts)
        if self.embedded or self.pending_embeddings:
            text += f"; {self.embedded} chunks embedded, {self.pending_embeddings} pending"
        if self.embedded_images:
            text += f"; {self.embedded_images} figure images embedded"
        return text


def collect_files(paths: Iterable[str | Path], extensions: Iterable[str]) -> tuple[list[Path], list[FileResult]]:
    """Files to ingest (absolute, sorted, recursive, hidden entries skipped) and per-path problems.

    A file named explicitly is taken whatever its extension (an unsupported one then fails with
    a reason); inside folders only files with the configured extensions are picked up. Symlinked
    folders are followed, each real folder once (a link back up the tree would loop); folders that
    cannot be read are failures, and FIFOs, devices and sockets are skipped (reading one can block
    forever or never end), each with a line.
    """
    exts = {e.lower() for e in extensions}
    files: list[Path] = []
    problems: list[FileResult] = []
    walked: set[Path] = set()
    for p in paths:
        p = Path(p).expanduser().resolve()
        if p.is_dir():
            files.extend(_walk(p, exts, walked, problems))
        elif not p.exists():
            problems.append(FileResult(str(p), "failed", "no such file or directory"))
        elif not p.is_file():
            problems.append(_not_regular(p))
        elif supported(p):
            files.append(p)
        else:
            problems.append(FileResult(str(p), "failed", f"unsupported file type {p.suffix or '(none)'!r}"))
    return list(dict.fromkeys(files)), problems


def _walk(top: Path, exts: set[str], walked: set[Path], problems: list[FileResult]) -> list[Path]:
    def unreadable(e: OSError) -> None:
        problems.append(FileResult(e.filename or str(top), "failed", f"cannot read folder: {e.strerror or e}"))

    files = []
    for root, dirs, names in os.walk(top, onerror=unreadable, followlinks=True):
        real = Path(root).resolve()
        if real in walked:  # a folder named twice, or a symlink to one already taken (to an ancestor: a loop)
            if root != str(top):
                problems.append(FileResult(root, "skipped", f"link to a folder already included ({real})"))
            dirs[:] = []
            continue
        walked.add(real)
        # real folders before links to folders: a link to a folder also inside the tree is the one skipped
        dirs[:] = sorted((d for d in dirs if not d.startswith(".")), key=lambda d: (os.path.islink(Path(root, d)), d))
        for name in sorted(names):
            path = Path(root, name)
            if name.startswith(".") or path.suffix.lower() not in exts:
                continue
            if path.is_file():
                files.append(path)
            elif path.exists():
                problems.append(_not_regular(path))
            elif path.is_symlink():
                problems.append(FileResult(str(path), "skipped", "broken symbolic link"))
    return files


def _not_regular(path: Path) -> FileResult:
    mode = path.stat().st_mode
    kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return FileResult(str(path), "skipped", f"{kind}, not a regular file")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Limits:
    """Work one file may cause (config ``index.max_file_*``): a small file can expand without bound."""

    max_bytes: int
    max_chars: int
    max_chunks: int

    @classmethod
    def of(cls, config: Config) -> "Limits":
        i = config.index
        return cls(int(i.max_file_mb * 2**20), i.max_file_chars, i.max_file_chunks)


@dataclass
class ProcessedDocument:
    """What ``process`` made of one file: a parsed and chunked document to commit, or why there is none.
    Plain data (figure crops travel inside the document as PNG bytes), so it crosses process boundaries."""

    path: str
    status: str  # processed | unchanged (same content as indexed) | failed | skipped
    reason: str = ""
    doc: Document | None = None
    chunks: list[Chunk] = field(default_factory=list)
    edges: list[tuple[int, int, str]] = field(default_factory=list)
    sha256: str = ""
    size: int = 0
    mtime_ns: int = 0
    vectors: np.ndarray | None = None  # the searchable chunks' (all but parents'), when embedded with the parsing


def process(path: Path, config: Config, indexed_sha: str | None = None,
            models: Models | None = None) -> ProcessedDocument:
    """Parse and chunk one file, touching nothing but the file: no database, no index. Runs in the ingesting
    process, in a worker process (``docrag ingest --workers``) or on another machine (a Ray task).

    ``indexed_sha``: the content hash the index has for this file under the same parser and chunker (then the
    same content is "unchanged" and not parsed); ``models``: the chunker and vision model to use (default: made
    from ``config``, once per process)."""
    try:
        st = path.stat()
    except OSError as e:
        return ProcessedDocument(str(path), "failed", f"cannot read: {e.strerror or e}")
    if not stat.S_ISREG(st.st_mode):  # replaced by a FIFO or device since the folder was listed
        return ProcessedDocument(str(path), "skipped", _not_regular(path).reason)
    try:
        digest = sha256_file(path)
    except OSError as e:
        return ProcessedDocument(str(path), "failed", f"cannot read: {e.strerror or e}")
    found = ProcessedDocument(str(path), "unchanged", sha256=digest, size=st.st_size, mtime_ns=st.st_mtime_ns)
    if digest == indexed_sha:
        return found
    limits = Limits.of(config)
    models = models or models_for(config)
    try:
        doc = parse(path, max_bytes=limits.max_bytes, options=config.parse, max_chars=limits.max_chars,
                    vlm=models.vlm)
    except ParseError as e:
        return ProcessedDocument(str(path), "failed", e.reason)
    chunks = models.splitter.split(doc)
    if len(chunks) > limits.max_chunks:
        return ProcessedDocument(str(path), "failed", f"too many chunks ({len(chunks):,} > {limits.max_chunks:,} "
                                 "limit; raise index.max_file_chunks)")
    found.status, found.doc, found.chunks, found.edges = "processed", doc, chunks, build_edges(doc, chunks)
    return found


@dataclass(frozen=True)
class Models:
    """What ``process`` works with besides the file: the chunker (the semantic strategy's embedder loads on first
    use) and the vision model that describes figures (``parse.vlm``)."""

    splitter: Splitter
    vlm: VisionModel | None


_MODELS: dict[str, Models] = {}  # per process: built once per configuration


def models_for(config: Config) -> Models:
    key = config.model_dump_json()
    if key not in _MODELS:
        def embedder() -> Embedder:
            return make_embedder(config.index.embedder, config)

        _MODELS[key] = Models(make_splitter(config.chunk, embedder=embedder, embedder_name=config.index.embedder),
                              make_vlm(config.parse.vlm, config) if config.parse.vlm else None)
    return _MODELS[key]


_WORKER_CONFIG: Config | None = None  # a worker process's configuration, sent once when it starts


def _start_worker(config: Config) -> None:
    """Ctrl-C is the ingest's to handle (it stops the pool), not each worker's. A worker ends when the ingest that
    started it is killed: each worker also holds the task queue's write end, so it would otherwise wait for tasks
    forever (Linux; elsewhere the pool's own shutdown applies)."""
    global _WORKER_CONFIG
    _WORKER_CONFIG = config
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _process_job(job: tuple[Path, str | None]) -> ProcessedDocument:
    assert _WORKER_CONFIG is not None
    return process(job[0], _WORKER_CONFIG, job[1])


# Documents are committed in batches (up to this many files or seconds of work): one commit per
# file cost ~10% of a large ingest. Each document is still all-or-nothing; a killed run redoes at
# most one batch.
BATCH_FILES, BATCH_SECONDS = 256, 2.0
# Worker processes start by importing docrag (about a second each) and ship every document back: worth it for
# PDFs and Word files (FinanceBench's 52 PDFs: 1.74x faster with 2 workers), not for text files, whose parsing is a
# small part of their ingest (5,788 news articles: 0.76-0.95x). Without an explicit worker count, a pool is used when at
# least this many such files need parsing.
HEAVY_TYPES = {".pdf", ".docx"}
MIN_HEAVY_FILES = 8


def ingest_files(store: Storage, splitter: Splitter, files: list[Path], config: Config,
                 progress: Progress | None = None, figures_dir: Path | None = None,
                 workers: int | None = None, on_file: Callable[[FileResult], None] | None = None,
                 ray: str | None = None, embed: bool = False) -> list[FileResult]:
    """Plan, process, commit: the files whose size, time or signature differ from the index are processed
    (``process``, by ``workers`` processes; None: one per core when there are PDFs or Word files enough to gain
    from it; or on the Ray cluster ``ray`` names, which with ``embed`` also makes the chunks' vectors), and the
    results are committed in batches as they come, in file order. ``figures_dir`` receives the figure crops the
    parser kept; ``on_file`` hears each file's result once it is final (committed or failed)."""
    known = store.docs()
    chunk_sig = splitter.signature()
    signatures: dict[str, str] = {}  # by file extension
    results: dict[Path, FileResult] = {}
    jobs, sigs = [], {}
    for path in files:  # plan: only stat, no reading
        ext = path.suffix.lower()
        if ext not in signatures:
            signatures[ext] = f"{chunk_sig}|{parser_signature(path, config.parse)}"
        sig = sigs[path] = signatures[ext]
        record = known.get(str(path))
        try:
            st = path.stat()
        except OSError:
            st = None  # process() says why
        indexed = record if record is not None and record.chunk_sig == sig else None  # under the same signature
        if indexed and st is not None and (indexed.size, indexed.mtime_ns) == (st.st_size, st.st_mtime_ns):
            results[path] = FileResult(str(path), "unchanged")
            if on_file:
                on_file(results[path])
        else:
            jobs.append((path, indexed.sha256 if indexed else None))
    if progress:
        progress("parse", len(results), len(files))

    def commit(batch: list[ProcessedDocument]) -> None:
        with store.transaction():  # open only while committing: parsing happens outside it
            for done in batch:
                path = Path(done.path)
                results[path] = _commit(store, done, sigs[path], known.get(done.path), figures_dir)
        _put_vectors(store, batch, results)
        if on_file:  # after the commit: a file is searchable when it is heard of
            for done in batch:
                on_file(results[Path(done.path)])
        if progress:
            progress("parse", len(results), len(files))

    batch: list[ProcessedDocument] = []
    deadline = time.monotonic() + BATCH_SECONDS
    for done in _run(jobs, config, splitter, workers, ray, embed):
        batch.append(done)
        if len(batch) >= BATCH_FILES or time.monotonic() > deadline:
            commit(batch)
            batch, deadline = [], time.monotonic() + BATCH_SECONDS
    commit(batch)
    return [results[p] for p in files]


def _run(jobs: list[tuple[Path, str | None]], config: Config, splitter: Splitter, workers: int | None,
         ray: str | None = None, embed: bool = False):
    """``process`` over the jobs (path, indexed hash), results in job order as they come."""
    if ray and jobs:
        from docrag.ingest_ray import process_on_ray

        yield from process_on_ray(jobs, config, ray, embed)
        return
    if workers is None:
        heavy = sum(path.suffix.lower() in HEAVY_TYPES for path, _ in jobs)
        workers = (os.cpu_count() or 1) if heavy >= MIN_HEAVY_FILES else 1
    if workers <= 1 or len(jobs) < 2:
        # the index's own chunker: its semantic strategy shares the index's loaded embedder
        models = replace(models_for(config), splitter=splitter)
        yield from (process(path, config, sha, models) for path, sha in jobs)
        return
    # spawn, not fork: the parent may run threads (progress bars, ONNX Runtime) whose locks a fork would copy held
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(config,))
    try:
        yield from pool.map(_process_job, jobs, chunksize=max(1, min(32, len(jobs) // (8 * workers))))
    finally:  # interrupted: files not yet started are dropped, not parsed for nothing
        pool.shutdown(wait=True, cancel_futures=True)


def _commit(store: Storage, done: ProcessedDocument, sig: str, record, figures_dir: Path | None) -> FileResult:
    if done.status == "unchanged":
        store.touch_document(done.path, done.mtime_ns)
        return FileResult(done.path, "unchanged")
    if done.status != "processed":
        return FileResult(done.path, done.status, done.reason)
    assert done.doc is not None
    if figures_dir is not None:
        save_figure_images(done.doc, figures_dir)
    store.put_document(done.doc, done.chunks, done.sha256, done.size, done.mtime_ns, sig, edges=done.edges)
    return FileResult(done.path, "updated" if record else "added", chunks=len(done.chunks))


def _put_vectors(store: Storage, batch: list[ProcessedDocument], results: dict[Path, FileResult]) -> None:
    """The vectors that came with committed documents, stored after their chunks (which have ids once committed: a
    writer that dies between the two leaves chunks without vectors, which the next ingest embeds)."""
    ids: list[int] = []
    vectors = []
    for done in batch:
        result = results[Path(done.path)]
        if done.vectors is None or result.status not in ("added", "updated"):
            continue
        ordinals = [(done.path, c.ordinal) for c in done.chunks if c.kind != "parent"]
        found = store.chunk_ids_by_ordinal(ordinals)
        ids += [found[o] for o in ordinals]
        vectors.append(done.vectors)
        result.embedded = len(ordinals)
    if ids:
        store.put_embeddings(ids, np.vstack(vectors))


def deleted_documents(store: Storage, roots: Iterable[str | Path]) -> list[str]:
    """Indexed documents under ``roots`` whose files are gone. A file that cannot be looked at (a folder
    without read permission) is not gone: its document stays."""
    gone = []
    for path in documents_under(store, roots):
        try:
            os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            gone.append(path)
        except OSError:
            pass
    return gone


def documents_under(store: Storage, roots: Iterable[str | Path]) -> list[str]:
    """Indexed documents that are one of ``roots`` or lie inside one of them."""
    prefixes = [str(Path(r).expanduser().resolve()) for r in roots]
    return [p for p in store.docs() if any(p == r or p.startswith(r.rstrip(os.sep) + os.sep) for r in prefixes)]
