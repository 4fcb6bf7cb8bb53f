"""Splitter interface, the canonical document text, and span -> page/section bookkeeping.

Every strategy treats a document's structure the same way: a table block becomes chunk(s) of kind
"table", a figure block a chunk of kind "figure", and only the runs of text blocks between them go
through the strategy, which implements ``split_run``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

from docrag.config import check_overlap
from docrag.text.sentences import sentence_spans
from docrag.types import Block, Chunk, Document, Table, TableCell

BLOCK_SEPARATOR = "\n\n"
# a sentence with fewer letters and digits than this (CJK characters count twice) is joined to the next
# ("Yes.", "是的。", "1."): alone it would match almost any query, and embed to noise
SHORT_SENTENCE_CHARS = 10


class Segment(NamedTuple):
    """A stretch of one block's text (the whole block, or part of it) in the canonical text."""

    start: int
    end: int
    block: int  # index into DocText.blocks


@dataclass(eq=False)  # compared by identity: a child names its parent Draft
class Draft:
    """A chunk before it is numbered: what strategies return; ``Splitter.split`` makes Chunks of them."""

    start: int
    end: int
    kind: str = "text"
    text: str | None = None  # None: the canonical text between start and end
    extra: dict = field(default_factory=dict)
    parent: Draft | None = None  # becomes extra["parent"]: the parent's ordinal


@dataclass
class DocText:
    """A document's blocks joined by blank lines, with where each block starts."""

    text: str
    blocks: list[Block]
    starts: list[int]

    def block_at(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self.starts, offset) - 1)

    def block_end(self, i: int) -> int:
        return self.starts[i] + len(self.blocks[i].text)

    def draft_text(self, draft: Draft) -> str:
        return self.text[draft.start:draft.end] if draft.text is None else draft.text

    def chunk(self, doc: Document, ordinal: int, draft: Draft, parent_ordinal: int | None = None) -> Chunk:
        first, last = self.block_at(draft.start), self.block_at(max(draft.start, draft.end - 1))
        pages = [p for b in self.blocks[first:last + 1] for p in (b.page, b.page_end) if p is not None]
        extra = dict(draft.extra) if parent_ordinal is None else {**draft.extra, "parent": parent_ordinal}
        if pages:
            boxes = self.boxes(draft.start, draft.end, first, last)
            if boxes:
                extra["boxes"] = boxes
        text = self.draft_text(draft)
        return Chunk(text=text, doc_path=doc.path, ordinal=ordinal, char_start=draft.start, char_end=draft.end,
                     page_start=min(pages) if pages else None, page_end=max(pages) if pages else None,
                     section=self.blocks[first].section, kind=draft.kind, extra=extra)

    def boxes(self, start: int, end: int, first: int, last: int) -> list[list[float]]:
        """Where the text between ``start`` and ``end`` (in blocks ``first`` to ``last``) is on its pages:
        ``[page, x0, top, x1, bottom]`` (PDF points, top-left origin) per line the text falls in (or per
        block, where its lines are not known), in text order, consecutive ones merged where that keeps them
        tight (see ``_merge``)."""
        out: list[list[float]] = []
        for i in range(first, last + 1):
            block = self.blocks[i]
            if block.page is None:
                continue
            base = self.starts[i]
            lo, hi = max(start, base) - base, min(end, base + len(block.text)) - base
            if hi <= lo:
                continue
            places = block.places
            if places:
                k = max(0, bisect.bisect_right(places, lo, key=_offset) - 1)
                parts = [p[1:] for p in itertools.takewhile(lambda p: p[0] < hi, places[k:])] or [places[k][1:]]
            elif block.bbox is not None:
                parts = [(block.page, *block.bbox)]
            else:
                continue
            for part in parts:
                box = list(part)
                if not (out and _merge(out[-1], box)):
                    out.append(box)
        return [[int(b[0]), *(round(v, 1) for v in b[1:])] for b in out]


def _offset(place: tuple) -> int:
    return place[0]


def _merge(a: list[float], b: list[float]) -> bool:
    """Grow box ``a`` to take in ``b`` (both ``[page, x0, top, x1, bottom]``) when the two are on one page, one
    under the other in a column (sharing half the narrower one's width, at most one and a half of the lower
    one's height apart) and the box around both is mostly their own area (a quarter at most blank beside them;
    the space between lines is not counted): a paragraph's lines, lines or paragraphs one under another. Boxes
    side by side (two columns), far apart, or a short line beside a wide one stay apart."""
    if a[0] != b[0]:
        return False
    wa, ha, wb, hb = a[3] - a[1], a[4] - a[2], b[3] - b[1], b[4] - b[2]
    if min(a[3], b[3]) - max(a[1], b[1]) < 0.5 * min(wa, wb):
        return False
    if max(b[2] - a[4], a[2] - b[4]) > 1.5 * min(ha, hb):
        return False
    width = max(a[3], b[3]) - min(a[1], b[1])
    if width * (ha + hb) - (wa * ha + wb * hb) > 0.25 * width * (ha + hb):
        return False
    a[1:] = [min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]), max(a[4], b[4])]
    return True


def join_blocks(doc: Document) -> DocText:
    starts, parts, pos = [], [], 0
    for b in doc.blocks:
        starts.append(pos)
        parts.append(b.text)
        pos += len(b.text) + len(BLOCK_SEPARATOR)
    return DocText(BLOCK_SEPARATOR.join(parts), doc.blocks, starts)


def clip(run: list[Segment], start: int, end: int) -> list[Segment]:
    """The parts of a run's segments that lie between ``start`` and ``end``."""
    return [Segment(max(s, start), min(e, end), b) for s, e, b in run if s < end and e > start]


class Splitter:
    name: ClassVar[str] = ""
    # bump when a code change moves chunk boundaries: indexed documents are then re-chunked
    # (2: tables and figures are chunks of their own; 3: a header all table columns share is said once;
    # 4: table chunks name their table, so that one search returns a table once)
    version: ClassVar[int] = 4

    def __init__(self, size: int = 400, overlap: int = 50, unit: str = "chars"):
        check_overlap(size, overlap)
        self.size, self.overlap, self.unit = size, overlap, unit
        self.length: Callable[[str], int] = len if unit == "chars" else token_length

    @classmethod
    def from_config(cls, config, **context) -> Splitter:
        """``config`` is a ``docrag.config.ChunkConfig``; ``context`` what ``make_splitter`` was given."""
        return cls(size=config.size, overlap=config.overlap, unit=config.unit)

    def signature(self) -> str:
        """Identifies the output: a document chunked under another signature is re-chunked."""
        return f"{self.name}/{self.version}:{self.size}:{self.overlap}:{self.unit}"

    # --- the document -------------------------------------------------------------------------

    def split(self, doc: Document) -> list[Chunk]:
        dt = join_blocks(doc)
        layout: list[list[Segment] | tuple[int, int]] = []  # runs of text, and (start, block) of tables/figures
        run: list[Segment] = []
        for i, block in enumerate(dt.blocks):
            if not block.text.strip():
                continue
            if block.kind not in ("table", "figure"):
                run.append(Segment(dt.starts[i], dt.block_end(i), i))
                continue
            # headings right above a table or figure belong to it: alone they would make a chunk of their own
            start = dt.starts[i]
            while run and dt.blocks[run[-1].block].kind == "heading":
                start = run.pop().start
            if run:
                layout.append(run)
            layout.append((start, i))
            run = []
        if run:
            layout.append(run)

        split_runs = iter(self.split_runs(dt, [item for item in layout if isinstance(item, list)]))
        drafts: list[Draft] = []
        for item in layout:
            if isinstance(item, list):
                drafts.extend(next(split_runs))
            elif dt.blocks[item[1]].kind == "table":
                drafts.extend(self.table_drafts(dt, *item))
            else:
                drafts.append(figure_draft(dt, *item))
        ordinals = {id(d): n for n, d in enumerate(drafts)}
        return [dt.chunk(doc, n, d, None if d.parent is None else ordinals[id(d.parent)])
                for n, d in enumerate(drafts)]

    def split_runs(self, dt: DocText, runs: list[list[Segment]]) -> list[list[Draft]]:
        """Each run of text blocks split into chunks (a strategy needing the whole document overrides this)."""
        return [self.split_run(dt, run) for run in runs]

    def split_run(self, dt: DocText, run: list[Segment]) -> list[Draft]:
        raise NotImplementedError

    # --- tables -------------------------------------------------------------------------------

    def table_drafts(self, dt: DocText, start: int, i: int) -> list[Draft]:
        return self.table_rows(dt, start, i, self.size)

    def table_rows(self, dt: DocText, start: int, i: int, size: int | None, parent: Draft | None = None
                   ) -> list[Draft]:
        """A table as chunks of kind "table" of at most ``size`` (None: one chunk), cut between rows, each
        starting with the nearest heading and the caption and carrying the whole table as Markdown and HTML.
        A single row longer than ``size`` stays whole. Each chunk spans its rows in the canonical text where
        they can be found there (the first from the table's start, the last to its end), else the whole table."""
        block = dt.blocks[i]
        if block.table is not None:
            table = block.table
            rows = table.row_sentences()
            row_spans = _find_in_order(block.text, rows)
        else:
            table = table_from_lines(block.text)
            rows = table.row_sentences()
            row_spans = _line_spans(block.text)[table.header_rows:]
        if not rows:  # a header without a body: its column names are all there is to search
            rows, row_spans = [" | ".join(h for h in table.column_headers() if h)], None
        if row_spans is not None and len(row_spans) != len(rows):
            row_spans = None
        head = list(dict.fromkeys(line for line in (*block.section[-1:], *table.title_lines()) if line))
        groups: list[list[int]] = [[]]
        for k, row in enumerate(rows):
            lines = head + [rows[j] for j in groups[-1]] + [row]
            if groups[-1] and size is not None and self.length("\n".join(lines)) > size:
                groups.append([])
            groups[-1].append(k)
        # "table" (the block's place in the document) tells chunks of one table apart from another's
        extra = {"markdown": table.to_markdown(), "html": table.to_html(), "caption": table.caption, "table": i}
        base, end = dt.starts[i], dt.block_end(i)
        drafts = []
        for n, group in enumerate(groups):
            span_start = start if n == 0 or row_spans is None else base + row_spans[group[0]][0]
            span_end = end if n == len(groups) - 1 or row_spans is None else base + row_spans[group[-1]][1]
            text = "\n".join(head + [rows[k] for k in group])
            if text.strip():  # a table of empty cells without a caption has nothing to search
                drafts.append(Draft(span_start, span_end, "table", text, dict(extra), parent))
        return drafts

    # --- sentences ----------------------------------------------------------------------------

    def sentence_units(self, dt: DocText, run: list[Segment]) -> list[Segment]:
        """The run's sentences (Chinese and English ends; never across blocks), one longer than ``size`` cut
        into pieces, and a heading or a very short sentence joined to the next (in the same block or the
        next) where the two fit in ``size``: the units sentence-level strategies work on."""
        text = dt.text

        def joins_next(unit: Segment) -> bool:
            heading = dt.blocks[unit.block].kind == "heading" and unit.end <= dt.block_end(unit.block)
            return heading or _is_short(text[unit.start:unit.end])

        units: list[Segment] = []
        for s, e, b in run:
            for ss, se in sentence_spans(text, s, e):
                for ps, pe in self.hard_cuts(text, ss, se, self.size):
                    last = units[-1] if units else None
                    if last and joins_next(last) and self.length(text[last.start:pe]) <= self.size:
                        units[-1] = Segment(last.start, pe, last.block)
                    else:
                        units.append(Segment(ps, pe, b))
        if len(units) > 1 and _is_short(text[units[-1].start:units[-1].end]) \
                and self.length(text[units[-2].start:units[-1].end]) <= self.size:
            units[-2:] = [Segment(units[-2].start, units[-1].end, units[-2].block)]
        return units

    def hard_cuts(self, text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
        """``text[start:end]`` in pieces of at most ``size`` units: the last resort for a sentence too long."""
        if self.length(text[start:end]) <= size:
            return [(start, end)]
        if self.unit == "chars":
            bounds = list(range(start, end, size))
        else:
            from docrag.text.analyzer import word_spans

            words = word_spans(text[start:end])
            bounds = [start] + [start + words[i][0] for i in range(size, len(words), size)]
        return list(zip(bounds, bounds[1:] + [end]))


def figure_draft(dt: DocText, start: int, i: int) -> Draft:
    """A figure as one chunk: its text (caption, OCR text, description) is what is searched."""
    block = dt.blocks[i]
    figure = block.figure
    bbox = (figure.bbox if figure else None) or block.bbox
    extra = {"caption": figure.caption if figure else "", "bbox": list(bbox) if bbox else None,
             "image_sha": figure.image_sha if figure else ""}
    return Draft(start, dt.block_end(i), "figure", extra=extra)


def table_from_lines(text: str) -> Table:
    """A table block parsed without structure (Markdown, HTML, DOCX: one "a | b" line per row, the first the
    header) as a Table, so that every table chunk gets Markdown, HTML and row sentences alike."""
    rows = [text[s:e].split(" | ") for s, e in _line_spans(text)]
    n_cols = max(map(len, rows), default=0)
    cells = [TableCell(r, c, cell.strip()) for r, row in enumerate(rows) for c, cell in enumerate(row)]
    return Table(cells, n_rows=len(rows), n_cols=n_cols, header_rows=1 if len(rows) > 1 else 0)


def _line_spans(text: str) -> list[tuple[int, int]]:
    """Where the lines holding some cell text are (a line of only separators is no row)."""
    return [m.span() for m in re.finditer(r"[^\n]+", text) if m.group().strip(" |")]


def _find_in_order(text: str, parts: list[str]) -> list[tuple[int, int]] | None:
    """Where each part occurs in ``text``, one after another; None if one does not."""
    spans, pos = [], 0
    for part in parts:
        k = text.find(part, pos)
        if k < 0:
            return None
        spans.append((k, k + len(part)))
        pos = k + len(part)
    return spans


def _is_short(text: str) -> bool:
    # a Chinese/Japanese/Korean character says about as much as two Latin letters
    return sum(2 if ch >= "\u2e80" else 1 for ch in text if ch.isalnum()) < SHORT_SENTENCE_CHARS


def token_length(text: str) -> int:
    from docrag.text.analyzer import word_spans

    return len(word_spans(text))
