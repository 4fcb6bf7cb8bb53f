from docrag import Index
from docrag.index.graph import SAME_PAGE_LIMIT, build_edges
from docrag.types import Block, Chunk, Document


def _chunk(ordinal, text, kind="text", page=None, section=(), **extra):
    return Chunk(text=text, doc_path="/d.pdf", ordinal=ordinal, char_start=0, char_end=len(text), page_start=page,
                 page_end=page, section=section, kind=kind, extra=extra)


def _doc(chunks):
    return Document(path="/d.pdf", blocks=[Block(c.text, page=c.page_start) for c in chunks], file_type="pdf")


def _both(pairs, forward, backward):
    return {(a, b, forward) for a, b in pairs} | {(b, a, backward) for a, b in pairs}


A, AB = ("第一章 概况",), ("第一章 概况", "1.1 细节")
CHINESE = [
    _chunk(0, "第一章 概况", page=1, section=A),
    _chunk(1, "公司收入见表2，趋势详见图3。代表2名董事。", page=1, section=A, parent=8),
    _chunk(2, "第一章 概况\n表2 营业收入构成\n主营业务 | 2019: 100", "table", 1, A, caption="表2 营业收入构成"),
    _chunk(3, "1.1 细节\n表二与图 3-1 的口径不同，如下表所示：", page=2, section=AB),
    _chunk(4, "图3 收入趋势\n2017 2018 2019", "figure", 2, AB),  # caption only in its first line
    _chunk(5, "图 3-1 分部收入", "figure", 2, AB, caption="图 3-1 分部收入"),
    _chunk(6, "1.1 细节\n分部 | 2019: 50", "table", 3, AB),  # no caption: reachable only as "下表"
    _chunk(7, "图3 收入趋势（单位：万元）", page=3, section=AB),  # the figure's caption as a paragraph
    Chunk("第一章全文", "/d.pdf", 8, 0, 5, page_start=1, page_end=3, section=A, kind="parent"),
]


def test_chinese_document_edges():
    edges = set(build_edges(_doc(CHINESE), CHINESE))
    expected = (
        _both([(i, i + 1) for i in range(7)], "next", "prev")
        | _both([(1, 0), (2, 0), (4, 3), (5, 3), (6, 3), (7, 3), (3, 0)], "in_section", "contains")
        | _both([(1, 8)], "parent", "child")
        | _both([(1, 2), (1, 4), (3, 2), (3, 5), (3, 6)], "refers_to", "referred_by")
        | _both([(7, 4)], "caption_of", "has_caption")
        | _both([(0, 2), (1, 2), (3, 4), (3, 5), (7, 6)], "same_page", "same_page")
    )
    assert edges == expected
    assert len(build_edges(_doc(CHINESE), CHINESE)) == len(expected)  # no duplicates


def test_english_document_edges():
    chunks = [
        _chunk(0, "Revenue grew, as shown in Figure 1 and Tables 2 and 3. See Exhibit 4.", page=1),
        _chunk(1, "chart", "figure", 1, caption="Figure 1: Revenue by year"),
        _chunk(2, "Table 2 - Segment revenue\nCloud | 2019: 5", "table", 2),
        _chunk(3, "Costs | 2019: 3", "table", 2, caption="TABLE 3. Costs"),
        _chunk(4, "The table above lists costs; Fig. 1 repeats the trend.", page=2),
        _chunk(5, "map", "figure", 3, caption="Exhibit 4 Sites"),
    ]
    edges = set(build_edges(_doc(chunks), chunks))
    assert edges == (
        _both([(i, i + 1) for i in range(5)], "next", "prev")
        | _both([(0, 1), (0, 2), (0, 3), (0, 5), (4, 3), (4, 1)], "refers_to", "referred_by")
        | _both([(0, 1), (4, 2), (4, 3)], "same_page", "same_page")
    )


def test_words_that_only_look_like_references_make_no_edges():
    chunks = [
        _chunk(0, "董事会代表2名，表一般按年编制，提交股东大会上表决。图书3册。", section=("s",)),
        _chunk(1, "x", "table", caption="表2 收入"),
        _chunk(2, "y", "table", caption="表1 成本"),
    ]
    assert not {e for e in build_edges(_doc(chunks), chunks) if e[2] in ("refers_to", "caption_of")}


def test_same_page_edges_are_capped_nearest_first():
    chunks = [_chunk(0, "text", page=1)] + [_chunk(i, f"table {i}", "table", 1) for i in range(1, 6)]
    same_page = {e for e in build_edges(_doc(chunks), chunks) if e[2] == "same_page"}
    assert same_page == _both([(0, i) for i in range(1, SAME_PAGE_LIMIT + 1)], "same_page", "same_page")


def test_documents_without_media_get_sequence_and_sections_only():
    chunks = [_chunk(i, f"paragraph {i} mentions Table {i}", page=1) for i in range(3)]
    assert set(build_edges(_doc(chunks), chunks)) == _both([(0, 1), (1, 2)], "next", "prev")


def test_edges_round_trip_through_the_store(tmp_path):
    with Index.open(tmp_path / "idx", create=True, dense=False) as idx:
        idx.store.put_document(_doc(CHINESE), CHINESE, sha256="x", size=1, mtime_ns=1, chunk_sig="s",
                               edges=build_edges(_doc(CHINESE), CHINESE))
        ids = idx.store.chunk_ids_by_ordinal([("/d.pdf", i) for i in range(9)])
        ordinal = {cid: o for (_, o), cid in ids.items()}
        out = idx.store.edges_from([ids[("/d.pdf", 1)]])
        assert {(ordinal[s], ordinal[t], k) for s, t, k in out} == {
            (1, 0, "prev"), (1, 2, "next"), (1, 0, "in_section"), (1, 8, "parent"), (1, 2, "refers_to"),
            (1, 4, "refers_to"), (1, 2, "same_page")}
        only = idx.store.edges_from([ids[("/d.pdf", 3)]], kinds=["refers_to"])
        assert sorted(ordinal[t] for _, t, _ in only) == [2, 5, 6]


def test_ingest_stores_the_graph(tmp_path):
    (tmp_path / "doc.md").write_text("# 概况\n\n第一段，见表2。\n\n## 细节\n\n第二段。\n", encoding="utf-8")
    with Index.open(tmp_path / "idx", create=True, dense=False, chunk__size=20, chunk__overlap=0) as idx:
        idx.add(tmp_path / "doc.md")
        ids = idx.store.chunk_ids_by_ordinal([(str(tmp_path / "doc.md"), i) for i in range(10)])
        kinds = {k for _, _, k in idx.store.edges_from(ids.values())}
        assert len(ids) > 1 and {"next", "prev", "in_section", "contains"} <= kinds
