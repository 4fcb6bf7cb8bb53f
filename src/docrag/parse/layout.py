"""Page layout from positioned text lines: running headers/footers and page numbers, two-column reading
order, paragraphs, and heading candidates.

Everything here works on ``Line`` values (text with a box in PDF points, top-left origin) whatever
produced them, the PDF text layer or OCR, so it is tested without PDFs. Items that are not lines
(table and figure placeholders) only need ``x0, top, x1, bottom``: they take part in the reading order
and end the paragraph before them.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Protocol, TypeVar

from docrag.parse.normalize import _CJK, _CJK_PUNCT, normalize, unwrap


@dataclass(slots=True)
class Line:
    """A run of text on one baseline. ``size`` is the font size in points; ``bold`` from the font;
    ``ocr``: read by OCR, whose sizes are estimates from box heights (a few pixels off)."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float
    bold: bool = False
    ocr: bool = False


class Boxed(Protocol):
    x0: float
    top: float
    x1: float
    bottom: float


R = TypeVar("R", bound=Boxed)  # the caller's non-line items (regions): they come back as they went in


@dataclass
class Paragraph:
    lines: list[Line]
    kind: str = "paragraph"  # "paragraph" | "list"
    text: str = ""
    size: float = 0.0
    bold: bool = False
    bbox: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


@dataclass
class Region:
    """A non-text item placed in the reading order (a table or a figure); ``ref`` is the caller's object."""

    x0: float
    top: float
    x1: float
    bottom: float
    ref: Any = field(default=None, repr=False)


# --- running headers, footers and page numbers ---------------------------------------------------------

BAND = 0.08  # share of the text area's height at its top and bottom where headers and footers live
RUNNING_WIDTH = 60  # a piece of a header or footer is short (display width; the body's lines run longer)
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—~·•\s]*\d{1,5}[-–—~·•\s]*"  # 12, - 12 -, — 12 —
    r"|(?:page|p\.)\s*\d{1,5}(?:\s*(?:of|/)\s*\d{1,5})?"  # Page 12, Page 12 of 80
    r"|\d{1,5}\s*/\s*\d{1,5}"  # 12 / 80
    r"|第\s*\d{1,5}\s*页(?:\s*[,，]?\s*共\s*\d{1,5}\s*页)?"  # 第12页, 第12页 共80页
    r"|(?:共\s*\d{1,5}\s*页\s*)?第\s*\d{1,5}\s*页"
    r"|[A-Z]{1,2}\s*-\s*\d{1,4}"  # F-12 (10-K financial pages)
    r"|\d{1,3}(?:-\d{1,4}){1,3}"  # 1-1-12 (Chinese prospectuses)
    r"|[ivxlc]{1,7}"  # roman front matter
    r")$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")


def upright_box(turned: int, x0, y0, x1, y1):
    """A box (left, bottom, right, top; PDF points, y up; numbers or numpy arrays) as seen in the frame
    turned back by ``turned`` degrees (0, 90, 180, 270 counter-clockwise), where text turned that way runs
    left to right."""
    if turned == 90:
        return y0, -x1, y1, -x0
    if turned == 180:
        return -x1, -y1, -x0, -y0
    if turned == 270:
        return -y1, x0, -y0, x1
    return x0, y0, x1, y1


def is_page_number(text: str) -> bool:
    return bool(_PAGE_NUMBER.match(text.strip()))


def _band_lines(lines: list[Line], top_limit: float, bottom_limit: float) -> list[tuple[str, list[int]]]:
    """The visual lines (segments on one baseline) in the top and bottom bands: (band, line indices)."""
    out = []
    for band, members in (("top", [i for i, ln in enumerate(lines) if ln.bottom <= top_limit]),
                          ("bottom", [i for i, ln in enumerate(lines) if ln.top >= bottom_limit])):
        for group in _same_baseline(lines, members):
            out.append((band, group))
    return out


def _same_baseline(lines: list[Line], members: list[int]) -> list[list[int]]:
    groups: list[list[int]] = []
    for i in sorted(members, key=lambda i: (lines[i].top, lines[i].x0)):
        ln = lines[i]
        if groups:
            last = lines[groups[-1][0]]
            if abs((ln.top + ln.bottom) - (last.top + last.bottom)) / 2 <= 0.5 * max(ln.bottom - ln.top, 1):
                groups[-1].append(i)
                continue
        groups.append([i])
    return groups


def running_lines(pages: list[list[Line]]) -> list[set[int]]:
    """Per page, the indices of lines that are running headers, footers or page numbers.

    A line in the top or bottom band is running when the same text, digits masked, appears in that band
    on several pages (2 pages of a short document, else 3), is made of short pieces and stands apart from
    the body text (a gap of half a line at least), or when it is a lone page number there: the first lines
    of similar paragraphs repeat too, but run long and sit close to the next line. The bands are measured
    on the document's usual text area (a page printed onto the top of a larger sheet has its page number
    mid-sheet).
    """
    extents = [(min(ln.top for ln in lines), max(ln.bottom for ln in lines)) for lines in pages if lines]
    text_top = median(e[0] for e in extents) if extents else 0.0
    text_bottom = median(e[1] for e in extents) if extents else 0.0
    band = BAND * (text_bottom - text_top)
    keyed: list[list[tuple[tuple[str, str], list[int], str]]] = []
    counts: Counter = Counter()
    for lines in pages:
        entries = []
        for band_name, group in _band_lines(lines, text_top + band, text_bottom - band):
            text = " ".join(lines[i].text for i in sorted(group, key=lambda i: lines[i].x0)).strip()
            key = (band_name, _DIGITS.sub("#", normalize(text).lower()).replace(" ", ""))
            entries.append((key, group, text))
        candidates = {i for _, group, _ in entries for i in group
                      if all(display_width(lines[k].text) <= RUNNING_WIDTH for k in group)}
        entries = [(key, group, text) for key, group, text in entries
                   if is_page_number(text) or (group[0] in candidates and _apart(lines, group, candidates, key[0]))]
        keyed.append(entries)
        counts.update({key for key, _, _ in entries})
    need = 2 if len(pages) <= 4 else 3
    return [{i for key, group, text in entries for i in group
             if is_page_number(text) or (counts[key] >= need and len(pages) > 1 and key[1])} for entries in keyed]


def _apart(lines: list[Line], group: list[int], candidates: set[int], band: str) -> bool:
    """Whether a visual line sits at the page's edge, apart from the body text (the lines that cannot be
    running): no body line beyond it, and half a line's distance at least to the nearest one inside."""
    top, bottom = min(lines[i].top for i in group), max(lines[i].bottom for i in group)
    inner = [ln.top - bottom if band == "top" else top - ln.bottom
             for i, ln in enumerate(lines) if i not in candidates]
    if any(gap < -(bottom - top) for gap in inner):
        return False  # body text beyond it: a line inside the body that happens to repeat
    return min(inner, default=float("inf")) >= 0.5 * (bottom - top)


# --- reading order ------------------------------------------------------------------------------------

def find_gutter(lines: list[Line]) -> float | None:
    """The x of a vertical gutter that separates two columns of text lines over most of the text's height.

    Candidates lie in the middle half of the text's width where no line crosses for the longest
    stretch; both sides must hold several lines of running text that fill their column (not the cells of
    a table), the columns must be of similar width, and they must overlap vertically for at least half
    the text height.
    """
    body = [ln for ln in lines if ln.x1 - ln.x0 > 1]
    if len(body) < 8:
        return None
    left, right = min(ln.x0 for ln in body), max(ln.x1 for ln in body)
    width = right - left
    lo, hi = left + 0.25 * width, left + 0.75 * width
    best: tuple[int, float, float] | None = None  # (crossings, -gap width, x)
    xs = sorted({round(v) for ln in body for v in (ln.x0, ln.x1) if lo <= v <= hi} | {round(lo), round(hi)})
    for a, b in itertools.pairwise(xs):
        if b - a < 4:
            continue
        x = (a + b) / 2
        crossings = sum(1 for ln in body if ln.x0 < x < ln.x1)
        cand = (crossings, -(b - a), x)
        if best is None or cand < best:
            best = cand
    if best is None or best[0] > max(2, 0.1 * len(body)):
        return None
    x = best[2]
    lefts = [ln for ln in body if ln.x1 <= x]
    rights = [ln for ln in body if ln.x0 >= x]
    if len(lefts) < 4 or len(rights) < 4:
        return None
    if not (_column_of_text(lefts, width) and _column_of_text(rights, width)):
        return None
    widths = (max(ln.x1 for ln in lefts) - min(ln.x0 for ln in lefts), max(ln.x1 for ln in rights) - x)
    if min(widths) < 0.6 * max(widths):
        return None  # a label column beside its values (definitions, a form), not two columns of a page
    span = max(ln.bottom for ln in body) - min(ln.top for ln in body)
    overlap = (min(max(ln.bottom for ln in lefts), max(ln.bottom for ln in rights))
               - max(min(ln.top for ln in lefts), min(ln.top for ln in rights)))
    return x if overlap >= 0.5 * span else None


def _column_of_text(lines: list[Line], text_width: float) -> bool:
    """Running text fills its column: the column is not narrow, and most of its characters are on lines
    that span most of its width (a table's cells and a list of names do not)."""
    x0, x1 = min(ln.x0 for ln in lines), max(ln.x1 for ln in lines)
    if x1 - x0 < 0.3 * text_width:
        return False
    wide = sum(len(ln.text) for ln in lines if ln.x1 - ln.x0 >= 0.6 * (x1 - x0))
    return wide >= 0.5 * sum(len(ln.text) for ln in lines)


def reading_order(items: Sequence[Line | R]) -> list[list[Line | R]]:
    """Lines (joined into visual lines) and regions in reading order, as groups that share a column: top
    to bottom; on a two-column stretch the left column, then the right one, with full-width items (a
    heading above, a wide table) in groups of their own between such stretches."""
    lines = [it for it in items if isinstance(it, Line)]
    gutter = find_gutter(lines)
    if gutter is None:
        return [_top_down(items)]
    groups: list[list[Line | R]] = []
    left: list[Line | R] = []
    right: list[Line | R] = []
    full: list[Line | R] = []
    for it in sorted(items, key=lambda it: (it.top, it.x0)):
        # the short last line of a full-width paragraph stays with it
        tail = (full and not (left or right) and it.x1 <= gutter and abs(it.x0 - full[-1].x0) < 2
                and it.top - full[-1].bottom < 0.8 * (it.bottom - it.top))
        if it.x0 < gutter < it.x1 or tail:
            if left or right:
                groups += [_top_down(left), _top_down(right)]
                left, right = [], []
            full.append(it)
            continue
        if full:
            groups.append(_top_down(full))
            full = []
        (left if it.x1 <= gutter else right).append(it)
    groups += [_top_down(left), _top_down(right), _top_down(full)]
    return [g for g in groups if g]


def _top_down(items: Sequence[Line | R]) -> list[Line | R]:
    """Items sorted top to bottom; lines whose middles share a baseline become one visual line."""
    out: list[Line | R] = []
    row: list[Line] = []

    def flush():
        if row:
            out.append(_join(row))
            row.clear()

    for it in sorted(items, key=lambda it: (it.top, it.x0)):
        if not isinstance(it, Line):
            flush()
            out.append(it)
            continue
        if row:
            mid = (it.top + it.bottom) / 2
            top, bottom = min(ln.top for ln in row), max(ln.bottom for ln in row)
            if not (top <= mid <= bottom):
                flush()
        row.append(it)
    flush()
    return out


def _join(row: list[Line]) -> Line:
    if len(row) == 1:
        return row[0]
    row = sorted(row, key=lambda ln: ln.x0)
    main = max(row, key=lambda ln: len(ln.text))
    return Line(" ".join(ln.text for ln in row), min(ln.x0 for ln in row), min(ln.top for ln in row),
                max(ln.x1 for ln in row), max(ln.bottom for ln in row), main.size, main.bold, main.ocr)


# --- paragraphs ----------------------------------------------------------------------------------------

BULLET = re.compile(r"^(?:[•●○■□◆◇▪►‣∙·]|[-*](?=\s)|\d{1,2}[.)、](?!\d)|[（(](?:\d{1,2}|[a-z])[)）]"
                    r"|[a-z][.)](?=\s))\s*")
_GLYPH_BULLET = re.compile(r"^(?:[•●○■□◆◇▪►‣∙·]|[-*](?=\s))\s*")
_LIST_LEAD = re.compile(r"[。！？!?.:：;；]$")
_SENTENCE_END = re.compile(r"[。！？!?.:：;；」』”\"')）]$")


def usual_line_gap(groups: Sequence[Sequence[Boxed]]) -> float:
    """The median gap between consecutive lines of a page: the leading inside its paragraphs."""
    gaps = [b.top - a.bottom for g in groups for a, b in itertools.pairwise(g)
            if isinstance(a, Line) and isinstance(b, Line) and -2 < b.top - a.bottom < 2 * a.size]
    return median(gaps) if gaps else 0.0


def paragraphs(items: Sequence[Line | R], usual_gap: float) -> list[Paragraph | R]:
    """Group the visual lines of one column (in reading order) into paragraphs; regions stay in place.

    A paragraph ends at a clearly larger vertical gap than ``usual_gap``, a change of font size or
    weight, a bullet, a first-line indent, a short line after a sentence end, or a line under half the
    column width followed by a full one (a heading or label).
    """
    lines = [it for it in items if isinstance(it, Line)]
    right = max((ln.x1 for ln in lines), default=0.0)
    left = min((ln.x0 for ln in lines), default=0.0)
    out: list[Paragraph | R] = []
    cur: list[Line] = []

    def flush():
        if cur:
            out.append(_paragraph(list(cur)))
            cur.clear()

    for it in items:
        if not isinstance(it, Line):
            flush()
            out.append(it)
            continue
        if cur and _breaks(cur, it, usual_gap, left, right):
            flush()
        cur.append(it)
    flush()
    return out


def _breaks(cur: list[Line], nxt: Line, usual_gap: float, left: float, right: float) -> bool:
    prev = cur[-1]
    size = max(prev.size, nxt.size, 1.0)
    gap = nxt.top - prev.bottom
    # a blank line, or a jump up (another column); the usual gap is capped at the leading of ordinary text
    # since on a page of one-line paragraphs it is the paragraph spacing
    if gap > min(usual_gap, 0.6 * size) + 0.45 * size or gap < -2 * size:
        return True
    if abs(nxt.size - prev.size) > (0.3 if nxt.ocr else 0.12) * size or nxt.bold != prev.bold:
        return True
    column = max(right - left, 1.0)
    prev_short = prev.x1 < right - 2 * prev.size
    # a bullet glyph always opens an item; a number ("3)") only after a sentence end or a short line, since
    # running text wraps before inline enumerations too
    if _GLYPH_BULLET.match(nxt.text) or (BULLET.match(nxt.text) and (prev_short or _LIST_LEAD.search(prev.text))):
        return True
    if nxt.x1 < prev.x0 or nxt.x0 > prev.x1:  # side by side: a layout we did not split into columns
        return True
    if prev_short and _SENTENCE_END.search(prev.text):
        return True  # the short last line of a paragraph
    if prev.x1 - prev.x0 < 0.5 * column and nxt.x1 - nxt.x0 > 0.5 * column:
        return True  # a short label or heading line above running text
    # a first-line indent opens a paragraph (not the hanging indent of a list item's next lines)
    return (not BULLET.match(cur[0].text) and nxt.x0 > prev.x0 + 1.5 * size and prev.x0 <= left + 0.5 * size)


def _paragraph(lines: list[Line]) -> Paragraph:
    text = unwrap(normalize("\n".join(ln.text for ln in lines)))
    kind = "list" if BULLET.match(text) else "paragraph"
    text = _GLYPH_BULLET.sub("", text)
    sizes: Counter[float] = Counter()
    for ln in lines:
        sizes[round(ln.size, 1)] += len(ln.text)
    bbox = (min(ln.x0 for ln in lines), min(ln.top for ln in lines), max(ln.x1 for ln in lines),
            max(ln.bottom for ln in lines))
    return Paragraph(lines, kind, text, sizes.most_common(1)[0][0], all(ln.bold for ln in lines), bbox)


_JOINS_CJK = re.compile(f"[{_CJK}{_CJK_PUNCT}]")  # lines ending and starting with these are joined without a space


def line_starts(para: Paragraph) -> list[int] | None:
    """Where each of the paragraph's lines starts in its text, or None where that cannot be told exactly.

    ``_paragraph`` joins the normalised lines (``unwrap``: de-hyphenated, no space between CJK, else one
    space); the same joins are done here line by line and checked against the paragraph's text."""
    pieces = normalize("\n".join(ln.text for ln in para.lines)).split("\n")
    if len(pieces) != len(para.lines):
        return None
    text = ""
    starts: list[int] = []
    for piece in pieces:
        if starts:
            if len(text) > 1 and text[-1] == "-" and text[-2].isascii() and text[-2].isalpha() \
                    and piece[:1].isascii() and piece[:1].islower():
                text = text[:-1]
            elif not (text and piece and _JOINS_CJK.match(text[-1]) and _JOINS_CJK.match(piece[0])):
                text += " "
        starts.append(len(text))
        text += piece
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    bare = _GLYPH_BULLET.sub("", text)
    lead += len(text) - len(bare)
    if bare != para.text:
        return None
    return [max(0, s - lead) for s in starts]


# --- headings ------------------------------------------------------------------------------------------

_CN_NUM = "一二三四五六七八九十百零〇两"
# numbered heading styles, outermost first: their rank orders heading levels at body size
NUMBERED_HEADINGS = [
    re.compile(rf"^第[{_CN_NUM}\d]+[编部篇]"),
    re.compile(rf"^第[{_CN_NUM}\d]+章"),
    re.compile(rf"^第[{_CN_NUM}\d]+节"),
    re.compile(r"^(?:PART|Part)\s+[IVX]+\b"),
    re.compile(r"^(?:ITEM|Item)\s+\d{1,2}[A-C]?\.?(?:\s|$)"),
    re.compile(rf"^[{_CN_NUM}]+\s*[、.．]"),
    re.compile(rf"^[（(][{_CN_NUM}]+[)）]"),
    re.compile(r"^\d{1,2}(?:[.．]\s*|\s+)(?=[^\d\s.．])"),  # 1 Title, 1. Title
    re.compile(r"^\d{1,2}\.\d{1,2}\.?\s*(?=[^\d\s.．])"),  # 1.2 Title
    re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}\.?\s*(?=[^\d\s.．])"),  # 1.2.3 Title
]
_NOT_A_HEADING_END = re.compile(r"[。；，,;！？!?、]$")
_LEADING_NUMBER = re.compile(r"^[\d.．\s]+")
_FIGURES = re.compile(r"[\d%$€¥£.,()]")
_HAS_WORD = re.compile(r"[A-Za-z\u4e00-\u9fff]")
_WIDE = re.compile(r"[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]")


def display_width(text: str) -> int:
    """Width in half-width cells: a CJK character is as wide as two Latin ones."""
    return len(text) + len(_WIDE.findall(text))


def numbered_style(text: str) -> int | None:
    """The rank (in NUMBERED_HEADINGS) of the numbering a heading-like line starts with, else None."""
    return next((rank for rank, pattern in enumerate(NUMBERED_HEADINGS) if pattern.match(text)), None)


def heading_style(para: Paragraph, body_size: float, body_bold: bool) -> tuple | None:
    """How a paragraph looks like a heading, as a sortable style key (larger sizes first, then numbering
    depth, then bold body text), or None for running text. Levels are the ranks of these keys in a document."""
    text = para.text
    if (para.kind == "list" and _GLYPH_BULLET.match(para.lines[0].text)) or not _HAS_WORD.search(text):
        return None
    if len(para.lines) > 3 or display_width(text) > 160 or _NOT_A_HEADING_END.search(text):
        return None
    words = _LEADING_NUMBER.sub("", text).replace(" ", "")
    if len(_FIGURES.findall(words)) > 0.25 * len(words):
        return None  # a row of numbers (an undetected table), not a title
    larger = 1.3 if para.lines[0].ocr else 1.12  # OCR sizes come from box heights, a few pixels off
    if para.size >= body_size * larger and para.size - body_size >= 1.0:
        return (0, -round(para.size))
    numbered = numbered_style(text)
    if numbered is not None and len(para.lines) == 1 and display_width(text) <= 60 and not text.endswith("."):
        return (1, numbered)
    if para.bold and not body_bold and display_width(text) <= 100 and not text.endswith("."):
        return (2, 0)
    return None
