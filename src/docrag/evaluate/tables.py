"""Table-recognition quality: TEDS, TEDS-struct and cell-level F1 between two HTML tables.

TEDS (Zhong et al. 2020, the PubTabNet metric) compares the HTML trees table > thead/tbody > tr > td:
inserting or deleting a node costs 1; renaming costs 1 unless both nodes are cells with the same
tag, rowspan and colspan, when it costs the normalised Levenshtein distance of their contents
(characters, with any markup inside a cell as ``<tag>``/``</tag>`` tokens). TEDS = 1 - TED / the
larger tree's node count. TEDS-struct compares cells without their contents. The tree edit distance
comes from ``apted`` (the ``eval`` extra), as in the reference implementation.

Header cells (``<th>``) count as ``<td>``: OmniDocBench's ground truth marks header cells with th,
PubTabNet's and ours with td inside <thead>; the thead/tbody split still carries the header.
Cell text such as ``$ \\pm $`` (LaTeX in OmniDocBench) is compared as plain text.

Cell F1 expands spans onto the row x column grid and counts a non-empty cell as found when the
other table has the same text (NFKC, whitespace collapsed) at the same position.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from docrag.errors import DocragError
from docrag.types import Table

_VOID_TAGS = {"br", "img", "hr", "wbr", "input", "col", "meta", "link"}
_CELL_TAGS = {"td", "th"}
_WHITESPACE = re.compile(r"\s+")


def levenshtein(a: Sequence, b: Sequence) -> int:
    """Edit distance (insert, delete, substitute each 1) between two sequences of hashable items."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, item_a in enumerate(a, 1):
        current = [i]
        for j, item_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item_a != item_b)))
        previous = current
    return previous[-1]


@dataclass
class TableNode:
    """One element of a table's HTML tree; a cell keeps its spans and content tokens."""

    tag: str
    colspan: int = 1
    rowspan: int = 1
    content: list[str] = field(default_factory=list)
    children: list[TableNode] = field(default_factory=list)

    def size(self) -> int:
        return 1 + sum(child.size() for child in self.children)

    def text(self) -> str:
        return "".join(token for token in self.content if len(token) == 1)


class _TableTreeBuilder(HTMLParser):
    """Builds the tree of the first (outermost) <table>; markup inside a cell (a nested table too)
    becomes content tokens."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: TableNode | None = None
        self.stack: list[TableNode] = []
        self.nested_tables = 0  # depth of tables inside the current cell
        self.finished = False

    def _cell(self) -> TableNode | None:
        return self.stack[-1] if self.stack and self.stack[-1].tag == "td" else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.finished:
            return
        if self.root is None:
            if tag == "table":
                self.root = TableNode("table")
                self.stack = [self.root]
            return
        cell = self._cell()
        if cell is not None and (self.nested_tables or tag not in _CELL_TAGS | {"tr"}):
            if tag == "table":
                self.nested_tables += 1
            cell.content.append(f"<{tag}>")
            if tag in _VOID_TAGS:
                cell.content.append(f"</{tag}>")
            return
        if tag in _CELL_TAGS or tag == "tr":  # an unclosed cell (or row) ends where the next one starts
            self._close({"td"} if tag in _CELL_TAGS else {"td", "tr"})
        spans = dict(attrs)
        node = TableNode("td" if tag in _CELL_TAGS else tag,
                         colspan=_span(spans.get("colspan")), rowspan=_span(spans.get("rowspan")))
        self.stack[-1].children.append(node)
        if tag not in _VOID_TAGS:
            self.stack.append(node)

    def _close(self, tags: set[str]) -> None:
        while len(self.stack) > 1 and self.stack[-1].tag in tags:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if self.finished or not self.stack or tag in _VOID_TAGS:  # <br/>: its tokens came with the start tag
            return
        cell = self._cell()
        if cell is not None and (self.nested_tables or tag not in _CELL_TAGS | {"tr", "table"}):
            if tag == "table":
                self.nested_tables -= 1
            cell.content.append(f"</{tag}>")
            return
        if tag == "table":
            self.finished = True
            return
        tag = "td" if tag in _CELL_TAGS else tag
        if any(node.tag == tag for node in self.stack[1:]):
            while self.stack[-1].tag != tag:
                self.stack.pop()
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        cell = None if self.finished else self._cell()
        if cell is not None:
            cell.content.extend(data)


def _span(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def parse_table_html(html: str) -> TableNode | None:
    """The tree of the first <table> in ``html``; None when there is none."""
    builder = _TableTreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


@functools.cache
def _apted():
    """apted's APTED and the TEDS cost model, imported on first use: the rest of this module (``lookup`` in the
    parser's tests, ``cell_f1``) works without the ``eval`` extra."""
    try:
        from apted import APTED, Config
    except ImportError:
        raise DocragError("TEDS needs the apted package: pip install 'docrag[eval]'") from None

    class TedsConfig(Config):
        def __init__(self, structure_only: bool) -> None:
            self.structure_only = structure_only

        def rename(self, node1: TableNode, node2: TableNode) -> float:
            if (node1.tag, node1.colspan, node1.rowspan) != (node2.tag, node2.colspan, node2.rowspan):
                return 1.0
            if node1.tag == "td" and not self.structure_only and (node1.content or node2.content):
                return levenshtein(node1.content, node2.content) / max(len(node1.content), len(node2.content))
            return 0.0

        def children(self, node: TableNode) -> list[TableNode]:
            return node.children

    return APTED, TedsConfig


def teds(predicted_html: str, true_html: str, structure_only: bool = False) -> float:
    """Tree-edit-distance similarity in [0, 1]; 0 when either side holds no <table>."""
    predicted, true = parse_table_html(predicted_html), parse_table_html(true_html)
    if predicted is None or true is None:
        return 0.0
    apted, config = _apted()
    distance = apted(predicted, true, config(structure_only)).compute_edit_distance()
    return 1.0 - distance / max(predicted.size(), true.size())


def normalise_cell(text: str) -> str:
    """Cell text for comparison: full-width forms folded (NFKC), whitespace collapsed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def html_grid(html: str) -> list[list[str]]:
    """The table's rows as lists of cell texts with spans expanded (a merged cell fills every position it covers)."""
    root = parse_table_html(html)
    if root is None:
        return []
    grid: dict[tuple[int, int], str] = {}
    for r, row in enumerate(_rows(root)):
        col = 0
        for cell in (c for c in row.children if c.tag == "td"):
            while (r, col) in grid:  # skip positions taken by a rowspan from above
                col += 1
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    grid[(r + dr, col + dc)] = cell.text()
            col += cell.colspan
    if not grid:
        return []
    n_rows = max(r for r, _ in grid) + 1
    n_cols = max(c for _, c in grid) + 1
    return [[grid.get((r, c), "") for c in range(n_cols)] for r in range(n_rows)]


def _rows(node: TableNode):
    """<tr> elements in document order, directly under <table> or inside thead/tbody/tfoot."""
    for child in node.children:
        if child.tag == "tr":
            yield child
        elif child.tag in ("thead", "tbody", "tfoot"):
            yield from _rows(child)


@dataclass
class CellScores:
    precision: float
    recall: float
    f1: float


def cell_f1(predicted_html: str, true_html: str) -> CellScores:
    """Precision/recall/F1 of non-empty cells found at the same grid position with the same normalised text.
    Two tables without any text score 1.0."""
    predicted = _positioned_cells(html_grid(predicted_html))
    true = _positioned_cells(html_grid(true_html))
    if not predicted and not true:
        return CellScores(1.0, 1.0, 1.0)
    matched = len(predicted & true)
    precision = matched / len(predicted) if predicted else 0.0
    recall = matched / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if matched else 0.0
    return CellScores(precision, recall, f1)


def _positioned_cells(grid: list[list[str]]) -> set[tuple[int, int, str]]:
    return {(r, c, normalise_cell(text)) for r, row in enumerate(grid) for c, text in enumerate(row)
            if normalise_cell(text)}


def _folded(text: str) -> str:
    return normalise_cell(text).lower()


def lookup(table: Table, row_contains: str, column_contains: str) -> str | None:
    """The text under the first column whose header contains ``column_contains`` in the body row whose label
    (first column) is ``row_contains``, else starts with it, else contains it (case and spacing ignored);
    None when either is absent."""
    row_key, column_key = _folded(row_contains), _folded(column_contains)
    columns = [k for k, head in enumerate(table.column_headers()) if k and column_key in _folded(head)]
    body = [row for row in table.grid()[table.header_rows:] if row]
    for matches in (str.__eq__, str.startswith, str.__contains__):
        rows = [row for row in body if matches(_folded(row[0]), row_key)]
        if rows and columns:
            return rows[0][columns[0]]
    return None


def same_value(found: str | None, expected: str) -> bool:
    """Equal as printed numbers: currency signs and spaces do not count ("$ 5,363" == "5,363")."""
    if found is None:
        return False
    return _bare_number(found) == _bare_number(expected)


def _bare_number(text: str) -> str:
    return re.sub(r"[\s$€£¥]", "", normalise_cell(text))
