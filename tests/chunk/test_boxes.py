"""Every chunk of a PDF says where its text is on its pages (``extra["boxes"]``), for a client to highlight it."""

from __future__ import annotations

from pathlib import Path

import pytest
from chunk_checks import TopicEmbedder
from conftest import cjk_font

from docrag.chunk import (
    FixedSplitter,
    ParentChildSplitter,
    RecursiveSplitter,
    SemanticSplitter,
    SentenceWindowSplitter,
)
from docrag.parse import parse

PAGE_HEIGHT = 842
SIZE, LEADING = 10, 14
# paragraph: (page, x, baseline of the first line (reportlab, y up), lines); each line starts with its marker
ALPHA = [f"Alpha{k} the first paragraph reports that revenue grew in every quarter" for k in range(6)]
BETA = [f"乙{k}行本段说明公司的主营业务与经营模式以及主要产品，" for k in range(4)] + ["乙4行以上为第二段。"]
GAMMA = [f"Gamma{k} the last paragraph on the second page discusses risk factors" for k in range(4)]
PARAGRAPHS = {"alpha": (1, 60, 780, ALPHA), "beta": (1, 60, 660, BETA), "gamma": (2, 60, 780, GAMMA)}
TABLE = [["Item", "2023", "2022"], ["Revenue", "1,200", "1,100"], ["Cost", "800", "700"], ["Profit", "400", "400"]]
TABLE_AT, COL_WIDTHS, ROW_HEIGHT = (60, 300), (120, 80, 80), 18  # bottom left (y up)


def joined(lines: list[str]) -> str:
    return " ".join(lines) if lines[0].isascii() else "".join(lines)


def marker(line: str) -> str:
    return line.split()[0] if line.isascii() else line[:3]


def line_points(name: str) -> list[tuple[str, int, float, float]]:
    """(marker, page, x, y) of a point on each line's first glyphs, top-left origin."""
    page, x, y, lines = PARAGRAPHS[name]
    return [(marker(t), page, x + 4, PAGE_HEIGHT - (y - k * LEADING) - 3) for k, t in enumerate(lines)]


def cell_point(row: int, col: int) -> tuple[int, float, float]:
    x = TABLE_AT[0] + sum(COL_WIDTHS[:col]) + COL_WIDTHS[col] / 2
    top = PAGE_HEIGHT - (TABLE_AT[1] + ROW_HEIGHT * len(TABLE))
    return 1, x, top + ROW_HEIGHT * (row + 0.5)


def inside(boxes: list[list[float]], page: int, x: float, y: float) -> bool:
    return any(b[0] == page and b[1] <= x <= b[3] and b[2] <= y <= b[4] for b in boxes)


@pytest.fixture(scope="module")
def pdf_doc(tmp_path_factory):
    cjk_font()  # pdfium measures the non-embedded STSong-Light with a system font
    from reportlab.lib import colors
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    path = tmp_path_factory.mktemp("boxes") / "boxes.pdf"
    canvas = Canvas(str(path), pagesize=(595, PAGE_HEIGHT))
    for page in (1, 2):
        for _, (p, x, y, lines) in PARAGRAPHS.items():
            if p == page:
                canvas.setFont("Helvetica" if lines[0].isascii() else "STSong-Light", SIZE)
                for k, text in enumerate(lines):
                    canvas.drawString(x, y - k * LEADING, text)
        if page == 1:
            grid = PdfTable(TABLE, colWidths=list(COL_WIDTHS), rowHeights=ROW_HEIGHT)
            grid.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
            grid.wrapOn(canvas, 400, 300)
            grid.drawOn(canvas, *TABLE_AT)
        canvas.showPage()
    canvas.save()
    return parse(path)


def strategies():
    return [RecursiveSplitter(), RecursiveSplitter(120, 30), FixedSplitter(), FixedSplitter(100, 30),
            SentenceWindowSplitter(), ParentChildSplitter(300, 0, child_size=100),
            SemanticSplitter(120, 0, embedder=lambda: TopicEmbedder(["revenue", "业务", "risk"]), embedder_name="topic")]


@pytest.mark.parametrize("splitter", strategies(), ids=lambda s: s.signature().split(":")[0] + f":{s.size}")
def test_boxes_hold_where_the_chunk_text_was_drawn_and_not_the_other_paragraphs(pdf_doc, splitter):
    chunks = splitter.split(pdf_doc)
    assert {c.kind for c in chunks} >= {"text", "table"}
    for c in chunks:
        boxes = c.extra["boxes"]
        assert all(len(b) == 5 and isinstance(b[0], int) and b[1] < b[3] and b[2] < b[4] for b in boxes), boxes
        assert {b[0] for b in boxes} <= set(c.pages), (c.pages, boxes)
        if c.kind == "table":
            assert all(inside(boxes, *cell_point(r, 0)) for r in range(1, len(TABLE))), boxes
            continue
        # the paragraphs some of whose text the chunk holds (an overlap may bring a line's end without its marker)
        mine = {name for name, (*_, lines) in PARAGRAPHS.items()
                if any(part.strip() in joined(lines) for part in c.text.split("\n") if part.strip())}
        assert mine, c.text
        for name in PARAGRAPHS:
            for m, page, x, y in line_points(name):
                if m in c.text:
                    assert inside(boxes, page, x, y), (m, c.text, boxes)
                elif name not in mine:
                    assert not inside(boxes, page, x, y), (m, c.text, boxes)
        assert not inside(boxes, *cell_point(1, 0))


def test_a_chunk_of_part_of_a_paragraph_is_boxed_by_its_lines(pdf_doc):
    """PDF blocks keep their lines' places: a chunk of a few lines gets the box of those lines only."""
    alpha = next(b for b in pdf_doc.blocks if b.text.startswith("Alpha0"))
    assert len(alpha.places) == len(ALPHA) and alpha.places[0][0] == 0
    assert all(alpha.text[s:].startswith(marker(t)) for (s, *_), t in zip(alpha.places, ALPHA))
    height = alpha.bbox[3] - alpha.bbox[1]
    parts = [c for c in FixedSplitter(100, 0).split(pdf_doc) if "Alpha" in c.text]
    assert len(parts) >= 3
    for c in parts:
        [(_, _, top, _, bottom)] = c.extra["boxes"]  # consecutive lines of one paragraph: one box
        assert bottom - top < 0.7 * height
        drawn = [(x, y) for m, _, x, y in line_points("alpha") if m in c.text]
        assert all(top <= y <= bottom for _, y in drawn)


def test_two_columns_stay_two_boxes(tmp_path):
    """A chunk running from the left column into the right one gets a box in each, not one over both."""
    from reportlab.pdfgen.canvas import Canvas

    left = [f"Left{i} column sentence continues the first story here" for i in range(25)]
    right = [f"Right{i} column sentence continues the second story" for i in range(25)]
    path = tmp_path / "columns.pdf"
    canvas = Canvas(str(path), pagesize=(595, PAGE_HEIGHT))
    canvas.setFont("Helvetica", 9)
    for k, (a, b) in enumerate(zip(left, right)):
        canvas.drawString(60, 750 - 13 * k, a)
        canvas.drawString(315, 750 - 13 * k, b)
    canvas.save()
    [c] = [c for c in RecursiveSplitter(4000).split(parse(path))]
    boxes = c.extra["boxes"]
    assert len(boxes) == 2
    (_, lx0, _, lx1, _), (_, rx0, _, rx1, _) = boxes
    assert lx0 < 61 and lx1 < 315 <= rx0 + 1 and rx1 < 595


def test_a_table_continued_on_the_next_page_has_a_box_on_each(tmp_path):
    from reportlab.lib import colors
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle

    path = tmp_path / "continued.pdf"
    canvas = Canvas(str(path), pagesize=(595, PAGE_HEIGHT))
    header = ["Segment", "2023", "2022"]
    for rows in ([[f"First{k}", f"{k}1", f"{k}2"] for k in range(30)],
                 [[f"Second{k}", f"{k}3", f"{k}4"] for k in range(5)]):
        data = [header, *rows]
        grid = PdfTable(data, colWidths=[120, 80, 80], rowHeights=18)
        grid.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
        grid.wrapOn(canvas, 400, 800)
        grid.drawOn(canvas, 60, 800 - 18 * len(data))
        canvas.showPage()
    canvas.save()
    doc = parse(path)
    [table] = [b for b in doc.blocks if b.kind == "table"]
    if table.page_end != 2:
        pytest.skip("the parser did not join the two parts of the table")
    assert [p[1] for p in table.places] == [1, 2]
    assert table.text[table.places[1][0]:].startswith("Second0")
    chunks = [c for c in RecursiveSplitter(200).split(doc) if c.kind == "table"]
    on_second = [c for c in chunks if "Second" in c.text and "First" not in c.text]
    assert on_second and all([b[0] for b in c.extra["boxes"]] == [2] for c in on_second)
    assert all(c.extra["boxes"][0][0] == 1 for c in chunks if "First" in c.text)
    [whole] = RecursiveSplitter(100_000).split(doc)
    assert [b[0] for b in whole.extra["boxes"]] == [1, 2]


@pytest.mark.parametrize("name,text", [("notes.md", "# Title\n\nSome text.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"),
                                       ("notes.txt", "第一段。\n\n第二段文字。\n")])
def test_chunks_of_files_without_pages_have_no_boxes(tmp_path: Path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    doc = parse(path)
    for splitter in (RecursiveSplitter(), FixedSplitter(), SentenceWindowSplitter()):
        chunks = splitter.split(doc)
        assert chunks and all("boxes" not in c.extra for c in chunks)
