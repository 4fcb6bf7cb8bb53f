"""Markdown: headings become the section path; inline markup is stripped, tables kept as rows.

Hand-written rather than via a Markdown library: we need source-order blocks with their heading
path, not HTML, and only a handful of line-level rules decide that.
"""

from __future__ import annotations

import re
from pathlib import Path

from docrag.parse.base import Parser, decode, register
from docrag.parse.normalize import normalize, unwrap
from docrag.types import Block, Document

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_THEMATIC_BREAK = re.compile(r"^(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$")
_QUOTE = re.compile(r"^(?:>\s?)+")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_FENCE = re.compile(r"^(```|~~~)")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # link -> text
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![A-Za-z0-9*])\*(?!\s)(.+?)(?<!\s)\*(?![A-Za-z0-9])"), r"\1"),  # CJK may touch *
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"<[^>]+>"), ""),
]


def strip_inline(text: str) -> str:
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return text


@register
class MarkdownParser(Parser):
    extensions = (".md", ".markdown")
    file_type = "md"

    def parse(self, path: Path) -> Document:
        lines = normalize(decode(path, path.read_bytes()), keep_indent=True).split("\n")
        blocks: list[Block] = []
        headings: list[tuple[int, str]] = []
        para: list[str] = []
        kind = "paragraph"

        def section() -> tuple[str, ...]:
            return tuple(t for _, t in headings)

        def flush():
            nonlocal kind
            if para:
                text = "\n".join(para) if kind in ("table", "code") else unwrap(strip_inline("\n".join(para)))
                if text:
                    blocks.append(Block(text, kind=kind, section=section()))
                para.clear()
            kind = "paragraph"

        def heading(level: int, text: str):
            flush()
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, text))
            blocks.append(Block(text, kind="heading", level=level, section=section()))

        in_fence = False
        for raw in lines:
            if _FENCE.match(raw.lstrip()):
                flush()
                if not in_fence:
                    kind = "code"
                in_fence = not in_fence
                continue
            if in_fence:
                para.append(raw)  # code keeps its indentation
                continue
            line = normalize(_QUOTE.sub("", raw.strip()))
            if m := _ATX.match(line):
                heading(len(m.group(1)), strip_inline(m.group(2)))
            elif _SETEXT.match(line) and len(para) == 1 and kind == "paragraph":
                text = strip_inline(para.pop())
                heading(1 if line.startswith("=") else 2, text)
            elif _THEMATIC_BREAK.match(line):
                flush()
            elif not line:
                flush()
            elif line.startswith("|"):
                if kind != "table":
                    flush()
                    kind = "table"
                if not _TABLE_RULE.match(line):
                    cells = [strip_inline(c.strip()) for c in line.strip().strip("|").split("|")]
                    para.append(" | ".join(cells))
            elif _LIST_ITEM.match(line):
                flush()
                kind = "list"
                para.append(_LIST_ITEM.sub("", line))
            else:  # a paragraph line, or the lazy continuation of a list item
                if kind == "table":
                    flush()
                para.append(line)
        flush()
        title = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
        return self.document(path, blocks, title=title)
