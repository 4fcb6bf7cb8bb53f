"""Ranked chunks become distinct hits: a matched child as its parent, a table's chunks as one hit, repeats once.

A long table is split into chunks of a few rows (each under the table's heading and caption); a question
about a statement often matches several of them. As separate hits they fill the top k with one table, and
an LLM would read that table's Markdown once per chunk.
"""

from __future__ import annotations

import re

from docrag.index.storage import Storage
from docrag.types import Hit


def distinct_hits(storage: Storage, ranked: list[tuple[int, float]]) -> list[Hit]:
    """Hits for ranked chunk ids: children as their parents, a table's chunks as one hit, repeats dropped."""
    hits, seen = [], set()
    for hit in one_hit_per_table(with_parents(storage, storage.hits(ranked))):
        # a figure is also its picture: pictures without text share their placeholder text
        key = re.sub(r"\s+", "", hit.text) + hit.extra.get("image_sha", "")
        if key not in seen:
            seen.add(key)
            hits.append(hit)
    return hits


def with_parents(storage: Storage, hits: list[Hit]) -> list[Hit]:
    """parent_child chunking: a matched child is returned as its parent (section or whole table), scored by its
    best child; the parent records which children matched."""
    wanted = {(h.doc_path, h.extra["parent"]) for h in hits if "parent" in h.extra}
    if not wanted:
        return hits
    parent_ids = storage.chunk_ids_by_ordinal(wanted)
    parents = {h.chunk_id: h for h in storage.hits([(i, 0.0) for i in parent_ids.values()])}
    out: list[Hit] = []
    placed: dict[int, Hit] = {}
    for h in hits:
        pid = parent_ids.get((h.doc_path, h.extra["parent"])) if "parent" in h.extra else None
        if pid is None:
            out.append(h)
        elif pid in placed:
            placed[pid].extra["matched"].append(h.chunk_id)
        else:
            parent = parents[pid]
            parent.score, parent.scores = h.score, h.scores
            parent.extra = {**parent.extra, "matched": [h.chunk_id]}
            placed[pid] = parent
            out.append(parent)
    return out


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
