"""Word .docx: paragraphs and tables in body order; Heading/标题 styles become the section path."""

from __future__ import annotations

import re
from pathlib import Path

from docrag.parse.base import Parser, register
from docrag.parse.normalize import normalize
from docrag.types import Block, Document

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.I)


def _heading_level(style_name: str) -> int:
    if style_name.lower() == "title":
        return 1
    m = _HEADING_STYLE.match(style_name.strip())
    return int(m.group(1)) if m else 0


@register
class DocxParser(Parser):
    extensions = (".docx",)
    file_type = "docx"

    def parse(self, path: Path) -> Document:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        d = docx.Document(str(path))
        blocks: list[Block] = []
        headings: list[tuple[int, str]] = []
        for el in d.element.body.iterchildren():
            tag = el.tag.rsplit("}", 1)[-1]
            section = tuple(t for _, t in headings)
            if tag == "p":
                p = Paragraph(el, d)
                text = normalize(p.text).replace("\n", " ").strip()
                if not text:
                    continue
                style = p.style.name if p.style is not None else ""
                level = _heading_level(style)
                if level:
                    while headings and headings[-1][0] >= level:
                        headings.pop()
                    headings.append((level, text))
                    blocks.append(Block(text, kind="heading", level=level, section=tuple(t for _, t in headings)))
                else:
                    kind = "list" if style.lower().startswith("list") else "paragraph"
                    blocks.append(Block(text, kind=kind, section=section))
            elif tag == "tbl":
                rows = []
                for row in Table(el, d).rows:
                    cells, seen = [], set()
                    for cell in row.cells:  # a merged cell appears once per grid column it spans
                        if id(cell._tc) in seen:
                            continue
                        seen.add(id(cell._tc))
                        cells.append(normalize(cell.text).replace("\n", " ").strip())
                    if any(cells):
                        rows.append(" | ".join(cells))
                if rows:
                    blocks.append(Block("\n".join(rows), kind="table", section=section))
        title = (d.core_properties.title or "").strip()
        return self.document(path, blocks, title=title)
