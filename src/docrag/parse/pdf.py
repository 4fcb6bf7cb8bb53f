"""PDF parsing: text in reading order with pypdfium2 (Apache-2.0/BSD; the choice and its numbers are in
docs/pdf.md), tables from ``docrag.parse.pdf_tables``, figures with captions and OCR text, and OCR for
scanned pages.

Three passes over a document:

1. per page, the text layer's characters with their boxes (one pdfium call per character, into a
   numpy array; no per-character Python objects) are cut into lines at line ends and wide gaps; pages
   without a text layer but with a page-sized picture are rendered and read by OCR; pictures become
   figure candidates;
2. running headers, footers and page numbers are found across pages and dropped; tables and figures
   take their lines and captions out of the text flow; each page's lines are put in reading order
   (two-column pages: left column, then right) and grouped into paragraphs;
3. headings (larger font, numbering like "第一节" / "1.2", or bold body text) get levels from their
   style's rank in the document, and every block its section path.

Every block carries its 1-based page and its box (PDF points, origin at the page's top left).
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from docrag.errors import BackendError, ParseError
from docrag.parse.base import Parser, register
from docrag.parse.figures import (
    FIGURE_CAPTION,
    TABLE_CAPTION,
    FigureDescriber,
    address,
    area_share,
    image_data_sha,
    page_pictures,
    pdfium_function,
    png_bytes,
    render,
)
from docrag.parse.layout import (
    Line,
    Paragraph,
    Region,
    heading_style,
    line_starts,
    paragraphs,
    reading_order,
    running_lines,
    upright_box,
    usual_line_gap,
)
from docrag.parse.normalize import normalize
from docrag.types import BBox, Block, Document, Figure, Place

log = logging.getLogger(__name__)

_V = ctypes.c_void_p
# PDFium is not thread-safe, not even across documents: a process that parses and renders pages in several threads
# (the server: an ingest job beside page images) holds this around every use
PDFIUM_LOCK = threading.RLock()
_LOOSE_BOX = pdfium_function("FPDFText_GetLooseCharBox", ctypes.c_int, _V, ctypes.c_int, _V)
_UNICODE = pdfium_function("FPDFText_GetUnicode", ctypes.c_uint, _V, ctypes.c_int)
_FONT_SIZE = pdfium_function("FPDFText_GetFontSize", ctypes.c_double, _V, ctypes.c_int)
_FONT_WEIGHT = pdfium_function("FPDFText_GetFontWeight", ctypes.c_int, _V, ctypes.c_int)
_FONT_INFO = pdfium_function("FPDFText_GetFontInfo", ctypes.c_ulong, _V, ctypes.c_int, _V, ctypes.c_ulong, _V)
_CHAR_MATRIX = pdfium_function("FPDFText_GetMatrix", ctypes.c_int, _V, ctypes.c_int, _V)

# pdfium's marks for a hyphen at a line end (it drops the line break after it), and the soft hyphen
_LINE_END_HYPHENS = {0x02: "-", 0xAD: "-", 0xFFFE: "-"}
# code points that put no ink on the page, as a lookup table over the Basic Multilingual Plane
_BLANK = np.zeros(0x10000, bool)
_BLANK[[*range(33), 0x7F, 0xA0, 0x1680, *range(0x2000, 0x200C), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF]] = True
_BLANK[list(_LINE_END_HYPHENS)] = False
_GAP = 1.0  # a horizontal gap wider than this many line heights separates two runs of text (columns, cells)
_BOLD_NAME = re.compile(rb"bold|black|heavy|semibold|demi", re.IGNORECASE)

OCR_SCALE = 2.0  # render scale for OCR (144 dpi): small print stays readable, a page stays ~1200 x 1700 px
FIGURE_SCALE = 2.0
PICTURE_TEXT = "[image]"  # the text of a figure that has none (kept with parse.figure_images)
OCR_LINE_SIZE = 0.9  # an OCR line box is ~1.1 times the font size
MIN_TEXT_CHARS = 60  # fewer text-layer characters than this on a page-sized picture: a scan (a stamp or page number)
SCAN_COVER = 0.5
_IMAGE_XOBJECT = re.compile(rb"/Subtype\s*/Image\b")
# a table-of-contents line ends with its page number: "Item 7. Management's Discussion ... 25", "第一节 释义 1-1-5"
_TOC_ENTRY = re.compile(r"(?:\s|[.…·]{2,})(?:\d{1,3}-){0,2}\d{1,4}$")


@dataclass
class _Page:
    number: int  # 0-based
    width: float
    height: float
    lines: list[Line] = field(default_factory=list)
    figures: list[tuple[BBox, str]] = field(default_factory=list)  # (bbox, image sha)
    scan: bool = False  # no usable text layer: needs OCR
    ocr: bool = False  # its lines came from OCR
    tables: list = field(default_factory=list)  # pdf_tables.FoundTable from the OCR of a scan
    turned: int = 0  # degrees its text is turned (a landscape table on a portrait page): read upright


@dataclass
class _Placed:
    """A table or figure waiting for its place in the reading order."""

    kind: str
    bbox: BBox
    found: Any = None  # pdf_tables.FoundTable
    sha: str = ""
    text: str = ""  # a figure's text, from the text layer or OCR
    caption: str = ""
    description: str = ""  # a figure's description by the vision model
    png: bytes = b""  # the crop, with parse.figure_images


def text_lines(textpage, page_box: tuple[float, float, float, float]) -> tuple[list[Line], int, int]:
    """The text layer as lines (runs of characters on one baseline without a wide gap), the number of
    characters that put ink on the page, and by how many degrees its text is turned (0, 90, 180, 270).
    ``page_box``: left, bottom, right, top. On a turned page (a landscape table set on a portrait page)
    lines are read, and placed, in the frame where the text is upright."""
    import pypdfium2.raw as pdfium_c

    handle = address(textpage.raw)
    n = pdfium_c.FPDFText_CountChars(textpage.raw)
    if n <= 0:
        return [], 0, 0
    text, codes = _page_text(textpage, handle, n)
    ink = ~_BLANK[np.minimum(codes, 0xFFFF)]  # 0xFFFF is no blank: it stands for any code point above
    idx = np.flatnonzero(ink)
    if not idx.size:
        return [], 0, 0
    boxes = np.zeros((n, 4), np.float32)  # FS_RECTF: left, top, right, bottom (y up)
    base = boxes.ctypes.data
    for i in idx.tolist():
        _LOOSE_BOX(handle, i, base + 16 * i)
    x0, y1, x1, y0 = boxes[idx].T
    turned = _text_direction(handle, idx)
    x0, y0, x1, y1 = upright_box(turned, x0, y0, x1, y1)
    left, _, _, top = upright_box(turned, *page_box)
    line_no = np.cumsum(codes == 10)[idx]
    height = np.maximum(y1 - y0, 0.5)
    mid = (y1 + y0) / 2
    taller = np.maximum(height[1:], height[:-1])
    cut = ((line_no[1:] != line_no[:-1]) | (np.abs(mid[1:] - mid[:-1]) > 0.5 * taller)
           | (x0[1:] - x1[:-1] > _GAP * taller) | (x0[1:] < x0[:-1] - 0.5 * taller))
    starts = np.flatnonzero(np.r_[True, cut])
    ends = np.r_[starts[1:], idx.size] - 1
    lefts, rights = np.minimum.reduceat(x0, starts), np.maximum.reduceat(x1, starts)
    tops, bottoms = np.maximum.reduceat(y1, starts), np.minimum.reduceat(y0, starts)
    lines = []
    for k, (s, e) in enumerate(zip(starts.tolist(), ends.tolist())):
        segment = text[idx[s]: idx[e] + 1]
        segment = segment.translate(_LINE_END_HYPHENS)
        size, bold = _font(handle, int(idx[(s + e) // 2]))
        lines.append(Line(segment, float(lefts[k]) - left, top - float(tops[k]), float(rights[k]) - left,
                          top - float(bottoms[k]), size, bold))
    return lines, int(idx.size), turned


def _text_direction(handle: int, idx: np.ndarray, sample: int = 48) -> int:
    """The way most of a page's text runs, from the text matrices of a sample of its characters: 0 (left to
    right), or 90, 180, 270 degrees turned counter-clockwise."""
    votes: Counter[int] = Counter()
    for i in idx[:: max(1, len(idx) // sample)].tolist():
        if _CHAR_MATRIX(handle, i, ctypes.addressof(_MATRIX)):
            votes[round(np.degrees(np.arctan2(_MATRIX[1], _MATRIX[0])) / 90) % 4 * 90] += 1
    return votes.most_common(1)[0][0] if votes else 0


def _page_text(textpage, handle: int, n: int) -> tuple[str, np.ndarray]:
    """The page's characters, one per pdfium char index, as text and code points. pdfium's text call is
    the fast path; where its text does not line up with the char list (surrogate pairs, dropped chars),
    the code points are read one by one."""
    try:
        text = textpage.get_text_range()
    except (RecursionError, AssertionError):  # pypdfium2's range adjustment on odd char lists
        text = ""
    if len(text) == n:
        return text, np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    codes = np.fromiter((_UNICODE(handle, i) for i in range(n)), np.uint32, n)
    return codes.astype("<u4").tobytes().decode("utf-32-le", "replace"), codes


_FONT_NAME = ctypes.create_string_buffer(256)
_MATRIX = (ctypes.c_float * 6)()


def _font(handle: int, index: int) -> tuple[float, bool]:
    """Font size in points as drawn (the nominal size times the text matrix's scale), and boldness."""
    size = _FONT_SIZE(handle, index)
    if _CHAR_MATRIX(handle, index, ctypes.addressof(_MATRIX)):
        a, b, c, d = _MATRIX[0], _MATRIX[1], _MATRIX[2], _MATRIX[3]
        size *= abs(a * d - b * c) ** 0.5
    length = _FONT_INFO(handle, index, ctypes.addressof(_FONT_NAME), 256, None)
    bold = _FONT_WEIGHT(handle, index) >= 600 or bool(length and _BOLD_NAME.search(_FONT_NAME.value))
    return round(float(size), 2), bold


def ocr_lines(boxes, scale: float) -> list[Line]:
    """OCR text lines (image pixels) as Lines in PDF points. Box heights vary by a few pixels with the
    letters in a line: heights near the page's usual one count as the body size."""
    heights = [b.bbox[3] - b.bbox[1] for b in boxes]
    usual = float(np.median(heights)) if heights else 0.0
    lines = []
    for b, h in zip(boxes, heights):
        size = usual if 0.8 * usual <= h <= 1.2 * usual else h
        lines.append(Line(b.text, b.bbox[0] / scale, b.bbox[1] / scale, b.bbox[2] / scale, b.bbox[3] / scale,
                          round(size / scale * OCR_LINE_SIZE, 1), ocr=True))
    return lines


@register
class PdfParser(Parser):
    extensions = (".pdf",)
    file_type = "pdf"
    version = 7  # 7: blocks say where their lines (and a continued table's pages) are: chunks get boxes

    def parse(self, path: Path) -> Document:
        import pypdfium2 as pdfium

        with PDFIUM_LOCK:
            try:
                pdf = pdfium.PdfDocument(str(path))
            except pdfium.PdfiumError as e:
                msg = str(e)
                if "password" in msg.lower():
                    raise ParseError(path, "encrypted PDF (password required)") from None
                raise ParseError(path, f"corrupt or unreadable PDF ({msg})") from None
            try:
                return self._parse(path, pdf)
            finally:
                pdf.close()

    # --- pass 1: lines per page ----------------------------------------------------------------------

    def _parse(self, path: Path, pdf) -> Document:
        from pypdfium2 import PdfiumError

        from docrag.parse.ocr import ocr_available

        opts = self.options
        use_ocr = opts.ocr != "off" and ocr_available()
        pages: list[_Page] = []
        unreadable: list[int] = []
        has_images = _mentions_images(path)
        for i in range(len(pdf)):
            try:
                pages.append(self._read_page(pdf, i, has_images))
            except PdfiumError as e:  # one damaged page must not cost the others
                log.warning("%s: page %d unreadable: %s", path, i + 1, e)
                unreadable.append(i + 1)
                pages.append(_Page(i, 612.0, 792.0))
        if unreadable and len(unreadable) == len(pdf):
            raise ParseError(path, "corrupt or unreadable PDF (no page could be loaded)")
        scans = [p for p in pages if p.scan]
        if scans and use_ocr:
            self._ocr_pages(pdf, scans)
        elif scans and not any(p.lines for p in pages):
            why = "OCR is off (parse.ocr)" if opts.ocr == "off" else \
                "OCR is not installed (pip install rapidocr-onnxruntime)"
            raise ParseError(path, f"no text layer; {why}")
        try:
            tables = self._find_tables(path, pdf, pages)
        except PdfiumError as e:  # a damaged page stops table detection, not the text
            log.warning("%s: tables not detected: %s", path, e)
            tables = {}
        blocks = self._blocks(pdf, pages, tables)
        self._headings(blocks, pages)
        title = (pdf.get_metadata_dict().get("Title") or "").strip()
        meta: dict[str, int | list[int]] = {"n_pages": len(pdf)}
        if any(p.ocr for p in pages):
            meta["ocr_pages"] = [p.number + 1 for p in pages if p.ocr]
        if unreadable:
            meta["unreadable_pages"] = unreadable
        if scans and not use_ocr:
            meta["scanned_pages_not_read"] = [p.number + 1 for p in scans]
        return self.document(path, [b for b, _ in blocks], title=title, **meta)

    def _read_page(self, pdf, i: int, has_images: bool) -> _Page:
        """The page's text lines and figures, or a mark that it is a scan. ``has_images``: whether the file
        has image objects at all (walking every object of a page costs as much as reading its text)."""
        page = pdf[i]
        try:
            left, bottom, right, top = page.get_mediabox()
            width, height = right - left, top - bottom
            out = _Page(i, width, height)
            if self.options.ocr == "always":
                out.scan = True
                return out
            textpage = page.get_textpage()
            try:
                out.lines, n_ink, out.turned = text_lines(textpage, (left, bottom, right, top))
            finally:
                textpage.close()
            if out.turned in (90, 270):
                out.width, out.height = height, width
            if not has_images and n_ink:
                return out
            pictures = page_pictures(page, left, top, width, height)
            cover = max((area_share(box, width, height) for box, _ in pictures), default=0.0)
            if (cover >= SCAN_COVER and n_ink < MIN_TEXT_CHARS) or (n_ink == 0 and cover >= 0.1):
                out.scan = True
                return out
            if out.turned:  # figures are placed in the page's own frame, not the one its text is read in
                return out
            out.figures = [(box, image_data_sha(members)) for box, members in pictures
                           if self.options.min_figure_area <= area_share(box, width, height) <= 0.8]
            return out
        finally:
            page.close()

    def _ocr_pages(self, pdf, scans: list[_Page], batch: int = 8) -> None:
        """Render scanned pages and read them with OCR, a few pages at a time (rendered pages are big); with
        parse.tables, their tables come from the same boxes and the rendered image's ruling lines."""
        from docrag.parse import pdf_tables
        from docrag.parse.ocr import OCR

        ocr = OCR()
        for k in range(0, len(scans), batch):
            chunk = scans[k:k + batch]
            images = []
            for p in chunk:
                page = pdf[p.number]
                try:
                    images.append(render(page, OCR_SCALE))
                finally:
                    page.close()
            for p, image, boxes in zip(chunk, images, ocr.read_many(images)):
                p.lines, p.ocr, p.figures = ocr_lines(boxes, OCR_SCALE), True, []
                if self.options.tables:
                    p.tables = pdf_tables.ocr_tables(boxes, image, OCR_SCALE, p.number, p.height)

    def _find_tables(self, path: Path, pdf, pages: list[_Page]) -> dict[int, list]:
        if not self.options.tables:
            return {}
        from docrag.parse import pdf_tables

        # a page read by OCR takes its tables from the OCR boxes its lines came from, not from its text layer
        by_page: dict[int, list] = {p.number: p.tables for p in pages if p.ocr}
        read_by_ocr = set(by_page)
        turned = {p.number: p.turned for p in pages if p.turned}  # their tables are read upright, as their text
        for found in pdf_tables.find_tables(path, pdf, turned):
            if found.page not in read_by_ocr:
                by_page.setdefault(found.page, []).append(found)
        return by_page

    # --- pass 2: blocks per page ---------------------------------------------------------------------

    def _blocks(self, pdf, pages: list[_Page], tables: dict[int, list]) -> list[tuple[Block, Paragraph | None]]:
        drops = running_lines([p.lines for p in pages])
        blocks: list[tuple[Block, Paragraph | None]] = []
        last_table: tuple[Block, object, int] | None = None  # for tables continued on the next page
        describer = FigureDescriber(self.vlm) if self.vlm else None
        for page, drop in zip(pages, drops):
            lines = [ln for k, ln in enumerate(page.lines) if k not in drop]
            placed = [_Placed("table", ft.bbox, found=ft) for ft in tables.get(page.number, [])]
            placed += [_Placed("figure", box, sha=sha) for box, sha in page.figures]
            lines = _take_regions(lines, placed)
            self._describe_figures(pdf, page, [it for it in placed if it.kind == "figure"], describer)
            items: list[Line | Region] = [*lines, *(Region(*item.bbox, ref=item) for item in placed)]
            groups = reading_order(items)
            gap = usual_line_gap(groups)
            toc = _is_contents_page(groups)
            for group in groups:
                for para in paragraphs(group, gap):
                    if isinstance(para, Paragraph):
                        if para.text:  # a contents page's entries look like headings but are not
                            blocks.append((Block(para.text, kind=para.kind, page=page.number + 1,
                                                 bbox=_round(para.bbox), places=_line_places(para, page.number)),
                                           None if toc else para))
                    elif para.ref.kind == "figure":
                        block = _figure_block(para.ref, page.number)
                        if block is not None:
                            blocks.append((block, None))
                    else:
                        last_table = _add_table(blocks, para.ref, page.number, last_table)
        return blocks

    def _describe_figures(self, pdf, page: _Page, figures: list[_Placed], describer: FigureDescriber | None):
        """OCR for figures without text-layer text, VLM descriptions and the PNGs kept with parse.figure_images,
        from crops rendered once."""
        want_ocr = self.options.ocr != "off" and self.options.ocr_figures and not page.ocr
        keep = self.options.figure_images
        todo = [f for f in figures if (want_ocr and not f.text) or describer or keep]
        if not todo:
            return
        from docrag.parse.ocr import OCR, ocr_available

        pdf_page = pdf[page.number]
        try:
            crops = [render(pdf_page, FIGURE_SCALE, f.bbox) for f in todo]
        finally:
            pdf_page.close()
        if keep:
            for f, crop in zip(todo, crops):
                f.png = png_bytes(crop)
        if want_ocr and ocr_available():
            need = [k for k, f in enumerate(todo) if not f.text]
            for k, boxes in zip(need, OCR().read_many([crops[k] for k in need])):
                groups = reading_order(ocr_lines(boxes, FIGURE_SCALE))
                todo[k].text = " ".join(normalize(ln.text) for g in groups for ln in g)
        if describer is not None:
            for f, crop in zip(todo, crops):
                try:
                    f.description = describer.describe(crop, f.sha, f.caption)
                except BackendError as e:  # an unreachable vision model costs the description, not the document
                    log.warning("figure on page %d not described: %s", page.number + 1, e)

    # --- pass 3: heading levels and section paths ----------------------------------------------------

    @staticmethod
    def _headings(blocks: list[tuple[Block, Paragraph | None]], pages: list[_Page]) -> None:
        sizes: Counter = Counter()
        bold_chars = all_chars = 0
        for p in pages:
            for ln in p.lines:
                sizes[round(ln.size)] += len(ln.text)
                all_chars += len(ln.text)
                bold_chars += len(ln.text) if ln.bold else 0
        body_size = sizes.most_common(1)[0][0] if sizes else 10.0
        body_bold = bold_chars > 0.5 * all_chars
        styles = {id(b): heading_style(para, body_size, body_bold) for b, para in blocks if para is not None}
        ranks = {s: k + 1 for k, s in enumerate(sorted({s for s in styles.values() if s is not None}))}
        path: list[tuple[int, str]] = []
        for block, _ in blocks:
            style = styles.get(id(block))
            if style is not None:
                level = min(ranks[style], 6)
                while path and path[-1][0] >= level:
                    path.pop()
                path.append((level, block.text))
                block.kind, block.level = "heading", level
            block.section = tuple(t for _, t in path)


def _mentions_images(path: Path) -> bool:
    """Whether the file holds image XObjects: their dictionaries are never inside compressed object
    streams, so a byte search finds them (inline images are not found: they are small as a rule)."""
    tail = b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            if _IMAGE_XOBJECT.search(tail + chunk):
                return True
            tail = chunk[-32:]
    return False


def _is_contents_page(groups: list[list]) -> bool:
    lines = [ln for g in groups for ln in g if isinstance(ln, Line)]
    entries = sum(1 for ln in lines if _TOC_ENTRY.search(ln.text))
    return entries >= 5 and entries >= 0.4 * len(lines)


def _center_inside(line: Line, bbox) -> bool:
    cx, cy = (line.x0 + line.x1) / 2, (line.top + line.bottom) / 2
    return bbox[0] - 1 <= cx <= bbox[2] + 1 and bbox[1] - 1 <= cy <= bbox[3] + 1


def _take_regions(lines: list[Line], placed: list[_Placed]) -> list[Line]:
    """Take the lines inside tables and figures (a figure keeps them as its text) and their captions out of
    the text flow; the lines left."""
    for item in placed:
        inside = [ln for ln in lines if _center_inside(ln, item.bbox)]
        lines = [ln for ln in lines if not _center_inside(ln, item.bbox)]
        if item.kind == "figure":
            caption = next((ln for ln in inside if FIGURE_CAPTION.match(ln.text.strip())), None)
            if caption is not None:
                inside.remove(caption)
                item.caption = normalize(caption.text)
            item.text = " ".join(normalize(ln.text) for g in reading_order(inside) for ln in g)
    for item in placed:
        if not item.caption:
            item.caption, lines = _take_caption(lines, item)
    return lines


def _take_caption(lines: list[Line], item: _Placed) -> tuple[str, list[Line]]:
    """The caption line nearest above or below a table or figure ("表2 …", "Figure 3: …", "续表"), taken
    out of the text flow with the other pieces of its visual line."""
    pattern = TABLE_CAPTION if item.kind == "table" else FIGURE_CAPTION
    x0, top, x1, bottom = item.bbox
    best: tuple[float, Line] | None = None
    for ln in lines:
        if ln.x1 < x0 - 20 or ln.x0 > x1 + 20 or not pattern.match(ln.text.strip()):
            continue
        reach = 3 * ln.size + 12
        distance = top - ln.bottom if ln.bottom <= top + 2 else ln.top - bottom if ln.top >= bottom - 2 else None
        if distance is not None and distance <= reach and (best is None or distance < best[0]):
            best = (distance, ln)
    if best is None:
        return "", lines
    cap = best[1]
    row = sorted((ln for ln in lines if abs((ln.top + ln.bottom) - (cap.top + cap.bottom)) <= cap.bottom - cap.top
                  and ln.x0 >= cap.x0 - 1), key=lambda ln: ln.x0)
    return normalize(" ".join(ln.text for ln in row)), [ln for ln in lines if not any(ln is r for r in row)]


def _add_table(blocks: list, item: _Placed, page_number: int, last: tuple | None) -> tuple:
    """Append a table block, or merge the table into the previous page's last one that it continues;
    the (block, found table, page) a table on the next page may continue."""
    from docrag.parse import pdf_tables

    if (last is not None and last[2] == page_number - 1 and _only_continuation_marks_after(blocks, last[0])
            and (not item.caption or _CONTINUED.search(item.caption)) and pdf_tables.continues(last[1], item.found)):
        block = last[0]
        caption = block.table.caption
        rows_before = len(block.table.row_sentences())  # the merged table's first rows say the same
        block.table = pdf_tables.merge(block.table, item.found.table)
        block.table.caption = block.table.caption or caption
        block.text = _table_text(block.table)
        block.page_end = page_number + 1
        # where this page's rows start in the text (after the title lines and the rows before them)
        offset = sum(len(line) + 1 for line in (block.table.title_lines() + block.table.row_sentences())
                     [:len(block.table.title_lines()) + rows_before])
        if not block.places and block.bbox is not None and block.page is not None:
            block.places = [(0, block.page, *block.bbox)]
        block.places.append((min(offset, len(block.text)), page_number + 1, *_round(item.bbox)))
        return block, item.found, page_number
    table = item.found.table
    table.caption = item.caption or table.caption
    block = Block(_table_text(table), kind="table", page=page_number + 1, bbox=_round(item.bbox), table=table)
    blocks.append((block, None))
    return block, item.found, page_number


_CONTINUED = re.compile(r"\bcontinued\b|\bcont'd\b|续上?表|（续）|\(续\)", re.IGNORECASE)


def _only_continuation_marks_after(blocks: list, table_block: Block) -> bool:
    """Whether only "(continued)" lines follow ``table_block``: a title, caption or note between two tables
    with the same columns (a 10-K's cash-flow statement, then its income statement) makes the second a table
    of its own."""
    k = next(i for i in range(len(blocks) - 1, -1, -1) if blocks[i][0] is table_block)
    return all(_CONTINUED.search(b.text) and len(b.text) <= 120 for b, _ in blocks[k + 1:])


def _table_text(table) -> str:
    return "\n".join(table.title_lines() + table.row_sentences())


def _figure_block(item: _Placed, page_number: int) -> Block | None:
    text = "\n".join(t for t in (item.caption, item.text, item.description) if t)
    if not text and not item.png:
        return None  # a picture with no caption and no text: nothing to search for
    figure = Figure(bbox=_round(item.bbox), ocr_text=item.text, caption=item.caption, description=item.description,
                    image_sha=item.sha, png=item.png)
    # kept for its image (parse.figure_images), a picture without text still needs some: chunks are made of text
    return Block(text or PICTURE_TEXT, kind="figure", page=page_number + 1, bbox=figure.bbox, figure=figure)


def _line_places(para: Paragraph, page_number: int) -> list[Place]:
    """Where each line of a paragraph of more than one line is in its text and on the page (none when
    that cannot be told exactly: the paragraph's box is used then)."""
    if len(para.lines) < 2:
        return []
    starts = line_starts(para)
    if starts is None:
        return []
    return [(s, page_number + 1, *_round((ln.x0, ln.top, ln.x1, ln.bottom))) for s, ln in zip(starts, para.lines)]


def _round(bbox) -> BBox:
    x0, top, x1, bottom = (round(float(v), 1) for v in bbox)
    return x0, top, x1, bottom
