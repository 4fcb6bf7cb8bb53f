"""Table structure from OCR text boxes: for tables inside images and scanned pages.

OCR returns one box per text line with no notion of cells. Rows are boxes whose vertical centres lie
close together; columns are the x-intervals that boxes of the fullest rows occupy, merged where they
overlap from row to row; a box reaching over several column intervals is a cell with a colspan. The
header is the rows above the first row of numbers (one row when that cannot be told).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter

from docrag.parse.ocr import OcrBox
from docrag.types import Table, TableCell

_NUMERIC = re.compile(r"^[\s$€£¥￥%+\-−–—().,:/0-9]+$")


def _is_numeric(text: str) -> bool:
    return bool(_NUMERIC.match(text)) and any(ch.isdigit() for ch in text)


def _rows(boxes: list[OcrBox], line_height: float) -> list[list[OcrBox]]:
    """Boxes grouped into rows: a box joins the row whose running centre is within half a line height."""
    rows: list[list[OcrBox]] = []
    for box in sorted(boxes, key=lambda b: (b.bbox[1] + b.bbox[3]) / 2):
        centre = (box.bbox[1] + box.bbox[3]) / 2
        if rows and abs(centre - statistics.fmean((b.bbox[1] + b.bbox[3]) / 2 for b in rows[-1])) <= 0.5 * line_height:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [_join_close(sorted(row, key=lambda b: b.bbox[0])) for row in rows]


def _join_close(row: list[OcrBox]) -> list[OcrBox]:
    """Boxes of one row closer than about a character's width are one cell that OCR split ("105" "~131")."""
    def char_width(box: OcrBox) -> float:
        return (box.bbox[2] - box.bbox[0]) / max(1, len(box.text))

    joined: list[OcrBox] = []
    for box in row:
        if joined and box.bbox[0] - joined[-1].bbox[2] < 0.8 * min(char_width(box), char_width(joined[-1])):
            last = joined[-1]
            bbox = (last.bbox[0], min(last.bbox[1], box.bbox[1]), max(last.bbox[2], box.bbox[2]),
                    max(last.bbox[3], box.bbox[3]))
            joined[-1] = OcrBox(f"{last.text} {box.text}", bbox, min(last.score, box.score))
        else:
            joined.append(box)
    return joined


def _fold_sparse_rows(rows: list[list[OcrBox]], columns: list[tuple[float, float]],
                      line_height: float) -> list[list[OcrBox]]:
    """A row of a few boxes that touches a neighbouring row and fills only columns that row leaves empty
    is part of it (a label centred between two rows, a cell's second line)."""
    out: list[list[OcrBox]] = []
    for row in rows:
        if out:
            previous = out[-1]
            gap = min(b.bbox[1] for b in row) - max(b.bbox[3] for b in previous)
            taken = {_spanned(b, columns)[0] for b in previous}
            if gap < 0.3 * line_height and len(row) < len(columns) / 2 \
                    and not taken & {_spanned(b, columns)[0] for b in row}:
                out[-1] = sorted(previous + row, key=lambda b: b.bbox[0])
                continue
        out.append(row)
    return out


def _columns(rows: list[list[OcrBox]]) -> list[tuple[float, float]]:
    """Column x-intervals: the boxes of the rows with the most common number of boxes (a split box or a
    stray mark makes a row fuller than the table is wide) merged where they overlap across rows; boxes
    of other rows that fall between the intervals add columns of their own."""
    counts = Counter(len(row) for row in rows if len(row) >= 2)
    typical = max(counts, key=lambda n: (counts[n], n)) if counts else 1
    anchors = [b for row in rows if len(row) == typical for b in row]
    intervals = _merge_intervals([(b.bbox[0], b.bbox[2]) for b in anchors])
    strays = [(b.bbox[0], b.bbox[2]) for row in rows for b in row
              if not any(b.bbox[0] < x1 and b.bbox[2] > x0 for x0, x1 in intervals)]
    return _merge_intervals(intervals + strays)


def _merge_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for x0, x1 in sorted(intervals):
        if merged and x0 < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], x1)
        else:
            merged.append([x0, x1])
    return [(a, b) for a, b in merged]


def _spanned(box: OcrBox, columns: list[tuple[float, float]]) -> tuple[int, int]:
    """The first and last column a box covers: columns it overlaps by over a third of the column's width
    (or of its own), else the nearest one."""
    x0, x1 = box.bbox[0], box.bbox[2]
    covered = [k for k, (c0, c1) in enumerate(columns)
               if min(x1, c1) - max(x0, c0) > min(c1 - c0, x1 - x0) / 3]
    if covered:
        return covered[0], covered[-1]
    centre = (x0 + x1) / 2
    nearest = min(range(len(columns)), key=lambda k: abs((columns[k][0] + columns[k][1]) / 2 - centre))
    return nearest, nearest


def table_from_ocr(boxes: list[OcrBox]) -> Table:
    """A Table from the OCR boxes of one table image (see the module docstring)."""
    boxes = [b for b in boxes if b.text.strip()]
    if not boxes:
        return Table(cells=[], n_rows=0, n_cols=0, header_rows=0)
    line_height = statistics.median(b.bbox[3] - b.bbox[1] for b in boxes)
    rows = _rows(boxes, line_height)
    columns = _columns(rows)
    rows = _fold_sparse_rows(rows, columns, line_height)
    grid: list[dict[int, tuple[str, int]]] = []
    for row in rows:
        cells: dict[int, tuple[str, int]] = {}
        for box in row:
            first, last = _spanned(box, columns)
            if first in cells:  # OCR split one cell into two boxes
                text, span = cells[first]
                cells[first] = (f"{text} {box.text.strip()}", max(span, last - first + 1))
            else:
                cells[first] = (box.text.strip(), last - first + 1)
        grid.append(cells)
    n_cols = len(columns)
    table_cells: list[TableCell] = []
    for r, cells in enumerate(grid):
        col = 0
        while col < n_cols:
            text, span = cells.get(col, ("", 1))
            span = max(1, min(span, n_cols - col))
            table_cells.append(TableCell(r, col, text, colspan=span))
            col += span
    return Table(cells=table_cells, n_rows=len(rows), n_cols=n_cols, header_rows=_header_rows(grid))


def _header_rows(grid: list[dict[int, tuple[str, int]]]) -> int:
    """Rows above the first row whose values (all but the first cell) are mostly numbers, at most 4;
    1 when the first row already holds numbers or no row does; 0 for a single row."""
    if len(grid) < 2:
        return 0
    for r, cells in enumerate(grid):
        values = [text for col, (text, _) in cells.items() if col > 0 and text]
        if values and sum(_is_numeric(v) for v in values) * 2 >= len(values):
            return min(max(r, 1), 4)
    return 1
