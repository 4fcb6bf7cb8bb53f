"""``docrag migrate``: an index copied into the other backend (SQLite → Milvus Lite → SQLite) keeps its documents,
records, chunks, graph and vectors, ranks the same, and a migrate that fails leaves the source as it was and the
target marked unfinished until a re-run completes it."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import numpy as np
import pytest

import docrag
import docrag.migrate
from docrag.errors import DocragError, IndexStateError
from docrag.migrate import INCOMPLETE, migrate, target_of
from docrag.types import Filter

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pymilvus") is None or importlib.util.find_spec("milvus_lite") is None,
    reason="pymilvus / milvus-lite not installed: pip install 'docrag[milvus]'")
QUERIES = ["龙井茶产自哪里", "hybrid search ranking", "旋转位置编码", "how do I ingest a PDF"]


@pytest.fixture(scope="module")
def source(tmp_path_factory, sample_dir):
    from conftest import markdown_to_pdf

    root = tmp_path_factory.mktemp("migrate")
    shutil.copytree(sample_dir, root / "docs")
    markdown_to_pdf((sample_dir.parent / "guide" / "docrag_guide.md").read_text(encoding="utf-8"),
                    root / "docs" / "guide.pdf")
    with docrag.Index.open(root / "sqlite", create=True) as idx:
        report = idx.add(root / "docs")
        assert len(report.added) == 5 and not report.pending_embeddings
    return root


def _everything(idx: docrag.Index) -> dict:
    store = idx.store
    ids = [int(i) for i in store.chunk_ids(Filter())]
    hits = store.hits([(i, 0.0) for i in ids])
    key = {h.chunk_id: (h.doc_path, h.ordinal) for h in hits}
    dim = idx.manifest["embedder"]["dim"]
    vec_ids, vectors = store.embeddings(dim)
    return {
        "records": {p: (r.sha256, r.size, r.mtime_ns, r.file_type, r.title, r.n_chars, r.n_pages, r.chunk_sig)
                    for p, r in store.docs().items()},
        "meta": store.doc_meta(),
        "chunks": [(h.doc_path, h.ordinal, h.text, h.pages, h.section, h.char_start, h.char_end, h.kind, h.extra)
                   for h in hits],
        "edges": sorted((key[a], key[b], kind) for a, b, kind in store.edges_from(ids)),
        "vectors": dict(zip((key[int(i)] for i in vec_ids), vectors.tolist())),
        "embedder": idx.manifest["embedder"],
    }


def _rankings(idx: docrag.Index) -> list:
    return [[(h.doc_path, h.ordinal, round(h.score, 5)) for h in idx.search(q, k=10, mode=mode, rerank="none")]
            for q in QUERIES for mode in ("bm25", "dense", "hybrid")]


def test_sqlite_to_milvus_and_back_keeps_everything_and_ranks_the_same(source, tmp_path):
    with docrag.Index.open(source / "sqlite", readonly=True) as src:
        expected, ranked = _everything(src), _rankings(src)
    assert expected["edges"] and len(expected["vectors"]) == len(expected["chunks"]) - sum(
        c[7] == "parent" for c in expected["chunks"])
    # the command line, as a user runs it
    r = subprocess.run([sys.executable, "-m", "docrag.cli", "migrate", "--index", source / "sqlite", "--to",
                        f"milvus://{tmp_path / 'm.db'}", "--target", tmp_path / "milvus", "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"{len(expected['records'])} documents, {len(expected['chunks'])} chunks" in r.stdout
    assert "--set index.backend=milvus --set index.milvus_uri=" in r.stdout
    on_milvus = dict(index__backend="milvus", index__milvus_uri=str(tmp_path / "m.db"))
    with docrag.Index.open(tmp_path / "milvus", readonly=True, **on_milvus) as copy:
        assert _everything(copy) == expected and _rankings(copy) == ranked
    with docrag.Index.open(tmp_path / "milvus", **on_milvus) as copy:  # the records make the next ingest skip
        assert len(copy.add(source / "docs").unchanged) == 5
    back = migrate(tmp_path / "milvus", docrag.Config().updated(**on_milvus), f"sqlite://{tmp_path / 'back'}")
    assert back.counts["embeddings"] == len(expected["vectors"])
    with docrag.Index.open(tmp_path / "back", readonly=True) as again:
        assert _everything(again) == expected and _rankings(again) == ranked


def test_a_failed_migrate_leaves_the_source_and_marks_the_target_until_a_rerun(source, tmp_path, monkeypatch):
    src_db = source / "sqlite" / "docrag.sqlite"
    before = src_db.read_bytes()

    def fail(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(docrag.migrate, "_copy_vectors", fail)
    with pytest.raises(OSError):
        migrate(source / "sqlite", docrag.Config(), "sqlite://", tmp_path / "copy")
    assert src_db.read_bytes() == before and (tmp_path / "copy" / INCOMPLETE).exists()
    with pytest.raises(IndexStateError, match="unfinished `docrag migrate`.*run it again"):
        docrag.Index.open(tmp_path / "copy")
    monkeypatch.undo()
    report = migrate(source / "sqlite", docrag.Config(), "sqlite://", tmp_path / "copy")
    assert not (tmp_path / "copy" / INCOMPLETE).exists() and report.counts["documents"] == 5
    with docrag.Index.open(tmp_path / "copy", readonly=True) as copy, \
            docrag.Index.open(source / "sqlite", readonly=True) as src:
        assert _everything(copy) == _everything(src)
    with pytest.raises(DocragError, match="already an index"):
        migrate(source / "sqlite", docrag.Config(), "sqlite://", tmp_path / "copy")


def test_target_forms():
    cfg = docrag.Config()
    src = docrag.migrate.Path("/data/ix")
    assert target_of("milvus://", src, cfg)[0].name == "ix-milvus"
    assert target_of("milvus://", src, cfg)[1].index.milvus_uri is None  # milvus.db in the target folder
    assert target_of("milvus://host:19530", src, cfg)[1].index.milvus_uri == "http://host:19530"
    assert target_of("milvus://https://h:443", src, cfg)[1].index.milvus_uri == "https://h:443"
    assert target_of("milvus:///x/m.db", src, cfg)[1].index.milvus_uri == "/x/m.db"
    assert target_of("sqlite:///x/copy", src, cfg) == (docrag.migrate.Path("/x/copy"), cfg)
    for bad in ("elastic://x", "/x/y", "sqlite://"):
        with pytest.raises(DocragError, match="--to"):
            target_of(bad, src, cfg)


def test_vectors_keep_their_values(source, tmp_path):
    with docrag.Index.open(source / "sqlite", readonly=True) as src:
        dim = src.manifest["embedder"]["dim"]
        ids, vectors = src.store.embeddings(dim)
    migrate(source / "sqlite", docrag.Config(), "sqlite://", tmp_path / "copy")
    with docrag.Index.open(tmp_path / "copy", readonly=True) as copy:
        assert np.array_equal(copy.store.embeddings(dim)[1], vectors)  # dense ids, the same order
