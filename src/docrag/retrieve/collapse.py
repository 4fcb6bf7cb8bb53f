"""Chunks of one table found by one search come back as one hit.

A long table is split into chunks of a few rows (each under the table's heading and caption); a question
about a statement often matches several of them. As separate hits they fill the top k with one table, and
an LLM would read that table's Markdown once per chunk.
"""

from __future__ import annotations

from docrag.types import Hit


def one_hit_per_table(hits: list[Hit]) -> list[Hit]:
    """At its best chunk's rank, a table's hit holds the matched chunks' rows in table order (under their
    shared heading lines), all their pages, and their chunk ids in ``extra["matched"]``."""
    out: list[Hit] = []
    groups: dict[tuple[str, int], list[Hit]] = {}
    for hit in hits:
        table = hit.extra.get("table") if hit.kind == "table" else None
        if table is None:
            out.append(hit)
            continue
        group = groups.setdefault((hit.doc_path, table), [])
        if not group:
            out.append(hit)
        group.append(hit)
    for group in groups.values():
        if len(group) > 1:
            _merge_into_first(group)
    return out


def _merge_into_first(group: list[Hit]) -> None:
    best = group[0]
    parts = sorted(group, key=lambda h: h.ordinal)
    lines = [h.text.split("\n") for h in parts]
    shared = 0  # the heading and caption lines every chunk of the table starts with
    while all(len(ls) > shared + 1 and ls[shared] == lines[0][shared] for ls in lines):
        shared += 1
    best.text = "\n".join(lines[0][:shared] + [line for ls in lines for line in ls[shared:]])
    best.pages = sorted({p for h in parts for p in h.pages})
    best.page = best.pages[0] if best.pages else best.page
    best.char_start, best.char_end = min(h.char_start for h in parts), max(h.char_end for h in parts)
    best.extra = {**best.extra, "matched": [h.chunk_id for h in group]}
