import numpy as np

from docrag.index.store import Store
from docrag.types import Block, Chunk, Document, Filter


def _doc(path, texts):
    doc = Document(path=path, blocks=[Block(t) for t in texts], file_type="txt", title="t")
    chunks = [Chunk(text=t, doc_path=path, ordinal=i, char_start=0, char_end=len(t)) for i, t in enumerate(texts)]
    return doc, chunks


def test_put_replace_remove_and_generation(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    assert store.generation == 0
    store.put_document(*_doc("/a.txt", ["一", "二"]), sha256="x", size=1, mtime_ns=1, chunk_sig="s")
    store.put_document(*_doc("/b.txt", ["三"]), sha256="y", size=1, mtime_ns=1, chunk_sig="s")
    assert store.generation == 2
    assert store.counts()["chunks"] == 3
    store.put_document(*_doc("/a.txt", ["四"]), sha256="z", size=1, mtime_ns=2, chunk_sig="s")
    ids, texts = store.chunk_texts()
    assert sorted(texts) == ["三", "四"] and store.docs()["/a.txt"].sha256 == "z"
    assert store.remove_documents(["/b.txt"]) == 1
    assert store.chunk_texts()[1] == ["四"] and store.generation == 4


def test_embeddings_checkpoint_and_cascade(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.put_document(*_doc("/a.txt", ["一", "二", "三"]), sha256="x", size=1, mtime_ns=1, chunk_sig="s")
    missing = store.chunks_missing_embeddings(2)
    assert [t for _, t in missing] == ["一", "二"]
    store.put_embeddings([i for i, _ in missing], np.eye(2, 4, dtype=np.float32))
    assert [t for _, t in store.chunks_missing_embeddings(10)] == ["三"]
    ids, mat = store.embeddings(4)
    assert mat.shape == (2, 4) and mat.dtype == np.float32 and mat[0, 0] == 1.0
    store.remove_documents(["/a.txt"])
    assert store.counts()["embedded"] == 0


def test_embeddings_for_deleted_chunks_are_skipped(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.put_document(*_doc("/a.txt", ["一"]), sha256="x", size=1, mtime_ns=1, chunk_sig="s")
    (cid, _), = store.chunks_missing_embeddings(1)
    store.remove_documents(["/a.txt"])
    store.put_embeddings([cid], np.ones((1, 4), np.float32))
    assert store.counts()["embedded"] == 0


def test_hits_keep_order_and_metadata(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    doc = Document(path="/r.pdf", blocks=[Block("x", page=3)], file_type="pdf")
    chunks = [Chunk("甲", "/r.pdf", 0, 0, 1, page_start=3, page_end=4, section=("第一章", "1.1"))]
    store.put_document(doc, chunks, sha256="x", size=1, mtime_ns=1, chunk_sig="s")
    (cid, _), = store.chunks_missing_embeddings(1)
    hit, = store.hits([(cid, 0.5)])
    assert (hit.page, hit.pages, hit.section, hit.doc_path) == (3, [3, 4], ("第一章", "1.1"), "/r.pdf")
    assert list(store.chunk_ids(Filter(file_types=("pdf",)))) == [cid]
    assert list(store.chunk_ids(Filter(path_globs=("*.txt",)))) == []
    assert list(store.chunk_ids(Filter(doc_paths=("/r.pdf",), kinds=("text",)))) == [cid]
    assert list(store.chunk_ids(Filter(kinds=("table",)))) == []
    assert list(store.chunk_ids(Filter(doc_paths=("/r.pdf",)) & Filter(doc_paths=("/other.pdf",)))) == []


def check_chunk_texts_carry_innermost_headings(store) -> None:
    """The storage contract of ``chunk_texts(headings=...)``, for every backend (test_milvus runs it too)."""
    doc = Document(path="/a.md", blocks=[Block("x")], file_type="md", title="t")
    chunks = [Chunk(text=text, doc_path="/a.md", ordinal=i, char_start=0, char_end=1, section=section)
              for i, (text, section) in enumerate([
                  ("Claims against us are pending.", ("Annual report", "Item 3", "Legal Proceedings")),
                  ("Legal Proceedings\n\nNone.", ("Annual report", "Item 3", "Legal Proceedings")),
                  ("Preface.", ()),
              ])]
    store.put_document(doc, chunks, sha256="x", size=1, mtime_ns=1, chunk_sig="s")
    assert store.chunk_texts()[1] == [c.text for c in chunks]
    assert store.chunk_texts(headings=2)[1] == [
        "Item 3\nLegal Proceedings\nClaims against us are pending.",
        "Item 3\nLegal Proceedings\n\nNone.",  # a heading the chunk starts with is not said twice
        "Preface."]


def test_chunk_texts_can_carry_their_innermost_headings(tmp_path):
    check_chunk_texts_carry_innermost_headings(Store(tmp_path / "db.sqlite"))
