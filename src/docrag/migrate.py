"""``docrag migrate``: copy an index into the other storage backend (SQLite → Milvus, Milvus → SQLite) through the
storage protocol: documents with their records (hashes, so the next ingest skips unchanged files), chunks, graph
edges, the embedder records and the vectors as stored (no re-embedding), and the figure images; then the derived
indexes are built for the target.

The source is opened read-only. The target is another index folder; while it is being written it holds
``migrate.incomplete`` (and its storage a meta key of that name), which ``Index.open`` refuses with a line saying
to run the migrate again; a re-run empties such a target and copies anew. A target that is a finished index is
never written over.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from docrag.atomic import write_text_atomic
from docrag.config import Config
from docrag.errors import DocragError
from docrag.index.image_embed import FIGURES_DIR
from docrag.index.image_embed import META_KEY as IMAGE_EMBEDDER_KEY
from docrag.index.storage import Storage
from docrag.resources import EMBEDDER_KEY, index_exists
from docrag.types import Chunk, Document, Filter, Hit, Progress

INCOMPLETE = "migrate.incomplete"  # in the target folder (and its storage's meta) until the copy is whole
BATCH = 2000  # chunks read per call, documents written per transaction


@dataclass
class MigrateReport:
    target: Path
    config: Config  # the target's: what to open it with
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Copied(Document):
    """A document as the source stored it: its text is in its chunks, so its length comes from the record."""

    chars: int = 0

    @property
    def n_chars(self) -> int:
        return self.chars


def target_of(spec: str, source: Path, config: Config, folder: Path | None = None) -> tuple[Path, Config]:
    """The target folder and configuration of ``--to``: ``milvus://PATH`` (a Milvus Lite file; ``milvus://``
    alone: milvus.db in the target folder), ``milvus://host:19530`` or ``milvus://http(s)://host:port`` (a server),
    or ``sqlite://DIR``. The target folder is ``folder``, else DIR for SQLite, else the source's folder name with
    ``-milvus``."""
    scheme, sep, rest = spec.partition("://")
    if not sep or scheme not in ("milvus", "sqlite"):
        raise DocragError(f"--to {spec!r}: expected milvus://PATH_OR_URI or sqlite://DIR")
    if scheme == "sqlite":
        if not rest and folder is None:
            raise DocragError("--to sqlite://DIR: say which folder the SQLite index goes to")
        return Path(folder or rest).expanduser(), config.updated(index__backend="sqlite")
    uri: str | None = rest or None
    if rest and not rest.startswith(("http://", "https://")) and re.fullmatch(r"[\w.-]+:\d+", rest):
        uri = f"http://{rest}"
    target = Path(folder).expanduser() if folder else source.with_name(source.name + "-milvus")
    return target, config.updated(index__backend="milvus", index__milvus_uri=uri)


def migrate(source: Path, config: Config, to: str, folder: Path | None = None,
            progress: Progress | None = None) -> MigrateReport:
    """Copy the index at ``source`` (opened with ``config``) to the target ``to`` names (see ``target_of``)."""
    from docrag.api import Index

    started = time.perf_counter()
    target, target_config = target_of(to, source.expanduser(), config, folder)
    src = Index.open(source, config=config, readonly=True)
    if target.resolve() == src.path.resolve() and target_config.index.backend == config.index.backend:
        raise DocragError(f"{target}: the source itself; name another target")
    mark = target / INCOMPLETE
    if index_exists(target, target_config) and not mark.exists():
        raise DocragError(f"{target}: already an index; remove it or choose another target folder")
    target.mkdir(parents=True, exist_ok=True)
    write_text_atomic(mark, json.dumps({"source": str(src.path), "to": to}))
    dst = Index(target, target_config)
    try:
        with dst.indexer.writing():
            if dst.store.docs() and dst.store.get_meta(INCOMPLETE) is None:
                raise DocragError(f"{to}: its storage already holds an index; choose another target")
            dst.store.set_meta(INCOMPLETE, str(src.path))
            _empty(dst.store)  # what an interrupted migrate left
            counts = _copy(src.store, dst.store, progress)
            for key in (EMBEDDER_KEY, IMAGE_EMBEDDER_KEY):
                if src.store.get_meta(key) is not None:
                    dst.store.set_meta(key, src.store.get_meta(key))
            dst.resources.manifest["embedder"] = src.manifest.get("embedder")
            dst.resources.write_manifest()
            counts.update(_copy_vectors(src, dst.store, counts.pop("ids")))
            if (src.path / FIGURES_DIR).is_dir():
                shutil.copytree(src.path / FIGURES_DIR, target / FIGURES_DIR, dirs_exist_ok=True)
            dst.indexer.rebuild(progress)
            dst.store.set_meta(INCOMPLETE, None)
        mark.unlink()
    finally:
        dst.close()
        src.close()
    return MigrateReport(target, target_config, counts, time.perf_counter() - started)


def _empty(store: Storage) -> None:
    store.remove_documents(list(store.docs()))
    for table in ("embeddings", "image_embeddings"):
        store.clear_embeddings(table)


def _copy(src: Storage, dst: Storage, progress: Progress | None) -> dict:
    """Documents, chunks and edges, in the source's chunk order (ties in a ranking break the same way), a
    transaction per batch of documents. Returns counts, and ``ids``: source chunk id -> (path, ordinal)."""
    ids = [int(i) for i in src.chunk_ids(Filter())]
    hits: list[Hit] = []
    for i in range(0, len(ids), BATCH):
        hits += src.hits([(cid, 0.0) for cid in ids[i:i + BATCH]])
    where = {h.chunk_id: (h.doc_path, h.ordinal) for h in hits}
    chunks: dict[str, list[Chunk]] = {}
    for h in hits:
        chunks.setdefault(h.doc_path, []).append(Chunk(
            h.text, h.doc_path, h.ordinal, h.char_start, h.char_end, h.pages[0] if h.pages else None,
            h.pages[-1] if h.pages else None, tuple(h.section), h.kind, h.extra))
    edges: dict[str, list[tuple[int, int, str]]] = {}
    n_edges = 0
    for i in range(0, len(ids), BATCH):
        for a, b, kind in src.edges_from(ids[i:i + BATCH]):
            if a in where and b in where:
                edges.setdefault(where[a][0], []).append((where[a][1], where[b][1], kind))
                n_edges += 1
    records, metas = src.docs(), src.doc_meta()
    paths = list(chunks) + [p for p in records if p not in chunks]  # documents without chunks too
    for i in range(0, len(paths), BATCH):
        with dst.transaction():
            for path in paths[i:i + BATCH]:
                rec = records[path]
                meta = dict(metas.get(path, {}))
                meta.pop("title", None)
                doc = _Copied(path, [], rec.title, rec.file_type, meta, chars=rec.n_chars)
                dst.put_document(doc, chunks.get(path, []), rec.sha256, rec.size, rec.mtime_ns, rec.chunk_sig,
                                 edges=edges.get(path, ()))
        if progress:
            progress("copy", min(i + BATCH, len(paths)), len(paths))
    return {"documents": len(paths), "chunks": len(hits), "edges": n_edges, "ids": where}


def _copy_vectors(src, dst: Storage, where: dict[int, tuple[str, int]]) -> dict[str, int]:
    """The text and image vectors, as stored, under the target's chunk ids (in ascending order)."""
    counts = {}
    for table, key in (("embeddings", EMBEDDER_KEY), ("image_embeddings", IMAGE_EMBEDDER_KEY)):
        record = src.store.get_meta(key)
        counts[table] = 0
        if not record or src.store.last_embedded_id(table) is None:
            continue
        ids, vectors = src.store.embeddings(record["dim"], table)
        pairs = [where[int(i)] for i in ids if int(i) in where]
        found = dst.chunk_ids_by_ordinal(pairs)
        moved = sorted((found[where[int(i)]], n) for n, i in enumerate(ids) if where.get(int(i)) in found)
        for start in range(0, len(moved), BATCH):
            part = moved[start:start + BATCH]
            dst.put_embeddings([cid for cid, _ in part], np.asarray(vectors[[n for _, n in part]]), table)
        counts[table] = len(moved)
    return counts
