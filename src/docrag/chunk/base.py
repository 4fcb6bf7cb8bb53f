"""Splitter interface, the canonical document text, and span -> page/section bookkeeping."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable, ClassVar

from docrag.types import Block, Chunk, Document

BLOCK_SEPARATOR = "\n\n"


@dataclass
class DocText:
    """A document's blocks joined by blank lines, with where each block starts."""

    text: str
    blocks: list[Block]
    starts: list[int]

    def block_at(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self.starts, offset) - 1)

    def chunk(self, doc: Document, ordinal: int, start: int, end: int) -> Chunk:
        first, last = self.block_at(start), self.block_at(max(start, end - 1))
        pages = [b.page for b in self.blocks[first:last + 1] if b.page is not None]
        block = self.blocks[first]
        section = block.section
        return Chunk(text=self.text[start:end], doc_path=doc.path, ordinal=ordinal, char_start=start,
                     char_end=end, page_start=min(pages) if pages else None,
                     page_end=max(pages) if pages else None, section=section)


def join_blocks(doc: Document) -> DocText:
    starts, parts, pos = [], [], 0
    for b in doc.blocks:
        starts.append(pos)
        parts.append(b.text)
        pos += len(b.text) + len(BLOCK_SEPARATOR)
    return DocText(BLOCK_SEPARATOR.join(parts), doc.blocks, starts)


class Splitter:
    name: ClassVar[str] = ""
    # bump when a code change moves chunk boundaries: indexed documents are then re-chunked
    version: ClassVar[int] = 1

    def __init__(self, size: int = 400, overlap: int = 50, unit: str = "chars"):
        if overlap >= size:
            raise ValueError(f"overlap ({overlap}) must be smaller than size ({size})")
        self.size, self.overlap, self.unit = size, overlap, unit
        self.length: Callable[[str], int] = len if unit == "chars" else token_length

    def split(self, doc: Document) -> list[Chunk]:
        raise NotImplementedError

    def signature(self) -> str:
        """Identifies the output: a document chunked under another signature is re-chunked."""
        return f"{self.name}/{self.version}:{self.size}:{self.overlap}:{self.unit}"


def token_length(text: str) -> int:
    from docrag.index.tokenize import word_spans

    return len(word_spans(text))
