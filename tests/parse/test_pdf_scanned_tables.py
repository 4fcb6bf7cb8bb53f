"""Tables on scanned pages: a picture of a table saved as an image-only PDF comes back as a table block
(number columns from the OCR boxes, ruled grids from the lines in the picture), its numbers out of the text."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import text_font

from docrag.config import ParseConfig
from docrag.parse import parse
from docrag.parse.ocr import OcrBox, ocr_available
from docrag.parse.pdf_tables import image_rules, numeric_tables, words_from_ocr

YEARS = ("2023", "2022", "2021")
ROWS = [("Revenue", ("12,480", "11,205", "10,317")),
        ("Cost of sales", ("(7,312)", "(6,904)", "(6,411)")),
        ("Gross profit", ("5,168", "4,301", "3,906")),
        ("Operating income", ("2,945", "2,410", "2,087")),
        ("Net income", ("2,118", "1,796", "1,522"))]
RIGHT_EDGES = (820, 1020, 1220)  # pixels of the 200 dpi page picture
BEFORE = "Results of operations were strong across all segments this year."
AFTER = "Net income rose because costs grew more slowly than sales did."

needs_ocr = pytest.mark.skipif(not ocr_available(), reason="rapidocr-onnxruntime is not installed")


def squash(text: str) -> str:
    """OCR at 144 dpi drops some spaces between words: compare without them."""
    return re.sub(r"\s+", "", text)


@pytest.fixture
def scanned_statement(tmp_path) -> Path:
    """A 200 dpi picture of a page: a sentence, an income statement (years over right-aligned numbers,
    negatives in parentheses, no rules), a sentence; saved as an image-only PDF."""
    from PIL import Image, ImageDraw

    text = text_font(28)
    image = Image.new("RGB", (1400, 1000), "white")
    draw = ImageDraw.Draw(image)
    draw.text((80, 60), BEFORE, font=text, fill="black")
    y = 160
    draw.text((80, y), "(in millions)", font=text, fill="black")
    for edge, year in zip(RIGHT_EDGES, YEARS):
        draw.text((edge, y), year, font=text, fill="black", anchor="ra")
    for label, values in ROWS:
        y += 56
        draw.text((80, y), label, font=text, fill="black")
        for edge, value in zip(RIGHT_EDGES, values):
            draw.text((edge + (8 if value.endswith(")") else 0), y), value, font=text, fill="black", anchor="ra")
    draw.text((80, y + 120), AFTER, font=text, fill="black")
    path = tmp_path / "statement_scan.pdf"
    image.save(path, resolution=200)
    return path


@pytest.fixture(autouse=True)
def ocr_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCRAG_CACHE", str(tmp_path / "cache"))


@needs_ocr
def test_a_scanned_statement_becomes_a_table_block(scanned_statement):
    doc = parse(scanned_statement, options=ParseConfig(ocr="auto", tables=True))
    assert doc.metadata["ocr_pages"] == [1]
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1
    block = tables[0]
    table = block.table
    assert block.page == 1
    # the box in PDF points (200 dpi picture: 72/200 points a pixel), around the header and the five rows
    assert block.bbox[0] == pytest.approx(80 * 0.36, abs=4) and block.bbox[1] == pytest.approx(160 * 0.36, abs=6)
    assert block.bbox[3] == pytest.approx((160 + 56 * 5 + 36) * 0.36, abs=6)
    grid = table.grid()
    assert table.header_rows == 1 and [squash(c) for c in grid[0][1:]] == list(YEARS)
    assert [squash(row[0]) for row in grid[1:]] == [squash(label) for label, _ in ROWS]
    assert [row[1:] for row in grid[1:]] == [list(values) for _, values in ROWS]
    # the numbers are the table's, not the text's; the sentences around stay paragraphs
    paragraphs = [b.text for b in doc.blocks if b.kind != "table"]
    assert [squash(t) for t in paragraphs] == [squash(BEFORE), squash(AFTER)]
    assert not any(value in text for text in paragraphs for _, values in ROWS for value in values)
    assert doc.blocks.index(block) == 1  # in reading order between the two sentences


@needs_ocr
def test_without_tables_the_numbers_stay_in_the_text(scanned_statement):
    doc = parse(scanned_statement, options=ParseConfig(ocr="auto", tables=False))
    assert not any(b.kind == "table" for b in doc.blocks)
    text = " ".join(b.text for b in doc.blocks)
    assert all(value in text for _, values in ROWS for value in values)


@needs_ocr
def test_a_ruled_grid_in_a_scan_keeps_its_cells(tmp_path):
    from PIL import Image, ImageDraw

    rows = [("项目", "说明", "备注"), ("营业收入", "主营业务", "增长较快"), ("营业成本", "原材料采购", "基本持平"),
            ("毛利", "收入减成本", "略有提高")]
    image = Image.new("RGB", (1400, 700), "white")
    draw = ImageDraw.Draw(image)
    font = text_font(28, "".join("".join(row) for row in rows))
    xs, ys = (80, 400, 800, 1100), [120 + 60 * k for k in range(len(rows) + 1)]
    for x in xs:
        draw.line([(x, ys[0]), (x, ys[-1])], fill=(90, 90, 90), width=3)
    for y in ys:
        draw.line([(xs[0], y), (xs[-1], y)], fill=(90, 90, 90), width=3)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            draw.text((xs[c] + 15, ys[r] + 12), text, font=font, fill="black")
    path = tmp_path / "grid_scan.pdf"
    image.save(path, resolution=200)
    doc = parse(path, options=ParseConfig(ocr="auto", tables=True))
    block = next(b for b in doc.blocks if b.kind == "table")
    assert block.table.grid() == [list(row) for row in rows]  # no number columns: the rules alone made it
    assert block.bbox == pytest.approx((xs[0] * 0.36, ys[0] * 0.36, xs[-1] * 0.36, ys[-1] * 0.36), abs=2)


def test_ocr_phrases_become_words_in_points():
    boxes = [OcrBox("Cost of sales", (100, 40, 360, 80), 0.9), OcrBox("1,577 (1,373)", (600, 40, 860, 80), 0.9),
             OcrBox("营业收入合计", (100, 100, 340, 140), 0.9), OcrBox("A股 2,741", (400, 100, 580, 140), 0.9)]
    words = words_from_ocr(boxes, scale=2.0)
    assert [w.text for w in words] == ["Cost", "of", "sales", "1,577", "(1,373)", "营业收入合计", "A股", "2,741"]
    assert (words[0].x0, words[0].top, words[2].x1, words[2].bottom) == (50, 20, 180, 40)
    assert (words[3].x0, words[3].x1, words[4].x0) == (300, 350, 360)  # the box's width shared by its characters
    assert (words[6].x0, words[6].x1, words[7].x0, words[7].x1) == (200, 230, 240, 290)  # "股" is twice as wide


def test_numbers_read_as_one_phrase_still_make_columns():
    boxes = [OcrBox("2023 2022", (600, 0, 860, 40), 0.9)]
    for k, (label, values) in enumerate(ROWS):
        top = 60 + 50 * k
        boxes += [OcrBox(label, (100, top, 100 + 20 * len(label), top + 40), 0.9),
                  OcrBox(f"{values[0]} {values[1]}", (600, top, 860, top + 40), 0.9)]
    [found] = numeric_tables(words_from_ocr(boxes, scale=2.0), page_index=0, height=400)
    assert found.table.grid()[0] == ["", "2023", "2022"]
    assert [row[1:] for row in found.table.grid()[1:]] == [list(values[:2]) for _, values in ROWS]


def test_image_rules_are_thin_long_runs_of_ink():
    image = np.full((400, 600, 3), 255, np.uint8)
    image[100:103, 50:550] = 80  # a horizontal rule, 3 px
    image[50:350, 300:302] = 0  # a vertical rule crossing it
    image[200:300, 50:250] = 0  # a filled box: not rules
    image[360:372, 50:70] = 0  # a letter-sized mark: too short
    verticals, horizontals = image_rules(image, scale=2.0)
    assert len(horizontals) == 3 and all(50 <= r.at <= 51 and (r.start, r.end) == (25, 275) for r in horizontals)
    assert len(verticals) == 2 and all(150 <= r.at <= 150.5 and (r.start, r.end) == (25, 175) for r in verticals)
