"""Shared data types passed between the stages: parse -> chunk -> index -> retrieve -> answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

BBox = tuple[float, float, float, float]  # x0, top, x1, bottom in PDF points, origin at the page's top left
# part of a block's text on a page: (offset in the text where the part starts, 1-based page, x0, top, x1, bottom)
Place = tuple[int, int, float, float, float, float]
Progress = Callable[[str, int, int], None]  # (stage, done, total): ingestion, embedding and evaluation report to it


@dataclass
class TableCell:
    row: int
    col: int
    text: str
    rowspan: int = 1
    colspan: int = 1


@dataclass
class Table:
    """A table kept as structure: cells on an ``n_rows`` x ``n_cols`` grid (a merged cell appears once,
    with its span); the first ``header_rows`` rows are column headers, the first column holds row labels."""

    cells: list[TableCell]
    n_rows: int
    n_cols: int
    header_rows: int = 1
    caption: str = ""

    def grid(self) -> list[list[str]]:
        """Rows of cell texts; a merged cell's text fills every position it spans."""
        rows = [[""] * self.n_cols for _ in range(self.n_rows)]
        for c in self.cells:
            for r in range(c.row, min(c.row + c.rowspan, self.n_rows)):
                for k in range(c.col, min(c.col + c.colspan, self.n_cols)):
                    rows[r][k] = c.text
        return rows

    def column_headers(self) -> list[str]:
        """Each column's header, header rows joined top to bottom ("2018 Q4" from "2018" over "Q4")."""
        grid = self.grid()
        heads = []
        for k in range(self.n_cols):
            parts = [grid[r][k] for r in range(self.header_rows) if grid[r][k]]
            heads.append(" ".join(dict.fromkeys(parts)))
        return heads

    def to_markdown(self) -> str:
        """GitHub Markdown: what an LLM reads (header rows joined into one)."""
        grid = self.grid()
        esc = [[cell.replace("|", "\\|").replace("\n", " ") for cell in row] for row in grid]
        head = [h.replace("|", "\\|") for h in self.column_headers()] if self.header_rows else [""] * self.n_cols
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * self.n_cols]
        lines += ["| " + " | ".join(row) + " |" for row in esc[self.header_rows:]]
        return "\n".join(lines)

    def to_html(self) -> str:
        """HTML with rowspan/colspan and <thead>: the form table-structure metrics (TEDS) compare."""
        from html import escape

        starts = {(c.row, c.col): c for c in self.cells}
        covered = {(r, k) for c in self.cells for r in range(c.row, c.row + c.rowspan)
                   for k in range(c.col, c.col + c.colspan)}

        def row_html(r: int, tag: str) -> str:
            cells = []
            for k in range(self.n_cols):
                c = starts.get((r, k))
                if c is None:  # a position no cell covers is an empty cell, so later columns keep their place
                    cells += [] if (r, k) in covered else [f"<{tag}></{tag}>"]
                    continue
                span = (f' rowspan="{c.rowspan}"' if c.rowspan > 1 else "") + (
                    f' colspan="{c.colspan}"' if c.colspan > 1 else "")
                cells.append(f"<{tag}{span}>{escape(c.text)}</{tag}>")
            return "<tr>" + "".join(cells) + "</tr>"

        head = "".join(row_html(r, "td") for r in range(self.header_rows))
        body = "".join(row_html(r, "td") for r in range(self.header_rows, self.n_rows))
        return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>" if head else \
            f"<table><tbody>{body}</tbody></table>"

    def shared_header(self) -> str:
        """The words every value column's header starts with ("Year Ended December 31" of "Year Ended
        December 31, 2018" and "..., 2017"), when each header has more after them."""
        heads = [h.split() for h in self.column_headers()[1:]]
        if len(heads) < 2 or not all(heads):
            return ""
        n = 0
        while all(len(h) > n + 1 and h[n] == heads[0][n] for h in heads):
            n += 1
        return " ".join(heads[0][:n]).rstrip(",:;，：")

    def title_lines(self) -> list[str]:
        """What names the table above its rows: the caption and the shared header."""
        return [line for line in (self.caption, self.shared_header()) if line]

    def row_sentences(self) -> list[str]:
        """One line per body row for retrieval, each value next to its column header:
        "Purchases of property, plant and equipment | 2018: (1,577) | 2017: (1,373)". A header shared by all
        value columns is left out (said once in ``title_lines``): repeated in every cell, its words would
        outweigh the row's own in BM25 and fill the chunk."""
        heads = self.column_headers()
        shared = len(self.shared_header().split())
        if shared:
            heads = heads[:1] + [" ".join(h.split()[shared:]) for h in heads[1:]]
        lines = []
        for row in self.grid()[self.header_rows:]:
            label, values = (row[0], list(zip(heads[1:], row[1:]))) if self.n_cols > 1 else ("", [("", row[0])])
            parts = [f"{h}: {v}" if h else v for h, v in values if v]
            if label or parts:
                lines.append(" | ".join([label] + parts if label else parts))
        return lines


@dataclass
class Figure:
    """An image on a page: where it is, the text OCR read in it, its caption, and (when a vision
    model is configured) a description. ``image_sha`` names the cached crop; ``png`` is the crop itself, kept
    only with ``parse.figure_images`` (ingest stores it in the index)."""

    bbox: BBox | None = None
    ocr_text: str = ""
    caption: str = ""
    description: str = ""
    image_sha: str = ""
    png: bytes = b""


@dataclass
class Block:
    """One unit of a parsed document: a heading, a paragraph, a list item, a table, a figure.

    ``page`` is 1-based for paged formats (PDF) and None otherwise; a table continued onto the following
    pages ends on ``page_end``. ``section`` is the
    heading path above the block (outermost first). ``bbox`` is the block's place on its page (PDF).
    ``places`` (PDF, optional) say where parts of the text are, finer than ``bbox``: a paragraph's lines, a
    continued table's part on each page; in text order, each part running to the next one's offset (the last
    to the end of the text). Empty: the block lies at ``bbox`` on ``page`` as a whole.
    A table block carries ``table`` and a figure block ``figure``; their ``text`` is what is searched
    (caption, then row sentences / OCR text and description).
    """

    text: str
    kind: str = "paragraph"  # "heading" | "paragraph" | "list" | "table" | "figure"
    page: int | None = None
    level: int = 0  # heading level (1 = top); 0 for non-headings
    section: tuple[str, ...] = ()
    bbox: BBox | None = None
    table: Table | None = None
    figure: Figure | None = None
    page_end: int | None = None
    places: list[Place] = field(default_factory=list)


@dataclass
class Document:
    path: str
    blocks: list[Block]
    title: str = ""
    file_type: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def n_chars(self) -> int:
        return sum(len(b.text) for b in self.blocks)


@dataclass
class Chunk:
    """A span of a document's text that is indexed and retrieved as one unit.

    ``char_start``/``char_end`` are offsets into the document's canonical text (its blocks
    joined by blank lines, see ``docrag.chunk.base.join_blocks``); ``page_start``/``page_end``
    the 1-based page span (None for non-paged files).
    """

    text: str
    doc_path: str
    ordinal: int
    char_start: int
    char_end: int
    page_start: int | None = None
    page_end: int | None = None
    section: tuple[str, ...] = ()
    kind: str = "text"  # "text" | "table" | "figure" | "parent" (a parent is returned, never searched)
    # kind-specific data: a table's "markdown"/"html"; a figure's "bbox"/"caption"; a child's "parent" ordinal;
    # a sentence's "window" text; for paged files "boxes", where the chunk's text is: [[page, x0, top, x1, bottom]]
    extra: dict = field(default_factory=dict)

    @property
    def pages(self) -> list[int]:
        if self.page_start is None:
            return []
        return list(range(self.page_start, (self.page_end or self.page_start) + 1))


@dataclass(frozen=True)
class Filter:
    """Which chunks a search may return, as data: each storage backend translates it (SQL for SQLite, a boolean
    expression for Milvus). Every condition set must hold; an empty filter admits everything.

    ``path_globs``: the document path matches each glob (``*/reports/*.pdf``); ``file_types``: pdf, md, ...;
    ``doc_paths``: one of these documents; ``kinds``: one of these chunk kinds (text, table, figure)."""

    path_globs: tuple[str, ...] = ()
    file_types: tuple[str, ...] = ()
    doc_paths: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    @classmethod
    def of(cls, path_glob: str | None = None, file_types: list[str] | tuple[str, ...] | None = None,
           documents: list[str] | tuple[str, ...] | None = None) -> "Filter":
        """The filter a user's search options ask for (``documents``: document paths)."""
        return cls(path_globs=(path_glob,) if path_glob else (),
                   file_types=tuple(sorted({t.lower().lstrip(".") for t in file_types or ()})),
                   doc_paths=tuple(sorted(set(documents or ()))))

    def __bool__(self) -> bool:
        return bool(self.path_globs or self.file_types or self.doc_paths or self.kinds)

    def __and__(self, other: "Filter | None") -> "Filter":
        """Both filters at once."""
        if not other:
            return self
        return Filter(path_globs=tuple(dict.fromkeys(self.path_globs + other.path_globs)),
                      file_types=_both(self.file_types, other.file_types),
                      doc_paths=_both(self.doc_paths, other.doc_paths),
                      kinds=_both(self.kinds, other.kinds))


_NOTHING = ("\0",)  # a value no document path, file type or kind has: two disjoint sets admit nothing


def _both(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    if not a or not b:
        return a or b
    return tuple(sorted(set(a) & set(b))) or _NOTHING


@dataclass
class Hit:
    chunk_id: int
    text: str
    doc_path: str
    score: float
    page: int | None = None
    pages: list[int] = field(default_factory=list)
    section: tuple[str, ...] = ()
    ordinal: int = 0
    char_start: int = 0
    char_end: int = 0
    scores: dict[str, float] = field(default_factory=dict)  # per-retriever scores behind the fused one
    kind: str = "text"
    extra: dict = field(default_factory=dict)  # as Chunk.extra


@dataclass
class Citation:
    number: int
    doc_path: str
    page: int | None
    quote: str
    chunk_id: int | None = None


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    question: str = ""
    mode: str = "extractive"  # which answerer produced it
    hits: list[Hit] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage: retrieve, rerank, generate, ...
    usage: dict[str, int] = field(default_factory=dict)  # LLM tokens: prompt, completion, cached
    notes: list[str] = field(default_factory=list)  # what the user should know: passages left out, citations dropped
    omitted_passages: int = 0  # relevant passages that did not fit the context window
    dropped_citations: int = 0  # citations to passages the model was not given
    found: bool = True  # False: the passages do not support an answer (the text says so; citations are empty)
    related: list[Citation] = field(default_factory=list)  # when not found: the closest passages, not sources

    @property
    def plain_text(self) -> str:
        """The answer without its [n] citation markers."""
        return re.sub(r"\[\d+\]", "", self.text)
