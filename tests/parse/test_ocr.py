"""OCR: text read from images drawn in the test (the truth is known), the disk cache, scanned pages and
text inside figures."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from conftest import cjk_font, figure_pdf, text_image

from docrag.config import ParseConfig
from docrag.parse import parse
from docrag.parse.ocr import OCR, OcrBox, ocr_available

pytestmark = pytest.mark.skipif(not ocr_available(), reason="rapidocr-onnxruntime is not installed")

ZH = "龙井茶产于浙江杭州西湖周边的群山之中。"
EN = "Revenue grew 12% to $4,210 million in 2022."


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def similarity(truth: str, got: str) -> float:
    return difflib.SequenceMatcher(None, squash(truth), squash(got)).ratio()


@pytest.fixture(autouse=True)
def ocr_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCRAG_CACHE", str(tmp_path / "cache"))


def test_reads_chinese_and_english_lines_with_boxes(tmp_path):
    image = text_image([ZH, EN])
    boxes = OCR().read(image)
    assert similarity(ZH + EN, "".join(b.text for b in boxes)) >= 0.9
    assert all(isinstance(b, OcrBox) and 0 < b.score <= 1 for b in boxes)
    assert boxes[0].bbox[1] < boxes[-1].bbox[1]  # top to bottom
    h, w = image.shape[:2]
    assert all(0 <= b.bbox[0] < b.bbox[2] <= w and 0 <= b.bbox[1] < b.bbox[3] <= h for b in boxes)


def test_results_are_cached_on_disk_by_image_hash(tmp_path, monkeypatch):
    image = text_image(["Cached 2022"])
    first = OCR(cache_dir=tmp_path / "ocr").read(image)

    def no_engine():
        raise AssertionError("the engine ran although the result was cached")

    monkeypatch.setattr("docrag.parse.ocr._engine", no_engine)
    again = OCR(cache_dir=tmp_path / "ocr").read_many([image, image.copy()])
    assert again == [first, first]
    with pytest.raises(AssertionError):
        OCR(cache_dir=tmp_path / "ocr").read(image[: image.shape[0] // 2])  # another image: not cached


def scanned_pdf(tmp_path) -> tuple[Path, str, str]:
    """A one-page scan: a text PDF rendered to a 200 dpi picture, saved as an image-only PDF."""
    import pypdfium2 as pdfium
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    cjk_font()  # pdfium draws the page's Chinese (a font the PDF names but does not embed) with a system font
    heading, body = "检索增强生成", "系统先检索相关片段，再据此生成带引用的答案。Hybrid search fuses BM25 and dense ranks."
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    src = tmp_path / "source.pdf"
    c = canvas.Canvas(str(src), pagesize=(420, 200))
    c.setFont("STSong-Light", 18)
    c.drawString(30, 150, heading)
    c.setFont("STSong-Light", 11)
    c.drawString(30, 110, body[:22])
    c.drawString(30, 92, body[22:])
    c.save()
    image = pdfium.PdfDocument(str(src))[0].render(scale=200 / 72).to_pil().convert("RGB")
    scan = tmp_path / "scan.pdf"
    image.save(scan, resolution=200)
    return scan, heading, body


def test_a_scanned_page_is_read_by_ocr_into_blocks(tmp_path):
    scan, heading, body = scanned_pdf(tmp_path)
    doc = parse(scan)
    assert doc.metadata["ocr_pages"] == [1]
    assert similarity(heading + body, "".join(b.text for b in doc.blocks)) >= 0.9
    head = doc.blocks[0]
    assert head.kind == "heading" and similarity(heading, head.text) >= 0.9
    # boxes in PDF points, where the text was drawn (page 420 x 200, heading baseline at y=150)
    assert head.page == 1 and head.bbox[0] == pytest.approx(30, abs=4) and 25 < head.bbox[3] < 60
    assert all(b.bbox[2] <= 421 and b.bbox[3] <= 201 for b in doc.blocks)


def test_ocr_always_reads_pages_that_have_a_text_layer(tmp_path):
    _, heading, body = scanned_pdf(tmp_path)
    doc = parse(tmp_path / "source.pdf", options=ParseConfig(ocr="always"))
    assert doc.metadata["ocr_pages"] == [1]
    assert similarity(heading + body, "".join(b.text for b in doc.blocks)) >= 0.9


def test_text_inside_a_figure_is_read_by_ocr(tmp_path):
    path = figure_pdf(tmp_path / "figure.pdf", text_image([EN]))
    doc = parse(path, options=ParseConfig(tables=False))
    fig = next(b for b in doc.blocks if b.kind == "figure")
    assert fig.figure.caption == "Figure 2: Revenue in 2022"
    assert similarity(EN, fig.figure.ocr_text) >= 0.9
    off = parse(path, options=ParseConfig(tables=False, ocr_figures=False))
    assert [b.kind for b in off.blocks] == ["paragraph", "figure"] and off.blocks[1].figure.ocr_text == ""
