"""Tables in PDFs, found cheaply and extracted with structure.

Reading every page's layout is what makes table extractors slow (pdfplumber ~7 pages/s, 0.8 s
a page on ruled 10-K pages), so the work is split by cost:

1. Every page: its text layer (which the parser reads anyway) is scanned for lines that end in two
   or more numbers ("... 1,577 (1,373) (1,420)"), and its path objects for ruling lines that form a
   grid. Pages with neither are skipped.
2. Candidate pages: character boxes from pypdfium2 become words and lines; numbers are clustered into
   columns by their right edges (financial statements align numbers right, put "$" in a glyph run of
   its own and negatives in parentheses, and draw no grid). Rows come from baselines; the row label is
   the text left of the first number column; header rows are the lines just above the first row of
   numbers whose words sit over the number columns ("2018 2017 2016", "Year Ended December 31,"),
   a header spanning several columns becoming one cell with a colspan.
3. Ruled grids (forms, Chinese prospectus tables): columns and rows lie between the rules; two grid
   cells with no rule between them are one merged cell (colspan/rowspan); words go to the cell holding
   their centre. Where a grid and number columns cover the same place, the grid wins: a ruled cell may
   hold several lines of text, which rows by baseline would split.
4. Scanned pages (``ocr_tables``): the same two extractors on words made from OCR boxes, with ruling lines
   read from the rendered image instead of path objects.

``continues``/``merge`` join a table that runs on at the top of the next page.
"""

from __future__ import annotations

import itertools
import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from docrag.parse.layout import upright_box
from docrag.parse.ocr import OcrBox
from docrag.types import BBox, Table, TableCell

# "1,577", "(1,373)", "$5,363", "12.5%", "(0.3)%", "-4", "2018"; dashes stand for zero or "none"
_NUMBER = re.compile(r"^[(\[]?[-\u2212\u2013]?[$€£¥]?\(?\d[\d,]*(?:\.\d+)?\)?%?\)?\*?$")
_NIL = {"—", "–", "-", "−", "―", "‒"}
_CURRENCY = {"$", "€", "£", "¥"}
_YEAR = re.compile(r"^(?:19|20)\d\d$")
# the text-layer signal: a line ending in at least two numbers or dashes
_NUMERIC_TAIL = re.compile(r"(?:[\s$€£¥]+(?:\(?[-\u2212]?\d[\d,]*(?:\.\d+)?\)?%?|[—–-])){2,}\s*$")

MIN_NUMERIC_LINES = 3  # lines ending in 2+ numbers for a page to be worth the layout pass
MIN_VALUE_ROWS = 2  # rows holding numbers for a region to count as a table


@dataclass
class FoundTable:
    page: int  # 0-based
    bbox: BBox  # PDF points, origin top left
    table: Table
    page_height: float = 792.0  # lets ``continues`` tell whether a table ends low and the next starts high


@dataclass
class _Word:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def centre_y(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def centre_x(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass
class _Line:
    words: list[_Word]
    labels: list[_Word] = field(default_factory=list)  # text left of the numbers
    values: list[_Word] = field(default_factory=list)  # numbers, a "$" before one joined to it

    @property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        return max(w.bottom for w in self.words)

    @property
    def x0(self) -> float:
        return min(w.x0 for w in self.words)

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)


def is_number(text: str) -> bool:
    return bool(_NUMBER.match(text)) or text in _NIL


# ---------------------------------------------------------------------------------------------- signals

def numeric_line_count(page_text: str) -> int:
    """Lines of a page's text layer that end in two or more numbers (the cheap table signal)."""
    return sum(1 for line in page_text.splitlines() if _NUMERIC_TAIL.search(line))


@dataclass
class _Rule:
    """A ruling line in top-left page coordinates: ``at`` is its x (vertical) or y (horizontal), it runs
    from ``start`` to ``end`` along the other axis."""

    at: float
    start: float
    end: float


def ruling_lines(page, turned: int = 0) -> tuple[list[_Rule], list[_Rule]]:
    """Vertical and horizontal rules drawn on the page: thin paths (lines, or hairline rectangles as Word
    exports them), the edges of outlined rectangles, and the straight segments of stroked paths. Filled
    areas are shading, not rules: 10-K statements shade alternate rows but draw no columns. On a page whose
    text is ``turned``, as seen in the frame where the text is upright."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    left, bottom, right, top = (pdfium_c.FS_FLOAT() for _ in range(4))
    fill_mode, stroked = ctypes.c_int(), ctypes.c_int()
    matrix, x, y = pdfium_c.FS_MATRIX(), ctypes.c_float(), ctypes.c_float()
    verticals: list[_Rule] = []
    horizontals: list[_Rule] = []
    raw = page.raw
    page_width, page_height = page.get_size()
    frame_left, _, _, frame_top = upright_box(turned, 0.0, 0.0, page_width, page_height)

    def add(x0: float, y0: float, x1: float, y1: float) -> None:  # PDF coordinates, y up
        x0, y0, x1, y1 = upright_box(turned, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        x0, x1, y0, y1 = x0 - frame_left, x1 - frame_left, frame_top - y0, frame_top - y1  # top-left origin
        if x1 - x0 <= 2 and y0 - y1 >= 4:
            verticals.append(_Rule((x0 + x1) / 2, y1, y0))
        elif y0 - y1 <= 2 and x1 - x0 >= 4:
            horizontals.append(_Rule((y0 + y1) / 2, x0, x1))

    for i in range(pdfium_c.FPDFPage_CountObjects(raw)):
        obj = pdfium_c.FPDFPage_GetObject(raw, i)
        if pdfium_c.FPDFPageObj_GetType(obj) != pdfium_c.FPDF_PAGEOBJ_PATH \
                or not pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
            continue
        width, height = right.value - left.value, top.value - bottom.value
        if width > page_width or height > page_height:  # drawn off the page: not part of a table
            continue
        if width <= 2 or height <= 2:
            add(left.value, bottom.value, right.value, top.value)
            continue
        pdfium_c.FPDFPath_GetDrawMode(obj, fill_mode, stroked)
        if not stroked.value:
            continue
        pdfium_c.FPDFPageObj_GetMatrix(obj, matrix)
        n_segments = pdfium_c.FPDFPath_CountSegments(obj)
        if n_segments > 400:  # a chart's curves, not a table's rules
            continue
        def on_page(segment) -> tuple[float, float]:  # a segment's point, through the object's matrix
            pdfium_c.FPDFPathSegment_GetPoint(segment, x, y)
            return (matrix.a * x.value + matrix.c * y.value + matrix.e,
                    matrix.b * x.value + matrix.d * y.value + matrix.f)

        previous = None
        for k in range(n_segments):
            segment = pdfium_c.FPDFPath_GetPathSegment(obj, k)
            point = on_page(segment)
            if previous is not None and pdfium_c.FPDFPathSegment_GetType(segment) == pdfium_c.FPDF_SEGMENT_LINETO:
                add(*previous, *point)
            previous = point
            if pdfium_c.FPDFPathSegment_GetClose(segment):
                add(*point, *on_page(pdfium_c.FPDFPath_GetPathSegment(obj, 0)))
    return verticals, horizontals


def has_grid(verticals: list[_Rule], horizontals: list[_Rule]) -> bool:
    """At least 3 distinct vertical and 3 distinct horizontal rule positions."""
    return len({round(r.at / 2) for r in verticals}) >= 3 and len({round(r.at / 2) for r in horizontals}) >= 3


# ---------------------------------------------------------------------------------------------- layout

def page_words(textpage, page_height: float, turned: int = 0, page_width: float = 0.0) -> list[_Word]:
    """Words from character boxes (loose boxes: one height per font size, so a line's words align); on a
    page whose text is ``turned`` (degrees), in the frame where it is upright (``page_width`` then needed)."""
    import pypdfium2.raw as pdfium_c

    left, _, _, top = upright_box(turned, 0.0, 0.0, page_width, page_height)

    raw = textpage.raw
    rect = pdfium_c.FS_RECTF()
    words: list[_Word] = []
    chars: list[str] = []
    x0 = w_top = x1 = w_bottom = 0.0  # the word being read

    def flush() -> None:
        if chars:
            words.append(_Word("".join(chars), x0, w_top, x1, w_bottom))
            chars.clear()

    for i in range(pdfium_c.FPDFText_CountChars(raw)):
        code = pdfium_c.FPDFText_GetUnicode(raw, i)
        ch = chr(code) if 0 < code < 0x110000 else ""
        if not ch.strip() or ch in "\x02\ufffe" or not pdfium_c.FPDFText_GetLooseCharBox(raw, i, rect) \
                or rect.right <= rect.left:
            flush()
            continue
        c_left, c_low, c_right, c_high = upright_box(turned, rect.left, rect.bottom, rect.right, rect.top)
        c_left, c_right, c_top, c_bottom = c_left - left, c_right - left, top - c_high, top - c_low
        height = c_bottom - c_top
        if chars and (c_left - x1 > 0.25 * height or c_left < x0 - 1
                      or abs((c_top + c_bottom) / 2 - (w_top + w_bottom) / 2) > 0.4 * height):
            flush()
        if not chars:
            x0, w_top, x1, w_bottom = c_left, c_top, c_right, c_bottom
        else:
            x1, w_top, w_bottom = max(x1, c_right), min(w_top, c_top), max(w_bottom, c_bottom)
        chars.append(ch)
    flush()
    return words


def group_lines(words: list[_Word]) -> list[_Line]:
    """Words on one baseline form a line (vertical centres within 40% of the smaller height)."""
    lines: list[list[_Word]] = []
    for word in sorted(words, key=lambda w: w.centre_y):
        if lines:
            last = lines[-1]
            centre = statistics.fmean(w.centre_y for w in last)
            if abs(word.centre_y - centre) <= 0.4 * min(word.height, min(w.height for w in last)):
                last.append(word)
                continue
        lines.append([word])
    return [_Line(sorted(ws, key=lambda w: w.x0)) for ws in lines]


def _split_values(line: _Line, big_gap: float) -> None:
    """Split a line into its label and its values: the values are the longest run of numbers at the
    line's end that a wide gap separates from the label (prose numbers sit one space apart)."""
    words = line.words
    start = len(words)
    while start > 0 and (is_number(words[start - 1].text) or words[start - 1].text in _CURRENCY):
        start -= 1
    for begin in range(start, len(words)):
        if begin == 0 or words[begin].x0 - words[begin - 1].x1 >= big_gap:
            break
    else:
        begin = len(words)
    values = _join_currency(words[begin:])
    if not any(w.text not in _CURRENCY for w in values):
        values = []
        begin = len(words)
    line.labels, line.values = words[:begin], values


def _join_currency(words: list[_Word]) -> list[_Word]:
    """"$" printed apart from its number joins it: "$ 5,363" -> "$5,363" spanning both boxes (headers are
    centred over the sign and the number together)."""
    joined: list[_Word] = []
    for word in words:
        if joined and joined[-1].text in _CURRENCY and word.text not in _CURRENCY:
            sign = joined.pop()
            word = _Word(sign.text + word.text, sign.x0, min(sign.top, word.top), word.x1,
                         max(sign.bottom, word.bottom))
        joined.append(word)
    return [w for w in joined if w.text not in _CURRENCY]


def _phrases(words: list[_Word], gap: float) -> list[_Word]:
    """Adjacent words closer than ``gap`` joined into one phrase (a header or a label); two years stay apart
    (column headers that OCR read as one phrase, "2023 2022")."""
    out: list[_Word] = []
    for k, word in enumerate(words):
        years = k > 0 and _YEAR.match(words[k - 1].text) and _YEAR.match(word.text)
        if out and word.x0 - out[-1].x1 < gap and not years:
            last = out[-1]
            out[-1] = _Word(f"{last.text} {word.text}", last.x0, min(last.top, word.top), word.x1,
                            max(last.bottom, word.bottom))
        else:
            out.append(word)
    return out


# ---------------------------------------------------------------------------------------------- numeric tables

@dataclass
class _Column:
    x0: float
    x1: float
    right_edges: list[float]


def _cluster_columns(values: list[_Word], tolerance: float, min_support: int) -> list[_Column]:
    """Right-aligned numbers share a right edge: cluster the right edges of numbers with digits, then let
    dashes and other stragglers join the column they overlap or sit nearest to."""
    digits = sorted((w for w in values if any(ch.isdigit() for ch in w.text)), key=lambda w: w.x1)
    groups: list[list[_Word]] = []
    for word in digits:
        if groups and word.x1 - groups[-1][-1].x1 <= tolerance:
            groups[-1].append(word)
        else:
            groups.append([word])
    columns = [_Column(min(w.x0 for w in g), max(w.x1 for w in g), [w.x1 for w in g])
               for g in groups if len(g) >= min_support]
    return columns


def _column_of(word: _Word, columns: list[_Column]) -> int:
    """The column a word overlaps, else the nearest; ties go to the column whose right edge is closest."""
    def distance(col: _Column) -> float:
        return max(col.x0 - word.x1, word.x0 - col.x1, 0.0) + abs(statistics.median(col.right_edges) - word.x1) / 100
    return min(range(len(columns)), key=lambda k: distance(columns[k]))


def _regions(lines: list[_Line], line_gap: float) -> list[list[_Line]]:
    """Runs of lines that make one table: rows of numbers, with label-only lines (section titles,
    wrapped labels) between them; a line reaching into the number columns without being a row of
    numbers (prose), or a wide vertical gap, ends the run."""
    regions: list[list[_Line]] = []
    current: list[_Line] = []
    zone_x0 = 0.0
    for line in lines:
        if current:
            gap = line.top - current[-1].bottom
            intrudes = not line.values and line.x1 > zone_x0
            if gap > line_gap or intrudes:
                regions.append(current)
                current = []
        if line.values:
            values_x0 = min(w.x0 for w in line.values)
            zone_x0 = min(zone_x0, values_x0) if current else values_x0
            current.append(line)
        elif current:
            current.append(line)
    if current:
        regions.append(current)
    out = []
    for region in regions:
        while region and not region[-1].values:  # trailing notes are not rows
            region.pop()
        if sum(1 for line in region if line.values) >= MIN_VALUE_ROWS:
            out.append(region)
    return out


def _is_year_row(line: _Line) -> bool:
    return bool(line.values) and all(_YEAR.match(w.text) for w in line.values)


def _header_lines(lines: list[_Line], first: int, zone: tuple[float, float], big_gap: float,
                  line_gap: float) -> list[_Line]:
    """Lines above the table's first row (at most 4) with words over the number columns, each phrase either
    left of the columns (the label column's header) or over them; a phrase reaching from the left into
    the columns is a title or prose, and ends the header."""
    heads: list[_Line] = []
    below = lines[first]
    for line in reversed(lines[max(0, first - 4):first]):
        if below.top - line.bottom > line_gap:
            break
        phrases = _phrases(line.words, big_gap)
        over_columns = [p for p in phrases if p.x1 > zone[0] + big_gap and p.x0 < zone[1]]
        crossing = [p for p in phrases if p.x0 < zone[0] - big_gap and p.x1 > zone[0] + big_gap]
        if not over_columns or crossing:
            break
        heads.insert(0, line)
        below = line
    return heads


def _numeric_table(lines: list[_Line], region: list[_Line], big_gap: float, line_gap: float) -> FoundTable | None:
    """One region's table: columns, header rows above the first numbers, one row per line of the body."""
    body = list(region)
    while body and _is_year_row(body[0]):  # "2018 2017 2016" parsed as numbers is the header
        body.pop(0)
    value_rows = [line for line in body if line.values]
    if len(value_rows) < MIN_VALUE_ROWS:
        return None
    columns = _cluster_columns([w for line in value_rows for w in line.values], tolerance=big_gap * 0.8,
                               min_support=max(2, len(value_rows) // 5))
    if not columns:
        return None
    columns.sort(key=lambda c: c.x0)
    zone = (min(c.x0 for c in columns), max(c.x1 for c in columns))
    first = lines.index(region[0])
    year_rows = [line for line in region if line not in body]
    titles = 0
    while not year_rows and titles < 2 and first > 0:  # section titles between header and numbers ("Assets")
        above = lines[first - 1]
        if above.values or above.x1 > zone[0] or body[0].top - above.bottom > line_gap:
            break
        first, titles = first - 1, titles + 1
        body.insert(0, above)
    heads = _header_lines(lines, first, zone, big_gap, line_gap) + year_rows

    grid_rows: list[dict[int, tuple[str, int]]] = []  # per row: start column -> (text, colspan)
    for line in heads:
        row: dict[int, tuple[str, int]] = {}
        phrases = _phrases(line.words, big_gap)
        over_columns = [p for p in phrases if p.x1 > zone[0]]
        for phrase in phrases:
            if phrase.x1 <= zone[0]:
                _put(row, 0, phrase.text, 1)
                continue
            first_col, last_col = _spanned_columns(phrase, columns, alone=len(over_columns) == 1)
            _put(row, first_col + 1, phrase.text, last_col - first_col + 1)
        grid_rows.append(row)

    pending_label = ""
    for line in body:
        label = " ".join(p.text for p in _phrases(line.labels, big_gap))
        if not line.values:
            if pending_label and label[:1].islower():
                pending_label = f"{pending_label} {label}"
                continue
            if pending_label:
                grid_rows.append({0: (pending_label, 1)})
            pending_label = label
            continue
        if pending_label and (not label or label[:1].islower()):  # a wrapped label ends on this row
            label = f"{pending_label} {label}".strip()
        elif pending_label:
            grid_rows.append({0: (pending_label, 1)})
        pending_label = ""
        row = {0: (label, 1)} if label else {}
        for word in line.values:
            _put(row, _column_of(word, columns) + 1, word.text, 1)
        grid_rows.append(row)

    table = _table(grid_rows, len(columns) + 1, header_rows=len(heads))
    top_line = heads[0] if heads else body[0]
    bbox = (min(line.x0 for line in heads + body), top_line.top, max(line.x1 for line in heads + body),
            body[-1].bottom)
    return FoundTable(page=-1, bbox=bbox, table=table)


def _spanned_columns(phrase: _Word, columns: list[_Column], alone: bool) -> tuple[int, int]:
    """The columns a header phrase stands over. The only phrase of its line that is centred over the number
    columns spans them all ("Year Ended December 31," over three years); one that reaches over two or more
    columns spans the run of columns it is centred on; any other stands over the column nearest to it."""
    def off_centre(a: int, b: int) -> float:
        return abs((columns[a].x0 + columns[b].x1) / 2 - phrase.centre_x)

    last_column = len(columns) - 1
    if alone and last_column and off_centre(0, last_column) <= 0.25 * (columns[-1].x1 - columns[0].x0):
        return 0, last_column
    covered = [k for k, c in enumerate(columns) if phrase.x0 < c.x1 and phrase.x1 > c.x0]
    if len(covered) < 2:
        k = _column_of(phrase, columns)
        return k, k
    first, last = covered[0], covered[-1]
    while True:
        options = [(a, b) for a, b in ((first - 1, last), (first, last + 1)) if 0 <= a and b <= last_column]
        best = min(options, key=lambda ab: off_centre(*ab), default=None)
        if best is None or off_centre(*best) >= off_centre(first, last):
            return first, last
        first, last = best


def _put(row: dict[int, tuple[str, int]], col: int, text: str, span: int) -> None:
    if col in row:
        old, old_span = row[col]
        row[col] = (f"{old} {text}", max(old_span, span))
    else:
        row[col] = (text, span)


def _table(rows: list[dict[int, tuple[str, int]]], n_cols: int, header_rows: int) -> Table:
    """Cells for every grid position (empty ones too, so HTML columns line up)."""
    cells: list[TableCell] = []
    for r, row in enumerate(rows):
        col = 0
        while col < n_cols:
            text, span = row.get(col, ("", 1))
            span = min(span, n_cols - col)
            cells.append(TableCell(r, col, text, colspan=span))
            col += span
    return Table(cells=cells, n_rows=len(rows), n_cols=n_cols, header_rows=header_rows)


def numeric_tables(words: list[_Word], page_index: int, height: float) -> list[FoundTable]:
    """Tables of right-aligned number columns on one page (see the module docstring)."""
    if not words:
        return []
    text_height = statistics.median(w.height for w in words)
    big_gap, line_gap = 1.2 * text_height, 2.6 * text_height
    lines = group_lines(words)
    for line in lines:
        _split_values(line, big_gap)
    found = []
    for region in _regions(lines, line_gap):
        table = _numeric_table(lines, region, big_gap, line_gap)
        if table is not None:
            table.page, table.page_height = page_index, height
            found.append(table)
    return found


# ---------------------------------------------------------------------------------------------- ruled tables

def _merge_rules(rules: list[_Rule], tolerance: float = 2.0) -> list[_Rule]:
    """Rules at about the same position whose extents touch become one (a rule drawn in pieces per cell)."""
    merged: list[_Rule] = []
    for rule in sorted(rules, key=lambda r: (round(r.at / tolerance), r.start)):
        last = merged[-1] if merged else None
        if last and abs(last.at - rule.at) <= tolerance and rule.start <= last.end + tolerance:
            last.end = max(last.end, rule.end)
        else:
            merged.append(_Rule(rule.at, rule.start, rule.end))
    return merged


def _grids(verticals: list[_Rule], horizontals: list[_Rule], tolerance: float = 2.0) -> list[tuple[list, list]]:
    """Rules that cross or touch one another, grouped: each group is one ruled table."""
    rules = [("v", r) for r in verticals] + [("h", r) for r in horizontals]
    parent = list(range(len(rules)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (kind_i, a) in enumerate(rules):
        for j in range(i + 1, len(rules)):
            kind_j, b = rules[j]
            if kind_i != kind_j and b.start - tolerance <= a.at <= b.end + tolerance \
                    and a.start - tolerance <= b.at <= a.end + tolerance:
                parent[find(i)] = find(j)
    groups: dict[int, tuple[list, list]] = {}
    for i, (kind, rule) in enumerate(rules):
        group = groups.setdefault(find(i), ([], []))
        group[0 if kind == "v" else 1].append(rule)
    return [g for g in groups.values() if len(g[0]) >= 1 and len(g[1]) >= 2]


def _positions(values: list[float], tolerance: float = 2.0) -> list[float]:
    out: list[float] = []
    for value in sorted(values):
        if not out or value - out[-1] > tolerance:
            out.append(value)
    return out


def _covered(rules: list[_Rule], at: float, start: float, end: float, tolerance: float = 2.0) -> bool:
    """Whether a rule at ``at`` runs along most of ``start``..``end`` (a border between two grid cells)."""
    length = sum(max(0.0, min(r.end, end) - max(r.start, start)) for r in rules if abs(r.at - at) <= tolerance)
    return length >= 0.5 * (end - start)


def _lattice_table(verticals: list[_Rule], horizontals: list[_Rule], words: list[_Word]) -> FoundTable | None:
    """A table from one grid of rules: columns and rows between rule positions, neighbouring grid cells
    with no rule between them merged into one spanning cell, words placed by their centres."""
    xs = _positions([r.at for r in verticals] + [min(r.start for r in horizontals), max(r.end for r in horizontals)])
    ys = _positions([r.at for r in horizontals])
    if len(xs) < 3 or len(ys) < 3:
        return None
    n_rows, n_cols = len(ys) - 1, len(xs) - 1
    # the outer frame may be open (no left/right border): the table's own edges count as borders there
    frame = [_Rule(xs[0], ys[0], ys[-1]), _Rule(xs[-1], ys[0], ys[-1])]
    owner = {(r, c): (r, c) for r in range(n_rows) for c in range(n_cols)}

    def root(cell: tuple[int, int]) -> tuple[int, int]:
        while owner[cell] != cell:
            cell = owner[cell]
        return cell

    for r in range(n_rows):
        for c in range(n_cols):
            if c + 1 < n_cols and not _covered(verticals + frame, xs[c + 1], ys[r], ys[r + 1]):
                owner[root((r, c + 1))] = root((r, c))
            if r + 1 < n_rows and not _covered(horizontals, ys[r + 1], xs[c], xs[c + 1]):
                owner[root((r + 1, c))] = root((r, c))
    spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for cell in owner:
        spans.setdefault(root(cell), []).append(cell)
    texts: dict[tuple[int, int], list[_Word]] = {}
    for word in words:
        if xs[0] <= word.centre_x <= xs[-1] and ys[0] <= word.centre_y <= ys[-1]:
            c = max(k for k in range(n_cols) if xs[k] <= word.centre_x)
            r = max(k for k in range(n_rows) if ys[k] <= word.centre_y)
            texts.setdefault(root((r, c)), []).append(word)
    cells = []
    for key, members in spans.items():
        rows, cols = [m[0] for m in members], [m[1] for m in members]
        cells.append(TableCell(min(rows), min(cols), _cell_text(texts.get(key, [])),
                               rowspan=max(rows) - min(rows) + 1, colspan=max(cols) - min(cols) + 1))
    if not any(c.text for c in cells):
        return None
    header_rows = max(c.rowspan for c in cells if c.row == 0)
    table = Table(cells=sorted(cells, key=lambda c: (c.row, c.col)), n_rows=n_rows, n_cols=n_cols,
                  header_rows=min(header_rows, n_rows - 1))
    return FoundTable(page=-1, bbox=(xs[0], ys[0], xs[-1], ys[-1]), table=table)


_CJK_EDGE = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def _cell_text(words: list[_Word]) -> str:
    """A cell's words line by line; lines join without a space between CJK characters."""
    text = ""
    for line in group_lines(words):
        part = " ".join(w.text for w in line.words)
        joiner = "" if not text or (_CJK_EDGE.match(text[-1]) and _CJK_EDGE.match(part[0])) else " "
        text += joiner + part
    return text


def ruled_tables(height: float, page_index: int, words: list[_Word],
                 rules: tuple[list[_Rule], list[_Rule]]) -> list[FoundTable]:
    """Tables drawn as grids of ruling lines on one page (``height``: the page's, in points)."""
    verticals, horizontals = (_merge_rules(r) for r in rules)
    found = []
    for group_verticals, group_horizontals in _grids(verticals, horizontals):
        table = _lattice_table(group_verticals, group_horizontals, words)
        if table is not None and table.table.n_rows >= 2 and table.table.n_cols >= 2:
            table.page, table.page_height = page_index, height
            found.append(table)
    return found


# ---------------------------------------------------------------------------------------------- scanned pages

_INK = 200  # grey level below which a pixel is ink (a thin rule comes out light grey when a scan is scaled down)
_CONTRAST = 40  # a rule is darker than what lies beside it by this much (a filled area is not)
RULE_MIN_LENGTH = 25.0  # points: longer than a letter's stroke
RULE_MAX_THICKNESS = 2.0  # points: thicker dark runs are shading, pictures or the edges of filled areas


def words_from_ocr(boxes: list[OcrBox], scale: float) -> list[_Word]:
    """OCR boxes (image pixels of a page rendered at ``scale``) as words in points, top-left
    origin. A box is a phrase, often a whole cell, and OCR gives no word boxes: a box's words share its width
    by their characters (wide CJK ones count twice), so numbers read as one phrase ("1,577 (1,373)") still
    fall into their columns."""
    words = []
    for box in boxes:
        x0, top, x1, bottom = (v / scale for v in box.bbox)
        units = list(itertools.accumulate((2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in box.text),
                                          initial=0))
        per_unit = (x1 - x0) / max(units[-1], 1)
        for match in re.finditer(r"\S+", box.text):
            words.append(_Word(match.group(), x0 + units[match.start()] * per_unit, top,
                               x0 + units[match.end()] * per_unit, bottom))
    return words


def image_rules(image: np.ndarray, scale: float) -> tuple[list[_Rule], list[_Rule]]:
    """Vertical and horizontal ruling lines seen in a page rendered at ``scale`` (H x W x 3; a scan has no
    path objects): runs of ink at least RULE_MIN_LENGTH long and at most about RULE_MAX_THICKNESS thick, in
    points."""
    grey = image.min(axis=2)  # the darkest channel: coloured rules are ink too
    offset, min_run = round(RULE_MAX_THICKNESS * scale) + 1, round(RULE_MIN_LENGTH * scale)
    # rows of the image hold horizontal rules, rows of its transpose vertical ones
    horizontals, verticals = ([_Rule(at / scale, start / scale, end / scale)
                               for at, start, end in _thin_runs(rows, offset, min_run)] for rows in (grey, grey.T))
    return verticals, horizontals


def _thin_runs(grey: np.ndarray, offset: int, min_length: int) -> list[tuple[int, int, int]]:
    """(row, first column, column after the last) of the runs of ink along rows, at least ``min_length``
    long and darker than the rows ``offset`` above and below: a thin line (lines crossing it break no run
    and hardly change the rows beside), not the inside or the edge of a filled area."""
    steps = np.diff(np.pad(grey < _INK, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, ends = np.nonzero(steps == -1)  # row-major order: each row's run ends pair with its run starts
    long = ends - starts >= min_length
    rows, starts, ends = rows[long], starts[long], ends[long]
    sums = np.pad(np.cumsum(grey, axis=1, dtype=np.int32), ((0, 0), (1, 0)))  # a row's grey left of a column

    def mean_grey(at: np.ndarray) -> np.ndarray:  # along each run, in rows ``at``; off the image is white
        inside = (at >= 0) & (at < grey.shape[0])
        at = np.clip(at, 0, grey.shape[0] - 1)
        return np.where(inside, (sums[at, ends] - sums[at, starts]) / (ends - starts), 255.0)

    own = mean_grey(rows) + _CONTRAST
    thin = (mean_grey(rows - offset) >= own) & (mean_grey(rows + offset) >= own)
    return list(zip(rows[thin].tolist(), starts[thin].tolist(), ends[thin].tolist()))


def ocr_tables(boxes: list[OcrBox], image: np.ndarray, scale: float, page_index: int,
               height: float) -> list[FoundTable]:
    """The tables of a page read by OCR (``image``: the page rendered at ``scale``; ``boxes``: its OCR boxes;
    ``height``: the page's, in points), top to bottom: number columns from the boxes, grids from the ruling
    lines in the image. The same signals as on a text layer choose the extractors: a lone column of numbers
    (equation numbers, a list) is no table."""
    words = words_from_ocr(boxes, scale)
    rules = image_rules(image, scale)
    ruled = ruled_tables(height, page_index, words, rules) if has_grid(*rules) else []
    page_text = "\n".join(" ".join(w.text for w in line.words) for line in group_lines(words))
    numeric = numeric_tables(words, page_index, height) if numeric_line_count(page_text) >= MIN_NUMERIC_LINES else []
    return _grids_first(ruled, numeric)


# ---------------------------------------------------------------------------------------------- entry points

def find_tables(path: Path, pdf, turned: dict[int, int] | None = None) -> list[FoundTable]:
    """All tables of a PDF in page order (``pdf``: the open pypdfium2 document of ``path``; ``turned``: the
    pages whose text is turned, and by how many degrees: their tables are read upright). Where a page
    draws a grid of rules, the grid's cells win over number columns found in the same place (a ruled
    cell may hold several lines, which rows by baseline would split)."""
    found: list[FoundTable] = []
    for index in range(len(pdf)):
        page = pdf[index]
        try:
            found.extend(page_tables(page, index, (turned or {}).get(index, 0)))
        finally:
            page.close()
    return found


def page_tables(page, index: int, turned: int = 0) -> list[FoundTable]:
    """The tables of one page, top to bottom (in the upright frame of a page whose text is ``turned``)."""
    width, height = page.get_size()
    rules = ruling_lines(page, turned)
    grid = has_grid(*rules)
    textpage = page.get_textpage()
    try:
        numeric = numeric_line_count(textpage.get_text_range()) >= MIN_NUMERIC_LINES
        words = page_words(textpage, height, turned, width) if numeric or grid else []
    finally:
        textpage.close()
    if turned in (90, 270):
        height = width  # the upright page's height, for tables that go on onto the next page
    numeric_found = numeric_tables(words, index, height) if numeric else []
    ruled = ruled_tables(height, index, words, rules) if grid else []
    return _grids_first(ruled, numeric_found)


def _grids_first(ruled: list[FoundTable], numeric: list[FoundTable]) -> list[FoundTable]:
    """Both extractors' tables top to bottom; a grid wins over number columns found in the same place."""
    tables = ruled + [t for t in numeric if not any(_overlap(r.bbox, t.bbox) > 0.5 for r in ruled)]
    return sorted(tables, key=lambda t: t.bbox[1])


def _overlap(outer: BBox, inner: BBox) -> float:
    """Share of ``inner``'s area inside ``outer``."""
    width = min(outer[2], inner[2]) - max(outer[0], inner[0])
    height = min(outer[3], inner[3]) - max(outer[1], inner[1])
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return max(0.0, width) * max(0.0, height) / area if area > 0 else 0.0


def continues(prev: FoundTable, nxt: FoundTable) -> bool:
    """Whether ``nxt`` carries ``prev`` on at the top of the next page: same columns, ``prev`` ending in
    the lower part of its page and ``nxt`` starting in the upper part, with the same header or none."""
    if nxt.page != prev.page + 1 or nxt.table.n_cols != prev.table.n_cols:
        return False
    if prev.bbox[3] < 0.6 * prev.page_height or nxt.bbox[1] > 0.4 * nxt.page_height:
        return False
    if nxt.table.header_rows == 0:
        return True
    return _normalised_heads(nxt.table) == _normalised_heads(prev.table)


def _normalised_heads(table: Table) -> list[str]:
    return [" ".join(h.lower().split()) for h in table.column_headers()[1:]]


def merge(prev: Table, nxt: Table) -> Table:
    """``prev`` with ``nxt``'s body rows appended (a header ``nxt`` repeats is dropped)."""
    cells = list(prev.cells)
    for cell in nxt.cells:
        if cell.row >= nxt.header_rows:
            row = cell.row - nxt.header_rows + prev.n_rows
            cells.append(TableCell(row, cell.col, cell.text, cell.rowspan, cell.colspan))
    return Table(cells=cells, n_rows=prev.n_rows + nxt.n_rows - nxt.header_rows, n_cols=prev.n_cols,
                 header_rows=prev.header_rows, caption=prev.caption or nxt.caption)
