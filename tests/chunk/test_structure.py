"""Every strategy: tables and figures are chunks of their own, and the invariants hold on Chinese and
English documents with headings, pages, tables and figures."""

from __future__ import annotations

import itertools

import pytest
from chunk_checks import TopicEmbedder, check_chunks, en_doc, make_table, table_block, zh_doc

from docrag.chunk import (
    SPLITTERS,
    FixedSplitter,
    ParentChildSplitter,
    RecursiveSplitter,
    SemanticSplitter,
    SentenceWindowSplitter,
    join_blocks,
    make_splitter,
)
from docrag.config import ChunkConfig
from docrag.parse import parse
from docrag.types import Block, Document, Table

SAMPLES = ["rope_位置编码.md", "hybrid_search.txt", "中国茶.html", "notes_gbk.txt"]


def splitters(size: int, overlap: int, unit: str = "chars") -> list:
    return [
        RecursiveSplitter(size, overlap, unit),
        FixedSplitter(size, overlap, unit),
        SentenceWindowSplitter(size, overlap, unit, window=2),
        SemanticSplitter(size, overlap, unit, embedder=lambda: TopicEmbedder(["收入", "检索", "Revenue", "retriev"]),
                         embedder_name="fake-topics"),
        ParentChildSplitter(size, overlap, unit, child_size=max(30, size // 3)),
    ]


@pytest.fixture(scope="module")
def sample_docs(sample_dir):
    return [parse(sample_dir / name) for name in SAMPLES]


@pytest.mark.parametrize("size,overlap", [(100, 20), (200, 0), (400, 50)])
@pytest.mark.parametrize("make_doc", [zh_doc, en_doc])
def test_invariants_of_every_strategy(make_doc, size, overlap):
    doc = make_doc()
    for splitter in splitters(size, overlap):
        chunks = splitter.split(doc)
        # fixed windows snap to sentence ends; the others keep text chunks within size
        check_chunks(doc, chunks, None if splitter.name == "parent_child" else size)
        kinds = {c.kind for c in chunks}
        assert {"table", "figure"} <= kinds, splitter.name
        assert ("parent" in kinds) == (splitter.name == "parent_child")


def test_invariants_on_sample_documents(sample_docs):
    for doc in sample_docs:
        for splitter in splitters(150, 30):
            check_chunks(doc, splitter.split(doc))


def test_invariants_in_tokens():
    for doc in (zh_doc(), en_doc()):
        for splitter in splitters(40, 5, "tokens"):
            check_chunks(doc, splitter.split(doc))


def test_table_chunk_holds_heading_caption_rows_and_the_whole_table():
    doc = zh_doc()
    table = doc.blocks[4].table
    for splitter in splitters(2000, 50):
        [chunk] = [c for c in splitter.split(doc) if c.kind == "table" and "表1" in c.text]
        assert chunk.text.split("\n") == ["经营情况", "表1 分类收入（万元）", *table.row_sentences()]
        assert chunk.extra == {"markdown": table.to_markdown(), "html": table.to_html(), "caption": table.caption,
                               "table": 4}  # the block it came from
        assert (chunk.page_start, chunk.page_end) == (2, 2)
        assert chunk.section == ("年度报告", "经营情况")
        dt = join_blocks(doc)
        assert (chunk.char_start, chunk.char_end) == (dt.starts[4], dt.block_end(4))


def test_a_long_table_is_cut_between_rows_and_every_piece_repeats_heading_and_caption():
    doc = zh_doc()
    table = doc.blocks[4].table
    pieces = [c for c in RecursiveSplitter(120, 0).split(doc) if c.kind == "table" and "表1" in c.text]
    assert len(pieces) > 2
    rows = []
    for c in pieces:
        lines = c.text.split("\n")
        assert lines[:2] == ["经营情况", "表1 分类收入（万元）"]
        assert len(c.text) <= 120
        assert c.extra["markdown"] == table.to_markdown()  # the LLM gets the whole table from any piece
        rows += lines[2:]
    assert rows == table.row_sentences()  # every row once, in order
    for a, b in itertools.pairwise(pieces):  # each piece spans its own rows
        assert a.char_end <= b.char_start
    dt = join_blocks(doc)
    assert pieces[0].char_start == dt.starts[4] and pieces[-1].char_end == dt.block_end(4)


def test_a_row_longer_than_size_stays_whole():
    table = make_table(["项目", "说明"], [["甲", "很长的说明" * 30], ["乙", "短"]], caption="表9 说明")
    doc = Document("t.pdf", [table_block(table, ("节",), 1)])
    chunks = RecursiveSplitter(60, 0).split(doc)
    assert [c.text.split("\n")[2:] for c in chunks] == [[r] for r in table.row_sentences()]


def test_headings_right_above_a_table_join_it():
    doc = en_doc()  # "Revenue" is followed directly by Table 2
    dt = join_blocks(doc)
    for splitter in splitters(300, 0):
        chunks = splitter.split(doc)
        assert "Revenue" not in [c.text.strip() for c in chunks if c.kind == "text"]
        table = next(c for c in chunks if c.extra.get("caption") == "Table 2: Revenue by segment")
        assert table.char_start == dt.starts[2] and table.section == ("Results", "Revenue")


def test_figure_chunk():
    doc = zh_doc()
    for splitter in splitters(300, 0):
        [fig] = [c for c in splitter.split(doc) if c.kind == "figure"]
        assert fig.text == "图1 系统架构\n检索器 → 重排序 → 生成器"
        assert fig.extra == {"caption": "图1 系统架构", "bbox": [50.0, 100.0, 400.0, 300.0], "image_sha": "f" * 64,
                             "boxes": [[3, 50.0, 100.0, 400.0, 300.0]]}
        assert (fig.page_start, fig.page_end, fig.section) == (3, 3, ("年度报告", "技术架构"))


def test_a_table_parsed_without_structure_gets_markdown_and_row_sentences():
    doc = en_doc()
    [chunk] = [c for c in RecursiveSplitter(400, 0).split(doc) if c.kind == "table" and "Retriever" in c.text]
    assert chunk.text == "Pipeline\nRetriever | Role: finds passages\nGenerator | Role: writes answers"
    assert chunk.extra["markdown"] == "| Name | Role |\n|---|---|\n| Retriever | finds passages |\n" \
                                      "| Generator | writes answers |"
    assert chunk.extra["caption"] == ""


def test_blank_blocks_and_documents_make_no_chunks():
    assert RecursiveSplitter().split(Document("e.txt", [])) == []
    doc = Document("b.txt", [Block("  "), Block("正文。"), Block("", kind="figure"),
                             Block("-", kind="table", table=Table([], n_rows=0, n_cols=0))])
    for splitter in splitters(100, 0):
        assert [c.text for c in splitter.split(doc) if c.kind != "parent"] == ["正文。"]


# --- make_splitter -----------------------------------------------------------------------------

@pytest.mark.parametrize("strategy,cls", [
    ("recursive", RecursiveSplitter), ("fixed", FixedSplitter), ("sentence_window", SentenceWindowSplitter),
    ("semantic", SemanticSplitter), ("parent_child", ParentChildSplitter)])
def test_make_splitter_by_name(strategy, cls):
    config = ChunkConfig(strategy=strategy, size=300, overlap=30, window=3, child_size=90, semantic_threshold=0.5)
    calls = []

    def embedder():
        calls.append(1)
        return TopicEmbedder(["茶"])

    splitter = make_splitter(config, embedder=embedder, embedder_name="fake-topics")
    assert type(splitter) is cls and splitter.name == strategy and SPLITTERS[strategy] is cls
    assert (splitter.size, splitter.overlap, splitter.unit) == (300, 30, "chars")
    assert splitter.signature().startswith(f"{strategy}/4:300:30:chars")
    assert not calls  # nothing loads the embedder before a document is split
    check_chunks(zh_doc(), splitter.split(zh_doc()))
    assert len(calls) == (strategy == "semantic")


def test_make_splitter_with_only_the_config_still_works():
    assert isinstance(make_splitter(ChunkConfig()), RecursiveSplitter)
    with pytest.raises(ValueError, match="semantic.*needs an embedder"):
        make_splitter(ChunkConfig(strategy="semantic"))


def test_unknown_strategy_is_a_clear_error():
    from types import SimpleNamespace

    with pytest.raises(ValueError, match="unknown chunk strategy 'paragraphs'; choose one of: recursive, fixed"):
        make_splitter(SimpleNamespace(strategy="paragraphs", size=300, overlap=0, unit="chars"))


def test_the_configuration_offers_exactly_the_strategies_there_are():
    from typing import get_args

    from docrag.chunk import SPLITTERS

    assert set(get_args(ChunkConfig.model_fields["strategy"].annotation)) == set(SPLITTERS)


def test_signatures_name_every_parameter_that_changes_output():
    def sig(**fields):
        config = ChunkConfig(**fields)
        return make_splitter(config, embedder=lambda: TopicEmbedder([]), embedder_name="e1").signature()

    assert sig(strategy="sentence_window", window=1) != sig(strategy="sentence_window", window=2)
    assert sig(strategy="parent_child", child_size=100) != sig(strategy="parent_child", child_size=120)
    assert sig(strategy="semantic", semantic_threshold=0.5) != sig(strategy="semantic", semantic_threshold=1.0)
    other = make_splitter(ChunkConfig(strategy="semantic"), embedder=lambda: TopicEmbedder([]), embedder_name="e2")
    assert other.signature() != sig(strategy="semantic")
    # without a name given, the signature names the embedder itself
    unnamed = make_splitter(ChunkConfig(strategy="semantic"), embedder=lambda: TopicEmbedder([]))
    assert unnamed.signature().endswith("embedder=fake-topics")
    assert len({sig(strategy=s) for s in SPLITTERS}) == len(SPLITTERS)
