"""ParentChildSplitter: sections as parents (never searched), small children that point at them."""

from __future__ import annotations

import itertools

import pytest
from chunk_checks import check_chunks, en_doc, heading, make_table, table_block, zh_doc

from docrag.chunk import ParentChildSplitter, join_blocks
from docrag.index.store import Store
from docrag.types import Block, Document


def sents(a: int, b: int) -> str:
    return "".join(f"第{i:03d}句说明了一个要点。" for i in range(a, b))  # 13 characters each


def _sectioned():
    s1, s2, s3 = ("总",), ("总", "甲"), ("总", "乙")
    return Document("p.md", [
        heading("总", s1), Block(sents(0, 4), section=s1),
        heading("甲", s2), Block(sents(4, 10), section=s2), Block(sents(10, 30), section=s2),
        heading("乙", s3), Block(sents(30, 33), section=s3),
    ])


def family(chunks):
    parents = {c.ordinal: c for c in chunks if c.kind == "parent"}
    children = {o: [c for c in chunks if c.extra.get("parent") == o] for o in parents}
    return parents, children


def test_parents_are_sections_and_children_cover_them():
    doc = _sectioned()
    dt = join_blocks(doc)
    chunks = ParentChildSplitter(size=200, overlap=0, child_size=40).split(doc)
    check_chunks(doc, chunks)
    parents, children = family(chunks)
    # "总" fits in 200: one parent, exactly the section; "甲" is longer and is cut into parents of <= 200
    assert chunks[0].kind == "parent" and chunks[0].text == "总\n\n" + sents(0, 4)
    jia = [p for p in parents.values() if p.section == ("总", "甲") or p.text.startswith("甲")]
    assert len(jia) > 1 and all(len(p.text) <= 200 for p in jia)
    assert jia[0].char_start == dt.starts[2] and jia[-1].char_end == dt.block_end(4)
    for o, parent in parents.items():
        assert len(children[o]) > 1
        kids = children[o]
        assert all(len(k.text) <= 40 and k.kind == "text" for k in kids)
        # the children hold the parent's text, in order, without gaps or repeats
        assert kids[0].char_start == parent.char_start and kids[-1].char_end == parent.char_end
        for a, b in itertools.pairwise(kids):
            assert a.char_end <= b.char_start and dt.text[a.char_end:b.char_start].strip() == ""
        # a parent never runs over a heading into the next section
        inside = [s for b, s in zip(dt.blocks, dt.starts) if b.kind == "heading" and
                  parent.char_start < s < parent.char_end]
        assert not inside
    # ordinals: each parent right before its children
    for o in parents:
        assert [k.ordinal for k in children[o]] == list(range(o + 1, o + 1 + len(children[o])))


def test_a_section_that_fits_one_child_is_its_own_parent():
    s = ("乙",)
    doc = Document("s.md", [heading("乙", s), Block(sents(0, 2), section=s)])
    chunks = ParentChildSplitter(size=200, overlap=0, child_size=60).split(doc)
    assert [(c.kind, c.text, c.extra) for c in chunks] == [("text", "乙\n\n" + sents(0, 2), {})]


def test_headings_in_a_row_open_one_section():
    s1, s2 = ("总",), ("总", "甲")
    doc = Document("h.md", [heading("总", s1), heading("甲", s2), Block(sents(0, 8), section=s2)])
    chunks = ParentChildSplitter(size=200, overlap=0, child_size=40).split(doc)
    assert chunks[0].kind == "parent" and chunks[0].text.startswith("总\n\n甲\n\n")
    assert all(c.kind == "parent" or c.extra["parent"] == 0 for c in chunks)


def test_a_long_table_is_a_parent_of_row_groups_and_a_short_one_its_own_parent():
    doc = zh_doc()
    chunks = ParentChildSplitter(size=400, overlap=0, child_size=80).split(doc)
    check_chunks(doc, chunks)
    big = doc.blocks[4].table
    [parent] = [c for c in chunks if c.kind == "parent" and c.extra.get("caption") == big.caption]
    assert parent.text.split("\n") == ["经营情况", big.caption, *big.row_sentences()]  # the whole table
    assert parent.extra == {"markdown": big.to_markdown(), "html": big.to_html(), "caption": big.caption, "table": 4}
    rows = [c for c in chunks if c.extra.get("parent") == parent.ordinal]
    assert len(rows) > 2 and all(c.kind == "table" and len(c.text) <= 80 for c in rows)
    assert [line for c in rows for line in c.text.split("\n")[2:]] == big.row_sentences()
    assert all(c.extra["markdown"] == big.to_markdown() for c in rows)
    [small] = [c for c in chunks if c.extra.get("caption") == "表2 基本情况"]
    assert small.kind == "table" and "parent" not in small.extra


def test_a_table_longer_than_size_stays_one_parent():
    table = make_table(["项目", "值"], [[f"第{i}项", str(i)] for i in range(60)], caption="表3 明细")
    doc = Document("t.pdf", [table_block(table, ("明细",), 5)])
    chunks = ParentChildSplitter(size=100, overlap=0, child_size=50).split(doc)
    assert chunks[0].kind == "parent" and len(chunks[0].text) > 100
    assert all(c.extra["parent"] == 0 and c.page_start == 5 for c in chunks[1:])


def test_parents_are_never_searched(tmp_path):
    doc = _sectioned()
    chunks = ParentChildSplitter(size=200, overlap=0, child_size=60).split(doc)
    store = Store(tmp_path / "db.sqlite")
    store.put_document(doc, chunks, "sha", 1, 1, "sig")
    _, searched = store.chunk_texts()
    assert searched == [c.text for c in chunks if c.kind != "parent"]
    assert store.counts()["chunks"] == len(searched) < len(chunks)
    store.close()


@pytest.mark.parametrize("make_doc", [zh_doc, en_doc])
@pytest.mark.parametrize("size,child_size", [(400, 120), (150, 40), (100, 200)])
def test_invariants(make_doc, size, child_size):
    doc = make_doc()
    chunks = ParentChildSplitter(size=size, overlap=0, child_size=child_size).split(doc)
    check_chunks(doc, chunks)
    for c in chunks:
        if c.kind == "text":
            assert len(c.text) <= min(size, child_size)
        if c.kind == "parent" and "markdown" not in c.extra:
            assert len(c.text) <= size
