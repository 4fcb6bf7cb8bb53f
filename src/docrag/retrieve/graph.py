"""Graph-expanded retrieval: each hit brings along the tables and figures it refers to, its parent chunk, its
section's lead, same-page tables and figures and its neighbours, under a token budget.

One hop along the document graph (``docrag.index.graph``) from every hit. An expanded chunk scores
``hit score * edge weight`` (a chunk reached several ways keeps its best score and the edge that gave it); hits
are never reached twice. Expanded chunks are taken best score first while their text fits the token budget (one
that does not fit is skipped, a smaller later one may still fit) and are returned after all the original hits,
best first: the retriever's (or reranker's) ranking of the hits is left as it was, and what the graph adds
comes after it.
"""

from __future__ import annotations

from collections.abc import Callable

from docrag.index.storage import Storage
from docrag.types import Hit

# Edges followed and the share of the hit's score an expanded chunk gets. A parent (parent-child chunking) is
# what the matched child stands for; a referenced table/figure or a caption's table is what the text is about;
# text that discusses a table hit comes next; same-page tables/figures are often related; neighbours and the
# section lead give context. "contains", "child" and "has_caption" are not followed: they fan out or repeat.
DEFAULT_WEIGHTS = {
    "parent": 1.0,
    "refers_to": 0.9,
    "caption_of": 0.9,
    "referred_by": 0.7,
    "same_page": 0.6,
    "next": 0.5,
    "prev": 0.5,
    "in_section": 0.4,
}


class GraphExpander:
    def __init__(self, store: Storage, token_budget: int = 800, weights: dict[str, float] | None = None,
                 count_tokens: Callable[[str], int] = len):
        self.store = store
        self.token_budget = token_budget
        # a weight of 0 turns an edge kind off
        self.weights = {kind: w for kind, w in (DEFAULT_WEIGHTS if weights is None else weights).items() if w > 0}
        self.count_tokens = count_tokens

    def expand(self, query_hits: list[Hit]) -> list[Hit]:
        """The hits, in their order, followed by the chunks the graph adds (best first, within the budget).
        An added hit has ``scores={"graph": score}`` and ``extra`` with "via" (the edge kind) and "from" (the
        hit's chunk id) besides its chunk's own extra."""
        rank = {h.chunk_id: i for i, h in enumerate(query_hits)}
        if not rank or self.token_budget <= 0 or not self.weights:
            return list(query_hits)
        edges = self.store.edges_from(rank, self.weights)
        # best hit first, then strongest edge: on equal scores the earlier way of reaching a chunk wins
        edges.sort(key=lambda e: (rank[e[0]], -self.weights[e[2]], e[1]))
        reached: dict[int, tuple[float, str, int]] = {}  # chunk id -> (score, edge kind, source chunk id)
        for src, dst, kind in edges:
            if dst in rank:
                continue
            score = _share(query_hits[rank[src]].score, self.weights[kind])
            if dst not in reached or score > reached[dst][0]:
                reached[dst] = (score, kind, src)
        candidates = sorted(reached, key=lambda cid: -reached[cid][0])  # stable: ties keep the order above
        added, spent = [], 0
        for hit in self.store.hits([(cid, reached[cid][0]) for cid in candidates]):
            cost = self.count_tokens(hit.text)
            if spent + cost > self.token_budget:
                continue
            spent += cost
            _, kind, src = reached[hit.chunk_id]
            hit.scores = {"graph": hit.score}
            hit.extra = {**hit.extra, "via": kind, "from": src}
            added.append(hit)
        return list(query_hits) + added


def _share(score: float, weight: float) -> float:
    """``weight`` of a score, never above it: a negative score (some rerankers) is divided instead, so that a
    stronger edge still gives the higher score."""
    return score * weight if score >= 0 else score / weight
