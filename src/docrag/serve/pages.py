"""PDF pages for the web page: a page as a PNG to show a cited passage on, and where a quote is on a page (the
page draws the highlight boxes itself, from positions in PDF points)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from docrag.parse.pdf import PDFIUM_LOCK
from docrag.serve.kbs import NotFound, Unsupported

MAX_SCALE = 4.0


@contextmanager
def _pdf_page(path: Path, page: int) -> Iterator[Any]:
    """Page ``page`` (1-based) of the PDF at ``path``, held under the PDFium lock."""
    import pypdfium2 as pdfium

    if path.suffix.lower() != ".pdf":
        raise Unsupported(f"{path.name}: only PDF documents have pages to show")
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(str(path))
        try:
            if not 1 <= page <= len(pdf):
                raise NotFound(f"{path.name} has no page {page} (it has {len(pdf)})")
            pdf_page = pdf[page - 1]
            try:
                yield pdf_page
            finally:
                pdf_page.close()
        finally:
            pdf.close()


def render_page(path: Path, page: int, scale: float = 1.5) -> bytes:
    """The page rendered at ``scale`` pixels per point, as PNG."""
    with _pdf_page(path, page) as pdf_page:
        image = pdf_page.render(scale=min(max(scale, 0.25), MAX_SCALE)).to_pil()
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def find_boxes(path: Path, page: int, text: str, max_boxes: int = 40) -> list[list[float]]:
    """Where ``text`` (a cited quote) is on the page: one box per line it covers, ``[x0, top, x1, bottom]`` in PDF
    points from the page's top left; ``[]`` when it is not found there. White space is ignored on both sides, since
    the parser joins lines and drops the spaces between Chinese characters; a quote that joins passages with "…" is
    found piece by piece. For passages the index keeps without boxes (indexes built before chunks had them)."""
    import pypdfium2.raw as pdfium_c

    pieces = [w for w in ("".join(p.split()) for p in re.split(r"…|\.\.\.", text)) if w]
    with _pdf_page(path, page) as pdf_page:
        if not pieces:
            return []
        textpage = pdf_page.get_textpage()
        try:
            height = pdf_page.get_height()
            # the page's characters without white space, and the index of each in the text page
            chars = [(i, chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i))) for i in range(textpage.count_chars())]
            kept = [(i, c) for i, c in chars if not c.isspace() and c != "\0"]
            joined = "".join(c for _, c in kept)
            boxes: list[list[float]] = []
            at = 0
            for wanted in pieces:
                at = joined.find(wanted, at)
                if at < 0:
                    break
                first, last = kept[at][0], kept[at + len(wanted) - 1][0]
                at += len(wanted)
                for r in range(textpage.count_rects(first, last - first + 1)):
                    left, bottom, right, top = textpage.get_rect(r)
                    boxes.append([round(left, 1), round(height - top, 1), round(right, 1), round(height - bottom, 1)])
            return boxes[:max_boxes]
        finally:
            textpage.close()
