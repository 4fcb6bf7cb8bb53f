"""Incremental ingestion: find files, skip unchanged ones, parse and chunk the rest, store them.

A file is unchanged when its size and mtime match the stored record (no read at all), or when
its content hash matches (then only the mtime is updated). A file that fails to parse is
reported with its reason and leaves whatever was indexed for it before untouched.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from docrag.chunk import Splitter
from docrag.config import ParseConfig
from docrag.errors import ParseError
from docrag.index.graph import build_edges
from docrag.index.image_embed import save_figure_images
from docrag.index.storage import Storage
from docrag.models.vision import VisionModel
from docrag.parse import parse, supported
from docrag.parse.base import parser_signature
from docrag.types import Progress


@dataclass
class FileResult:
    path: str
    status: str  # added | updated | unchanged | failed | skipped (not a document: a FIFO, a looping link) | removed
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


# Documents are committed in batches (up to this many files or seconds of work): one commit per
# file cost ~10% of a large ingest. Each document is still all-or-nothing; a killed run redoes at
# most one batch.
BATCH_FILES, BATCH_SECONDS = 256, 2.0


def ingest_files(store: Storage, splitter: Splitter, files: list[Path], limits: Limits,
                 progress: Progress | None = None, options: ParseConfig | None = None,
                 figures_dir: Path | None = None, vlm: VisionModel | None = None) -> list[FileResult]:
    """Parse, chunk and store the files that changed; ``figures_dir`` receives the figure crops the parser kept
    (``parse.figure_images``), ``vlm`` describes figures (``parse.vlm``)."""
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
                results.append(_ingest_one(store, splitter, sig, known.get(str(path)), path, limits, options,
                                           figures_dir, vlm))
                if progress:
                    progress("parse", len(results), len(files))
                if time.monotonic() > deadline:
                    break
    return results


def _ingest_one(store, splitter, sig, record, path: Path, limits: Limits, options, figures_dir, vlm) -> FileResult:
    try:
        st = path.stat()
    except OSError as e:
        return FileResult(str(path), "failed", f"cannot read: {e.strerror or e}")
    if not stat.S_ISREG(st.st_mode):  # replaced by a FIFO or device since the folder was listed
        return _not_regular(path)
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
        doc = parse(path, max_bytes=limits.max_bytes, options=options, max_chars=limits.max_chars, vlm=vlm)
    except ParseError as e:
        return FileResult(str(path), "failed", e.reason)
    chunks = splitter.split(doc)
    if len(chunks) > limits.max_chunks:
        return FileResult(str(path), "failed", f"too many chunks ({len(chunks):,} > {limits.max_chunks:,} limit; "
                          "raise index.max_file_chunks)")
    if figures_dir is not None:
        save_figure_images(doc, figures_dir)
    store.put_document(doc, chunks, digest, st.st_size, st.st_mtime_ns, sig, edges=build_edges(doc, chunks))
    return FileResult(str(path), "updated" if record else "added", chunks=len(chunks))


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
