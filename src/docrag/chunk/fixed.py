from __future__ import annotations

import bisect

from docrag.chunk.base import Splitter, join_blocks
from docrag.chunk.sentences import sentence_spans
from docrag.types import Chunk, Document


class FixedSplitter(Splitter):
    """Fixed-size windows with overlap over the whole text, each end moved back to the last
    sentence end in the window's second half so that Chinese and English sentences stay whole
    where they can."""

    name = "fixed"

    def split(self, doc: Document) -> list[Chunk]:
        dt = join_blocks(doc)
        text, n = dt.text, len(dt.text)
        ends = [e for _, e in sentence_spans(text)]
        if self.unit == "tokens":
            from docrag.index.tokenize import word_spans

            unit_starts = [s for s, _ in word_spans(text)] + [n]
        else:
            unit_starts = None

        def advance(pos: int, units: int) -> int:
            if unit_starts is None:
                return min(n, pos + units)
            i = bisect.bisect_left(unit_starts, pos)
            return unit_starts[min(len(unit_starts) - 1, i + units)]

        chunks: list[Chunk] = []
        start = 0
        while start < n:
            while start < n and text[start].isspace():
                start += 1
            if start >= n:
                break
            hard = advance(start, self.size)
            end = hard
            if hard < n:
                k = bisect.bisect_right(ends, hard) - 1
                if k >= 0 and ends[k] > advance(start, self.size // 2):
                    end = ends[k]
            chunks.append(dt.chunk(doc, len(chunks), start, end))
            if end >= n:
                break
            back = end - (self.overlap if unit_starts is None else 0)
            if unit_starts is not None:
                i = bisect.bisect_left(unit_starts, end)
                back = unit_starts[max(0, i - self.overlap)]
            # a window snapped back by more than size - overlap would not move on: drop the overlap then
            start = back if back > start else end
        return chunks
