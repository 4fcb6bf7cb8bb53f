"""Ingestion as plan → process → commit: ``process`` is a pure function of a file and the configuration (it
pickles, and touches no index), and several worker processes build the same index as one."""

from __future__ import annotations

import pickle
import shutil

import docrag
from docrag.config import Config
from docrag.ingest import MIN_HEAVY_FILES, process


def test_process_is_pure_and_picklable(tmp_path, sample_dir):
    shutil.copytree(sample_dir, tmp_path / "docs")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    done = process(tmp_path / "docs" / "中国茶.html", Config())
    assert done.status == "processed" and done.chunks and done.doc is not None and len(done.sha256) == 64
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no index, no database, nothing written
    again = pickle.loads(pickle.dumps(done))
    assert [c.text for c in again.chunks] == [c.text for c in done.chunks] and again.edges == done.edges
    assert process(tmp_path / "docs" / "中国茶.html", Config(), indexed_sha=done.sha256).status == "unchanged"
    failed = process(tmp_path / "missing.md", Config())
    assert failed.status == "failed" and "cannot read" in failed.reason


def test_worker_processes_build_the_same_index_as_one(tmp_path, sample_dir, make_pdf):
    docs = tmp_path / "docs"
    guide = make_pdf((sample_dir.parent / "guide" / "docrag_guide.md").read_text(encoding="utf-8"), "guide.pdf")
    for n in range(MIN_HEAVY_FILES):  # PDFs enough for a pool by default too
        shutil.copytree(sample_dir, docs / f"copy{n:02d}")
        shutil.copy(guide, docs / f"copy{n:02d}")
    one = docrag.Index.open(tmp_path / "one", create=True, dense=False)
    two = docrag.Index.open(tmp_path / "two", create=True, dense=False)
    r1, r2 = one.add(docs, workers=1), two.add(docs)
    assert len(r1.added) == len(r2.added) == 5 * MIN_HEAVY_FILES and not r1.failed and not r2.failed
    rows = "SELECT d.path, c.ordinal, c.text, c.kind FROM chunks c JOIN docs d ON d.id = c.doc_id ORDER BY c.id"
    assert one.store.db.execute(rows).fetchall() == two.store.db.execute(rows).fetchall()
    assert [(h.doc_path, h.score) for h in one.search("龙井茶产自哪里", k=8, mode="bm25")] == \
        [(h.doc_path, h.score) for h in two.search("龙井茶产自哪里", k=8, mode="bm25")]
    assert len(two.add(docs, workers=2).unchanged) == 5 * MIN_HEAVY_FILES
