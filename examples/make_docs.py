"""Render Markdown-ish text (headings, paragraphs, '-' bullets) to PDF and DOCX.

Used by the demo (docrag's own guide becomes a real multi-page PDF) and by tests that need real
PDF and Word files. PDFs use reportlab's built-in Adobe CID font STSong-Light for Chinese, which
PDF readers (and pdfium) map back to Unicode without an embedded font file.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _lines(md: str):
    for line in md.splitlines():
        line = line.rstrip()
        if not line:
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            yield "heading", level, line.lstrip("#").strip()
        elif line.startswith("- "):
            yield "bullet", 0, line[2:]
        else:
            yield "para", 0, line


def markdown_to_pdf(md: str, out: Path, title: str = "") -> Path:
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    body = ParagraphStyle("body", fontName="STSong-Light", fontSize=11, leading=17, wordWrap="CJK", spaceAfter=6)
    heads = {lvl: ParagraphStyle(f"h{lvl}", parent=body, fontSize=20 - 3 * lvl, leading=28 - 3 * lvl,
                                 spaceBefore=8, spaceAfter=8) for lvl in (1, 2, 3)}
    bullet = ParagraphStyle("bullet", parent=body, leftIndent=14, bulletIndent=4)
    story = []
    for kind, level, text in _lines(md):
        if kind == "heading":
            story.append(Paragraph(escape(text), heads[min(level, 3)]))
        elif kind == "bullet":
            story.append(Paragraph(escape(text), bullet, bulletText="•"))
        else:
            story.append(Paragraph(escape(text), body))
        story.append(Spacer(1, 2))
    out.parent.mkdir(parents=True, exist_ok=True)
    SimpleDocTemplate(str(out), pagesize=A4, title=title).build(story)
    return out


def markdown_to_docx(md: str, out: Path, title: str = "") -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    for kind, level, text in _lines(md):
        if kind == "heading":
            d.add_heading(text, level=min(level, 9))
        elif kind == "bullet":
            d.add_paragraph(text, style="List Bullet")
        else:
            d.add_paragraph(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    d.save(str(out))
    return out


if __name__ == "__main__":
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    render = markdown_to_pdf if dst.suffix == ".pdf" else markdown_to_docx
    print(render(src.read_text(encoding="utf-8"), dst, title=src.stem))
