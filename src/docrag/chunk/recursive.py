from __future__ import annotations

from docrag.chunk.base import BLOCK_SEPARATOR, DocText, Draft, Segment, Splitter
from docrag.text.sentences import sentence_spans


class RecursiveSplitter(Splitter):
    """Structure-aware splitting: sections -> paragraphs -> sentences -> hard cuts.

    Blocks that fit are kept whole; longer ones are cut at sentence ends (Chinese and English),
    and only a sentence longer than the chunk size is cut mid-way. Pieces are then packed greedily
    up to ``size``; a heading or a new page starts a new chunk (unless the current one is still
    small) and a heading never ends one. Overlap repeats whole trailing sentences of the previous
    chunk, up to ``overlap``.
    """

    name = "recursive"

    def split_run(self, dt: DocText, run: list[Segment]) -> list[Draft]:
        text = dt.text
        pieces: list[tuple[int, int, bool]] = []  # start, end, is_heading
        new_page: set[int] = set()  # pieces that open a page: a citation should name one page
        prev_page, prev = None, None
        for start, end, b in run:
            block = dt.blocks[b]
            if block.page != prev_page and prev_page is not None:
                new_page.add(len(pieces))
            prev_page = block.page
            # a heading must fit in one chunk with what follows it: leave room for it
            room = self.size
            if prev is not None and prev.kind == "heading":
                room -= self.length(prev.text) + (len(BLOCK_SEPARATOR) if self.unit == "chars" else 0)
            room = max(room, self.size // 2)
            if block.kind == "heading":
                pieces.append((start, end, True))
            elif self.length(text[start:end]) <= room:
                pieces.append((start, end, False))
            else:
                for s, e in sentence_spans(text, start, end):
                    pieces.extend((ps, pe, False) for ps, pe in self.hard_cuts(text, s, e, room))
            prev = block
        lengths = [self.length(text[s:e]) for s, e, _ in pieces]

        # characters between consecutive pieces (block separators) count toward a chunk's length
        gaps = [0] + [pieces[i][0] - pieces[i - 1][1] if self.unit == "chars" else 0 for i in range(1, len(pieces))]

        def span_length(group: list[int]) -> int:
            return sum(lengths[j] for j in group) + sum(gaps[j] for j in group[1:])

        groups: list[list[int]] = []
        cur: list[int] = []
        for i, (_, _, is_heading) in enumerate(pieces):
            cur_len = span_length(cur)
            starts_section = (is_heading or i in new_page) and cur_len >= self.size // 4
            if cur and (starts_section or cur_len + gaps[i] + lengths[i] > self.size):
                moved = [cur.pop()] if pieces[cur[-1]][2] and len(cur) > 1 else []  # no heading at a chunk's end
                groups.append(cur)
                carry: list[int] = []
                if not starts_section and not moved and self.overlap:
                    for j in reversed(cur):
                        if pieces[j][2] or span_length([j] + carry) > self.overlap:
                            break
                        carry.insert(0, j)
                cur = carry + moved
                if cur and span_length(cur + [i]) > self.size:  # the carried overlap must leave room
                    cur = moved
            cur.append(i)
        if cur:
            groups.append(cur)
        return [Draft(pieces[g[0]][0], pieces[g[-1]][1]) for g in groups]
