"""``docrag ingest --ray``: parse and chunk on Ray tasks, embed in a Ray actor, commit here; on a local Ray that the
tests start (two CPUs, no dashboard) and shut down after."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import docrag
from docrag.errors import DocragError

ROOT = Path(__file__).resolve().parents[1]
KILL_FLAG = "DOCRAG_TEST_KILL_FLAG"  # while the file this names exists, a worker parsing a die-* file dies


def die_on_flagged_files() -> None:
    """Run in every Ray worker as it starts (``worker_process_setup_hook``): a worker asked to parse a file named
    die-* while the flag file exists ends at once, as one killed would."""
    import docrag.ingest

    parse = docrag.ingest.parse

    def parse_or_die(path, **options):
        if Path(path).name.startswith("die-") and os.path.exists(os.environ[KILL_FLAG]):
            os._exit(1)
        return parse(path, **options)

    docrag.ingest.parse = parse_or_die


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'docrag[ray]'")
    flag = tmp_path_factory.mktemp("ray") / "kill"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # the workers import this checkout's docrag and this module (for the hook), whatever the venv has installed
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", runtime_env={
        "env_vars": {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]), KILL_FLAG: str(flag)},
        "worker_process_setup_hook": f"{Path(__file__).stem}.die_on_flagged_files"})
    yield flag
    ray.shutdown()


def _rows(idx: docrag.Index) -> list[tuple]:
    return idx.store.db.execute("SELECT d.path, d.sha256, c.ordinal, c.text, c.kind, c.section, c.extra FROM chunks c"
                                " JOIN docs d ON d.id = c.doc_id ORDER BY c.id").fetchall()


def test_ray_builds_the_same_index_as_one_process(ray_cluster, tmp_path, sample_dir):
    one = docrag.Index.open(tmp_path / "one", create=True, dense=False)
    on_ray = docrag.Index.open(tmp_path / "ray", create=True, dense=False)
    heard = []
    r1, r2 = one.add(sample_dir, workers=1), on_ray.add(sample_dir, ray="auto", on_file=heard.append)
    assert [(r.path, r.status, r.chunks) for r in r1.results] == [(r.path, r.status, r.chunks) for r in r2.results]
    assert len(r2.added) == 4 and not r2.failed and sorted(r.path for r in heard) == sorted(r.path for r in r2.added)
    assert _rows(one) == _rows(on_ray)
    assert [(h.doc_path, h.ordinal) for h in one.search("龙井茶产自哪里", k=5, mode="bm25")] == \
        [(h.doc_path, h.ordinal) for h in on_ray.search("龙井茶产自哪里", k=5, mode="bm25")]


@pytest.mark.skipif(importlib.util.find_spec("milvus_lite") is None, reason="milvus-lite not installed")
def test_ray_embeds_in_an_actor_and_writes_through_the_milvus_backend(ray_cluster, tmp_path, sample_dir):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("中国茶.html", "hybrid_search.txt"):
        shutil.copy(sample_dir / name, docs)
    one = docrag.Index.open(tmp_path / "one", create=True)
    on_milvus = docrag.Index.open(tmp_path / "milvus", create=True, index__backend="milvus")
    r1, r2 = one.add(docs, workers=1), on_milvus.add(docs, ray="auto")
    assert len(r2.added) == 2 and r2.embedded == r1.embedded == one.store.counts()["chunks"]
    assert r2.pending_embeddings == 0 and on_milvus.manifest["embedder"] == one.manifest["embedder"]
    dim = one.manifest["embedder"]["dim"]
    assert np.allclose(one.store.embeddings(dim)[1], on_milvus.store.embeddings(dim)[1], atol=2e-3)
    for mode in ("dense", "hybrid"):
        assert [(h.doc_path, h.ordinal, round(h.score, 4)) for h in one.search("龙井茶产自哪里", k=5, mode=mode)] == \
            [(h.doc_path, h.ordinal, round(h.score, 4)) for h in on_milvus.search("龙井茶产自哪里", k=5, mode=mode)]


def test_a_corrupt_file_is_reported_and_the_rest_committed_then_a_rerun_skips(ray_cluster, tmp_path, sample_dir,
                                                                             make_pdf):
    docs = tmp_path / "docs"
    shutil.copytree(sample_dir, docs)
    shutil.copy(make_pdf((sample_dir.parent / "guide" / "docrag_guide.md").read_text(encoding="utf-8"),
                         "guide.pdf"), docs)  # pages, boxes, tables: what a PDF's chunks carry, compared too
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not a PDF at all")
    one = docrag.Index.open(tmp_path / "one", create=True, dense=False)
    idx = docrag.Index.open(tmp_path / "ray", create=True, dense=False)
    expected = one.add(docs, workers=1)
    report = idx.add(docs, ray="auto")
    assert [(r.path, r.reason) for r in report.failed] == [(r.path, r.reason) for r in expected.failed]
    assert [r.path for r in report.failed] == [str(docs / "broken.pdf")] and report.failed[0].reason
    assert len(report.added) == 5 and idx.store.counts()["documents"] == 5
    os.utime(docs / "中国茶.html")  # a new time, the same content: hashed on a worker, found unchanged
    again = idx.add(docs, ray="auto")
    assert len(again.unchanged) == 5 and not again.added and not again.updated and len(again.failed) == 1
    assert _rows(idx) == _rows(one)


def test_a_worker_that_dies_loses_nothing_committed_and_a_rerun_finishes(ray_cluster, tmp_path, sample_dir):
    docs = tmp_path / "docs"
    for n in range(3):
        shutil.copytree(sample_dir, docs / f"copy{n}")
    shutil.copy(sample_dir / "hybrid_search.txt", docs / "copy1" / "die-here.txt")
    idx = docrag.Index.open(tmp_path / "idx", create=True, dense=False)
    ray_cluster.touch()
    try:
        report = idx.add(docs, ray="auto")
    finally:
        ray_cluster.unlink()
    assert [(Path(r.path).name, r.reason) for r in report.failed] == \
        [("die-here.txt", "the Ray worker processing it died (WorkerCrashedError)")]
    assert len(report.added) == 12 and idx.store.counts()["documents"] == 12  # the others, committed
    again = idx.add(docs, ray="auto")
    assert [Path(r.path).name for r in again.added] == ["die-here.txt"] and len(again.unchanged) == 12
    assert not again.failed and idx.search("hybrid search", k=1, mode="bm25")


def test_without_the_extra_one_line_says_what_to_install(tmp_path, sample_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as when the extra is not installed
    idx = docrag.Index.open(tmp_path / "idx", create=True, dense=False)
    with pytest.raises(DocragError, match=r"pip install 'docrag\[ray\]'"):
        idx.add(sample_dir, ray="auto")
    assert idx.store.counts()["documents"] == 0
