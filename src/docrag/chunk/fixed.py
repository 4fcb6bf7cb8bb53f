from __future__ import annotations

import bisect

from docrag.chunk.base import DocText, Draft, Segment, Splitter
from docrag.text.sentences import sentence_spans


class FixedSplitter(Splitter):
    """Fixed-size windows with overlap over each run of text, each end moved back to the last
    sentence end in the window's second half so that Chinese and English sentences stay whole
    where they can."""

    name = "fixed"

    def split_run(self, dt: DocText, run: list[Segment]) -> list[Draft]:
        text, start, n = dt.text, run[0].start, run[-1].end
        ends = [e for _, e in sentence_spans(text, start, n)]
        if self.unit == "tokens":
            from docrag.text.analyzer import word_spans

            unit_starts = [start + s for s, _ in word_spans(text[start:n])] + [n]
        else:
            unit_starts = None

        def advance(pos: int, units: int) -> int:
            if unit_starts is None:
                return min(n, pos + units)
            i = bisect.bisect_left(unit_starts, pos)
            return unit_starts[min(len(unit_starts) - 1, i + units)]

        drafts: list[Draft] = []
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
            drafts.append(Draft(start, end))
            if end >= n:
                break
            back = end - (self.overlap if unit_starts is None else 0)
            if unit_starts is not None:
                i = bisect.bisect_left(unit_starts, end)
                back = unit_starts[max(0, i - self.overlap)]
            # a window snapped back by more than size - overlap would not move on: drop the overlap then
            start = back if back > start else end
        return drafts
