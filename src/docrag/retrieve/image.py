"""Search over figure images (``index.image_embedder``, see ``docrag.index.image_embed``), fused with the text search.

A CLIP-style model's text tower embeds the query into the space of the figures' image vectors; the figure chunks
come back ranked by cosine similarity, and their list is fused by RRF with the text retriever's.
"""

from __future__ import annotations

from docrag.retrieve.fusion import Ranked, reciprocal_rank_fusion
from docrag.retrieve.retrievers import DenseRetriever
from docrag.types import Filter


class ImageRetriever(DenseRetriever):
    """Figure chunks by image vector: ``ImageRetriever(image_vectors, clip_embedder)``; its ``embed_query`` is the
    text tower, so the search is a dense search in the image space."""

    name = "image"


class ImageFusion:
    """A text retriever's ranked list and the figure-image search's, ``candidates`` hits each, fused by RRF
    (the text list weighted 1, the image list ``weight``: ``retrieve.image_weight``). Figures whose cosine
    similarity to the query is below ``min_similarity`` are left out: RRF only sees ranks, so without it the
    best figure would rank with the best text hit for every question, related or not."""

    def __init__(self, text, images: ImageRetriever, rrf_k: int = 60, weight: float = 1.0, candidates: int = 100,
                 min_similarity: float = 0.2):
        self.text, self.images = text, images
        self.name = text.name
        self.rrf_k, self.weight, self.candidates = rrf_k, weight, candidates
        self.min_similarity = min_similarity

    def search(self, query: str, k: int, where: Filter | None = None) -> Ranked:
        n = max(k, self.candidates)
        figures = [(cid, s) for cid, s in self.images.search(query, n, where) if s >= self.min_similarity]
        lists = [self.text.search(query, n, where), figures]
        return reciprocal_rank_fusion(lists, self.rrf_k, [1.0, self.weight])[:k]
