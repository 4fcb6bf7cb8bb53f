"""The figure-image search and its fusion with the text search, on hand-made vectors (no model: the CLIP side is
tested in tests/index/test_image_embed.py)."""

from __future__ import annotations

import numpy as np
import pytest

from docrag.index.vectors import VectorIndex
from docrag.models.embed import Embedder
from docrag.retrieve.image import ImageFusion, ImageRetriever
from docrag.types import Filter


class FixedQuery(Embedder):
    """A text tower that maps every query to one vector, counting its calls."""

    def __init__(self, vector):
        self.vector, self.calls = np.asarray(vector, np.float32), 0

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return self.vector


class Listed:
    """A retriever returning a fixed list, recording the filters it was given."""

    name = "hybrid"

    def __init__(self, ranked):
        self.ranked, self.filters = ranked, []

    def search(self, query, k, where=None):
        self.filters.append(where)
        return self.ranked[:k]


IDS = {Filter(doc_paths=("b",)): np.array([12, 99]), Filter(doc_paths=("none",)): np.array([], np.int64),
       Filter(doc_paths=("a", "b")): np.array([2, 12])}


@pytest.fixture
def images():
    vectors = np.array([[1, 0], [0.6, 0.8], [0, 1]], np.float32)
    return ImageRetriever(VectorIndex(np.array([10, 11, 12]), vectors), FixedQuery([0.8, 0.6]), ids_for=IDS.get)


def test_image_search_ranks_figures_by_cosine_and_respects_the_filter(images):
    ranked = images.search("q", 5)
    assert [cid for cid, _ in ranked] == [11, 10, 12]
    assert [s for _, s in ranked] == pytest.approx([0.96, 0.8, 0.6])
    assert [cid for cid, _ in images.search("q", 5, Filter(doc_paths=("b",)))] == [12]
    assert images.search("q", 5, Filter(doc_paths=("none",))) == []
    assert images.embedder.calls == 1  # routed searches ask the same query again: embedded once


def test_fusion_adds_the_image_list_with_its_weight(images):
    text = Listed([(1, 0.03), (2, 0.02), (10, 0.01)])
    fused = dict(ImageFusion(text, images, rrf_k=60, weight=0.5).search("q", 10))
    assert fused[1] == pytest.approx(1 / 61)
    assert fused[10] == pytest.approx(1 / 63 + 0.5 / 62)  # text rank 3, image rank 2
    assert fused[11] == pytest.approx(0.5 / 61)
    assert fused[12] == pytest.approx(0.5 / 63)


def test_fusion_weight_zero_keeps_the_text_order_and_the_filter_reaches_both_lists(images):
    text = Listed([(1, 0.03), (2, 0.02), (10, 0.01)])
    fusion = ImageFusion(text, images, weight=0.0, candidates=2)
    assert [cid for cid, _ in fusion.search("q", 3)] == [1, 2, 10]
    where = Filter(doc_paths=("a", "b"))
    fused = dict(ImageFusion(text, images).search("q", 10, where))
    assert text.filters[-1] is where and 11 not in fused and fused[12] == pytest.approx(1 / 61)
    assert fusion.name == "hybrid"  # what it reports is the text retriever's mode


def test_figures_below_the_similarity_floor_are_left_out(images):
    text = Listed([(1, 0.03)])
    fused = dict(ImageFusion(text, images, min_similarity=0.7).search("q", 10))
    assert set(fused) == {1, 11, 10}  # 12 is only 0.6 like the query
