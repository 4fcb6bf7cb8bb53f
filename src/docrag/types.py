"""Shared data types passed between the stages: parse -> chunk -> index -> retrieve -> answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Block:
    """One unit of a parsed document: a heading, a paragraph, a list item, a page's text.

    ``page`` is 1-based for paged formats (PDF) and None otherwise. ``section`` is the
    heading path above the block (outermost first).
    """

    text: str
    kind: str = "paragraph"  # "heading" | "paragraph" | "list" | "table"
    page: int | None = None
    level: int = 0  # heading level (1 = top); 0 for non-headings
    section: tuple[str, ...] = ()


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

    @property
    def pages(self) -> list[int]:
        if self.page_start is None:
            return []
        return list(range(self.page_start, (self.page_end or self.page_start) + 1))


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

    @property
    def plain_text(self) -> str:
        """The answer without its [n] citation markers."""
        return re.sub(r"\[\d+\]", "", self.text)
