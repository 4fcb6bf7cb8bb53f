"""rerank(): the merge rule, batching, the time budget and the bookkeeping, with a fake reranker."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from docrag.models.rerank import Reranker
from docrag.retrieve import rerank as rerank_module
from docrag.retrieve.rerank import rerank
from docrag.types import Hit


class TableReranker(Reranker):
    """Scores are looked up by text; each call to score() is recorded and advances ``clock`` by ``cost``."""

    name = "table"

    def __init__(self, table: dict[str, float], clock: list[float] | None = None, cost: float = 0.0):
        self.table, self.clock, self.cost = table, clock, cost
        self.calls: list[list[str]] = []

    def score(self, query: str, texts: list[str]) -> list[float]:
        self.calls.append(list(texts))
        if self.clock is not None:
            self.clock[0] += self.cost
        return [self.table[t] for t in texts]


def fused(*scores: float) -> list[Hit]:
    """Hits named A, B, C, ... in the given (best-first) fusion order, with a retriever score to carry along."""
    return [Hit(chunk_id=i, text=chr(ord("A") + i), doc_path="d.txt", score=s, scores={"bm25": 10.0 - i})
            for i, s in enumerate(scores)]


@pytest.fixture
def fake_clock(monkeypatch) -> list[float]:
    """rerank()'s clock, advanced only by the fake reranker."""
    clock = [0.0]
    monkeypatch.setattr(rerank_module, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    return clock


# fusion scores 1.0 > 0.8 > 0.5 > 0.2, reranker scores 0, 3, 1, 2 (min-max: 0, 1, 1/3, 2/3)
HITS = fused(1.0, 0.8, 0.5, 0.2)
TABLE = {"A": 0.0, "B": 3.0, "C": 1.0, "D": 2.0}


def texts(hits: list[Hit]) -> str:
    return "".join(h.text for h in hits)


def test_weight_one_is_the_rerankers_order():
    assert texts(rerank(TableReranker(TABLE), "q", HITS, k=4, weight=1.0)) == "BDCA"


def test_weight_zero_keeps_the_fusion_order():
    out = rerank(TableReranker(TABLE), "q", HITS, k=4, weight=0.0)
    assert texts(out) == "ABCD"
    assert [h.score for h in out] == pytest.approx([1.0, 0.75, 0.375, 0.0])  # min-max scaled fusion scores


def test_weight_08_mixes_the_scaled_scores():
    out = rerank(TableReranker(TABLE), "q", HITS, k=4, weight=0.8)
    # 0.8 * minmax(rerank) + 0.2 * minmax(fusion); fusion scaled: A 1, B 0.75, C 0.375, D 0
    expected = {"A": 0.8 * 0 + 0.2 * 1, "B": 0.8 * 1 + 0.2 * 0.75, "C": 0.8 / 3 + 0.2 * 0.375, "D": 0.8 * 2 / 3}
    assert texts(out) == "BDCA"
    assert [h.score for h in out] == pytest.approx([expected[h.text] for h in out])


def test_each_hit_keeps_its_fusion_and_raw_rerank_scores():
    out = {h.text: h for h in rerank(TableReranker(TABLE), "q", HITS, k=4)}
    for original in HITS:
        assert out[original.text].scores == {"bm25": original.scores["bm25"], "fusion": original.score,
                                             "rerank": TABLE[original.text]}
        assert out[original.text].chunk_id == original.chunk_id
    assert "fusion" not in HITS[0].scores  # the input hits are not modified


def test_ties_keep_the_candidate_order():
    hits = fused(0.5, 0.5, 0.5, 0.5)
    assert texts(rerank(TableReranker({"A": 1, "B": 2, "C": 1, "D": 2}), "q", hits, k=4, weight=1.0)) == "BDAC"
    # a reranker that scores everything alike leaves the fusion order as it was
    assert texts(rerank(TableReranker(dict.fromkeys("ABCD", 7.0)), "q", HITS, k=4, weight=0.8)) == "ABCD"


@pytest.mark.parametrize("n, batch_size", [(10, 4), (8, 4), (3, 16), (16, 16), (1, 1)])
def test_candidates_are_scored_in_batches_in_order(n, batch_size):
    hits = fused(*[1.0 - i / n for i in range(n)])
    reranker = TableReranker({h.text: float(h.chunk_id) for h in hits})
    rerank(reranker, "q", hits, k=n, batch_size=batch_size)
    assert len(reranker.calls) == math.ceil(n / batch_size)
    assert [t for call in reranker.calls for t in call] == [h.text for h in hits]
    assert all(len(call) <= batch_size for call in reranker.calls)


def test_time_budget_leaves_later_batches_unscored_after_the_scored_ones(fake_clock):
    hits = fused(1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
    # the unscored C..F would win if they had been scored: they must not be
    reranker = TableReranker({"A": 0.0, "B": 1.0, "C": 9.0, "D": 9.0, "E": 9.0, "F": 9.0}, fake_clock, cost=0.05)
    out = rerank(reranker, "q", hits, k=6, batch_size=2, time_budget=0.01)
    assert reranker.calls == [["A", "B"]]  # the first batch is always scored
    assert texts(out) == "BACDEF"
    assert [h.score for h in out[2:]] == [0.0] * 4
    assert [h.scores for h in out[2:]] == [{**h.scores, "fusion": h.score} for h in hits[2:]]  # no "rerank"


def test_time_budget_counts_elapsed_time_before_each_batch(fake_clock):
    hits = fused(*[1.0 - i / 10 for i in range(10)])
    reranker = TableReranker({h.text: 0.0 for h in hits}, fake_clock, cost=0.05)
    rerank(reranker, "q", hits, k=10, batch_size=2, time_budget=0.12)  # batches start at 0, .05, .10; not .15
    assert len(reranker.calls) == 3
    reranker.calls.clear()
    rerank(reranker, "q", hits, k=10, batch_size=2, time_budget=None)
    assert len(reranker.calls) == 5


def test_k_truncates_after_reranking():
    out = rerank(TableReranker(TABLE), "q", HITS, k=2, weight=1.0)
    assert texts(out) == "BD"
    assert len(rerank(TableReranker(TABLE), "q", HITS, k=50)) == 4


def test_no_candidates_means_no_calls():
    reranker = TableReranker({})
    assert rerank(reranker, "q", [], k=5) == [] and reranker.calls == []
