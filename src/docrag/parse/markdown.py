"""Markdown: headings become the section path; inline markup is stripped, tables kept as rows.

Hand-written rather than via a Markdown library: we need source-order blocks with their heading
path, not HTML, and only a handful of line-level rules decide that.
"""

from __future__ import annotations

import re
from pathlib import Path

from docrag.parse.base import Parser, decode, register
from docrag.parse.html import hidden
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
# Raw HTML a renderer passes through but a reader never sees: these elements whatever their attributes,
# others when hidden (docrag.parse.html.hidden), and comments
_NEVER_SHOWN = ("script", "style", "template", "noscript")  # as in the HTML parser
_RAW_TEXT = ("script", "style")  # their text is not markup: a "<script>" inside a script opens nothing
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# where the scan for it stops: an inline code span (skipped, its text is literal), a comment, a start tag
_HTML_START = re.compile(r"`[^`\n]*`|<!--|<([A-Za-z][\w-]*)((?:\s[^<>]*)?)>")
_ATTR = re.compile(r"""([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")


def strip_inline(text: str) -> str:
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return text


def _without_hidden_html(lines: list[str]) -> list[str]:
    """The lines with hidden HTML removed, except in fenced code where HTML is literal text."""
    out: list[str] = []
    prose: list[str] = []
    in_fence = False
    for line in lines:
        fence = bool(_FENCE.match(line.lstrip()))
        if in_fence or fence:
            out += _drop_hidden_html(prose)
            prose = []
            out.append(line)
            in_fence ^= fence
        else:
            prose.append(line)
    return out + _drop_hidden_html(prose)


def _drop_hidden_html(lines: list[str]) -> list[str]:
    """A removed span leaves its line breaks, so the blocks around it stay apart. An element without an
    end tag is kept: losing the rest of a file to one stray tag is worse than indexing some hidden text."""
    if not lines:
        return []
    text = "\n".join(lines)
    parts: list[str] = []
    pos = kept = 0
    unclosed: set[str] = set()  # elements whose end tag was not found: not searched for again (linear scan)
    while m := _HTML_START.search(text, pos):
        end = _hidden_end(text, m, unclosed)
        pos = m.end() if end is None else end
        if end is not None:
            parts += [text[kept:m.start()], "\n" * text.count("\n", m.start(), end)]
            kept = end
    return ("".join(parts) + text[kept:]).split("\n")


def _hidden_end(text: str, m: re.Match, unclosed: set[str]) -> int | None:
    """Where the hidden HTML that starts at ``m`` ends; None if ``m`` is no such start or it never ends."""
    if m.group().startswith("`"):
        return None
    name = "!--" if m.group() == "<!--" else m.group(1).lower()
    if name in unclosed:
        return None
    if name == "!--":
        close = text.find("-->", m.end())
        end = None if close < 0 else close + 3
    elif name in _NEVER_SHOWN or (name not in _VOID and hidden(_attributes(m.group(2)))):
        end = _end_tag(text, name, m.end(), nested=name not in _RAW_TEXT)
    else:
        return None
    if end is None:
        unclosed.add(name)
    return end


def _attributes(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or "" for m in _ATTR.finditer(text)}


def _end_tag(text: str, name: str, start: int, nested: bool) -> int | None:
    """The end of the end tag that closes the ``name`` element whose start tag ends at ``start``."""
    depth = 1
    for tag in re.compile(rf"<(/?){re.escape(name)}(?![\w-])[^<>]*>", re.I).finditer(text, start):
        if tag.group(1):
            depth -= 1
        elif nested:
            depth += 1
        if depth == 0:
            return tag.end()
    return None


@register
class MarkdownParser(Parser):
    extensions = (".md", ".markdown")
    file_type = "md"
    version = 2  # raw HTML that is never shown (script, style, hidden elements, comments) is no longer indexed

    def parse(self, path: Path) -> Document:
        lines = _without_hidden_html(normalize(decode(path, path.read_bytes()), keep_indent=True).split("\n"))
        blocks = self.blocks(path)
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
