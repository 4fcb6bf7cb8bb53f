import pytest

from docrag.retrieve import reciprocal_rank_fusion, weighted_fusion


def test_rrf_by_hand():
    bm25 = [(1, 9.0), (2, 5.0), (3, 1.0)]
    dense = [(3, 0.9), (1, 0.8)]
    fused = dict(reciprocal_rank_fusion([bm25, dense], k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert [cid for cid, _ in reciprocal_rank_fusion([bm25, dense], k=60)] == [1, 3, 2]


def test_weighted_fusion_min_max_by_hand():
    bm25 = [(1, 10.0), (2, 6.0), (3, 2.0)]
    dense = [(3, 0.9), (2, 0.5), (4, 0.1)]
    fused = dict(weighted_fusion([bm25, dense], [0.7, 0.3]))
    assert fused[1] == pytest.approx(0.7 * 1.0)
    assert fused[2] == pytest.approx(0.7 * 0.5 + 0.3 * 0.5)
    assert fused[3] == pytest.approx(0.0 + 0.3 * 1.0)
    assert fused[4] == pytest.approx(0.0)


def test_fusion_of_one_list_keeps_its_order_and_empty_lists_are_fine():
    ranked = [(5, 3.0), (6, 2.0)]
    assert [c for c, _ in reciprocal_rank_fusion([ranked, []])] == [5, 6]
    assert [c for c, _ in weighted_fusion([ranked, []], [0.5, 0.5])] == [5, 6]
