"""Incremental ingestion: find files, skip unchanged ones, parse and chunk the rest, store them.

A file is unchanged when its size and mtime match the stored record (no read at all), or when
its content hash matches (then only the mtime is updated). A file that fails to parse is
reported with its reason and leaves whatever was indexed for it before untouched.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from docrag.chunk import Splitter
from docrag.config import ParseConfig
from docrag.errors import ParseError
from docrag.index.graph import build_edges
from docrag.index.image_embed import save_figure_images
from docrag.index.store import Store
from docrag.parse import parse, supported
from docrag.parse.base import parser_signature

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class FileResult:
    path: str
    status: str  # added | updated | unchanged | failed | removed
    reason: str = ""
    chunks: int = 0


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
    def removed(self) -> list[FileResult]:
        return self._with("removed")

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.updated)} updated", f"{len(self.unchanged)} unchanged",
                 f"{len(self.failed)} failed"]
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        text = ", ".join(parts)
        if self.embedded or self.pending_embeddings:
            text += f"; {self.embedded} chunks embedded, {self.pending_embeddings} pending"
        if self.embedded_images:
            text += f"; {self.embedded_images} figure images embedded"
        return text


def collect_files(paths: Iterable[str | Path], extensions: Iterable[str]) -> tuple[list[Path], list[FileResult]]:
    """Files to ingest (absolute, sorted, recursive, hidden entries skipped) and per-path errors.

    A file named explicitly is taken whatever its extension (an unsupported one then fails with
    a reason); inside folders only files with the configured extensions are picked up.
    """
    exts = {e.lower() for e in extensions}
    files: list[Path] = []
    errors: list[FileResult] = []
    for p in paths:
        p = Path(p).expanduser().resolve()
        if p.is_file():
            if supported(p):
                files.append(p)
            else:
                errors.append(FileResult(str(p), "failed", f"unsupported file type {p.suffix or '(none)'!r}"))
        elif p.is_dir():
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root, n) for n in sorted(names)
                             if not n.startswith(".") and Path(n).suffix.lower() in exts)
        else:
            errors.append(FileResult(str(p), "failed", "no such file or directory"))
    return list(dict.fromkeys(files)), errors


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Documents are committed in batches (up to this many files or seconds of work): one commit per
# file cost ~10% of a large ingest. Each document is still all-or-nothing; a killed run redoes at
# most one batch.
BATCH_FILES, BATCH_SECONDS = 256, 2.0


def ingest_files(store: Store, splitter: Splitter, files: list[Path], max_bytes: int,
                 progress: Progress | None = None, options: ParseConfig | None = None,
                 figures_dir: Path | None = None) -> list[FileResult]:
    """Parse, chunk and store the files that changed; ``figures_dir`` receives the figure crops the parser kept
    (``parse.figure_images``)."""
    known = store.docs()
    chunk_sig = splitter.signature()
    signatures: dict[str, str] = {}  # by file extension
    results: list[FileResult] = []
    while len(results) < len(files):
        deadline = time.monotonic() + BATCH_SECONDS
        with store.transaction():
            for path in files[len(results):len(results) + BATCH_FILES]:
                ext = path.suffix.lower()
                if ext not in signatures:
                    signatures[ext] = f"{chunk_sig}|{parser_signature(path, options)}"
                sig = signatures[ext]
                results.append(_ingest_one(store, splitter, sig, known.get(str(path)), path, max_bytes, options,
                                           figures_dir))
                if progress:
                    progress("parse", len(results), len(files))
                if time.monotonic() > deadline:
                    break
    return results


def _ingest_one(store, splitter, sig, record, path: Path, max_bytes: int, options, figures_dir) -> FileResult:
    try:
        st = path.stat()
    except OSError as e:
        return FileResult(str(path), "failed", f"cannot read: {e.strerror or e}")
    if record and record.chunk_sig == sig and record.size == st.st_size and record.mtime_ns == st.st_mtime_ns:
        return FileResult(str(path), "unchanged")
    try:
        digest = sha256_file(path)
    except OSError as e:
        return FileResult(str(path), "failed", f"cannot read: {e.strerror or e}")
    if record and record.chunk_sig == sig and record.sha256 == digest:
        store.touch_document(str(path), st.st_mtime_ns)
        return FileResult(str(path), "unchanged")
    try:
        doc = parse(path, max_bytes=max_bytes, options=options)
    except ParseError as e:
        return FileResult(str(path), "failed", e.reason)
    if figures_dir is not None:
        save_figure_images(doc, figures_dir)
    chunks = splitter.split(doc)
    store.put_document(doc, chunks, digest, st.st_size, st.st_mtime_ns, sig, edges=build_edges(doc, chunks))
    return FileResult(str(path), "updated" if record else "added", chunks=len(chunks))


def documents_under(store: Store, roots: Iterable[str | Path]) -> list[str]:
    """Indexed documents that are one of ``roots`` or lie inside one of them."""
    prefixes = [str(Path(r).expanduser().resolve()) for r in roots]
    return [p for p in store.docs() if any(p == r or p.startswith(r.rstrip(os.sep) + os.sep) for r in prefixes)]
