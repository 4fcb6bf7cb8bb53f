"""Sentence boundaries for Chinese and English text.

A sentence ends at 。！？；… (and ! ? ;), with any closing quotes or brackets after them, at an
English full stop followed by a space, or at a line end. Decimal points ("3.14") and dotted
numbers do not end sentences.
"""

from __future__ import annotations

import itertools
import re

_CLOSERS = "”’\"'」』）)\\]】"
_END = re.compile(
    r"(?:[。！？!?；;…]+|\.{3,}"
    rf"|(?<!\d)\.(?=[{_CLOSERS}]*(?:\s|$))"  # an English full stop, perhaps inside quotes/brackets
    rf"|(?<=\d)\.(?=[{_CLOSERS}]*(?:\s+\D|$)))"  # after a number only when no number follows
    rf"[{_CLOSERS}]*"
    r"|\n+"
)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text[start:end]``, covering it without gaps
    except surrounding whitespace."""
    end = len(text) if end is None else end
    bounds = [start] + [m.end() for m in _END.finditer(text, start, end)] + [end]
    spans = []
    for s, e in itertools.pairwise(bounds):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
