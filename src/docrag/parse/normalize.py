"""Text normalisation shared by all parsers.

Full-width ASCII letters and digits become half-width so that "ＧＰＴ－４" and "GPT-4" index
alike, but CJK punctuation (，。！？；) is kept: it marks Chinese sentence ends.
"""

from __future__ import annotations

import re

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = r"\u3000-\u303f\uff01-\uff0f\uff1a-\uff20"

# full-width digits, letters and a few symbols used inside numbers/identifiers -> ASCII
_WIDTH_MAP: dict[int, int | None] = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF1A)}
_WIDTH_MAP.update({c: c - 0xFEE0 for c in range(0xFF21, 0xFF3B)})
_WIDTH_MAP.update({c: c - 0xFEE0 for c in range(0xFF41, 0xFF5B)})
_WIDTH_MAP.update({ord(c): ord(c) - 0xFEE0 for c in "％＋－＝＠＃＄＆＿／．"})
_WIDTH_MAP.update({0x3000: 0x20, 0xA0: 0x20, 0x2007: 0x20, 0x202F: 0x20})
# zero-width and soft-hyphen characters carry nothing for search
_WIDTH_MAP.update({c: None for c in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD)})
# C0 controls except \t \n; \r and form feeds are line ends
_WIDTH_MAP.update({c: None for c in range(0x20) if c not in (0x09, 0x0A, 0x0D, 0x0C)})
_WIDTH_MAP.update({0x0C: 0x0A, 0x0B: 0x0A, 0x7F: None})

# most text needs no character mapping: find out with one regex scan instead of translating
_NEEDS_MAP = re.compile("[" + "".join(re.escape(chr(c)) for c in _WIDTH_MAP) + "]")
_CRLF = re.compile(r"\r\n?")
_SPACES = re.compile(r"[ \t]+")
_HYPHEN_BREAK = re.compile(r"([A-Za-z])-\n([a-z])")
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT}]) (?=[{_CJK}{_CJK_PUNCT}])")
_LINE_JOIN_CJK = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT}])\n(?=[{_CJK}{_CJK_PUNCT}])")
_BLANK_LINES = re.compile(r"\n\s*\n")


def normalize(text: str, keep_indent: bool = False) -> str:
    """Normalise characters and spaces; keep line structure (and indentation, if asked: Markdown
    needs it for code)."""
    text = _CRLF.sub("\n", text)
    if _NEEDS_MAP.search(text):
        text = text.translate(_WIDTH_MAP)
    if keep_indent:
        return "\n".join(line.rstrip() for line in text.split("\n"))
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _SPACE_BETWEEN_CJK.sub("", text)


def unwrap(text: str) -> str:
    """Join hard-wrapped lines of one paragraph: no space between CJK, de-hyphenate English."""
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = _LINE_JOIN_CJK.sub("", text)
    return text.replace("\n", " ").strip()


def paragraphs(text: str) -> list[str]:
    """Split normalised text into paragraphs.

    With blank lines present, blank lines separate paragraphs and the lines inside one are
    hard wraps; with none (e.g. one article or record per line), every line is a paragraph.
    """
    text = text.strip()
    if not text:
        return []
    if _BLANK_LINES.search(text):
        return [p for p in (unwrap(part) for part in _BLANK_LINES.split(text)) if p]
    return [line for line in text.split("\n") if line]
