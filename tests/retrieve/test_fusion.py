import pytest

from docrag.retrieve import HybridRetriever, reciprocal_rank_fusion, weighted_fusion
from docrag.retrieve.fusion import peak, peak_weighted_rrf


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


def test_peak_by_hand_and_without_enough_scores():
    assert peak([(1, 10.0), (2, 2.0), (3, 4.0)]) == pytest.approx((10.0 - 3.0) / 1.0)
    assert peak([(1, 1.0), (2, 3.0), (3, 1.0)]) == 0.0  # the top is below the rest: no peak, not a negative one
    assert peak([(1, 5.0), (2, 1.0)]) == 0.0  # too short to tell


SURE = [(1, 20.0), (2, 2.1), (3, 2.0), (4, 1.9)]  # its top hit stands far above the rest
FLAT = [(2, 0.81), (3, 0.805), (4, 0.80), (1, 0.79)]  # the cosines of a list that cannot tell


def test_peak_weighted_rrf_lets_the_surer_list_win_and_falls_back_to_rrf():
    assert reciprocal_rank_fusion([SURE, FLAT])[0][0] == 2  # plain RRF: 2 is high in both lists
    assert peak_weighted_rrf([SURE, FLAT])[0][0] == 1
    assert peak_weighted_rrf([FLAT, SURE])[0][0] == 1  # the order of the lists does not matter
    # no list has a peak: plain RRF with the given weights
    level = [(5, 1.0), (6, 1.0), (7, 1.0)]
    assert peak_weighted_rrf([level, level[::-1]], 60, [2.0, 1.0]) == reciprocal_rank_fusion(
        [level, level[::-1]], 60, [2.0, 1.0])


def test_hybrid_retriever_fuses_by_the_configured_rule():
    class Fixed:
        def __init__(self, ranked):
            self.ranked = ranked

        def search(self, query, k, where=None):
            return self.ranked[:k]

    top = {rule: HybridRetriever(Fixed(SURE), Fixed(FLAT), rule).search("q", 4)[0][0] for rule in ("rrf", "rrf-peak")}
    assert top == {"rrf": 2, "rrf-peak": 1}
