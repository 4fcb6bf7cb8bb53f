"""Hard negatives for question-answer pairs, mined from the index the pairs were drawn from.

A pair's query is searched by BM25 and by dense search; their top ranks, interleaved (BM25 1, dense 1, BM25 2, ...),
are the candidates. A candidate is never the positive's own passage: not its chunk, not a chunk overlapping it in
the same document (chunk overlap, sentence windows), not a child of the same parent, not the same text (a copied
file), and not a chunk that contains the query itself. Of the rest, one that the dense model scores above
``margin`` x the positive's score is dropped as a likely false negative, an unlabelled passage that answers the
query too (NV-Retriever's "TopK-PercPos" filter, 95% by default).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, zip_longest

import numpy as np

from docrag.adapt.pairs import Pair
from docrag.index.storage import Storage
from docrag.index.vectors import VectorIndex
from docrag.models.embed import Embedder
from docrag.retrieve.retrievers import BM25Retriever
from docrag.types import Hit, Progress

DEPTH = 20  # candidates from each retriever
MARGIN = 0.95


@dataclass
class MiningReport:
    pairs: int = 0
    with_negatives: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # same passage / above margin

    def to_dict(self) -> dict:
        return {"pairs": self.pairs, "with_negatives": self.with_negatives, "dropped": dict(self.dropped)}


class NegativeMiner:
    """``mine(pairs)`` -> each pair's hard negatives (texts, at most ``per_pair``), and a report. ``bm25`` and
    ``vectors`` (the index's dense vectors, made by ``embedder``) rank the candidates; either may be None (an index
    without vectors is mined by BM25 alone). ``embedder`` scores candidates for the margin filter."""

    def __init__(self, store: Storage, embedder: Embedder, bm25: BM25Retriever | None = None,
                 vectors: VectorIndex | None = None, *, depth: int = DEPTH, margin: float = MARGIN,
                 per_pair: int = 1):
        self.store, self.embedder, self.bm25, self.vectors = store, embedder, bm25, vectors
        self.depth, self.margin, self.per_pair = depth, margin, per_pair
        self._rows = {int(cid): r for r, cid in enumerate(vectors.chunk_ids)} if vectors is not None else {}

    def mine(self, pairs: Sequence[Pair], progress: Progress | None = None) -> tuple[list[list[str]], MiningReport]:
        report = MiningReport(pairs=len(pairs))
        sources = {h.chunk_id: h for h in self.store.hits([(cid, 0.0) for cid in dict.fromkeys(
            p.chunk_id for p in pairs)])}
        out = []
        for n, pair in enumerate(pairs, 1):
            negatives = self.mine_one(pair, sources.get(pair.chunk_id), report)
            report.with_negatives += bool(negatives)
            out.append([h.text for h in negatives])
            if progress:
                progress("negatives", n, len(pairs))
        return out, report

    def mine_one(self, pair: Pair, source: Hit | None, report: MiningReport | None = None) -> list[Hit]:
        """Hard negatives for one pair; ``source``: the positive's chunk as the index holds it (None: gone)."""
        report = report or MiningReport()
        query_vector = self.embedder.embed_query(pair.query)
        ranked: list[list[int]] = []
        if self.bm25 is not None:
            ranked.append([cid for cid, _ in self.bm25.search(pair.query, self.depth)])
        if self.vectors is not None and len(self.vectors):
            ranked.append([int(cid) for cid in self.vectors.search(query_vector, self.depth)[0]])
        order = [cid for cid in dict.fromkeys(chain.from_iterable(zip_longest(*ranked))) if cid is not None]
        candidates = []
        for hit in self.store.hits([(cid, 0.0) for cid in order]):
            if same_passage(hit, pair, source):
                report.dropped["same passage"] += 1
            else:
                candidates.append(hit)
        if not candidates:
            return []
        positive_score = float(self.embedder.embed_passages([pair.positive])[0] @ query_vector)
        scores = self._passage_vectors(candidates) @ query_vector
        negatives: list[Hit] = []
        for hit, score in zip(candidates, scores):
            if score > self.margin * positive_score:
                report.dropped["above margin"] += 1
            elif len(negatives) < self.per_pair:
                negatives.append(hit)
        return negatives

    def _passage_vectors(self, hits: list[Hit]) -> np.ndarray:
        """The stored vectors of these chunks; those without one are embedded."""
        stored = self.vectors.vectors if self.vectors is not None else np.empty((0, self.embedder.dim), np.float32)
        missing = [h.text for h in hits if h.chunk_id not in self._rows]
        embedded = iter(self.embedder.embed_passages(missing) if missing else [])
        return np.stack([stored[self._rows[h.chunk_id]] if h.chunk_id in self._rows else next(embedded)
                         for h in hits])


def same_passage(hit: Hit, pair: Pair, source: Hit | None) -> bool:
    """Whether ``hit`` is (part of) the passage the pair's positive came from, or holds the query itself."""
    if hit.chunk_id == pair.chunk_id or pair.query.strip() in hit.text:
        return True
    if source is None:
        return False
    if " ".join(hit.text.split()) == " ".join(source.text.split()):
        return True
    if hit.doc_path != source.doc_path:
        return False
    overlaps = hit.char_start < source.char_end and source.char_start < hit.char_end
    parent = hit.extra.get("parent")
    return overlaps or (parent is not None and parent == source.extra.get("parent"))
