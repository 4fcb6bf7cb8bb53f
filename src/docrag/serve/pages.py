"""A PDF page as a PNG, for the web page to show a cited passage on (it draws the highlight box itself, from the
passage's positions in PDF points)."""

from __future__ import annotations

import io
from pathlib import Path

from docrag.parse.pdf import PDFIUM_LOCK
from docrag.serve.kbs import NotFound, Unsupported

MAX_SCALE = 4.0


def render_page(path: Path, page: int, scale: float = 1.5) -> bytes:
    """Page ``page`` (1-based) of the PDF at ``path``, rendered at ``scale`` pixels per point."""
    import pypdfium2 as pdfium

    if path.suffix.lower() != ".pdf":
        raise Unsupported(f"{path.name}: only PDF pages are rendered")
    scale = min(max(scale, 0.25), MAX_SCALE)
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(str(path))
        try:
            if not 1 <= page <= len(pdf):
                raise NotFound(f"{path.name} has no page {page} (it has {len(pdf)})")
            pdf_page = pdf[page - 1]
            try:
                image = pdf_page.render(scale=scale).to_pil()
            finally:
                pdf_page.close()
        finally:
            pdf.close()
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()
