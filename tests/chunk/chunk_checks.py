"""Test documents with headings, pages, tables and figures, and the invariants every strategy keeps."""

from __future__ import annotations

import numpy as np

from docrag.chunk import join_blocks
from docrag.chunk.base import table_from_lines
from docrag.models.embed import Embedder
from docrag.types import Block, Chunk, Document, Figure, Table, TableCell

KINDS = {"text", "table", "figure", "parent"}


def make_table(header: list[str], rows: list[list[str]], caption: str = "") -> Table:
    cells = [TableCell(r, c, text) for r, row in enumerate([header, *rows]) for c, text in enumerate(row)]
    return Table(cells, n_rows=len(rows) + 1, n_cols=len(header), header_rows=1, caption=caption)


def table_block(table: Table, section: tuple[str, ...], page: int | None = None) -> Block:
    """A table block as the PDF parser makes it: caption, then row sentences."""
    text = "\n".join(([table.caption] if table.caption else []) + table.row_sentences())
    return Block(text, kind="table", page=page, section=section, table=table)


def figure_block(caption: str, ocr: str, section: tuple[str, ...], page: int | None = None) -> Block:
    figure = Figure(bbox=(50.0, 100.0, 400.0, 300.0), ocr_text=ocr, caption=caption, image_sha="f" * 64)
    return Block(f"{caption}\n{ocr}", kind="figure", page=page, section=section, bbox=figure.bbox, figure=figure)


def heading(text: str, section: tuple[str, ...], page: int | None = None) -> Block:
    return Block(text, kind="heading", level=len(section), section=section, page=page)


def zh_doc() -> Document:
    """A Chinese report over four pages: sections, a long table, a short table, a figure."""
    s1, s2, s3 = ("年度报告",), ("年度报告", "经营情况"), ("年度报告", "技术架构")
    quarters = make_table(["项目", "2023年", "2022年"],
                          [[f"第{i}类收入", f"{i * 101:,}", f"{i * 97:,}"] for i in range(1, 13)],
                          caption="表1 分类收入（万元）")
    small = make_table(["指标", "数值"], [["员工人数", "1,204"], ["研发占比", "12%"]], caption="表2 基本情况")
    para = "".join(f"第{i}段说明公司在本年度的经营情况和主要变化。" for i in range(1, 9))
    return Document("report.pdf", [
        heading("年度报告", s1, 1),
        Block("本报告介绍公司的经营情况。收入稳定增长，见表1。", page=1, section=s1),
        heading("经营情况", s2, 1),
        Block(para, page=1, section=s2),
        table_block(quarters, s2, 2),
        Block("表1之后的说明文字。毛利率与上年持平。", page=2, section=s2),
        table_block(small, s2, 2),
        heading("技术架构", s3, 3),
        Block("系统由检索器和生成器组成，如图1所示。" * 3, page=3, section=s3),
        figure_block("图1 系统架构", "检索器 → 重排序 → 生成器", s3, 3),
        Block("生成器读取检索结果并作答。是的。", page=4, section=s3),
    ])


def en_doc() -> Document:
    """An English document without pages: a heading straight above a table, a figure between paragraphs."""
    s1, s2, s3 = ("Results",), ("Results", "Revenue"), ("Results", "Pipeline")
    revenue = make_table(["Segment", "2019", "2018"],
                         [[f"Segment {chr(65 + i)}", f"{(i + 1) * 1234:,}", f"{(i + 1) * 1100:,}"] for i in range(8)],
                         caption="Table 2: Revenue by segment")
    body = " ".join(f"Sentence {i} explains how the quarterly results were computed." for i in range(12))
    return Document("results.md", [
        heading("Results", s1),
        Block("This section reports results. Revenue grew, as Table 2 shows.", section=s1),
        heading("Revenue", s2),
        table_block(revenue, s2),
        Block(body, section=s2),
        heading("Pipeline", s3),
        Block("Retrieval comes first. Yes. Then reranking narrows the candidates.", section=s3),
        figure_block("Figure 3: Pipeline overview", "retriever reranker generator", s3),
        Block("The generator writes the answer with citations.", section=s3),
        Block("Name | Role\nRetriever | finds passages\nGenerator | writes answers", kind="table",
              section=s3),  # a table parsed without structure (Markdown, HTML, DOCX)
    ])


def expected_pages(doc: Document, start: int, end: int) -> tuple[int | None, int | None]:
    dt = join_blocks(doc)
    pages = [b.page for b, s in zip(dt.blocks, dt.starts)
             if s < end and s + len(b.text) > start and b.page is not None]
    return (min(pages), max(pages)) if pages else (None, None)


def check_chunks(doc: Document, chunks: list[Chunk], text_size: int | None = None) -> None:
    """What every strategy guarantees: offsets, texts, pages, sections, kinds, ordinals, parents, coverage."""
    dt = join_blocks(doc)
    assert chunks
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert [c.char_start for c in chunks] == sorted(c.char_start for c in chunks)
    special = [(s, s + len(b.text)) for b, s in zip(dt.blocks, dt.starts) if b.kind in ("table", "figure")]
    by_ordinal = {c.ordinal: c for c in chunks}
    for c in chunks:
        assert c.kind in KINDS
        assert c.doc_path == doc.path
        assert c.text.strip()
        assert 0 <= c.char_start < c.char_end <= len(dt.text)
        assert (c.page_start, c.page_end) == expected_pages(doc, c.char_start, c.char_end), c.text[:30]
        first_block = dt.blocks[dt.block_at(c.char_start)]
        assert c.section == first_block.section
        last_block = dt.blocks[dt.block_at(c.char_end - 1)]
        if c.kind == "table" or (c.kind == "parent" and "markdown" in c.extra):
            assert last_block.kind == "table"
            table = last_block.table or table_from_lines(last_block.text)
            assert c.extra["markdown"] == table.to_markdown() and c.extra["html"] == table.to_html()
            assert c.extra["caption"] == table.caption
            if last_block.section:
                assert c.text.startswith(last_block.section[-1])
            assert table.caption in c.text
        elif c.kind == "figure":
            assert last_block.kind == "figure"
            assert c.text == dt.text[c.char_start:c.char_end]
            assert c.text.endswith(last_block.text)
            fig = last_block.figure
            assert c.extra == {"caption": fig.caption, "bbox": list(fig.bbox), "image_sha": fig.image_sha,
                               **({"boxes": [[last_block.page, *fig.bbox]]} if last_block.page else {})}
        else:
            assert c.text == dt.text[c.char_start:c.char_end]
            # text never runs into a table or a figure
            assert not any(c.char_start < e and s < c.char_end for s, e in special), c.text[:30]
            if text_size is not None and c.kind == "text":
                assert len(c.text) <= text_size, (len(c.text), c.text[:30])
        # boxes: where the chunk's blocks are on its pages, when they are placed on pages at all
        spanned = dt.blocks[dt.block_at(c.char_start):dt.block_at(c.char_end - 1) + 1]
        if any(b.page is not None and b.bbox is not None for b in spanned):
            assert {box[0] for box in c.extra["boxes"]} <= set(c.pages)
        else:
            assert "boxes" not in c.extra
        if "parent" in c.extra:
            parent = by_ordinal[c.extra["parent"]]
            assert parent.kind == "parent" and parent.ordinal < c.ordinal
            assert parent.char_start <= c.char_start and c.char_end <= parent.char_end
    covered = bytearray(len(dt.text))
    for c in chunks:
        if c.kind != "parent":  # parents are never searched: they cover nothing
            covered[c.char_start:c.char_end] = b"\x01" * (c.char_end - c.char_start)
    missing = [i for i, ch in enumerate(dt.text) if not covered[i] and not ch.isspace()]
    assert not missing, dt.text[missing[0]:missing[0] + 30]


class TopicEmbedder(Embedder):
    """Vectors we control: one axis per topic word found in the text (the last axis when none is)."""

    name = "fake-topics"

    def __init__(self, topics: list[str]):
        self.topics = topics
        self.dim = len(topics) + 1
        self.batches: list[int] = []

    @property
    def version(self) -> str:
        return "1"

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.batches.append(len(texts))
        v = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for axis, word in enumerate(self.topics):
                v[i, axis] = text.count(word)
            if not v[i].any():
                v[i, -1] = 1.0
        return v
