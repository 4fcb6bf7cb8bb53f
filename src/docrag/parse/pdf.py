"""PDF text per page with pypdfium2 (Apache-2.0/BSD; measured ~420 pages/s on 10-K filings).

Tables, images and layout analysis come in the multimodal ingestion work; here each page's text
layer is split into paragraphs, every block carrying its 1-based page number.
"""

from __future__ import annotations

import re
from pathlib import Path

from docrag.errors import ParseError
from docrag.parse.base import Parser, register
from docrag.parse.normalize import normalize, unwrap
from docrag.types import Block, Document

_BULLET = re.compile(r"^(?:[•●○■□◆▪\-*]|\d+[.)、]|[（(]\d+[)）])\s*")
_SENTENCE_END = re.compile(r"[。！？!?.:：;；」』”\"')）]$")


def page_paragraphs(text: str) -> list[str]:
    """Group a page's lines into paragraphs.

    PDF text layers have a line end at every visual line. A paragraph ends at a blank line, at a
    line that ends a sentence and is clearly shorter than the page's full lines, or at a line under
    half the full width (a heading or label); a bullet starts a new one.
    """
    lines = normalize(text).split("\n")
    full = max((len(ln) for ln in lines), default=0)
    paras: list[str] = []
    cur: list[str] = []
    for ln in lines:
        if cur and (not ln or _BULLET.match(ln)):
            paras.append(unwrap("\n".join(cur)))
            cur = []
        if not ln:
            continue
        cur.append(ln)
        if len(ln) < 0.5 * full or (len(ln) < 0.8 * full and _SENTENCE_END.search(ln)):
            paras.append(unwrap("\n".join(cur)))
            cur = []
    if cur:
        paras.append(unwrap("\n".join(cur)))
    return [p for p in paras if p]


@register
class PdfParser(Parser):
    extensions = (".pdf",)
    file_type = "pdf"

    def parse(self, path: Path) -> Document:
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as e:
            msg = str(e)
            if "password" in msg.lower():
                raise ParseError(path, "encrypted PDF (password required)") from None
            raise ParseError(path, f"corrupt or unreadable PDF ({msg})") from None
        try:
            blocks: list[Block] = []
            for i in range(len(pdf)):
                page = pdf[i]
                textpage = page.get_textpage()
                for para in page_paragraphs(textpage.get_text_range()):
                    blocks.append(Block(para, page=i + 1))
                textpage.close()
                page.close()
            title = (pdf.get_metadata_dict().get("Title") or "").strip()
            return self.document(path, blocks, title=title, n_pages=len(pdf))
        finally:
            pdf.close()
