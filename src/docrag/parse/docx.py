"""Word .docx: paragraphs and tables in body order; Heading/标题 styles become the section path."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from docrag.errors import ParseError
from docrag.parse.base import Parser, human_size, register
from docrag.parse.normalize import normalize
from docrag.types import Block, Document

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.I)


def _heading_level(style_name: str) -> int:
    if style_name.lower() == "title":
        return 1
    m = _HEADING_STYLE.match(style_name.strip())
    return int(m.group(1)) if m else 0


def _check_expanded_size(path: Path, max_bytes: int | None) -> None:
    """A .docx is a zip archive: a small file can expand to gigabytes of XML, so ``max_bytes`` limits
    its members' uncompressed sizes too, before python-docx inflates them (zipfile stops reading a
    member at its declared size)."""
    if max_bytes is None:
        return
    with zipfile.ZipFile(path) as archive:
        size = sum(info.file_size for info in archive.infolist())
    if size > max_bytes:
        raise ParseError(path, f"expands to {human_size(size)} unzipped > {human_size(max_bytes)} limit")


def _paragraph_styles(d) -> tuple[dict[str, str], str]:
    """Paragraph style names by style id, and the default paragraph style's name, read once: python-docx's
    Paragraph.style searches every style of the document for each paragraph, so long documents with many
    styles took seconds. Its rules are kept: the first style with an id wins, and a paragraph without an
    id, with an unknown one or with a character or table style's has the default paragraph style."""
    from docx.enum.style import WD_STYLE_TYPE

    styles = d.styles.element
    first: dict[str, Any] = {}
    for style in styles.style_lst:
        if style.styleId:
            first.setdefault(style.styleId, style)
    names = {sid: style.name_val or "" for sid, style in first.items() if style.type == WD_STYLE_TYPE.PARAGRAPH}
    default = styles.default_for(WD_STYLE_TYPE.PARAGRAPH)
    return names, (default.name_val or "") if default is not None else ""


@register
class DocxParser(Parser):
    extensions = (".docx",)
    file_type = "docx"

    def parse(self, path: Path) -> Document:
        import docx
        from docx.table import Table

        _check_expanded_size(path, self.max_bytes)
        d = docx.Document(str(path))
        styles, default_style = _paragraph_styles(d)
        blocks = self.blocks(path)
        headings: list[tuple[int, str]] = []
        for el in d.element.body.iterchildren():
            tag = el.tag.rsplit("}", 1)[-1]
            section = tuple(t for _, t in headings)
            if tag == "p":
                text = normalize(el.text).replace("\n", " ").strip()
                if not text:
                    continue
                style = styles.get(el.style, default_style)
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
                rows, chars = [], 0
                for row in Table(el, d).rows:
                    cells, seen = [], set()
                    for cell in row.cells:  # a merged cell appears once per grid column it spans
                        if id(cell._tc) in seen:
                            continue
                        seen.add(id(cell._tc))
                        cells.append(normalize(cell.text).replace("\n", " ").strip())
                    if any(cells):
                        rows.append(" | ".join(cells))
                        chars += len(rows[-1]) + 1
                        blocks.check(chars)  # a vertically merged cell repeats its text in every row
                if rows:
                    blocks.append(Block("\n".join(rows), kind="table", section=section))
        title = (d.core_properties.title or "").strip()
        return self.document(path, blocks, title=title)
