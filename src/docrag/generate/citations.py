"""Citation markers in an LLM's answer, checked against the passages it was given.

Models write [1], [1][2], [1, 2], [1-3], 【1】 or [1、2]. Each number that names a passage in the
prompt becomes a Citation (renumbered 1..m in order of first use, as extractive answers are); a number
that names no passage is dropped from the text and counted — the model cited something it was not shown.
"""

from __future__ import annotations

import re

from docrag.generate.prompt import Passage
from docrag.types import Citation

_MARKER = re.compile(r"[\[【]\s*(\d+(?:\s*(?:[,，、;；]|-|–|~)\s*\d+)*)\s*[\]】]")
_NUMBER_OR_RANGE = re.compile(r"(\d+)\s*(?:(?:-|–|~)\s*(\d+))?")
_MAX_RANGE = 20  # "[1-999]" is not a citation list


def _numbers(group: str) -> list[int]:
    found = []
    for m in _NUMBER_OR_RANGE.finditer(group):
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        found += list(range(a, b + 1)) if 0 <= b - a <= _MAX_RANGE else [a, b]
    return found


def resolve_citations(text: str, passages: list[Passage]) -> tuple[str, list[Citation], list[int]]:
    """(text with markers rewritten as [n][m], citations in order of first use, dropped numbers)."""
    by_number = {p.number: p for p in passages}
    renumber: dict[int, int] = {}
    dropped: list[int] = []

    def rewrite(m: re.Match) -> str:
        out = []
        for n in dict.fromkeys(_numbers(m.group(1))):
            if n in by_number:
                new = renumber.setdefault(n, len(renumber) + 1)
                out.append(f"[{new}]")
            else:
                dropped.append(n)
        return "".join(out)

    text = _MARKER.sub(rewrite, text).strip()
    if dropped:  # a dropped marker leaves no stray space before punctuation
        text = re.sub(r"[ \t]+([。，；！？.,;!?])", r"\1", text)
    citations = []
    for old, new in renumber.items():
        hit = by_number[old].hit
        citations.append(Citation(number=new, doc_path=hit.doc_path, page=hit.page, quote=by_number[old].text,
                                  chunk_id=hit.chunk_id))
    return text, citations, dropped
