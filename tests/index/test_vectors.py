import numpy as np
import pytest

from docrag.index.vectors import VectorIndex, top_k


def _random_unit(n, d, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_search_returns_true_top_k_and_respects_mask():
    vecs = _random_unit(500, 32)
    ids = np.arange(1000, 1500)
    index = VectorIndex(ids, vecs)
    q = vecs[42]
    got, sims = index.search(q, 5)
    want = np.argsort(-(vecs @ q))[:5]
    assert list(got) == list(ids[want]) and got[0] == 1042
    assert np.all(np.diff(sims) <= 0)
    mask = np.ones(500, bool)
    mask[42] = False
    got, _ = index.search(q, 3, allowed=mask)
    assert 1042 not in got


def test_hnsw_above_threshold_agrees_with_exact_and_is_cached(tmp_path):
    pytest.importorskip("hnswlib")
    vecs = _random_unit(2000, 32, seed=1)
    ids = np.arange(2000)
    exact = VectorIndex(ids, vecs)
    reader = VectorIndex(ids, vecs, hnsw_threshold=100, cache_dir=tmp_path)  # readers never write
    assert reader._hnsw is not None and not list(tmp_path.iterdir())
    ann = VectorIndex(ids, vecs, hnsw_threshold=100, cache_dir=tmp_path, save=True)  # the index's writer
    assert ann._hnsw is not None
    cached = list(tmp_path.glob("hnsw-*.bin"))
    assert len(cached) == 1
    agree = 0
    for i in range(0, 2000, 100):
        agree += ann.search(vecs[i], 10)[0][0] == exact.search(vecs[i], 10)[0][0]
    assert agree == 20
    again = VectorIndex(ids, vecs, hnsw_threshold=100, cache_dir=tmp_path)
    assert again.search(vecs[7], 1)[0][0] == 7


def test_top_k_orders_best_first():
    scores = np.array([0.1, 0.9, 0.5, 0.7])
    assert list(top_k(scores, 3)) == [1, 3, 2]
    assert list(top_k(scores, 10)) == [1, 3, 2, 0]
