from __future__ import annotations

from docrag.chunk.base import DocText, Draft, Segment, Splitter, clip
from docrag.chunk.recursive import RecursiveSplitter


class ParentChildSplitter(Splitter):
    """Small children are matched, their parent is returned.

    Parents are sections (a heading and the text under it, up to the next heading or table/figure),
    a section longer than ``size`` cut into ``size`` pieces by the recursive strategy; they are chunks
    of kind "parent", which are never searched. Children are each parent cut into ``child_size``
    pieces by the recursive strategy; they carry ``extra["parent"]``, the parent's ordinal. A piece
    that fits in ``child_size`` is its own parent: one "text" chunk without a parent. So is a table
    that fits: one "table" chunk; a longer one becomes a parent holding the whole table (with its
    Markdown and HTML) and "table" children, row groups of at most ``child_size`` each.
    """

    name = "parent_child"

    def __init__(self, size: int = 400, overlap: int = 50, unit: str = "chars", *, child_size: int = 120):
        super().__init__(size, overlap, unit)
        self.child_size = child_size
        # no overlap: parents must not repeat text, and a child's neighbourhood comes with its parent
        self.parents = RecursiveSplitter(size, 0, unit)
        self.children = RecursiveSplitter(child_size, 0, unit)

    @classmethod
    def from_config(cls, config, **context) -> ParentChildSplitter:
        return cls(size=config.size, overlap=config.overlap, unit=config.unit, child_size=config.child_size)

    def signature(self) -> str:
        return f"{super().signature()}:child={self.child_size}"

    def split_run(self, dt: DocText, run: list[Segment]) -> list[Draft]:
        drafts: list[Draft] = []
        for section in _sections(dt, run):
            whole = Draft(section[0].start, section[-1].end)
            fits = self.length(dt.text[whole.start:whole.end]) <= self.size
            for piece in [whole] if fits else self.parents.split_run(dt, section):
                children = self.children.split_run(dt, clip(section, piece.start, piece.end))
                if len(children) == 1:  # its own parent: stored once
                    drafts.append(piece)
                    continue
                parent = Draft(piece.start, piece.end, "parent")
                drafts.append(parent)
                for child in children:
                    child.parent = parent
                    drafts.append(child)
        return drafts

    def table_drafts(self, dt: DocText, start: int, i: int) -> list[Draft]:
        one = self.table_rows(dt, start, i, None)
        if not one or self.length(dt.draft_text(one[0])) <= self.child_size:
            return one
        parent = Draft(one[0].start, one[0].end, "parent", one[0].text, one[0].extra)
        return [parent, *self.table_rows(dt, start, i, self.child_size, parent)]


def _sections(dt: DocText, run: list[Segment]) -> list[list[Segment]]:
    """The run cut before each heading that follows text (headings in a row open one section together)."""
    sections: list[list[Segment]] = []
    for seg in run:
        opens = dt.blocks[seg.block].kind == "heading"
        if not sections or (opens and any(dt.blocks[b].kind != "heading" for _, _, b in sections[-1])):
            sections.append([])
        sections[-1].append(seg)
    return sections
